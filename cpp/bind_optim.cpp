// NLopt's BOBYQA driven from C++ and lme4's derivative check (optim.hpp), as functions of an engine.
#include <pybind11/stl.h>

#include <optional>

#include "bind.hpp"
#include "laplace_stage.hpp"
#include "optim.hpp"

namespace mm::bind {

namespace {

// A LaplaceStage with the Python objects it reads kept alive (the rows, the engine and the arrays).
struct PyLaplaceStage {
    py::object rows_obj, engine_obj;
    darray y, prior, offset, x, eta_start;
    LaplaceStage stage;
};

// f() with the stage's mutex held, the GIL released while waiting for it (an evaluation holding
// the mutex may need the GIL to check for Ctrl-C).
template <class F>
auto locked(PyLaplaceStage& s, F&& f) {
    py::gil_scoped_release release;
    const std::lock_guard<std::mutex> lock(s.stage.mutex);
    return f();
}

py::object array_or_none(const std::vector<double>& v) {
    if (v.empty()) return py::none();
    return to_array(v);
}

// NLopt's settings for a run from Python over n parameters: a pending signal (Ctrl-C) stops the
// loop, and the caller raises its exception.
optim::Settings settings_of(int algorithm, double xtol_abs, double ftol_abs, int maxeval,
                            const std::optional<darray>& step, py::ssize_t n) {
    optim::Settings s;
    s.algorithm = algorithm;
    s.xtol_abs = xtol_abs;
    s.ftol_abs = ftol_abs;
    s.maxeval = maxeval;
    if (step) s.step = vector_of(*step, n, "step");
    s.interrupted = [] {
        py::gil_scoped_acquire acquire;
        return PyErr_CheckSignals() != 0;
    };
    return s;
}

}  // namespace

void register_optim(py::module_& m) {
    m.def(
        "load_nlopt", [](const std::string& path) { return optim::load_nlopt(path); }, py::arg("path"),
        "Look NLopt's C API up in the shared library at path (the nlopt package's _nlopt extension) so that "
        "bobyqa can run; returns '' on success, else the reason it cannot.");
    m.def(
        "bobyqa",
        [](Engine& e, const darray& x0, const darray& lower, bool reml, int algorithm, double xtol_abs, double ftol_abs,
           int maxeval, std::optional<darray> step) {
            const optim::Settings s = settings_of(algorithm, xtol_abs, ftol_abs, maxeval, step, e.ntheta());
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
    py::class_<PyLaplaceStage>(
        m, "LaplaceStage",
        "A GLMM's Laplace criterion as one stage of lme4's fit sees it (GeneralizedLinearMixedModel.laplace): "
        "stage 1 (x=None) over theta with beta from the joint PIRLS started at eta_start, stage 2 over v with "
        "(theta, beta) = shift + scale v and the modes-only PIRLS (X beta added to the offset). Each evaluation "
        "starts from the modes of the previous finite one, and from the family's start when that does not converge; "
        "+inf where PIRLS finds no valid modes. Call it, or minimise it with bobyqa (NLopt from C++).")
        .def(py::init([](py::object rows, py::object engine, const std::string& family, const std::string& link,
                         double family_parameter, const darray& y, const darray& prior, const darray& offset,
                         const std::optional<darray>& x, const std::optional<darray>& eta_start, int ntheta,
                         double aic_less_deviance, double tol, int maxit, const std::optional<darray>& shift,
                         const std::optional<darray>& scale) {
                 auto out = std::make_unique<PyLaplaceStage>();
                 LaplaceStage& st = out->stage;
                 st.rows = &rows.cast<const WorkingRows&>();
                 st.engine = &engine.cast<Engine&>();
                 st.family = GlmFamily::from_names(family, link, family_parameter);
                 const py::ssize_t n = st.rows->nobs();
                 for (const darray* a : {&y, &prior, &offset})
                     if (a->ndim() != 1 || a->shape(0) != n)
                         throw InvalidInput("y, prior weights and offset must have one value per row (" +
                                            std::to_string(n) + ")");
                 if (ntheta != st.rows->layout()->ntheta())
                     throw InvalidInput("ntheta must be the rows' layout's (" +
                                        std::to_string(st.rows->layout()->ntheta()) + ")");
                 st.n = n;
                 st.ntheta = ntheta;
                 st.joint = !x.has_value();
                 if (st.joint) {
                     if (!eta_start || eta_start->ndim() != 1 || eta_start->shape(0) != n)
                         throw InvalidInput("stage 1 needs eta_start, one value per row");
                     out->eta_start = *eta_start;
                 } else {
                     if (x->ndim() != 2 || x->shape(0) != n || x->shape(1) > (1 << 20))
                         throw InvalidInput("x must have shape (n, p)");
                     out->x = *x;
                     st.p = static_cast<int>(x->shape(1));
                     if (st.rows->layout()->p() != 0) throw InvalidInput("stage 2 needs the modes-only rows (no X)");
                     const py::ssize_t m = ntheta + st.p;
                     if (!shift || !scale) throw InvalidInput("stage 2 needs shift and scale");
                     st.shift = vector_of(*shift, m, "shift");
                     st.scale = vector_of(*scale, m, "scale");
                 }
                 out->rows_obj = std::move(rows);
                 out->engine_obj = std::move(engine);
                 out->y = y;
                 out->prior = prior;
                 out->offset = offset;
                 st.y = out->y.data();
                 st.prior = out->prior.data();
                 st.offset = out->offset.data();
                 st.x = st.joint ? nullptr : out->x.data();
                 st.eta_start = st.joint ? out->eta_start.data() : nullptr;
                 st.aic_less_deviance = aic_less_deviance;
                 st.tol = tol;
                 st.maxit = maxit;
                 return out;
             }),
             py::arg("rows"), py::arg("engine"), py::arg("family"), py::arg("link"), py::arg("family_parameter"),
             py::arg("y"), py::arg("prior"), py::arg("offset"), py::arg("x"), py::arg("eta_start"), py::arg("ntheta"),
             py::arg("aic_less_deviance"), py::arg("tol"), py::arg("maxit"), py::arg("shift") = py::none(),
             py::arg("scale") = py::none())
        .def_property_readonly(
            "nparams", [](const PyLaplaceStage& s) { return s.stage.ntheta + s.stage.p; }, "The length of v.")
        .def(
            "__call__",
            [](PyLaplaceStage& s, const darray& v) {
                const std::vector<double> vv = vector_of(v, s.stage.ntheta + s.stage.p, "v");
                py::gil_scoped_release release;
                return s.stage(vv.data());
            },
            py::arg("v"), "-2 log-likelihood by the Laplace approximation at v (+inf: no valid modes).")
        .def(
            "bobyqa",
            [](PyLaplaceStage& s, const darray& x0, const darray& lower, int algorithm, double xtol_abs,
               double ftol_abs, int maxeval, std::optional<darray> step) {
                const py::ssize_t n = s.stage.ntheta + s.stage.p;
                const optim::Settings st = settings_of(algorithm, xtol_abs, ftol_abs, maxeval, step, n);
                const std::vector<double> x = vector_of(x0, n, "x0"), lo = vector_of(lower, n, "lower");
                LaplaceStage& stage = s.stage;
                const std::function<double(const double*)> f = [&stage](const double* v) { return stage(v); };
                optim::Result r;
                {
                    py::gil_scoped_release release;
                    r = optim::minimize_fn(f, static_cast<unsigned>(n), x, lo, st,
                                           s.stage.engine->single_threaded_blas());
                }
                if (r.interrupted) throw py::error_already_set();
                return py::make_tuple(to_array(r.x), r.fx, r.n_evals, r.code);
            },
            py::arg("x0"), py::arg("lower"), py::kw_only(), py::arg("algorithm"), py::arg("xtol_abs"),
            py::arg("ftol_abs"), py::arg("maxeval"), py::arg("step") = py::none(),
            "Minimise over v >= lower with NLopt (needs load_nlopt) called from C++: (v, criterion, evaluations, "
            "nlopt result code), the best point seen when the optimiser stops somewhere worse.")
        .def_property(
            "warm_u",
            [](PyLaplaceStage& s) {
                const std::vector<double> u = locked(s, [&] { return s.stage.warm_u; });
                return array_or_none(u);
            },
            [](PyLaplaceStage& s, const std::optional<darray>& u) {
                std::vector<double> v = u ? vector_of(*u, static_cast<py::ssize_t>(s.stage.rows->layout()->q()), "warm_u")
                                          : std::vector<double>();
                locked(s, [&] { s.stage.warm_u = std::move(v); });
            },
            "The modes the next evaluation starts from (None: zeros).")
        .def_property(
            "warm_beta",
            [](PyLaplaceStage& s) -> py::object {
                bool has = false;
                const std::vector<double> b = locked(s, [&] {
                    has = s.stage.has_warm_beta;
                    return s.stage.warm_beta;
                });
                if (!has) return py::none();
                return to_array(b);
            },
            [](PyLaplaceStage& s, const std::optional<darray>& b) {
                std::vector<double> v =
                    b ? vector_of(*b, s.stage.rows->layout()->p(), "warm_beta") : std::vector<double>();
                locked(s, [&] {
                    s.stage.warm_beta = std::move(v);
                    s.stage.has_warm_beta = b.has_value();
                });
            },
            "Stage 1: the beta the next evaluation starts from (None: the family's start).")
        .def_property_readonly(
            "pirls_calls", [](PyLaplaceStage& s) { return locked(s, [&] { return s.stage.calls; }); },
            "PIRLS calls so far.")
        .def_property_readonly(
            "pirls_iterations", [](PyLaplaceStage& s) { return locked(s, [&] { return s.stage.iterations; }); },
            "PIRLS iterations so far, over all calls.");
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
