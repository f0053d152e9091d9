// The selected inversion of the blocked factor and the block substitutions with L_ZZ
// (selected_inverse.cpp), shared by the gradients of the profiled criterion (gradient.cpp) and of
// the Laplace criterion (laplace_inverse.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "blocks.hpp"
#include "level_order.hpp"

namespace mm {

// Level block (a, b) of the symmetric G, k[c] x k[i] column-major, copied into out; false when it
// is structurally zero. G(c, i) for c < i is the transpose of G(i, c).
bool level_block(const std::vector<Block>& g, const std::vector<int>& k, int c, int i, int a, int b, double* out);
// c (m x n) += alpha * a (m x l) b (l x n), all column-major and packed.
void add_product(double* c, const double* a, const double* b, int m, int l, int n, double alpha = 1.0);
// c (m x n) += alpha * a^T b, a (l x m), b (l x n).
void add_tproduct(double* c, const double* a, const double* b, int m, int l, int n, double alpha = 1.0);
// The selected inverse, kept by an engine from call to call: allocating (and
// page-faulting) blocks the size of L on every gradient cost as much as a fifth of it (InstEval's
// inverse while a scratch copy of its dense block made it larger than kKeepValues: 49 against 38 ms).
struct SelectedInverse {
    std::vector<Block> g;  // see selected_inverse()
    int holds = 0;         // callers holding the workspace between calls (Engine::hold_workspace)
    // Frees the blocks unless they hold at most kKeepValues values or a caller holds them: a larger
    // inverse is not worth holding for an engine's (and a fitted model's) life, but within a fit,
    // whose optimiser and polish call the gradient many times, it is. Callers trim after use.
    void trim();
    static constexpr size_t kKeepValues = size_t{1} << 21;  // 16 MB
    // The values the blocks hold.
    size_t held() const;
    // Trims on leaving the caller's scope, however it is left: declared before the call that fills g.
    struct TrimAfterUse {
        SelectedInverse& work;
        ~TrimAfterUse() { work.trim(); }
    };
};
// G = (L_ZZ L_ZZ')^{-1} on the pattern of L_ZZ (the nf random-effects block rows and columns of
// lblocks) into work.g: blocks of the same kinds and patterns as L's, G(c, c) dense blocks held
// whole (both triangles). work's blocks are reused when they have L's kinds, sizes and patterns.
// Bitwise the same for every thread count, and whatever work held before: a large dense diagonal
// block's triangular inverse and L^T L by halves on the pool (dense_inverse.hpp), BLAS held to one
// thread by the caller.
// plans: per factor, the supernodes of a dense diagonal block in a fill-reducing order (level_order.hpp):
// there G(j, j) holds the inverse on L(j, j)'s structure only (entries off it finite, not the
// inverse's: the readers of G take entries on A's pattern, which the structure holds).
const std::vector<Block>& selected_inverse(const std::vector<Block>& lblocks, int nf, const std::vector<int>& nlev,
                                           const std::vector<int>& k, int threads, SelectedInverse& work,
                                           const std::vector<SupernodePlan>* plans = nullptr);
// x (q x ncol, column-major; off the factors' first columns, q = off[nf]) <- L_ZZ^{-T} x.
void back_solve(const std::vector<Block>& lblocks, int nf, const std::vector<int>& nlev, const std::vector<int>& k,
                const std::vector<int64_t>& off, std::vector<double>& x, int ncol);
// x <- L_ZZ^{-1} x, the same layout.
void forward_solve(const std::vector<Block>& lblocks, int nf, const std::vector<int>& nlev, const std::vector<int>& k,
                   const std::vector<int64_t>& off, std::vector<double>& x, int ncol);

}  // namespace mm
