// The closed set of block types of A and L (docs/design.md, section 4).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mm {

enum class Kind : int { UBD = 0, Sparse = 1, Dense = 2 };

// nlev dense k x k blocks on the diagonal (k = 1: a Diagonal block). Column-major, contiguous.
struct UBDBlock {
    int nlev = 0, k = 0;
    std::vector<double> v;
    double* at(int l) { return v.data() + static_cast<size_t>(l) * k * k; }
    const double* at(int l) const { return v.data() + static_cast<size_t>(l) * k * k; }
};

// Blocked compressed-sparse-column: column c is level c of the column factor (kc scalar
// columns), each stored block is kr x kc (column-major) at row level rowlev[idx].
struct SparseBlock {
    int nrowlev = 0, ncollev = 0, kr = 0, kc = 0;
    std::vector<int64_t> colptr;  // ncollev + 1
    std::vector<int> rowlev;      // sorted within each column
    std::vector<double> v;        // nnzb * kr * kc
    size_t bsz() const { return static_cast<size_t>(kr) * kc; }
    int64_t nnzb() const { return colptr.empty() ? 0 : colptr.back(); }
    double* blk(int64_t idx) { return v.data() + idx * bsz(); }
    const double* blk(int64_t idx) const { return v.data() + idx * bsz(); }
    // Index of the block at (row level, column level), or -1.
    int64_t find(int row, int col) const;
};

// Column-major nrow x ncol.
struct DenseBlock {
    int nrow = 0, ncol = 0;
    std::vector<double> v;
    double* data() { return v.data(); }
    const double* data() const { return v.data(); }
    double& operator()(int i, int j) { return v[static_cast<size_t>(j) * nrow + i]; }
    double operator()(int i, int j) const { return v[static_cast<size_t>(j) * nrow + i]; }
};

struct Block {
    Kind kind = Kind::Dense;
    UBDBlock u;
    SparseBlock s;
    DenseBlock d;
};

// Lower-triangle block index of (row block c, column block j), c >= j.
inline size_t tri(int c, int j) { return static_cast<size_t>(c) * (c + 1) / 2 + j; }

}  // namespace mm
