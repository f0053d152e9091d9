// Engine (engine.hpp) and what it returns: Criterion, Estimates and BlockInfo.
#include <pybind11/stl.h>

#include <algorithm>
#include <memory>
#include <sstream>

#include "bind.hpp"
#include "engine.hpp"
#include "pool.hpp"

namespace mm::bind {

int threads_of(const py::object& threads) {
    if (threads.is_none()) {  // the CPUs this process may run on (mixedmodels.arguments.available_cpus)
        const py::module_ os = py::module_::import("os");
        if (py::hasattr(os, "sched_getaffinity")) {
            try {
                return std::max(1, static_cast<int>(py::len(os.attr("sched_getaffinity")(0))));
            } catch (const py::error_already_set&) {  // OSError: fall back to the machine's count
            }
        }
        const py::object n = os.attr("cpu_count")();
        return n.is_none() ? 1 : std::max(1, n.cast<int>());
    }
    if (py::isinstance<py::bool_>(threads) || !py::isinstance<py::int_>(threads) || threads.cast<long long>() < 1 ||
        threads.cast<long long>() > 1 << 16)
        throw py::value_error("threads must be a positive integer or None, got " + py::repr(threads).cast<std::string>());
    return threads.cast<int>();
}

namespace {

std::vector<double> theta_of(const Engine& e, const darray& theta) { return vector_of(theta, e.ntheta(), "theta"); }

std::string block_text(const BlockInfo& b) {
    std::ostringstream os;
    if (b.kind == "Diagonal")
        os << "Diagonal(" << b.nlev << ")";
    else if (b.kind == "BlkDiag")
        os << "BlkDiag(" << b.nlev << "x" << b.k << "x" << b.k << ")";
    else if (b.kind == "Sparse")
        os << "Sparse(" << b.nrow << "x" << b.ncol << ", " << b.nnz_blocks << " blocks)";
    else
        os << "Dense(" << b.nrow << "x" << b.ncol << ")";
    return os.str();
}

}  // namespace

void register_engine(py::module_& m) {
    py::class_<Criterion>(m, "Criterion",
                          "The parts of the factor L(theta) the criterion needs, and the criterion from them "
                          "(docs/design.md, section 1): the one place its formula is written.")
        .def(py::init([](double ldL2, double ldRX2, double pwrss, int64_t n, int p) {
                 return Criterion{ldL2, ldRX2, pwrss, n, p};
             }),
             py::arg("ldL2"), py::arg("ldRX2"), py::arg("pwrss"), py::arg("n"), py::arg("p"))
        .def_readonly("ldL2", &Criterion::ldL2, "log |L_theta|^2")
        .def_readonly("ldRX2", &Criterion::ldRX2, "log |R_X|^2")
        .def_readonly("pwrss", &Criterion::pwrss, "penalised residual sum of squares")
        .def_readonly("n", &Criterion::n, "observations")
        .def_readonly("p", &Criterion::p, "fixed-effects columns")
        .def("profiled", &Criterion::profiled, py::arg("reml"),
             "The REML criterion (reml) or -2 log-likelihood, sigma and beta profiled out.")
        .def("at_sigma", &Criterion::at_sigma, py::arg("sigma"), py::arg("reml"),
             "The REML criterion or -2 log-likelihood at residual SD sigma, beta profiled out.")
        .def("sigma", &Criterion::sigma, py::arg("reml"), "The residual SD at which `profiled` is attained.")
        .def("__repr__", [](const Criterion& c) {
            std::ostringstream os;
            os.precision(17);
            os << "Criterion(ldL2=" << c.ldL2 << ", ldRX2=" << c.ldRX2 << ", pwrss=" << c.pwrss << ", n=" << c.n
               << ", p=" << c.p << ")";
            return os.str();
        });

    py::class_<Estimates>(m, "Estimates", "What a fit reports at theta, from one update of L.")
        .def_readonly("criterion", &Estimates::criterion)
        .def_property_readonly("beta", [](const Estimates& e) { return to_array(e.beta); }, "Fixed effects.")
        .def_property_readonly("b", [](const Estimates& e) { return to_array(e.b); },
                               "Random effects b = Lambda(theta) u, per factor (engine order), level by level.")
        .def_property_readonly(
            "rx_inverse_crossprod",
            [](const Estimates& e) {
                const auto p = static_cast<py::ssize_t>(e.beta.size());
                return to_array(e.rx_inverse_crossprod, {p, p});
            },
            "(R_X'R_X)^{-1}: vcov(beta) / sigma^2.");

    py::class_<BlockInfo>(m, "BlockInfo", "The type and size of one block of the Cholesky factor L.")
        .def_readonly("kind", &BlockInfo::kind, "'Diagonal', 'BlkDiag', 'Sparse' or 'Dense'")
        .def_readonly("nrow", &BlockInfo::nrow)
        .def_readonly("ncol", &BlockInfo::ncol)
        .def_readonly("nlev", &BlockInfo::nlev, "levels of a block-diagonal block (else 0)")
        .def_readonly("k", &BlockInfo::k, "size of each block of a block-diagonal block (else 0)")
        .def_readonly("nnz_blocks", &BlockInfo::nnz_blocks, "stored blocks of a sparse block (else 0)")
        .def("__str__", &block_text)
        .def("__repr__", [](const BlockInfo& b) { return "<BlockInfo " + block_text(b) + ">"; });

    py::class_<Engine>(m, "Engine",
                       "The blocked Cholesky factor L(theta) of a model's cross-products (taken as they are when "
                       "the engine is formed).")
        .def(py::init([](const CrossProducts& a, double dense_threshold, const py::object& threads,
                         const py::object& like, bool reorder) {
                 const int nt = threads_of(threads);
                 if (!like.is_none() && !py::isinstance<Engine>(like))
                     throw py::type_error("like must be an Engine or None, got " +
                                          std::string(py::str(py::type::of(like).attr("__name__"))));
                 const Engine* other = like.is_none() ? nullptr : like.cast<const Engine*>();
                 py::gil_scoped_release release;
                 return std::make_unique<Engine>(a, dense_threshold, nt, other, reorder);
             }),
             py::arg("cross_products"), py::arg("dense_threshold") = 0.1, py::arg("threads") = py::none(),
             py::arg("like") = py::none(), py::arg("reorder") = true,
             "threads: the threads the large kernels of an update or gradient may use (None: os.cpu_count()); "
             "results are bitwise the same for every count, and small designs stay on one thread. like: an "
             "engine of cross-products with the same pattern (a model's second engine), whose choice for each "
             "dense block (a fill-reducing order of its levels, or none) this one takes rather than making it "
             "again (where its pattern differs, this one makes its own). reorder: False keeps every factor's levels in their own order "
             "(level_order empty; for comparisons).")
        .def_property(
            "threads", &Engine::threads, [](Engine& e, const py::object& threads) { e.set_threads(threads_of(threads)); },
            "Threads the large kernels of an update or gradient may use (set None for os.cpu_count()).")
        .def_property_readonly("ntheta", &Engine::ntheta, "Number of covariance parameters.")
        .def_property_readonly("nobs", &Engine::nobs, "Number of observations.")
        .def_property_readonly("p", &Engine::p, "Number of fixed-effects columns.")
        .def(
            "update",
            [](Engine& e, const darray& theta) {
                const std::vector<double> th = theta_of(e, theta);
                py::gil_scoped_release release;
                return e.update(th.data());
            },
            py::arg("theta"), "Update L at theta (at the last update's theta, bit for bit, L is kept); returns the parts of the criterion.")
        .def(
            "objective",
            [](Engine& e, const darray& theta, bool reml) {
                const std::vector<double> th = theta_of(e, theta);
                py::gil_scoped_release release;
                return e.objective(th.data(), reml);
            },
            py::arg("theta"), py::arg("reml"), "The REML criterion or -2 log-likelihood at theta (updates L).")
        .def(
            "estimates",
            [](Engine& e, const darray& theta) {
                const std::vector<double> th = theta_of(e, theta);
                py::gil_scoped_release release;
                return e.estimates(th.data());
            },
            py::arg("theta"), "Update L at theta and return every estimate a fit reports.")
        .def(
            "gradient",
            [](Engine& e, const darray& theta, bool reml) {
                const std::vector<double> th = theta_of(e, theta);
                std::vector<double> grad;
                double value = 0.0;
                {
                    py::gil_scoped_release release;
                    value = e.gradient(th.data(), reml, grad);
                }
                return py::make_tuple(value, to_array(grad));
            },
            py::arg("theta"), py::arg("reml"),
            "(criterion, gradient): the REML criterion or -2 log-likelihood at theta and its analytic gradient "
            "in theta, from one update of L (docs/design.md, section 3a).")
        .def(
            "hessian",
            [](Engine& e, const darray& theta, bool reml) {
                const std::vector<double> th = theta_of(e, theta);
                std::vector<double> grad, hess;
                double value = 0.0;
                {
                    py::gil_scoped_release release;
                    value = e.hessian(th.data(), reml, grad, hess);
                }
                const auto n = static_cast<py::ssize_t>(grad.size());
                py::array_t<double> h({n, n});
                auto hv = h.mutable_unchecked<2>();
                for (py::ssize_t j = 0; j < n; ++j)
                    for (py::ssize_t i = 0; i < n; ++i) hv(i, j) = hess[static_cast<size_t>(i + j * n)];
                return py::make_tuple(value, to_array(grad), h);
            },
            py::arg("theta"), py::arg("reml"),
            "(criterion, gradient, Hessian): as gradient (the gradient to rounding: its level sums are chunked "
            "otherwise), and the criterion's analytic Hessian in theta (ntheta x ntheta), from one update of L; "
            "models with one grouping factor only (has_hessian), else InvalidInput.")
        .def_property_readonly("has_hessian", &Engine::has_hessian,
                               "Whether hessian() covers this model: one grouping factor.")
        .def(
            "gradient_parts",
            [](Engine& e, const darray& theta, bool reml) {
                const std::vector<double> th = theta_of(e, theta);
                std::vector<double> grad;
                GradientParts parts;
                {
                    py::gil_scoped_release release;
                    e.gradient(th.data(), reml, grad, &parts);
                }
                return py::make_tuple(parts.criterion, to_array(parts.dldl), to_array(parts.dldrx),
                                      to_array(parts.dpwrss));
            },
            py::arg("theta"), py::arg("reml"),
            "(criterion, d log|L|^2, d log|R_X|^2 (0 unless reml), d pwrss): the parts of the criterion at theta and their "
            "derivatives in theta, from one update of L (the deviance at a given sigma is "
            "ldL2 [+ ldRX2] + pwrss / sigma^2 + dof log(2 pi sigma^2)).")
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
            "rx_inverse_crossprod",
            [](const Engine& e) {
                std::vector<double> rxi;
                {
                    py::gil_scoped_release release;
                    rxi = e.rx_inverse_crossprod();
                }
                return to_array(rxi, {e.p(), e.p()});
            },
            "(R_X'R_X)^{-1} (vcov(beta) / sigma^2, p x p) at the current theta.")
        .def(
            "inverse_at_rows",
            [](const Engine& e, const py::array& idx_in) {
                if (idx_in.dtype().kind() != 'i')  // not a float or unsigned array silently truncated or wrapped
                    throw InvalidInput("idx must be an array of signed integers (got dtype " +
                                       py::str(static_cast<py::object>(idx_in.dtype())).cast<std::string>() + ")");
                const auto idx = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(idx_in);
                if (!idx || idx.ndim() != 2) throw InvalidInput("idx must be a 2-d array (rows, columns per row)");
                const py::ssize_t n = idx.shape(0), r = idx.shape(1);
                if (r < 1 || r > 4096) throw InvalidInput("need between 1 and 4096 columns per row");
                const int64_t q = e.qtotal();
                std::vector<int64_t> held(idx.data(), idx.data() + n * r);  // checked and copied under the GIL
                for (size_t k = 0; k < held.size(); ++k)
                    if (held[k] < 0 || held[k] >= q)
                        throw InvalidInput("column " + std::to_string(held[k]) + " of row " + std::to_string(k / r) +
                                           " is outside [0, " + std::to_string(q) + ")");
                std::vector<double> out;
                {
                    py::gil_scoped_release release;
                    out = e.inverse_at_rows(held.data(), n, static_cast<int>(r));
                }
                return to_array(out, {n, r, r});
            },
            py::arg("idx"),
            "S = (L_ZZ L_ZZ')^{-1} at each row's random-effects columns: idx (n, r) the columns (engine order of the "
            "factors, the model's of their levels; the t-th of every row in one factor), returns (n, r, r). From the "
            "selected inversion of the current factor (the GLMM's Laplace gradient with several grouping factors): "
            "a pair of columns off the factor's pattern is InvalidInputError (a reordered factor's dense block: "
            "off its factor's structure).")
        .def(
            "solve_zz",
            [](const Engine& e, const py::array_t<double, py::array::f_style | py::array::forcecast>& rhs) {
                if (rhs.ndim() != 2 || rhs.shape(0) != e.qtotal())
                    throw InvalidInput("rhs must be (q, m) with q = " + std::to_string(e.qtotal()) +
                                       " the number of random effects");
                const py::ssize_t q = rhs.shape(0), m = rhs.shape(1);
                if (m > (1 << 20)) throw InvalidInput("at most 2^20 right-hand sides");
                std::vector<double> x;
                {
                    py::gil_scoped_release release;
                    x = e.solve_zz(rhs.data(), static_cast<int>(m));  // rhs column-major, as the core's
                }
                py::array_t<double, py::array::f_style> out({q, m});
                std::copy(x.begin(), x.end(), out.mutable_data());
                return out;
            },
            py::arg("rhs"), "(L_ZZ L_ZZ')^{-1} rhs for rhs (q, m), at the current factor.")
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
                    const FactorLayout& fl = e.layout()->factor(static_cast<int>(f));
                    out.append(to_array(cc[f], {fl.nlev, fl.k, fl.k}));
                }
                return out;
            },
            "Per factor, (nlev, k, k) diagonal blocks of (L_ZZ L_ZZ')^{-1} at the current theta.")
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
            "factor, the index of its intercept column or -1; docs/design.md, section 6). L is left as it was.")
        .def(
            "dense",
            [](const Engine& e, bool of_l) {
                const py::ssize_t qq = e.qtotal() + e.p() + 1;
                return to_array(e.dense(of_l), {qq, qq});
            },
            py::arg("of_l"),
            "Lower triangle of L (of_l=True) or A as a dense matrix, a reordered factor's levels at the engine's "
            "level positions (level_order); for small "
            "designs.")
        .def("describe", &Engine::describe, "The block types of L: per row of blocks, a BlockInfo per block.")
        .def_property_readonly(
            "level_order",
            [](const Engine& e) {
                py::list out;
                for (const std::vector<int>& o : e.level_order()) out.append(to_array(o));
                return out;
            },
            "Per factor (engine order), the model's level at each of the engine's level positions where the engine "
            "reordered the factor's levels (a dense diagonal block whose factor a fill-reducing order makes sparse), "
            "else an empty array. The engine's other methods take and give every factor's levels in the model's "
            "order; dense() gives them at the engine's level positions.")
        .def("update_flops", &Engine::update_flops,
             "Rough floating-point work of one update(theta), from the block types (chooses the optimiser).")
        .def("hold_workspace", &Engine::hold_workspace,
             "Keep the gradients' selected inverse (blocks about the size of L's) from call to call until "
             "release_workspace(): a fit's optimiser, polish and check call the gradient many times, and "
             "allocating a large inverse each time costs up to a fifth of a gradient. Holds nest.")
        .def("release_workspace", &Engine::release_workspace,
             "End one hold_workspace(); the last one frees an inverse larger than 2**21 values (smaller "
             "ones are always kept). Without a hold, only that trim.")
        .def_property_readonly("workspace_values", &Engine::workspace_values,
                               "The values the gradients' selected inverse holds now.")
        .def_property_readonly("single_threaded_blas", &Engine::single_threaded_blas,
                               "Whether updates hold BLAS to one thread: always (large dense blocks are factored "
                               "and inverted on the core's pool).");
    m.def("thread_pool_workers", &pool::workers,
          "Worker threads the core's pool has started so far (it starts them when a large kernel first runs on "
          "more than one thread).");
}

}  // namespace mm::bind
