// Identifiability checks read off a model's cross-products (cross_products.hpp): which fixed-effects
// columns earlier ones alias, and whether a random slope is constant within every level.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "blas.hpp"
#include "cross_products.hpp"
#include "dd.hpp"
#include "errors.hpp"

namespace mm {

std::vector<int> CrossProducts::independent_fixed(double tol) const {
    const int nf = layout_->nf(), p = layout_->p(), pp = p + 1;
    const DenseBlock& xx = hi_[tri(nf, nf)].d;
    const std::vector<double>& lo = lo_[tri(nf, nf)];
    std::vector<double> g(static_cast<size_t>(p) * p, 0.0);  // rounded X'X, lower triangle, column-major
    for (int c = 0; c < p; ++c)
        for (int r = c; r < p; ++r) g[r + static_cast<size_t>(c) * p] = xx(r, c) + lo[static_cast<size_t>(c) * pp + r];
    std::vector<int> kept;
    if (p == 0) return kept;
    const double tol2 = tol * tol;
    {  // the usual case first: every column well determined (LAPACK's Cholesky)
        std::vector<double> chol(g);
        bool ok = blas::potrf_lower(p, chol.data(), p) == 0;
        for (int j = 0; ok && j < p; ++j) {
            const double d = chol[j + static_cast<size_t>(j) * p];
            ok = d * d > tol2 * g[j + static_cast<size_t>(j) * p];
        }
        if (ok) {
            for (int j = 0; j < p; ++j) kept.push_back(j);
            return kept;
        }
    }
    // R's rule: a column goes when its part not explained by the kept earlier columns has relative
    // norm below tol (a Cholesky factor that skips those columns)
    std::vector<double> chol(static_cast<size_t>(p) * p, 0.0);
    auto at = [&](std::vector<double>& m, int r, int c) -> double& { return m[r + static_cast<size_t>(c) * p]; };
    for (int j = 0; j < p; ++j) {
        const double gjj = at(g, j, j);
        if (gjj <= 0.0) continue;
        double r = gjj;
        for (int k : kept) r -= at(chol, j, k) * at(chol, j, k);
        if (r <= tol2 * gjj) continue;
        const double d = std::sqrt(r);
        at(chol, j, j) = d;
        for (int i = j + 1; i < p; ++i) {
            double s = at(g, i, j);
            for (int k : kept) s -= at(chol, i, k) * at(chol, j, k);
            at(chol, i, j) = s / d;
        }
        kept.push_back(j);
    }
    return kept;
}

bool CrossProducts::constant_within_levels(int f, int intercept, int col, double rel_tol) const {
    if (f < 0 || f >= layout_->nf()) throw InvalidInput("no grouping factor " + std::to_string(f));
    const UBDBlock& d = hi_[tri(f, f)].u;
    const std::vector<double>& lo = lo_[tri(f, f)];
    const int k = d.k;
    if (intercept < 0 || intercept >= k || col < 0 || col >= k)
        throw InvalidInput("no such column of grouping factor " + std::to_string(f));
    auto entry = [&](int l, int a, int b) {
        const size_t e = static_cast<size_t>(l) * k * k + a + static_cast<size_t>(b) * k;
        return dd::DD{d.v[e], lo[e]};
    };
    // In double-double, so that a column far from zero (x + 1e5) keeps its small spread: the
    // within-level sum of squares (sum over levels of sumsq - sum^2 / count), against the
    // column's spread about its overall mean, and against the rounding of the rows' squares
    // (each square was rounded to double before it was summed: at most 2^-53 of sumsq in all).
    dd::DD within, sum, sumsq, count;
    for (int l = 0; l < d.nlev; ++l) {
        const dd::DD n = entry(l, intercept, intercept), s = entry(l, intercept, col), q = entry(l, col, col);
        if (dd::value(n) <= 0.0) continue;
        within = dd::add(within, dd::sub(q, dd::div(dd::mul(s, s), dd::value(n))));
        sum = dd::add(sum, s);
        sumsq = dd::add(sumsq, q);
        count = dd::add(count, n);
    }
    if (dd::value(count) <= 0.0) return true;
    const double spread = std::max(dd::value(dd::sub(sumsq, dd::div(dd::mul(sum, sum), dd::value(count)))), 0.0);
    const double rounding = 8.0 * std::numeric_limits<double>::epsilon() * dd::value(sumsq);
    return dd::value(within) <= rel_tol * spread + rounding;
}

}  // namespace mm
