// string_codes (string_codes.hpp): a column of strings coded by hashing, for design.py.
#include <pybind11/stl.h>

#include <string>
#include <utility>

#include "bind.hpp"
#include "string_codes.hpp"

namespace mm::bind {

namespace {

using Codes = std::pair<py::array_t<int32_t>, py::array_t<int64_t>>;

template <typename Offset>
Codes codes_of(const py::array& offsets, const py::array& bytes) {
    const auto* off = static_cast<const Offset*>(offsets.data());
    const int64_t n = static_cast<int64_t>(offsets.shape(0)) - 1;
    const auto* data = static_cast<const uint8_t*>(bytes.data());
    const int64_t nbytes = static_cast<int64_t>(bytes.shape(0));
    StringCodes sc;
    if (offsets.writeable() || bytes.writeable()) {  // another thread could change them under a released GIL
        sc = string_codes(off, n, data, nbytes);
    } else {  // (Arrow's buffers: read-only)
        py::gil_scoped_release release;
        sc = string_codes(off, n, data, nbytes);
    }
    return {to_array(std::move(sc.codes)), to_array(std::move(sc.first))};
}

Codes string_codes_py(const py::array& offsets, const py::array& bytes) {
    if (offsets.ndim() != 1 || offsets.shape(0) < 1 || !(offsets.flags() & py::array::c_style))
        throw InvalidInput("offsets must be a contiguous one-dimensional array of n + 1 values");
    if (bytes.ndim() != 1 || !(bytes.flags() & py::array::c_style) || bytes.dtype().kind() != 'u' ||
        bytes.itemsize() != 1)
        throw InvalidInput("bytes must be a contiguous one-dimensional array of uint8");
    // by kind and size: numpy's longlong is int64 too, but another dtype object
    const bool integers = offsets.dtype().kind() == 'i';
    if (integers && offsets.itemsize() == 4) return codes_of<int32_t>(offsets, bytes);
    if (integers && offsets.itemsize() == 8) return codes_of<int64_t>(offsets, bytes);
    throw InvalidInput("offsets must be int32 or int64 (Arrow's string and large_string)");
}

}  // namespace

void register_strings(py::module_& m) {
    m.def("string_codes", &string_codes_py, py::arg("offsets"), py::arg("bytes"),
          "Codes of n strings held as Arrow holds them (n + 1 offsets, int32 or int64, into a uint8 buffer) by "
          "hashing: (codes, first), codes[i] (int32) the rank of string i among the distinct strings in byte order "
          "(UTF-8's: code points' order), first[c] (int64) the first row holding the c-th. Raises InvalidInputError "
          "for offsets that decrease or leave the buffer.");
}

}  // namespace mm::bind
