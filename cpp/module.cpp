// pybind11 wiring: the Engine class, BLAS pointers from scipy, and the exception translation.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "blas.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "optim.hpp"

namespace py = pybind11;
using mm::Engine;

namespace {

using darray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using iarray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

template <typename T>
T capsule_pointer(const py::object& capi, const char* name) {
    py::object cap = capi[py::str(name)];
    void* ptr = PyCapsule_GetPointer(cap.ptr(), PyCapsule_GetName(cap.ptr()));
    if (!ptr) throw py::error_already_set();
    return reinterpret_cast<T>(ptr);
}

void load_blas() {
    py::object b = py::module_::import("scipy.linalg.cython_blas").attr("__pyx_capi__");
    py::object l = py::module_::import("scipy.linalg.cython_lapack").attr("__pyx_capi__");
    mm::blas::fn.dgemm = capsule_pointer<mm::blas::dgemm_t>(b, "dgemm");
    mm::blas::fn.dsyrk = capsule_pointer<mm::blas::dsyrk_t>(b, "dsyrk");
    mm::blas::fn.dtrsm = capsule_pointer<mm::blas::dtrsm_t>(b, "dtrsm");
    mm::blas::fn.dgemv = capsule_pointer<mm::blas::dgemv_t>(b, "dgemv");
    mm::blas::fn.dpotrf = capsule_pointer<mm::blas::dpotrf_t>(l, "dpotrf");
    mm::blas::fn.dtrtri = capsule_pointer<mm::blas::dtrtri_t>(l, "dtrtri");
}

std::vector<double> theta_vector(const darray& theta, int ntheta) {
    if (theta.ndim() != 1 || theta.shape(0) != ntheta)
        throw mm::InvalidInput("theta must have length " + std::to_string(ntheta) + ", got shape with " +
                               std::to_string(theta.size()) + " entries");
    return std::vector<double>(theta.data(), theta.data() + ntheta);
}

std::unique_ptr<Engine> make_engine(const darray& y, const darray& x, const py::list& factors,
                                    double dense_threshold, bool form_only) {
    if (y.ndim() != 1) throw mm::InvalidInput("y must be one-dimensional");
    const int64_t n = y.shape(0);
    if (x.ndim() != 2 || x.shape(0) != n)
        throw mm::InvalidInput("X must be two-dimensional with " + std::to_string(n) + " rows");
    const int p = static_cast<int>(x.shape(1));
    std::vector<mm::FactorSpec> specs;
    std::vector<py::object> keep;  // the arrays stay alive until the engine has read them
    for (const py::handle& h : factors) {
        py::tuple t = py::reinterpret_borrow<py::tuple>(h);
        if (t.size() != 6)
            throw mm::InvalidInput("each factor is (codes, nlev, z, theta_index, theta_row, theta_col)");
        iarray codes = t[0].cast<iarray>();
        darray z = t[2].cast<darray>();
        iarray ti = t[3].cast<iarray>(), tr = t[4].cast<iarray>(), tc = t[5].cast<iarray>();
        if (codes.ndim() != 1 || codes.shape(0) != n)
            throw mm::InvalidInput("codes of factor " + std::to_string(specs.size()) + " must have length " +
                                   std::to_string(n));
        if (z.ndim() != 2 || z.shape(0) != n)
            throw mm::InvalidInput("random-effects columns of factor " + std::to_string(specs.size()) +
                                   " must be an array with " + std::to_string(n) + " rows");
        mm::FactorSpec fs;
        fs.codes = codes.data();
        fs.nlev = t[1].cast<int>();
        fs.k = static_cast<int>(z.shape(1));
        fs.z = z.data();
        fs.th_idx.assign(ti.data(), ti.data() + ti.size());
        fs.th_row.assign(tr.data(), tr.data() + tr.size());
        fs.th_col.assign(tc.data(), tc.data() + tc.size());
        specs.push_back(std::move(fs));
        keep.push_back(codes);
        keep.push_back(z);
    }
    py::gil_scoped_release release;
    return std::make_unique<Engine>(n, std::move(specs), x.data(), p, y.data(), dense_threshold, !form_only);
}

// Engine from accumulated blocks of A (see Engine's block constructor).
std::unique_ptr<Engine> engine_from_blocks(int64_t n, int p, const py::list& meta, const py::list& diag,
                                           const py::dict& off, const py::list& xy, const darray& xx,
                                           double dense_threshold) {
    const int nf = static_cast<int>(meta.size());
    if (static_cast<int>(diag.size()) != nf || static_cast<int>(xy.size()) != nf)
        throw mm::InvalidInput("one diagonal block and one [X y] block per grouping factor");
    std::vector<mm::FactorSpec> specs(nf);
    for (int f = 0; f < nf; ++f) {
        py::tuple t = meta[f].cast<py::tuple>();
        if (t.size() != 5) throw mm::InvalidInput("each factor's meta is (nlev, k, theta_index, theta_row, theta_col)");
        specs[f].nlev = t[0].cast<int>();
        specs[f].k = t[1].cast<int>();
        iarray ti = t[2].cast<iarray>(), tr = t[3].cast<iarray>(), tc = t[4].cast<iarray>();
        specs[f].th_idx.assign(ti.data(), ti.data() + ti.size());
        specs[f].th_row.assign(tr.data(), tr.data() + tr.size());
        specs[f].th_col.assign(tc.data(), tc.data() + tc.size());
    }
    const int pp = p + 1;
    std::vector<mm::Block> a(mm::tri(nf, nf) + 1);
    for (int j = 0; j < nf; ++j) {
        const int nl = specs[j].nlev, kj = specs[j].k;
        darray d = diag[j].cast<darray>();
        if (d.ndim() != 3 || d.shape(0) != nl || d.shape(1) != kj || d.shape(2) != kj)
            throw mm::InvalidInput("diagonal block " + std::to_string(j) + " must have shape (nlev, k, k)");
        mm::Block& b = a[mm::tri(j, j)];
        b.kind = mm::Kind::UBD;
        b.u.nlev = nl;
        b.u.k = kj;
        b.u.v.resize(static_cast<size_t>(nl) * kj * kj);
        for (int l = 0; l < nl; ++l)
            for (int r = 0; r < kj; ++r)
                for (int c = 0; c < kj; ++c) b.u.at(l)[r + c * kj] = d.at(l, r, c);
        darray w = xy[j].cast<darray>();
        if (w.ndim() != 2 || w.shape(0) != pp || w.shape(1) != static_cast<py::ssize_t>(nl) * kj)
            throw mm::InvalidInput("[X y] block " + std::to_string(j) + " must have shape (p + 1, nlev * k)");
        mm::Block& bx = a[mm::tri(nf, j)];
        bx.kind = mm::Kind::Dense;
        bx.d.nrow = pp;
        bx.d.ncol = nl * kj;
        bx.d.v.resize(static_cast<size_t>(pp) * nl * kj);
        for (int r = 0; r < pp; ++r)
            for (int c = 0; c < nl * kj; ++c) bx.d(r, c) = w.at(r, c);
        for (int c = j + 1; c < nf; ++c) {
            py::tuple key = py::make_tuple(c, j);
            if (!off.contains(key)) throw mm::InvalidInput("missing block between factors " + std::to_string(c) +
                                                           " and " + std::to_string(j));
            py::tuple trip = off[key].cast<py::tuple>();
            iarray rows = trip[0].cast<iarray>(), cols = trip[1].cast<iarray>();
            darray vals = trip[2].cast<darray>();
            const int kc = specs[c].k;
            const py::ssize_t nz = rows.size();
            if (cols.size() != nz || vals.ndim() != 3 || vals.shape(0) != nz || vals.shape(1) != kc || vals.shape(2) != kj)
                throw mm::InvalidInput("block (" + std::to_string(c) + ", " + std::to_string(j) +
                                       ") must be (rows, cols, values of shape (nnz, k_c, k_j))");
            std::vector<py::ssize_t> order(nz);
            for (py::ssize_t i = 0; i < nz; ++i) order[i] = i;
            std::sort(order.begin(), order.end(), [&](py::ssize_t x, py::ssize_t y) {
                return cols.at(x) != cols.at(y) ? cols.at(x) < cols.at(y) : rows.at(x) < rows.at(y);
            });
            mm::Block& bs = a[mm::tri(c, j)];
            bs.kind = mm::Kind::Sparse;
            mm::SparseBlock& sb = bs.s;
            sb.nrowlev = specs[c].nlev;
            sb.ncollev = nl;
            sb.kr = kc;
            sb.kc = kj;
            sb.colptr.assign(static_cast<size_t>(nl) + 1, 0);
            sb.rowlev.resize(nz);
            sb.v.resize(static_cast<size_t>(nz) * kc * kj);
            for (py::ssize_t t = 0; t < nz; ++t) {
                const py::ssize_t i = order[t];
                const int r = rows.at(i), cl = cols.at(i);
                if (r < 0 || r >= sb.nrowlev || cl < 0 || cl >= nl)
                    throw mm::InvalidInput("block pattern entry outside the factors' levels");
                if (t > 0 && cols.at(order[t - 1]) == cl && rows.at(order[t - 1]) == r)
                    throw mm::InvalidInput("block pattern has a duplicated (row, column) entry");
                sb.rowlev[t] = r;
                ++sb.colptr[cl + 1];
                for (int x = 0; x < kc; ++x)
                    for (int y = 0; y < kj; ++y) sb.v[static_cast<size_t>(t) * kc * kj + x + y * kc] = vals.at(i, x, y);
            }
            for (int cl = 0; cl < nl; ++cl) sb.colptr[cl + 1] += sb.colptr[cl];
        }
    }
    if (xx.ndim() != 2 || xx.shape(0) != pp || xx.shape(1) != pp) throw mm::InvalidInput("XX block must be (p+1, p+1)");
    mm::Block& bxx = a[mm::tri(nf, nf)];
    bxx.kind = mm::Kind::Dense;
    bxx.d.nrow = bxx.d.ncol = pp;
    bxx.d.v.resize(static_cast<size_t>(pp) * pp);
    for (int r = 0; r < pp; ++r)
        for (int c = 0; c < pp; ++c) bxx.d(r, c) = xx.at(r, c);
    py::gil_scoped_release release;
    return std::make_unique<Engine>(n, std::move(specs), p, std::move(a), dense_threshold);
}

// A copy of v as an array of the given shape (v in C order of that shape; default: 1-d).
py::array_t<double> to_array(const std::vector<double>& v, std::vector<py::ssize_t> shape = {}) {
    if (shape.empty()) shape.push_back(static_cast<py::ssize_t>(v.size()));
    py::array_t<double> out(std::move(shape));
    std::copy(v.begin(), v.end(), out.mutable_data());
    return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "C++ core of mixedmodels: penalised least squares with a blocked Cholesky factor.";
    load_blas();

    py::object base = py::module_::import("mixedmodels.exceptions").attr("CoreError");
    static py::exception<mm::NotPositiveDefinite> not_pd(m, "NotPositiveDefiniteError", base);
    static py::exception<mm::InvalidInput> invalid(m, "InvalidInputError", base);
    static py::exception<mm::TooLarge> too_large(m, "TooLargeError", base);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const mm::NotPositiveDefinite& e) {
            py::set_error(not_pd, e.what());
        } catch (const mm::InvalidInput& e) {
            py::set_error(invalid, e.what());
        } catch (const mm::TooLarge& e) {
            py::set_error(too_large, e.what());
        }
    });

    m.def(
        "load_nlopt", [](const std::string& path) { return mm::optim::load_nlopt(path); }, py::arg("path"),
        "Look NLopt's C API up in the shared library at path (the nlopt package's _nlopt extension) so that "
        "Engine.bobyqa can run; returns '' on success, else the reason it cannot.");

    py::class_<Engine>(m, "Engine", "Blocks of A = [Z X y]'[Z X y] and the blocked Cholesky factor L(theta).")
        .def(py::init(&make_engine), py::arg("y"), py::arg("x"), py::arg("factors"),
             py::arg("dense_threshold") = 0.1, py::arg("form_only") = false,
             "Form A in one pass over the rows. factors: list of (codes int32[n], nlev, z float64[n, k], "
             "theta_index, theta_row, theta_col), largest factor first.")
        .def_static("from_blocks", &engine_from_blocks, py::arg("n"), py::arg("p"), py::arg("meta"), py::arg("diag"),
                    py::arg("off"), py::arg("xy"), py::arg("xx"), py::arg("dense_threshold") = 0.1,
                    "Engine from blocks of A summed elsewhere (chunks of rows, partitions): meta per factor "
                    "(nlev, k, theta_index, theta_row, theta_col); diag[f] (nlev, k, k); off[(c, j)] = "
                    "(row levels, column levels, values (nnz, k_c, k_j)) for c > j; xy[f] (p+1, nlev*k); "
                    "xx (p+1, p+1).")
        .def(
            "objective",
            [](Engine& e, const darray& theta, bool reml) {
                std::vector<double> th = theta_vector(theta, e.ntheta);
                py::gil_scoped_release release;
                return e.objective(th.data(), reml);
            },
            py::arg("theta"), py::arg("reml"), "REML criterion or -2 log-likelihood at theta (updates L).")
        .def(
            "derivative_check",
            [](Engine& e, const darray& x, const darray& lower, double fx, bool reml, double h) {
                const std::vector<double> xv = theta_vector(x, e.ntheta), lo = theta_vector(lower, e.ntheta);
                mm::optim::Check c;
                {
                    py::gil_scoped_release release;
                    c = mm::optim::derivative_check(e, reml, xv, lo, fx, h);
                }
                return py::make_tuple(to_array(c.gradient), to_array(c.hessian_diagonal));
            },
            py::arg("x"), py::arg("lower"), py::arg("fx"), py::arg("reml"), py::arg("h") = 1e-4,
            "lme4's derivative check at the optimum x (criterion fx): finite-difference gradient and Hessian "
            "diagonal, central with step h, one-sided within h of a lower bound (gradient 0 when the criterion "
            "increases inwards; Hessian entry NaN). L is left at the last point evaluated.")
        .def(
            "bobyqa",
            [](Engine& e, const darray& x0, const darray& lower, bool reml, int algorithm, double xtol_abs,
               double ftol_abs, int maxeval, std::optional<darray> step) {
                mm::optim::Settings s;
                s.algorithm = algorithm;
                s.xtol_abs = xtol_abs;
                s.ftol_abs = ftol_abs;
                s.maxeval = maxeval;
                if (step) s.step = theta_vector(*step, e.ntheta);
                s.interrupted = [] {  // a pending signal (Ctrl-C) stops the loop; its exception is raised below
                    py::gil_scoped_acquire acquire;
                    return PyErr_CheckSignals() != 0;
                };
                const std::vector<double> x = theta_vector(x0, e.ntheta), lo = theta_vector(lower, e.ntheta);
                mm::optim::Result r;
                {
                    py::gil_scoped_release release;
                    r = mm::optim::minimize(e, reml, x, lo, s);
                }
                if (r.interrupted) throw py::error_already_set();
                return py::make_tuple(to_array(r.x), r.fx, r.n_evals, r.code);
            },
            py::arg("x0"), py::arg("lower"), py::arg("reml"), py::arg("algorithm"), py::arg("xtol_abs"),
            py::arg("ftol_abs"), py::arg("maxeval"), py::arg("step") = py::none(),
            "Minimise the criterion over theta >= lower with NLopt (algorithm: an nlopt_algorithm, e.g. "
            "nlopt.LN_BOBYQA) called from C++ (needs load_nlopt); returns (theta, criterion, evaluations, "
            "nlopt result code). The best point seen is returned when the optimiser stops somewhere worse.")
        .def(
            "update",
            [](Engine& e, const darray& theta) {
                std::vector<double> th = theta_vector(theta, e.ntheta);
                mm::Criterion c;
                {
                    py::gil_scoped_release release;
                    c = e.update(th.data());
                }
                return py::make_tuple(c.ldL2, c.ldRX2, c.pwrss);
            },
            py::arg("theta"), "Update L at theta; returns (log|L|^2, log|R_X|^2, penalised RSS).")
        .def(
            "solve",
            [](const Engine& e) {
                std::vector<double> beta, u;
                {
                    py::gil_scoped_release release;
                    e.solve(beta, u);
                }
                return py::make_tuple(to_array(beta), to_array(u));
            },
            "(beta, u) at the current theta: fixed effects and spherical random effects (engine order).")
        .def(
            "estimates",
            [](Engine& e, const darray& theta) {
                std::vector<double> th = theta_vector(theta, e.ntheta), beta, u, rxi;
                mm::Criterion c;
                {
                    py::gil_scoped_release release;
                    c = e.update(th.data());
                    e.solve(beta, u);
                    rxi = e.rx_inverse_crossprod();
                    u = e.lambda_times(u);
                }
                return py::make_tuple(c.ldL2, c.ldRX2, c.pwrss, to_array(beta), to_array(u), to_array(rxi, {e.p, e.p}));
            },
            py::arg("theta"),
            "Update L at theta and return (log|L|^2, log|R_X|^2, penalised RSS, beta, b, (R_X'R_X)^{-1}), b = "
            "Lambda(theta) u the random effects (engine order, level by level): what a fit reports at its "
            "optimum, in one call.")
        .def(
            "moment_start",
            [](Engine& e, const std::vector<int>& intercept_col) {
                std::vector<double> th;
                {
                    py::gil_scoped_release release;
                    th = e.moment_start(intercept_col);
                }
                return to_array(th);
            },
            py::arg("intercept_col"),
            "Starting theta from moments of the OLS residuals, from the blocks of A alone (intercept_col: per "
            "factor, the index of its intercept column or -1). Leaves L at theta = 0.")
        .def(
            "rx_inverse_crossprod",
            [](const Engine& e) {
                std::vector<double> rxi;
                {
                    py::gil_scoped_release release;
                    rxi = e.rx_inverse_crossprod();
                }
                return to_array(rxi, {e.p, e.p});
            },
            "(R_X'R_X)^{-1} (vcov(beta) / sigma^2, p x p) at the current theta.")
        .def(
            "condcov",
            [](const Engine& e) {
                std::vector<std::vector<double>> cc;
                {
                    py::gil_scoped_release release;
                    cc = e.condcov_u();
                }
                py::list out;
                for (size_t f = 0; f < cc.size(); ++f) {
                    const py::ssize_t nl = e.nlev[f], kk = e.k[f];
                    out.append(to_array(cc[f], {nl, kk, kk}));
                }
                return out;
            },
            "Per factor, (nlev, k, k) diagonal blocks of (L_ZZ L_ZZ')^{-1} at the current theta.")
        .def(
            "lxy",
            [](const Engine& e) {
                const mm::DenseBlock& d = e.lxy();
                py::array_t<double> a({d.nrow, d.ncol});
                auto r = a.mutable_unchecked<2>();
                for (int i = 0; i < d.nrow; ++i)
                    for (int j = 0; j < d.ncol; ++j) r(i, j) = i >= j ? d(i, j) : 0.0;
                return a;
            },
            "The [X y] diagonal block of L, (p+1) x (p+1) lower triangular.")
        .def(
            "dense",
            [](const Engine& e, bool of_l) {
                std::vector<double> v = e.dense(of_l);
                const py::ssize_t qq = e.qtotal() + e.p + 1;
                return to_array(v, {qq, qq});
            },
            py::arg("of_l"), "Lower triangle of L (of_l=True) or A as a dense matrix; for small designs.")
        .def(
            "a_blocks",
            [](const Engine& e) {
                py::list diag, xy;
                const int pp = e.p + 1;
                for (int f = 0; f < e.nf; ++f) {
                    const mm::UBDBlock& u = e.A[mm::tri(f, f)].u;
                    py::array_t<double> d({static_cast<py::ssize_t>(u.nlev), static_cast<py::ssize_t>(u.k),
                                           static_cast<py::ssize_t>(u.k)});
                    auto dv = d.mutable_unchecked<3>();
                    for (int l = 0; l < u.nlev; ++l)
                        for (int a = 0; a < u.k; ++a)
                            for (int b = 0; b < u.k; ++b) dv(l, a, b) = u.at(l)[a + b * u.k];
                    diag.append(d);
                    const mm::DenseBlock& w = e.A[mm::tri(e.nf, f)].d;
                    py::array_t<double> x({static_cast<py::ssize_t>(pp), static_cast<py::ssize_t>(w.ncol)});
                    auto xv = x.mutable_unchecked<2>();
                    for (int r = 0; r < pp; ++r)
                        for (int c = 0; c < w.ncol; ++c) xv(r, c) = w(r, c);
                    xy.append(x);
                }
                const mm::DenseBlock& xxb = e.A[mm::tri(e.nf, e.nf)].d;
                py::array_t<double> xx({static_cast<py::ssize_t>(pp), static_cast<py::ssize_t>(pp)});
                auto v = xx.mutable_unchecked<2>();
                for (int r = 0; r < pp; ++r)
                    for (int c = 0; c < pp; ++c) v(r, c) = r >= c ? xxb(r, c) : xxb(c, r);
                return py::make_tuple(diag, xy, xx);
            },
            "Copies of A's per-factor diagonal blocks (nlev, k, k), [X y] rows (p+1, nlev*k) and [X y] block.")
        .def(
            "column_sumsq",
            [](const Engine& e) { return to_array(e.column_sumsq()); },
            "Sums of squares of the model's columns, from A's diagonal: each factor's random-effects columns "
            "(engine order), then X's.")
        .def(
            "a_parts",
            [](const Engine& e) {
                if (e.A_lo.size() != e.A.size()) throw mm::InvalidInput("this engine holds no remainders of A");
                const int pp = e.p + 1;
                auto pair3 = [](const std::vector<double>& hi, const std::vector<double>& lo, size_t off, int nl, int kr,
                                int kc) {
                    py::array_t<double> h({static_cast<py::ssize_t>(nl), static_cast<py::ssize_t>(kr),
                                           static_cast<py::ssize_t>(kc)});
                    py::array_t<double> l({static_cast<py::ssize_t>(nl), static_cast<py::ssize_t>(kr),
                                           static_cast<py::ssize_t>(kc)});
                    auto hv = h.mutable_unchecked<3>();
                    auto lv = l.mutable_unchecked<3>();
                    for (int t = 0; t < nl; ++t)
                        for (int a = 0; a < kr; ++a)
                            for (int b = 0; b < kc; ++b) {
                                const size_t i = off + static_cast<size_t>(t) * kr * kc + a + static_cast<size_t>(b) * kr;
                                hv(t, a, b) = hi[i];
                                lv(t, a, b) = lo[i];
                            }
                    return py::make_tuple(h, l);
                };
                py::list diag, xy;
                py::dict off;
                for (int j = 0; j < e.nf; ++j) {
                    const mm::UBDBlock& u = e.A[mm::tri(j, j)].u;
                    diag.append(pair3(u.v, e.A_lo[mm::tri(j, j)], 0, u.nlev, u.k, u.k));
                    const mm::DenseBlock& w = e.A[mm::tri(e.nf, j)].d;
                    const std::vector<double>& wl = e.A_lo[mm::tri(e.nf, j)];
                    py::array_t<double> h({static_cast<py::ssize_t>(pp), static_cast<py::ssize_t>(w.ncol)});
                    py::array_t<double> l({static_cast<py::ssize_t>(pp), static_cast<py::ssize_t>(w.ncol)});
                    auto hv = h.mutable_unchecked<2>();
                    auto lv = l.mutable_unchecked<2>();
                    for (int r = 0; r < pp; ++r)
                        for (int c = 0; c < w.ncol; ++c) {
                            hv(r, c) = w(r, c);
                            lv(r, c) = wl[static_cast<size_t>(c) * pp + r];
                        }
                    xy.append(py::make_tuple(h, l));
                    for (int c = j + 1; c < e.nf; ++c) {
                        const mm::SparseBlock& sb = e.A[mm::tri(c, j)].s;
                        const py::ssize_t nz = sb.nnzb();
                        iarray rows(nz), cols(nz);
                        for (int cl = 0; cl < sb.ncollev; ++cl)
                            for (int64_t t = sb.colptr[cl]; t < sb.colptr[cl + 1]; ++t) {
                                rows.mutable_at(t) = sb.rowlev[t];
                                cols.mutable_at(t) = cl;
                            }
                        py::tuple hl = pair3(sb.v, e.A_lo[mm::tri(c, j)], 0, static_cast<int>(nz), sb.kr, sb.kc);
                        off[py::make_tuple(c, j)] = py::make_tuple(rows, cols, hl[0], hl[1]);
                    }
                }
                const mm::DenseBlock& xxb = e.A[mm::tri(e.nf, e.nf)].d;
                const std::vector<double>& xl = e.A_lo[mm::tri(e.nf, e.nf)];
                py::array_t<double> xh({static_cast<py::ssize_t>(pp), static_cast<py::ssize_t>(pp)});
                py::array_t<double> xo({static_cast<py::ssize_t>(pp), static_cast<py::ssize_t>(pp)});
                auto hv = xh.mutable_unchecked<2>();
                auto lv = xo.mutable_unchecked<2>();
                for (int r = 0; r < pp; ++r)
                    for (int c = 0; c < pp; ++c) {
                        const int a = r >= c ? r : c, b = r >= c ? c : r;
                        hv(r, c) = xxb(a, b);
                        lv(r, c) = xl[static_cast<size_t>(b) * pp + a];
                    }
                return py::make_tuple(diag, off, xy, py::make_tuple(xh, xo));
            },
            "A's blocks as double-double pairs (hi, lo): diag [(hi, lo) (nlev, k, k)], off {(c, j): (rows, cols, "
            "hi, lo)}, xy [(hi, lo) (p+1, nlev*k)], xx (hi, lo); for summing chunks exactly.")
        .def("describe", &Engine::describe, "Block types of L, one row of blocks per line.")
        .def("update_flops", &Engine::update_flops,
             "Rough floating-point work of one update(theta), from the block types (chooses the optimiser).")
        .def_readonly("ntheta", &Engine::ntheta)
        .def_readonly("nobs", &Engine::n)
        .def_readonly("p", &Engine::p)
        .def_readonly("nlev", &Engine::nlev)
        .def_readonly("k", &Engine::k);
}
