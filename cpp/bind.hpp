// Shared by the binding files (bind_*.cpp): array types, copies out of the core, and one
// register_* function per file, which module.cpp calls.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "errors.hpp"

namespace mm::bind {

namespace py = pybind11;

using darray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using iarray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

// A fresh array holding a copy of v, of the given shape (v in C order of it; default: 1-d).
template <typename T>
py::array_t<T> to_array(const std::vector<T>& v, std::vector<py::ssize_t> shape = {}) {
    if (shape.empty()) shape.push_back(static_cast<py::ssize_t>(v.size()));
    py::array_t<T> out(std::move(shape));
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

// A 1-d array that takes v's storage over (no copy: a row-length result of a large fit is megabytes).
template <typename T>
py::array_t<T> to_array(std::vector<T>&& v) {
    auto* held = new std::vector<T>(std::move(v));
    py::capsule owner(held, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>(static_cast<py::ssize_t>(held->size()), held->data(), owner);
}

// A 1-d array of the given length as a vector (InvalidInput naming `what` otherwise).
inline std::vector<double> vector_of(const darray& a, py::ssize_t length, const std::string& what) {
    if (a.ndim() != 1 || a.shape(0) != length)
        throw InvalidInput(what + " must have length " + std::to_string(length) + ", got shape with " +
                           std::to_string(a.size()) + " entries");
    return std::vector<double>(a.data(), a.data() + length);
}

inline std::vector<int> ints_of(const iarray& a) {
    if (a.ndim() != 1) throw InvalidInput("expected a one-dimensional array of integers");
    return std::vector<int>(a.data(), a.data() + a.size());
}

// A threads= argument: a positive int, or None for the machine's cores (os.cpu_count(); bind_engine.cpp).
int threads_of(const py::object& threads);

void register_errors(py::module_& m);
void register_blas(py::module_& m);
void register_layout(py::module_& m);
void register_cross_products(py::module_& m);
void register_engine(py::module_& m);
void register_optim(py::module_& m);
void register_working_rows(py::module_& m);
void register_strings(py::module_& m);

}  // namespace mm::bind
