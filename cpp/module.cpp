// The pybind11 module mixedmodels._core: wires the binding files together (bind.hpp).
#include "bind.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "C++ core of mixedmodels: penalised least squares with a blocked Cholesky factor.";
    mm::bind::register_blas(m);
    mm::bind::register_errors(m);
    mm::bind::register_layout(m);
    mm::bind::register_cross_products(m);
    mm::bind::register_engine(m);
    mm::bind::register_optim(m);
    mm::bind::register_working_rows(m);
    mm::bind::register_strings(m);
}
