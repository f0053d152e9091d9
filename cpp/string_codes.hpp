// Codes of a column of strings by hashing (design.py's sorted_factorize): the strings as Arrow holds
// them, n + 1 offsets into a buffer of bytes.
#pragma once
#include <cstdint>
#include <vector>

namespace mm {

// codes[i]: the rank of row i's string among the distinct strings in byte order (UTF-8's byte order
// is its code points' order: Python's and np.unique's for str); first[c]: the first row holding the
// c-th distinct string. The same for any order of equal rows.
struct StringCodes {
    std::vector<int32_t> codes;
    std::vector<int64_t> first;
};

// offsets: n + 1 non-decreasing values within [0, nbytes] (InvalidInput naming the row otherwise).
template <typename Offset>
StringCodes string_codes(const Offset* offsets, int64_t n, const uint8_t* bytes, int64_t nbytes);

}  // namespace mm
