// WorkingRows (working_rows.hpp): a GLMM's rows held for PIRLS.
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bind.hpp"
#include "laplace_sums.hpp"
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
    RowsView rows;
    rows.n = n;
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

// The rows of laplace_level_sums / laplace_row_terms, checked: shapes, the family, and the codes
// (int32, each in [0, nlev)), which are copied into `codes_copy` under the GIL: the core indexes
// with them after releasing it, when another thread could change the caller's array.
LaplaceRows laplace_rows(const py::array& codes_in, const darray& z, const darray& x, const darray& mu,
                         const darray& y, const darray& prior, const std::string& family, int nlev,
                         std::vector<int32_t>& codes_copy) {
    if (z.ndim() != 2 || x.ndim() != 2) throw InvalidInput("z and x must be two-dimensional (n, k) and (n, p)");
    const py::ssize_t n = z.shape(0);
    if (codes_in.dtype().kind() != 'i' || codes_in.dtype().itemsize() != 4)
        throw InvalidInput("codes must be an array of int32 (got dtype " +
                           py::str(static_cast<py::object>(codes_in.dtype())).cast<std::string>() + ")");
    const iarray codes = iarray::ensure(codes_in);
    if (!codes || codes.ndim() != 1 || codes.shape(0) != n || x.shape(0) != n)
        throw InvalidInput("codes, z and x must have one row per observation (" + std::to_string(n) + ")");
    for (const darray* a : {&mu, &y, &prior})
        if (a->ndim() != 1 || a->shape(0) != n)
            throw InvalidInput("mu, y and prior weights must have one value per row (" + std::to_string(n) + ")");
    if (family != "poisson" && family != "binomial")
        throw InvalidInput("the Laplace gradient's sums are for the poisson and binomial families, not " + family);
    constexpr py::ssize_t kMaxColumns = 1 << 20;
    if (nlev < 1 || z.shape(1) < 1 || z.shape(1) > kMaxColumns || x.shape(1) > kMaxColumns)
        throw InvalidInput("need at least one level, and between 1 and 2^20 random-effects columns (at most 2^20 "
                           "fixed-effects columns)");
    const int32_t* cd = codes.data();
    codes_copy.assign(cd, cd + n);
    for (py::ssize_t i = 0; i < n; ++i)
        if (codes_copy[i] < 0 || codes_copy[i] >= nlev)
            throw InvalidInput("code " + std::to_string(codes_copy[i]) + " at row " + std::to_string(i) +
                               " is outside [0, " + std::to_string(nlev) + ")");
    LaplaceRows r;
    r.n = n;
    r.k = static_cast<int>(z.shape(1));
    r.p = static_cast<int>(x.shape(1));
    r.nlev = nlev;
    r.codes = codes_copy.data();
    r.z = z.data();
    r.x = x.data();
    r.mu = mu.data();
    r.y = y.data();
    r.prior = prior.data();
    r.poisson = family == "poisson";
    return r;
}

}  // namespace

