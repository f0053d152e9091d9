// NLopt's BOBYQA driven from C++ and lme4's derivative check (optim.hpp), as functions of an engine.
#include <pybind11/stl.h>

#include <optional>

#include "bind.hpp"
#include "optim.hpp"

namespace mm::bind {

void register_optim(py::module_& m) {
    m.def(
        "load_nlopt", [](const std::string& path) { return optim::load_nlopt(path); }, py::arg("path"),
        "Look NLopt's C API up in the shared library at path (the nlopt package's _nlopt extension) so that "
        "bobyqa can run; returns '' on success, else the reason it cannot.");
    m.def(
        "bobyqa",
        [](Engine& e, const darray& x0, const darray& lower, bool reml, int algorithm, double xtol_abs, double ftol_abs,
           int maxeval, std::optional<darray> step) {
            optim::Settings s;
            s.algorithm = algorithm;
            s.xtol_abs = xtol_abs;
            s.ftol_abs = ftol_abs;
            s.maxeval = maxeval;
            if (step) s.step = vector_of(*step, e.ntheta(), "step");
            s.interrupted = [] {  // a pending signal (Ctrl-C) stops the loop; its exception is raised below
                py::gil_scoped_acquire acquire;
                return PyErr_CheckSignals() != 0;
            };
            const std::vector<double> x = vector_of(x0, e.ntheta(), "x0"), lo = vector_of(lower, e.ntheta(), "lower");
            optim::Result r;
            {
                py::gil_scoped_release release;
                r = optim::minimize(e, reml, x, lo, s);
            }
            if (r.interrupted) throw py::error_already_set();
            return py::make_tuple(to_array(r.x), r.fx, r.n_evals, r.code);
        },
        py::arg("engine"), py::arg("x0"), py::arg("lower"), py::arg("reml"), py::kw_only(), py::arg("algorithm"),
        py::arg("xtol_abs"), py::arg("ftol_abs"), py::arg("maxeval"), py::arg("step") = py::none(),
        "Minimise the engine's criterion over theta >= lower with NLopt (algorithm: an nlopt_algorithm, e.g. "
        "nlopt.LN_BOBYQA) called from C++ (needs load_nlopt); returns (theta, criterion, evaluations, nlopt result "
        "code). The best point seen is returned when the optimiser stops somewhere worse.");
    m.def(
        "derivative_check",
        [](Engine& e, const darray& x, const darray& lower, double fx, bool reml, double h) {
            const std::vector<double> xv = vector_of(x, e.ntheta(), "x"), lo = vector_of(lower, e.ntheta(), "lower");
            optim::Check c;
            {
                py::gil_scoped_release release;
                c = optim::derivative_check(e, reml, xv, lo, fx, h);
            }
            return py::make_tuple(to_array(c.gradient), to_array(c.hessian_diagonal));
        },
        py::arg("engine"), py::arg("x"), py::arg("lower"), py::arg("fx"), py::arg("reml"), py::arg("h") = 1e-4,
        "lme4's derivative check at the optimum x (criterion fx), for the Hessian's diagonal only: finite-difference "
        "gradient and Hessian diagonal, "
        "central with step h, one-sided within h of a lower bound (gradient 0 when the criterion increases inwards; "
        "Hessian entry NaN). Leaves the engine's L at the last point evaluated.");
}

}  // namespace mm::bind
