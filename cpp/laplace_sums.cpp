// laplace_sums.hpp: the Laplace gradient's two passes over a GLMM's rows.
#include "laplace_sums.hpp"

#include <algorithm>
#include <cstddef>

namespace mm {

namespace {

// Row i as both passes read it: w_i = prior_i V(mu_i), V'(mu_i), d_i = -2 prior_i (y_i - mu_i),
// its level and its z and x
struct Row {
    double w, dvar, d;
    size_t level;
    const double* z;
    const double* x;
};

inline Row row(const LaplaceRows& r, int64_t i) {
    const double m = r.mu[i];
    const double var = r.poisson ? m : m * (1.0 - m);
    return {r.prior[i] * var,
            r.poisson ? 1.0 : 1.0 - 2.0 * m,
            -2.0 * r.prior[i] * (r.y[i] - m),
            static_cast<size_t>(r.codes[i]),
            r.z + static_cast<size_t>(i) * r.k,
            r.x + static_cast<size_t>(i) * r.p};
}

}  // namespace

void laplace_level_sums(const LaplaceRows& r, double* g, double* c, double* gmat) {
    const int k = r.k, p = r.p;
    const size_t nlev = static_cast<size_t>(r.nlev);
    std::fill(g, g + nlev * k, 0.0);
    std::fill(c, c + nlev * k * k, 0.0);
    std::fill(gmat, gmat + nlev * k * p, 0.0);
    for (int64_t i = 0; i < r.n; ++i) {
        const Row ri = row(r, i);
        double* gl = g + ri.level * k;
        double* cl = c + ri.level * k * k;
        double* ml = gmat + ri.level * k * p;
        for (int a = 0; a < k; ++a) {
            gl[a] += ri.d * ri.z[a];
            const double wza = ri.w * ri.z[a];
            for (int b = 0; b <= a; ++b) cl[a * k + b] += wza * ri.z[b];
            for (int j = 0; j < p; ++j) ml[a * p + j] += wza * ri.x[j];
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
        const Row ri = row(r, i);
        const double* zi = ri.z;
        const double* al = amat + ri.level * k * k;
        double h = 0.0;
        for (int a = 0; a < k; ++a) {
            h += al[a * k + a] * zi[a] * zi[a];
            for (int b = 0; b < a; ++b) h += 2.0 * al[a * k + b] * zi[a] * zi[b];
        }
        const double w1h = ri.w * ri.dvar * h;
        double* ql = qv + ri.level * k;
        for (int a = 0; a < k; ++a) ql[a] += w1h * zi[a];
        const double s = ri.d + w1h;
        for (int j = 0; j < p; ++j) xsum[j] += ri.x[j] * s;
    }
}

}  // namespace mm
