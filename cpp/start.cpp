// Starting values for theta from moments of the OLS residuals, computed from the blocks of A
// alone (so streamed and in-memory fits start at the same point).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "blas.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "small.hpp"

namespace mm {

// One grouping factor with k >= 2 columns whose T is full (a correlated term): theta from the
// per-level least-squares coefficients b_l of the residuals on all k columns at once, their
// covariance across levels less their average sampling covariance sigma^2 D_l^{-1} (D_l the
// level's block of Z'Z), sigma^2 from the residuals within levels, T the Cholesky factor of that
// estimate over sigma^2 (each SD at most 10). The columns' correlations within levels no longer bias
// each column's coefficients, and the start holds the terms' correlations: sim100k's start agrees
// with the optimum to 2-3 digits and Newton takes 4 evaluations instead of 7. False (the per-column
// start then) where fewer than max(k + 1, 50) levels have a block D_l of full rank, the within-level
// variance is not positive, or the estimate is not inside the parameter space (an SD below the
// per-column start's 0.05, or not positive definite).
bool Engine::multivariate_start(const std::vector<double>& sze, double ete, std::vector<double>& theta) const {
    const FactorLayout& fl = layout_->factor(0);
    const int k = k_[0], nl = nlev_[0];
    const size_t kk = static_cast<size_t>(k) * k;
    if (nf_ != 1 || k < 2 || fl.th_idx.size() != static_cast<size_t>(k) * (k + 1) / 2) return false;
    const UBDBlock& d = A_[0].u;
    std::vector<double> chol(kk), inv(kk), b(static_cast<size_t>(nl) * k), mean(static_cast<size_t>(k), 0.0),
        dinv(kk, 0.0);
    std::vector<char> used(static_cast<size_t>(nl), 0);
    int m = 0;
    double fitted = 0.0;
    // each pivot of D_l's Cholesky factor above this share of its diagonal entry: D_l of full rank
    constexpr double kMinPivot = 1e-8;
    // levels with such blocks, at least: below, the covariance's estimate is noisy (its relative error
    // ~ sqrt(2 / m)), and from it one 21-level design's search (the fallback after Newton stopped at a
    // bound) ended 3e-8 above its boundary optimum, which the per-column start's search reaches
    constexpr int kMinLevels = 50;
    for (int l = 0; l < nl; ++l) {
        const double* dl = d.at(l);
        std::copy(dl, dl + kk, chol.begin());
        bool full = small::chol(chol.data(), k);
        for (int a = 0; full && a < k; ++a) full = chol[a + a * k] * chol[a + a * k] > kMinPivot * dl[a + a * k];
        if (!full) continue;
        small::inv_lower(chol.data(), k);
        small::lower_crossprod(chol.data(), k, inv.data());  // D_l^{-1}
        double* bl = b.data() + static_cast<size_t>(l) * k;
        const double* sl = sze.data() + static_cast<size_t>(l) * k;
        for (int a = 0; a < k; ++a) {
            double x = 0.0;
            for (int c = 0; c < k; ++c) x += inv[a + c * k] * sl[c];
            bl[a] = x;
        }
        for (int a = 0; a < k; ++a) {
            fitted += sl[a] * bl[a];
            mean[a] += bl[a];
        }
        for (size_t e = 0; e < kk; ++e) dinv[e] += inv[e];
        used[l] = 1;
        ++m;
    }
    const double dof = static_cast<double>(n_ - p_) - static_cast<double>(m) * k;
    if (m < std::max(k + 1, kMinLevels) || !(dof > 0.0)) return false;
    const double sigma2 = (ete - fitted) / dof;
    if (!(sigma2 > 0.0) || !std::isfinite(sigma2)) return false;
    for (double& x : mean) x /= m;
    std::vector<double> c(kk, 0.0);  // the coefficients' covariance less their sampling covariance, over sigma^2
    for (int l = 0; l < nl; ++l) {
        if (!used[l]) continue;
        const double* bl = b.data() + static_cast<size_t>(l) * k;
        for (int j = 0; j < k; ++j)
            for (int i = 0; i < k; ++i) c[i + j * k] += (bl[i] - mean[i]) * (bl[j] - mean[j]);
    }
    for (size_t e = 0; e < kk; ++e) c[e] = (c[e] / m - sigma2 * dinv[e] / m) / sigma2;
    // inside the parameter space only: every variance above the per-column start's lower bound and C
    // positive definite (else the per-column start, whose searches the stress designs near the boundary
    // were tuned on: from an estimate clamped there, one saddle design ended 3e-8 above its optimum)
    std::vector<double> sd(static_cast<size_t>(k));
    for (int a = 0; a < k; ++a) {
        if (!(c[a + a * k] >= 0.05 * 0.05)) return false;
        sd[a] = std::min(std::sqrt(c[a + a * k]), 10.0);
    }
    for (int j = 0; j < k; ++j)  // the correlations as estimated, each SD at most 10
        for (int i = 0; i < k; ++i) chol[i + j * k] = c[i + j * k] / std::sqrt(c[i + i * k] * c[j + j * k]) * sd[i] * sd[j];
    bool positive = small::chol(chol.data(), k);  // each pivot above 1e-6 of its variance
    for (int a = 0; positive && a < k; ++a) positive = chol[a + a * k] > 1e-3 * sd[a];
    if (!positive) return false;
    for (size_t e = 0; e < fl.th_idx.size(); ++e)
        theta[static_cast<size_t>(fl.th_idx[e])] = chol[fl.th_row[e] + static_cast<size_t>(fl.th_col[e]) * k];
    return true;
}

// For each random-effects column z of each grouping factor, the per-level least-squares
// coefficient of the residuals on z estimates that level's effect; the spread of those
// coefficients across levels, less their average sampling variance, estimates the variance
// component, and theta's diagonal entry is its ratio to the residual SD (the within-level
// residual variance of a factor with an intercept column, the smallest over such factors). With
// two or more factors with intercept columns, those columns' entries come instead from moment
// equations over all of them at once (crossed_intercept_moments), where each factor's residuals
// within its levels hold the other factors' variances too. Off-diagonal entries start at 0, a
// diagonal entry with fewer than 2 informative levels at 1.
std::vector<double> Engine::moment_start(const std::vector<int>& intercept_col) {
    if (static_cast<int>(intercept_col.size()) != nf_)
        throw InvalidInput("one intercept column index (or -1) per grouping factor");
    for (int f = 0; f < nf_; ++f)
        if (intercept_col[f] < -1 || intercept_col[f] >= k_[f])
            throw InvalidInput("intercept column " + std::to_string(intercept_col[f]) + " of grouping factor " +
                               std::to_string(f) + " is not -1 or one of its " + std::to_string(k_[f]) + " columns");
    std::lock_guard<std::mutex> lock(mu_);
    // At theta = 0 the penalised fit is OLS: its beta and residual sum of squares, from the [X y]
    // block of A alone (at theta = 0 every block to its left in L is 0, so an update's factor of
    // that block is A's own, bit for bit: the same kernels, without the update's pass over the
    // random-effects blocks, which is most of a start's time on crossed designs)
    DenseBlock xy = A_[tri(nf_, nf_)].d;
    {
        const blas::SingleThreaded one_thread(single_threaded_blas());
        factor_fixed_block(xy, p_);
    }
    const std::vector<double> beta = fixed_beta(xy, p_);
    const double ete = xy(p_, p_) * xy(p_, p_);
    const double nn = static_cast<double>(n_);

    std::vector<std::vector<double>> sze(static_cast<size_t>(nf_));  // per level and column: sum z e
    std::vector<double> within(static_cast<size_t>(nf_), std::numeric_limits<double>::quiet_NaN());
    double sigma2 = std::numeric_limits<double>::infinity();
    for (int f = 0; f < nf_; ++f) {
        const DenseBlock& w = A_[tri(nf_, f)].d;
        const UBDBlock& d = A_[tri(f, f)].u;
        const int kf = k_[f], nl = nlev_[f];
        std::vector<double>& s = sze[f];
        s.resize(static_cast<size_t>(nl) * kf);
        for (int c = 0; c < nl * kf; ++c) {
            double v = w(p_, c);
            for (int m = 0; m < p_; ++m) v -= beta[m] * w(m, c);
            s[c] = v;
        }
        const int a = intercept_col[f];
        if (a >= 0 && a < kf && n_ > nl) {
            double between = 0.0;
            for (int l = 0; l < nl; ++l) {
                const double e = s[static_cast<size_t>(l) * kf + a];
                between += e * e / std::max(d.at(l)[a + a * kf], 1.0);
            }
            within[f] = ete - between;
            sigma2 = std::min(sigma2, std::max((ete - between) / (nn - nl), 0.0));
        }
    }
    // Two or more factors with intercepts: their variances from the moment equations that count
    // the levels rows share (start_crossed.cpp), where each factor's residuals within its levels
    // would hold the others' variances (crossed200k's start: 11 % below the optimum -> 0.4 %)
    std::vector<double> crossed_var;
    double crossed_sigma2 = 0.0;
    const bool crossed = crossed_intercept_moments(intercept_col, within, ete, crossed_var, crossed_sigma2);
    if (!std::isfinite(sigma2)) sigma2 = ete / static_cast<double>(std::max<int64_t>(n_ - p_, 1));
    sigma2 = std::max(sigma2, 1e-12 * std::max(ete / std::max(nn, 1.0), 1e-300));

    std::vector<double> theta(static_cast<size_t>(ntheta()), 0.0);
    if (nf_ == 1 && multivariate_start(sze[0], ete, theta)) return theta;
    for (int f = 0; f < nf_; ++f) {
        const UBDBlock& d = A_[tri(f, f)].u;
        const int kf = k_[f], nl = nlev_[f];
        const FactorLayout& fl = layout_->factor(f);
        for (size_t e = 0; e < fl.th_idx.size(); ++e) {
            const int a = fl.th_row[e];
            if (a != fl.th_col[e]) continue;  // off the diagonal: 0
            if (crossed && a == intercept_col[f] && crossed_var[f] >= 0.0) {
                theta[fl.th_idx[e]] = std::clamp(std::sqrt(crossed_var[f] / crossed_sigma2), 0.05, 10.0);
                continue;
            }
            int m = 0;
            double sum = 0.0, inv = 0.0;
            for (int l = 0; l < nl; ++l) {
                const double szz = d.at(l)[a + a * kf];
                if (szz > 0) {
                    ++m;
                    sum += sze[f][static_cast<size_t>(l) * kf + a] / szz;
                    inv += 1.0 / szz;
                }
            }
            double value = 1.0;
            if (m >= 2) {
                const double mean = sum / m;
                double ss = 0.0;
                for (int l = 0; l < nl; ++l) {
                    const double szz = d.at(l)[a + a * kf];
                    if (szz > 0) {
                        const double dev = sze[f][static_cast<size_t>(l) * kf + a] / szz - mean;
                        ss += dev * dev;
                    }
                }
                const double tau2 = ss / m - sigma2 * inv / m;
                value = std::clamp(std::sqrt(std::max(tau2, 0.0) / sigma2), 0.05, 10.0);
            }
            theta[fl.th_idx[e]] = value;
        }
    }
    return theta;
}

}  // namespace mm
