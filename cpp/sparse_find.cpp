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

}  // namespace mm
