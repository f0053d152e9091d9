// Identifiability checks read off a model's cross-products (cross_products.hpp): which fixed-effects
// columns earlier ones alias, and whether a random slope is constant within every level.
#include <algorithm>
#include <cmath>
#include <string>

#include "blas.hpp"
#include "cross_products.hpp"
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
        return d.v[e] + lo[e];
    };
    double total = 0.0;  // sum over levels of the column's sum of squares
    for (int l = 0; l < d.nlev; ++l) total += entry(l, col, col);
    const double bound = rel_tol * std::max(total, 1e-300);
    for (int l = 0; l < d.nlev; ++l) {
        const double count = std::max(entry(l, intercept, intercept), 1.0);
        const double sum = entry(l, intercept, col);
        if (entry(l, col, col) - sum * sum / count > bound) return false;
    }
    return true;
}

}  // namespace mm
