// A fill-reducing order of the levels of a grouping factor whose diagonal block of L is dense (the
// second of two crossed factors: InstEval's 1,128 lecturers), and the supernodes of its factor in
// that order (level_order.cpp; factored by supernodal_potrf.cpp). The engine relabels the factor's
// levels by it once, when it is formed (Engine::reorder_dense_levels), so every kernel sees an
// ordinary dense diagonal block whose Cholesky factor has many structural zeros.
#pragma once
#include <cstdint>
#include <vector>

#include "blocks.hpp"

namespace mm {

// The supernodes of a dense diagonal block's factor in its fill-reducing order: supernode s holds
// the columns [start[s], start[s + 1]), every one of them zero below them outside rows[s] (sorted,
// all >= start[s + 1]); `ranged[s]`: its solve and update run in place over the contiguous rows
// rows[s].front() .. rows[s].back() (structural zeros included) rather than gathered.
// `below`: the exact structure of the factor by levels (positions): level position p's rows below
// it are below[below_ptr[p]] .. below[below_ptr[p + 1] - 1], sorted (a supernode's rows may also
// hold zeros of L: the relaxed merges).
struct SupernodePlan {
    std::vector<int> start;
    std::vector<std::vector<int>> rows;
    std::vector<char> ranged;
    std::vector<int64_t> below_ptr;
    std::vector<int> below;
    bool empty() const { return start.size() < 2; }
    // Whether the level positions a and b meet on the factor's exact structure (a == b included).
    bool on_structure(int a, int b) const;
};

// For factor j, whose levels are the rows of the sparse blocks `left` (L(j, i), i < j: the fill of
// its diagonal block is the union of the cliques of their columns), the order of its nlev levels
// (order[new position] = level) by minimum degree (among the levels of least degree, the one whose
// degree changed last: deterministic),
// postordered along its elimination tree, and the supernodes of its factor in that order (columns
// of k per level). False, and nothing written, where the order would not save at least
// kMinSaving of the dense factor's work (or the block is too small or too large to try).
bool fill_reducing_order(int nlev, int k, const std::vector<const SparseBlock*>& left, std::vector<int>& order,
                         SupernodePlan& plan);

// Relabel the levels of factor f in A's lower-triangle blocks (nf factors, then [X y]): level l
// becomes position pos[l] in every block with a row or column of f (its block-diagonal diagonal
// block, sparse and dense ones), sparse blocks re-sorted within their columns.
// dense_values false: dense blocks are left as they are (L's blocks before any update: zeros).
void permute_levels(std::vector<Block>& blocks, int nf, int f, const std::vector<int>& pos, bool dense_values = true);

}  // namespace mm
