// PIRLS (WorkingRows::pirls): the conditional modes of a GLMM at theta (docs/design.md, section
// 3b). Each iteration re-forms the engine's A for the working weights and response of the current
// linear predictor, factors it at theta and solves for the new modes (and beta, when X is held);
// the step is halved until the penalised deviance decreases. The passes over the rows run in chunks
// fixed by the number of rows (pool.hpp) on the engine's threads: the same numbers for every thread
// count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "errors.hpp"
#include "pool.hpp"
#include "working_rows.hpp"

namespace mm {

namespace {
constexpr int kMaxRowChunks = 16;
}  // namespace

PirlsOutput WorkingRows::pirls(Engine& engine, const GlmFamily& fam, const PirlsInput& in) const {
    const std::lock_guard<std::mutex> lock(work_->mutex);  // one PIRLS at a time per workspace
    const int nf = layout_->nf(), p = p_;
    const int64_t n = n_;
    const size_t q = static_cast<size_t>(layout_->q());
    const int threads = engine.threads();
    const int nchunks = pool::chunks_for(n, kMinRowsPerChunk, kMaxRowChunks);
    std::vector<double> part(static_cast<size_t>(nchunks));  // each chunk's deviance, summed in chunk order
    // T of each factor (column-major, lower triangular) from theta
    std::vector<std::vector<double>> T(static_cast<size_t>(nf));
    std::vector<size_t> uoff(static_cast<size_t>(nf) + 1, 0);
    for (int f = 0; f < nf; ++f) {
        const FactorLayout& fl = layout_->factor(f);
        T[f].assign(static_cast<size_t>(fl.k) * fl.k, 0.0);
        for (size_t e = 0; e < fl.th_idx.size(); ++e) T[f][fl.th_row[e] + fl.th_col[e] * fl.k] = in.theta[fl.th_idx[e]];
        uoff[f + 1] = uoff[f] + static_cast<size_t>(fl.nlev) * fl.k;
    }
    std::vector<double> b(q);
    std::vector<int> kf(static_cast<size_t>(nf));
    for (int f = 0; f < nf; ++f) kf[f] = layout_->factor(f).k;
    // the deviance's constant per row, kept between calls with the responses it was formed from
    // (comparing them costs a pass without a logarithm)
    std::vector<double>& dconst = work_->dconst;
    if (!(work_->dconst_family == fam.family && work_->dconst_y.size() == static_cast<size_t>(n) &&
          std::equal(in.y, in.y + n, work_->dconst_y.begin()))) {
        dconst.resize(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) dconst[i] = fam.deviance_constant(in.y[i]);
        work_->dconst_y.assign(in.y, in.y + n);
        work_->dconst_family = fam.family;
    }
    // the offset: the caller's, or (beta held: the modes-only system) offset + X beta, formed once
    // into the workspace
    const double* offset = in.offset;
    if (!in.fixed_beta.empty()) {
        std::vector<double>& off = work_->offset;
        off.resize(static_cast<size_t>(n));
        const int xp = static_cast<int>(in.fixed_beta.size());
        const double* fb = in.fixed_beta.data();
        pool::run(threads, nchunks, [&](int c) {
            const auto [lo, hi] = pool::chunk_range(n, nchunks, c);
            for (int64_t i = lo; i < hi; ++i) {
                const double* xi = in.x + i * xp;
                double s = 0.0;
                for (int m = 0; m < xp; ++m) s += xi[m] * fb[m];
                off[i] = in.offset[i] + s;
            }
        });
        offset = off.data();
    }
    // the working weights and response, PIRLS' one pair (workspace arrays, sized below): at the last
    // point evaluated, which is eta's; row i's at eta_i, whose mean is mu_i
    std::vector<double>& w = work_->w;
    std::vector<double>& resp = work_->resp;
    const auto working = [&](int64_t i, double eta_i, double mu_i) {
        working_row(fam, eta_i, mu_i, in.y[i], in.prior[i], offset[i], w[i], resp[i]);
    };
    // eta = offset + X beta + Z Lambda u and the penalised deviance there, in one pass over the
    // rows: NaN where a mean is outside the family's range, a point never accepted (the means at
    // eta go to mu, the deviance residuals' sum to dev, and the working weights and response at eta
    // to w and resp, for the next iteration: one pass over the rows instead of two)
    const auto evaluate = [&](const std::vector<double>& beta, const std::vector<double>& u, std::vector<double>& eta,
                              std::vector<double>& mu, double& dev) {
        for (int f = 0; f < nf; ++f) {
            const int k = layout_->factor(f).k;
            for (int l = 0; l < layout_->factor(f).nlev; ++l) {
                const double* ul = u.data() + uoff[f] + static_cast<size_t>(l) * k;
                double* bl = b.data() + uoff[f] + static_cast<size_t>(l) * k;
                for (int a = 0; a < k; ++a) {
                    double s = 0.0;
                    for (int m = 0; m <= a; ++m) s += T[f][a + m * k] * ul[m];
                    bl[a] = s;
                }
            }
        }
        pool::run(threads, nchunks, [&](int c) {
            const auto range = pool::chunk_range(n, nchunks, c);
            const int64_t lo = range.first, hi = range.second;
            double d = 0.0;
            // the row loop, compiled for its sizes where they are common (with_row_sizes)
            const auto rows = [&](auto kc, auto pc) {
                const int pr = pc >= 0 ? int(pc) : p;
                const double* z0 = nullptr;  // one factor, one column (a model may have no factor)
                const int32_t* codes0 = nullptr;
                if constexpr (decltype(kc)::value == 1) {
                    z0 = cols_->z[0].data();
                    codes0 = cols_->codes[0].data();
                }
                for (int64_t i = lo; i < hi; ++i) {
                    double s = offset[i];
                    const double* xi = x_.data() + static_cast<size_t>(i) * pr;
                    for (int m = 0; m < pr; ++m) s += xi[m] * beta[m];
                    if constexpr (decltype(kc)::value == 1) {
                        s += z0[i] * b[static_cast<size_t>(codes0[i])];
                    } else {
                        for (int f = 0; f < nf; ++f) {
                            const int k = kf[f];
                            const double* zi = cols_->z[f].data() + static_cast<size_t>(i) * k;
                            const double* bl = b.data() + uoff[f] + static_cast<size_t>(cols_->codes[f][i]) * k;
                            for (int a = 0; a < k; ++a) s += zi[a] * bl[a];
                        }
                    }
                    eta[i] = s;
                    d += fam.mean_and_deviance(s, in.y[i], in.prior[i], dconst[i], mu[i]);
                    working(i, s, mu[i]);
                }
            };
            with_row_sizes(nf == 1 && kf[0] == 1, p, rows);
            part[c] = d;
        });
        double d = 0.0;
        for (double v : part) d += v;
        dev = d;
        if (!std::isfinite(d)) return std::numeric_limits<double>::quiet_NaN();
        for (double v : u) d += v * v;
        return d;
    };
    const auto largest = [](const std::vector<double>& v, double init) {
        double m = init;
        for (double e : v) m = std::max(m, std::abs(e));
        return m;
    };

    PirlsOutput out;
    std::vector<double> beta(static_cast<size_t>(p), 0.0), u(q, 0.0);
    // the row-length work arrays are the workspace's, reused from call to call (a fresh megabytes-long
    // vector costs its page faults each time). A candidate step is evaluated in place, into eta and
    // mu (and w and resp): a step not accepted is followed by the pass at the current (beta, u)
    // again, which gives the same numbers (rare: the step fails to decrease the deviance 30 times
    // over). Outside the candidates' loop, w and resp are always at eta.
    std::vector<double>& eta = work_->eta;
    std::vector<double>& mu = work_->mu;  // the means at eta
    for (std::vector<double>* v : {&eta, &mu, &w, &resp}) v->resize(static_cast<size_t>(n));
    double pdev = std::numeric_limits<double>::infinity();
    double dev = std::numeric_limits<double>::quiet_NaN();  // the deviance residuals' sum at eta
    bool first = false;  // the first step starts from eta0, which no (beta, u) gives
    bool stalled = false;  // L could not be factored at the latest weights (separation)
    double last_ldl2 = std::numeric_limits<double>::quiet_NaN();
    const auto finish_failed = [&]() {
        out.converged = false;
        out.beta = beta;
        out.u = u;
        if (in.rows_out) {
            out.eta = eta;
            out.mu.assign(static_cast<size_t>(n), std::numeric_limits<double>::quiet_NaN());
        }
        out.devsum = out.ldl2 = std::numeric_limits<double>::quiet_NaN();
        out.ussq = 0.0;
        for (double v : u) out.ussq += v * v;
        return out;
    };
    // A for the current working weights and response; false where one is not finite (the means
    // overflow at this theta and beta, e.g. a slope's theta far out on a covariate in 1e4 units):
    // the criterion cannot be evaluated there, which the optimisers take as a point to avoid
    const auto filled = [&]() {
        try {
            fill(engine, resp.data(), w.data());
        } catch (const InvalidInput&) {
            return false;
        }
        return true;
    };
    if (in.eta0) {
        std::copy(in.eta0, in.eta0 + n, eta.begin());
        for (int64_t i = 0; i < n; ++i) mu[i] = fam.linkinv(eta[i]);
        first = true;
    } else {
        if (in.beta0.size() == static_cast<size_t>(p)) beta = in.beta0;
        if (in.u0.size() == q) u = in.u0;
        pdev = evaluate(beta, u, eta, mu, dev);
        if (!std::isfinite(pdev) && in.u0.size() == q) {  // a warm start outside the family's range: u = 0
            std::fill(u.begin(), u.end(), 0.0);
            pdev = evaluate(beta, u, eta, mu, dev);
        }
        if (!std::isfinite(pdev)) return finish_failed();  // no valid start (lme4: "PIRLS ... NaN")
    }
    std::vector<double> nbeta, nu;
    std::vector<double> cb(static_cast<size_t>(p)), cu(q);
    const bool quadratic = fam.newton_steps();
    double previous = 0.0;  // the previous step's size when it was a full Newton step, else 0
    if (first) {  // w and resp at eta0, whose means are mu (evaluate() forms them otherwise)
        pool::run(threads, nchunks, [&](int c) {
            const auto [lo, hi] = pool::chunk_range(n, nchunks, c);
            for (int64_t i = lo; i < hi; ++i) working(i, eta[i], mu[i]);
        });
    }
    for (int it = 0; it < in.maxit; ++it) {
        out.iterations = it + 1;
        if (!filled()) return finish_failed();
        try {
            last_ldl2 = engine.update(in.theta).ldL2;
        } catch (const NotPositiveDefinite&) {  // the working weights of some columns vanished
            if (first || !std::isfinite(last_ldl2)) return finish_failed();
            stalled = true;  // separation: the estimates head to infinity; stop at the last point
            break;
        }
        engine.solve(nbeta, nu);
        if (first) {  // the first step from mustart: nothing to compare with
            first = false;
            beta = nbeta;
            u = nu;
            pdev = evaluate(beta, u, eta, mu, dev);
            if (!std::isfinite(pdev)) return finish_failed();
            continue;
        }
        double step = 1.0, cdev = 0.0, cdevsum = 0.0, size = 0.0;
        bool accepted = false;
        for (int h = 0; h < 30; ++h) {
            for (int m = 0; m < p; ++m) cb[m] = beta[m] + step * (nbeta[m] - beta[m]);
            for (size_t j = 0; j < q; ++j) cu[j] = u[j] + step * (nu[j] - u[j]);
            cdev = evaluate(cb, cu, eta, mu, cdevsum);
            if (cdev <= pdev + 1e-12 * std::abs(pdev)) {
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        for (int m = 0; m < p; ++m) size = std::max(size, std::abs(nbeta[m] - beta[m]));
        for (size_t j = 0; j < q; ++j) size = std::max(size, std::abs(nu[j] - u[j]));
        size *= step;
        if (accepted) {  // eta, mu, w and resp are the accepted candidate's
            beta.swap(cb);
            u.swap(cu);
            pdev = cdev;
            dev = cdevsum;
        } else {  // back to the current point's
            evaluate(beta, u, eta, mu, dev);
        }
        const double tol = in.tol * (1.0 + std::max(largest(u, 0.0), largest(beta, 0.0)));
        if (size < tol) {
            out.converged = true;
            break;
        }
        // Newton's steps (a canonical link) shrinking quadratically, full steps both: the next
        // would be about size (size / previous)^2, which is below the tolerance here; the modes
        // are that close to the limit now, and the iteration that would only confirm it is saved
        if (quadratic && accepted && step == 1.0 && previous > 0.0 && size < 0.1 * previous &&
            size * (size / previous) * (size / previous) < tol) {
            out.converged = true;
            break;
        }
        previous = accepted && step == 1.0 ? size : 0.0;
        if (!accepted) {  // no decrease along the Newton direction: the minimum, up to rounding
            out.converged = size < 1e-6 * (1.0 + largest(u, 0.0));
            break;
        }
    }
    // L at the weights of the modes
    if (!filled()) return finish_failed();
    double ldl2 = last_ldl2;
    try {
        ldl2 = engine.update(in.theta).ldL2;
    } catch (const NotPositiveDefinite&) {
        if (!std::isfinite(last_ldl2)) return finish_failed();
        stalled = true;  // L of the last factorable weights
    }
    if (stalled) out.converged = false;
    if (in.rows_out) {
        out.mu = mu;
        out.eta = eta;
    }
    out.devsum = dev;
    double ussq = 0.0;
    for (double v : u) ussq += v * v;
    out.ussq = ussq;
    out.ldl2 = ldl2;
    out.beta = std::move(beta);
    out.u = std::move(u);
    return out;
}

}  // namespace mm
