// laplace_sums.hpp: the Laplace gradient's two passes over a GLMM's rows.
#include "laplace_sums.hpp"

#include <algorithm>
#include <cstddef>

namespace mm {

namespace {

// w_i = prior_i V(mu_i), V'(mu_i) and d_i = -2 prior_i (y_i - mu_i) of row i
inline void row_weights(const LaplaceRows& r, int64_t i, double& w, double& dvar, double& d) {
    const double m = r.mu[i];
    const double var = r.poisson ? m : m * (1.0 - m);
    dvar = r.poisson ? 1.0 : 1.0 - 2.0 * m;
    w = r.prior[i] * var;
    d = -2.0 * r.prior[i] * (r.y[i] - m);
}

}  // namespace

void laplace_level_sums(const LaplaceRows& r, double* g, double* c, double* gmat) {
    const int k = r.k, p = r.p;
    const size_t nlev = static_cast<size_t>(r.nlev);
    std::fill(g, g + nlev * k, 0.0);
    std::fill(c, c + nlev * k * k, 0.0);
    std::fill(gmat, gmat + nlev * k * p, 0.0);
    for (int64_t i = 0; i < r.n; ++i) {
        double w = 0.0, dvar = 0.0, d = 0.0;
        row_weights(r, i, w, dvar, d);
        const size_t l = static_cast<size_t>(r.codes[i]);
        const double* zi = r.z + static_cast<size_t>(i) * k;
        const double* xi = r.x + static_cast<size_t>(i) * p;
        double* gl = g + l * k;
        double* cl = c + l * k * k;
        double* ml = gmat + l * k * p;
        for (int a = 0; a < k; ++a) {
            gl[a] += d * zi[a];
            const double wza = w * zi[a];
            for (int b = 0; b <= a; ++b) cl[a * k + b] += wza * zi[b];
            for (int j = 0; j < p; ++j) ml[a * p + j] += wza * xi[j];
        }
    }
    for (size_t l = 0; l < nlev; ++l) {  // the upper triangles
        double* cl = c + l * k * k;
        for (int a = 0; a < k; ++a)
            for (int b = 0; b < a; ++b) cl[b * k + a] = cl[a * k + b];
    }
}

void laplace_row_terms(const LaplaceRows& r, const double* amat, double* qv, double* xsum) {
    const int k = r.k, p = r.p;
    const size_t nlev = static_cast<size_t>(r.nlev);
    std::fill(qv, qv + nlev * k, 0.0);
    std::fill(xsum, xsum + p, 0.0);
    for (int64_t i = 0; i < r.n; ++i) {
        double w = 0.0, dvar = 0.0, d = 0.0;
        row_weights(r, i, w, dvar, d);
        const size_t l = static_cast<size_t>(r.codes[i]);
        const double* zi = r.z + static_cast<size_t>(i) * k;
        const double* xi = r.x + static_cast<size_t>(i) * p;
        const double* al = amat + l * k * k;
        double h = 0.0;
        for (int a = 0; a < k; ++a) {
            h += al[a * k + a] * zi[a] * zi[a];
            for (int b = 0; b < a; ++b) h += 2.0 * al[a * k + b] * zi[a] * zi[b];
        }
        const double w1h = w * dvar * h;
        double* ql = qv + l * k;
        for (int a = 0; a < k; ++a) ql[a] += w1h * zi[a];
        const double s = d + w1h;
        for (int j = 0; j < p; ++j) xsum[j] += xi[j] * s;
    }
}

}  // namespace mm
