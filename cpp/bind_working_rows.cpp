// WorkingRows (working_rows.hpp): a GLMM's rows held for PIRLS.
#include <pybind11/stl.h>

#include <optional>
#include <string>

#include "bind.hpp"
#include "working_rows.hpp"

namespace mm::bind {

namespace {

WorkingRows make_working_rows(std::shared_ptr<Layout> layout, const darray& x, const std::vector<iarray>& codes,
                              const std::vector<darray>& z) {
    if (x.ndim() != 2 || x.shape(1) != layout->p())
        throw InvalidInput("X must have " + std::to_string(layout->p()) + " columns");
    const int64_t n = x.shape(0);
    if (static_cast<int>(codes.size()) != layout->nf() || static_cast<int>(z.size()) != layout->nf())
        throw InvalidInput("one array of codes and one of random-effects columns per grouping factor");
    std::vector<double> y(static_cast<size_t>(n), 0.0);
    RowsView rows;
    rows.n = n;
    rows.y = y.data();
    rows.x = x.data();
    for (int f = 0; f < layout->nf(); ++f) {
        if (codes[f].ndim() != 1 || codes[f].shape(0) != n || z[f].ndim() != 2 || z[f].shape(0) != n ||
            z[f].shape(1) != layout->factor(f).k)
            throw InvalidInput("codes (n,) and random-effects columns (n, k) of factor " + std::to_string(f) +
                               " do not fit n = " + std::to_string(n));
        rows.codes.push_back(codes[f].data());
        rows.z.push_back(z[f].data());
    }
    py::gil_scoped_release release;
    return WorkingRows(rows, std::move(layout));
}

}  // namespace

void register_working_rows(py::module_& m) {
    py::class_<WorkingRows>(m, "WorkingRows",
                            "A GLMM's rows held for PIRLS: fill() re-forms an engine's cross-products for new working "
                            "weights and response in one pass (the blocks' pattern found once).")
        .def(py::init(&make_working_rows), py::arg("layout"), py::arg("x"), py::arg("codes"), py::arg("z"))
        .def_property_readonly("nobs", &WorkingRows::nobs, "Number of rows.")
        .def(
            "pattern", [](const WorkingRows& r) { return r.pattern(); },
            "The unweighted cross-products of the rows (response 0): form the engine from them.")
        .def(
            "fill",
            [](const WorkingRows& r, Engine& engine, const darray& y, const darray& w) {
                if (y.ndim() != 1 || y.shape(0) != r.nobs() || w.ndim() != 1 || w.shape(0) != r.nobs())
                    throw InvalidInput("y and w must have one value per row (" + std::to_string(r.nobs()) + ")");
                py::gil_scoped_release release;
                r.fill(engine, y.data(), w.data());
            },
            py::arg("engine"), py::arg("y"), py::arg("w"),
            "Give the engine A of these rows with response y and weights w (>= 0); call engine.update() next.")
        .def(
            "pirls",
            [](const WorkingRows& r, Engine& engine, const std::string& family, const std::string& link,
               const darray& theta, const darray& y, const darray& prior, const darray& offset,
               const std::optional<darray>& eta0, const std::optional<darray>& beta0, const std::optional<darray>& u0,
               double tol, int maxit, double family_parameter) {
                const py::ssize_t n = r.nobs();
                const GlmFamily fam = GlmFamily::from_names(family, link, family_parameter);
                const std::vector<double> th = vector_of(theta, r.layout()->ntheta(), "theta");
                for (const darray* a : {&y, &prior, &offset})
                    if (a->ndim() != 1 || a->shape(0) != n)
                        throw InvalidInput("y, prior weights and offset must have one value per row (" +
                                           std::to_string(n) + ")");
                PirlsInput in;
                in.y = y.data();
                in.prior = prior.data();
                in.offset = offset.data();
                in.theta = th.data();
                in.tol = tol;
                in.maxit = maxit;
                if (eta0) {
                    if (eta0->ndim() != 1 || eta0->shape(0) != n) throw InvalidInput("eta0 must have one value per row");
                    in.eta0 = eta0->data();
                }
                if (beta0) in.beta0 = vector_of(*beta0, r.layout()->p(), "beta0");
                if (u0) in.u0 = vector_of(*u0, static_cast<py::ssize_t>(r.layout()->q()), "u0");
                PirlsOutput out;
                {
                    py::gil_scoped_release release;
                    out = r.pirls(engine, fam, in);
                }
                return py::make_tuple(to_array(out.beta), to_array(out.u), to_array(out.eta), to_array(out.mu),
                                      out.devsum, out.ussq, out.ldl2, out.iterations, out.converged);
            },
            py::arg("engine"), py::arg("family"), py::arg("link"), py::arg("theta"), py::arg("y"), py::arg("prior"),
            py::arg("offset"), py::arg("eta0") = py::none(), py::arg("beta0") = py::none(), py::arg("u0") = py::none(),
            py::arg("tol") = 1e-9, py::arg("maxit") = 100, py::arg("family_parameter") = 0.0,
            "PIRLS at theta to convergence: (beta, u, eta, mu, sum of deviance residuals, |u|^2, log|L|^2, iterations, "
            "converged). Starts from eta0 (beta = u = 0), else from beta0 and u0 (zeros when not given). "
            "family_parameter: the negative binomial's theta (family 'negative.binomial').");
}

}  // namespace mm::bind
