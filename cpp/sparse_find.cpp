#include <algorithm>

#include "blocks.hpp"

namespace mm {

int64_t SparseBlock::find(int row, int col) const {
    const auto first = rowlev.begin() + colptr[col];
    const auto last = rowlev.begin() + colptr[col + 1];
    const auto it = std::lower_bound(first, last, row);
    if (it == last || *it != row) return -1;
    return it - rowlev.begin();
}

void SparseBlock::index_rows() {
    rowptr.assign(static_cast<size_t>(nrowlev) + 1, 0);
    for (int64_t idx = 0; idx < nnzb(); ++idx) ++rowptr[static_cast<size_t>(rowlev[idx]) + 1];
    for (int r = 0; r < nrowlev; ++r) rowptr[r + 1] += rowptr[r];
    byrow.assign(static_cast<size_t>(nnzb()), 0);
    bycol.assign(static_cast<size_t>(nnzb()), 0);
    std::vector<int64_t> next(rowptr.begin(), rowptr.end() - 1);
    for (int c = 0; c < ncollev; ++c)
        for (int64_t idx = colptr[c]; idx < colptr[c + 1]; ++idx) {
            const int64_t at = next[rowlev[idx]]++;
            byrow[at] = idx;
            bycol[at] = c;
        }
}

}  // namespace mm