void register_working_rows(py::module_& m) {
    m.def(
        "laplace_level_sums",
        [](const py::array& codes, const darray& z, const darray& x, const darray& mu, const darray& y,
           const darray& prior, const std::string& family, int nlev, const py::object& threads) {
            const int nt = threads_of(threads);
            std::vector<int32_t> held;
            const LaplaceRows r = laplace_rows(codes, z, x, mu, y, prior, family, nlev, held);
            py::array_t<double> g({static_cast<py::ssize_t>(nlev), static_cast<py::ssize_t>(r.k)});
            py::array_t<double> c({static_cast<py::ssize_t>(nlev), static_cast<py::ssize_t>(r.k),
                                   static_cast<py::ssize_t>(r.k)});
            py::array_t<double> gmat({static_cast<py::ssize_t>(nlev), static_cast<py::ssize_t>(r.k),
                                      static_cast<py::ssize_t>(r.p)});
            double* gp = g.mutable_data();
            double* cp = c.mutable_data();
            double* mp = gmat.mutable_data();
            {
                py::gil_scoped_release release;
                laplace_level_sums(r, gp, cp, mp, nt);
            }
            return py::make_tuple(g, c, gmat);
        },
        py::arg("codes"), py::arg("z"), py::arg("x"), py::arg("mu"), py::arg("y"), py::arg("prior"),
        py::arg("family"), py::arg("nlev"), py::arg("threads") = py::none(),
        "The Laplace gradient's first pass (one grouping factor, canonical link: family 'poisson' or "
        "'binomial'): per level g_j = sum d_i z_i with d_i = -2 prior_i (y_i - mu_i), C_j = sum w_i z_i z_i' and "
        "G_j = sum w_i z_i x_i' with w_i = prior_i V(mu_i); returns (g (nlev, k), C (nlev, k, k), G (nlev, k, p)). threads: the core's threads "
        "(None: os.cpu_count()); the sums are the same for every count.");
    m.def(
        "laplace_row_terms",
        [](const py::array& codes, const darray& z, const darray& x, const darray& mu, const darray& y,
           const darray& prior, const std::string& family, const darray& amat, const py::object& threads) {
            const int nt = threads_of(threads);
            if (amat.ndim() != 3 || amat.shape(1) != amat.shape(2) || amat.shape(0) < 1 ||
                amat.shape(0) > std::numeric_limits<int>::max())
                throw InvalidInput("amat must have shape (nlev, k, k)");
            const int nlev = static_cast<int>(amat.shape(0));
            std::vector<int32_t> held;
            const LaplaceRows r = laplace_rows(codes, z, x, mu, y, prior, family, nlev, held);
            if (amat.shape(1) != r.k) throw InvalidInput("amat must have shape (nlev, k, k) with k = z's columns");
            py::array_t<double> qv({static_cast<py::ssize_t>(nlev), static_cast<py::ssize_t>(r.k)});
            py::array_t<double> xsum(static_cast<py::ssize_t>(r.p));
            double* qp = qv.mutable_data();
            double* xp = xsum.mutable_data();
            const double* ap = amat.data();
            {
                py::gil_scoped_release release;
                laplace_row_terms(r, ap, qp, xp, nt);
            }
            return py::make_tuple(qv, xsum);
        },
        py::arg("codes"), py::arg("z"), py::arg("x"), py::arg("mu"), py::arg("y"), py::arg("prior"),
        py::arg("family"), py::arg("amat"), py::arg("threads") = py::none(),
        "The Laplace gradient's second pass: with h_i = z_i'A_j z_i and w1_i = w_i V'(mu_i), per level "
        "qv_j = sum w1_i h_i z_i (nlev, k), and sum x_i (d_i + w1_i h_i) (p,). threads: as laplace_level_sums.");

    m.def(
        "laplace_crossed_rows",
        [](const py::array& idx_in, const darray& vals, const darray& parts, const darray& s_rows, const darray& w,
           const darray& w1, const darray& d1, const darray& x, const darray& u) {
            if (idx_in.dtype().kind() != 'i')  // not a float or unsigned array silently truncated or wrapped
                throw InvalidInput("idx must be an array of signed integers (got dtype " +
                                   py::str(static_cast<py::object>(idx_in.dtype())).cast<std::string>() + ")");
            const auto idx = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(idx_in);
            if (!idx) throw InvalidInput("idx could not be read as int64");
            if (idx.ndim() != 2 || vals.ndim() != 2 || parts.ndim() != 3 || s_rows.ndim() != 3 || x.ndim() != 2 ||
                u.ndim() != 1)
                throw InvalidInput("idx, vals (n, r), parts (ntheta, n, r), s_rows (n, r, r), x (n, p) and u (q,) "
                                   "have the wrong number of dimensions");
            const py::ssize_t n = idx.shape(0), nr = idx.shape(1);
            if (vals.shape(0) != n || vals.shape(1) != nr || parts.shape(1) != n || parts.shape(2) != nr ||
                s_rows.shape(0) != n || s_rows.shape(1) != nr || s_rows.shape(2) != nr || x.shape(0) != n)
                throw InvalidInput("idx, vals, parts, s_rows and x must have one row per observation and r columns");
            for (const darray* a : {&w, &w1, &d1})
                if (a->ndim() != 1 || a->shape(0) != n)
                    throw InvalidInput("w, w1 and d1 must have one value per row (" + std::to_string(n) + ")");
            constexpr py::ssize_t kMaxColumns = 1 << 20;
            if (nr < 1 || nr > kMaxColumns || x.shape(1) > kMaxColumns || parts.shape(0) > kMaxColumns)
                throw InvalidInput("need between 1 and 2^20 columns per row (at most 2^20 fixed effects and theta)");
            const py::ssize_t q = u.shape(0);
            // the columns, checked and copied under the GIL (the core indexes with them after releasing it)
            std::vector<int64_t> held(idx.data(), idx.data() + n * nr);
            for (size_t e = 0; e < held.size(); ++e)
                if (held[e] < 0 || held[e] >= q)
                    throw InvalidInput("column " + std::to_string(held[e]) + " of row " + std::to_string(e / nr) +
                                       " is outside [0, " + std::to_string(q) + ")");
            LaplaceCrossed r;
            r.n = n;
            r.q = q;
            r.r = static_cast<int>(nr);
            r.p = static_cast<int>(x.shape(1));
            r.ntheta = static_cast<int>(parts.shape(0));
            r.idx = held.data();
            r.vals = vals.data();
            r.parts = parts.data();
            r.s_rows = s_rows.data();
            r.w = w.data();
            r.w1 = w1.data();
            r.d1 = d1.data();
            r.x = x.data();
            r.u = u.data();
            py::array_t<double> atq(q), awx({q, static_cast<py::ssize_t>(r.p)}), xsum(static_cast<py::ssize_t>(r.p));
            py::array_t<double> scal(static_cast<py::ssize_t>(r.ntheta)), rhs({q, static_cast<py::ssize_t>(r.ntheta)});
            double* pa = atq.mutable_data();
            double* pw = awx.mutable_data();
            double* px = xsum.mutable_data();
            double* ps = scal.mutable_data();
            double* pr = rhs.mutable_data();
            {
                py::gil_scoped_release release;
                laplace_crossed_rows(r, pa, pw, px, ps, pr);
            }
            return py::make_tuple(atq, awx, xsum, scal, rhs);
        },
        py::arg("idx"), py::arg("vals"), py::arg("parts"), py::arg("s_rows"), py::arg("w"), py::arg("w1"),
        py::arg("d1"), py::arg("x"), py::arg("u"),
        "The Laplace gradient's row sums with several grouping factors: row i of A = Z Lambda has the values "
        "vals[i] at the columns idx[i], those of Z dLambda/dtheta_k the values parts[k, i], and S = (LL')^-1 at "
        "its columns is s_rows[i]. With h_i = a_i'S a_i and dau_i = da_i'u: returns (A'(w1 h) (q,), A'W X (q, p), "
        "X'(d1 + w1 h) (p,), per theta entry sum d1 dau + 2 w a'S da + w1 h dau (ntheta,), A'(w dau) + dA'd1 / 2 "
        "(q, ntheta)).");

    py::class_<WorkingRows>(m, "WorkingRows",
                            "A GLMM's rows held for PIRLS: fill() re-forms an engine's cross-products for new working "
                            "weights and response in one pass (the blocks' pattern found once).")
        .def(py::init(&make_working_rows), py::arg("layout"), py::arg("x"), py::arg("codes"), py::arg("z"))
        .def(
            "fill_working",
            [](const WorkingRows& r, Engine& engine, const std::string& family, const std::string& link,
               double family_parameter, const darray& eta, const darray& y, const darray& prior,
               const darray& offset) {
                const GlmFamily fam = GlmFamily::from_names(family, link, family_parameter);
                for (const darray* a : {&eta, &y, &prior, &offset})
                    if (a->ndim() != 1 || a->shape(0) != r.nobs())
                        throw InvalidInput("eta, y, prior weights and offset must have one value per row (" +
                                           std::to_string(r.nobs()) + ")");
                py::gil_scoped_release release;
                return r.fill_working(engine, fam, eta.data(), y.data(), prior.data(), offset.data());
            },
            py::arg("engine"), py::arg("family"), py::arg("link"), py::arg("family_parameter"), py::arg("eta"),
            py::arg("y"), py::arg("prior"), py::arg("offset"),
            "fill() with PIRLS' working weights and response at the linear predictor eta (the weights of the "
            "modes for a factor there); False, the engine untouched, where one is not finite.")
        .def(
            "modes_only",
            [](const WorkingRows& r, std::shared_ptr<Layout> layout) {
                py::gil_scoped_release release;
                return r.modes_only(std::move(layout));
            },
            py::arg("layout"),
            "The same rows without X, for PIRLS with beta held: layout has these grouping factors and no fixed "
            "effects. Shares these rows' codes and random-effects columns and PIRLS' workspace (no copies).")
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
               double tol, int maxit, double family_parameter, const std::optional<darray>& x,
               const std::optional<darray>& beta_fixed) {
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
                if (x.has_value() != beta_fixed.has_value()) throw InvalidInput("x and beta_fixed go together");
                if (x) {
                    if (r.layout()->p() != 0) throw InvalidInput("x and beta_fixed need the modes-only rows (no X)");
                    if (x->ndim() != 2 || x->shape(0) != n) throw InvalidInput("x must have shape (n, p)");
                    in.fixed_beta = vector_of(*beta_fixed, x->shape(1), "beta_fixed");
                    in.x = x->data();
                }
                PirlsOutput out;
                {
                    py::gil_scoped_release release;
                    out = r.pirls(engine, fam, in);
                }
                return py::make_tuple(to_array(out.beta), to_array(out.u), to_array(std::move(out.eta)),
                                      to_array(std::move(out.mu)),
                                      out.devsum, out.ussq, out.ldl2, out.iterations, out.converged);
            },
            py::arg("engine"), py::arg("family"), py::arg("link"), py::arg("theta"), py::arg("y"), py::arg("prior"),
            py::arg("offset"), py::arg("eta0") = py::none(), py::arg("beta0") = py::none(), py::arg("u0") = py::none(),
            py::arg("tol") = 1e-9, py::arg("maxit") = 100, py::arg("family_parameter") = 0.0,
            py::arg("x") = py::none(), py::arg("beta_fixed") = py::none(),
            "PIRLS at theta to convergence: (beta, u, eta, mu, sum of deviance residuals, |u|^2, log|L|^2, iterations, "
            "converged). Starts from eta0 (beta = u = 0), else from beta0 and u0 (zeros when not given). "
            "family_parameter: the negative binomial's theta (family 'negative.binomial'). With x (n, p) and "
            "beta_fixed (p,), on the modes-only rows: beta held, the offset taken as offset + x beta_fixed.");
}

}  // namespace mm::bind
