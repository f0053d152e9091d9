// The moment start's variances of several grouping factors' intercepts (Engine::moment_start), from
// the blocks of A alone: the equations of Gao and Owen's moments for crossed random effects.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine.hpp"

namespace mm {

namespace {

// Solves the m x m system M x = b (row-major, overwritten) by Gaussian elimination with partial
// pivoting; false where a pivot is 0 or not finite.
bool solve_small(std::vector<double>& M, std::vector<double>& b, int m) {
    for (int c = 0; c < m; ++c) {
        int piv = c;
        for (int r = c + 1; r < m; ++r)
            if (std::abs(M[static_cast<size_t>(r) * m + c]) > std::abs(M[static_cast<size_t>(piv) * m + c])) piv = r;
        const double pv = M[static_cast<size_t>(piv) * m + c];
        if (!(std::abs(pv) > 0.0) || !std::isfinite(pv)) return false;
        if (piv != c) {
            for (int j = 0; j < m; ++j) std::swap(M[static_cast<size_t>(c) * m + j], M[static_cast<size_t>(piv) * m + j]);
            std::swap(b[c], b[piv]);
        }
        for (int r = c + 1; r < m; ++r) {
            const double f = M[static_cast<size_t>(r) * m + c] / pv;
            for (int j = c; j < m; ++j) M[static_cast<size_t>(r) * m + j] -= f * M[static_cast<size_t>(c) * m + j];
            b[r] -= f * b[c];
        }
    }
    for (int c = m - 1; c >= 0; --c) {
        double v = b[c];
        for (int j = c + 1; j < m; ++j) v -= M[static_cast<size_t>(c) * m + j] * b[j];
        b[c] = v / M[static_cast<size_t>(c) * m + c];
        if (!std::isfinite(b[c])) return false;
    }
    return true;
}

}  // namespace

// With OLS residuals r and each factor's intercept variance s_g (a row's intercept effects and
// its error independent), the residual sum of squares within the levels of factor f has the
// expectation s_e (n - L_f) + sum over g != f of s_g (n - sum_i sum_k c_ik^2 / n_i), where n_i
// counts the rows of f's level i and c_ik those it shares with g's level k (two rows of level i
// differ in g's effect unless they share its level); and r'r has s_e (n - p) + sum_g s_g (n -
// sum_k m_k^2 / n), m_k the rows of g's level k (the grand mean removed). With a slope or prior
// weights the equations hold only roughly, which a start can afford. The counts are A's blocks at
// the intercept columns: the diagonal ones for n_i, the ones between factors for c_ik.
bool Engine::crossed_intercept_moments(const std::vector<int>& intercept_col, const std::vector<double>& within,
                                       double ete, std::vector<double>& var, double& sigma2) const {
    std::vector<int> fs;  // the factors in the equations: an intercept and more rows than levels
    for (int f = 0; f < nf_; ++f)
        if (intercept_col[f] >= 0 && std::isfinite(within[f])) fs.push_back(f);
    const int m = static_cast<int>(fs.size());
    if (m < 2) return false;
    const double nn = static_cast<double>(n_);
    const int mm = m + 1;
    std::vector<double> M(static_cast<size_t>(mm) * mm, 0.0), b(static_cast<size_t>(mm), 0.0);
    std::vector<std::vector<double>> count(static_cast<size_t>(m));  // n_i per level of each factor
    for (int r = 0; r < m; ++r) {
        const int f = fs[r], a = intercept_col[f], kf = k_[f];
        const UBDBlock& d = A_[tri(f, f)].u;
        count[r].resize(static_cast<size_t>(nlev_[f]));
        double sq = 0.0;
        for (int l = 0; l < nlev_[f]; ++l) {
            const double c = d.at(l)[a + a * kf];
            count[r][l] = c;
            sq += c * c;
        }
        b[r] = within[f];
        M[static_cast<size_t>(r) * mm + m] = nn - nlev_[f];
        M[static_cast<size_t>(m) * mm + r] = nn - sq / nn;
    }
    b[m] = ete;
    M[static_cast<size_t>(m) * mm + m] = nn - p_;
    for (int r = 0; r < m; ++r)
        for (int s = r + 1; s < m; ++s) {
            const int j = fs[r], c = fs[s];  // j < c: block (c, j) has c's levels as rows, j's as columns
            const SparseBlock& blk = A_[tri(c, j)].s;
            const int aj = intercept_col[j], ac = intercept_col[c];
            std::vector<double> sum_j(static_cast<size_t>(nlev_[j]), 0.0), sum_c(static_cast<size_t>(nlev_[c]), 0.0);
            for (int i = 0; i < blk.ncollev; ++i)
                for (int64_t e = blk.colptr[i]; e < blk.colptr[i + 1]; ++e) {
                    const double v = blk.blk(e)[ac + aj * blk.kr];
                    sum_j[i] += v * v;
                    sum_c[blk.rowlev[e]] += v * v;
                }
            double tj = 0.0, tc = 0.0;
            for (int l = 0; l < nlev_[j]; ++l)
                if (count[r][l] > 0.0) tj += sum_j[l] / count[r][l];
            for (int l = 0; l < nlev_[c]; ++l)
                if (count[s][l] > 0.0) tc += sum_c[l] / count[s][l];
            M[static_cast<size_t>(r) * mm + s] = nn - tj;  // c's effects within j's levels
            M[static_cast<size_t>(s) * mm + r] = nn - tc;
        }
    if (!solve_small(M, b, mm) || !(b[m] > 0.0)) return false;
    sigma2 = b[m];
    var.assign(static_cast<size_t>(nf_), -1.0);
    for (int r = 0; r < m; ++r) var[fs[r]] = std::max(b[r], 0.0);
    return true;
}

}  // namespace mm
