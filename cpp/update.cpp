// update_L(theta): the blocked left-looking Cholesky of design.md section 2, and the criterion.
#include <cmath>
#include <string>

#include "engine.hpp"
#include "errors.hpp"

namespace mm {

void Engine::set_theta(const double* theta) {
    for (int f = 0; f < nf; ++f) {
        double* t = T.data() + toff[f];
        std::fill(t, t + static_cast<size_t>(k[f]) * k[f], 0.0);
        for (size_t e = 0; e < th_idx_[f].size(); ++e) {
            const double v = theta[th_idx_[f][e]];
            if (!std::isfinite(v)) throw InvalidInput("theta[" + std::to_string(th_idx_[f][e]) + "] is not finite");
            t[th_row_[f][e] + th_col_[f][e] * k[f]] = v;
        }
    }
}

void Engine::init_block(int c, int j) {
    const double* tc = c < nf ? T.data() + toff[c] : nullptr;
    const double* tj = j < nf ? T.data() + toff[j] : nullptr;
    const int kc = c < nf ? k[c] : p + 1;
    const int kj = j < nf ? k[j] : p + 1;
    scale_into(L[tri(c, j)], A[tri(c, j)], tc, kc, tj, kj, c == j && j < nf);
}

Criterion Engine::update_unlocked(const double* theta) {
    set_theta(theta);
    for (int j = 0; j <= nf; ++j) {
        for (int c = j; c <= nf; ++c) init_block(c, j);
        for (int i = 0; i < j; ++i)
            for (int c = j; c <= nf; ++c) rank_update(L[tri(c, j)], L[tri(c, i)], L[tri(j, i)], c == j);
        factor_diag(j);
        solve_all_below(j);
    }
    Criterion cr;
    // log of a product of many diagonal entries: multiply mantissas, add exponents (one log).
    double mant = 1.0;
    long expo = 0;
    auto take = [&](double v) {
        int e = 0;
        mant = std::frexp(mant * v, &e);
        expo += e;
    };
    for (int j = 0; j < nf; ++j) {
        const Block& d = L[tri(j, j)];
        if (d.kind == Kind::UBD) {
            const int kk = d.u.k;
            for (int l = 0; l < d.u.nlev; ++l) {
                const double* b = d.u.at(l);
                for (int m = 0; m < kk; ++m) take(b[m + m * kk]);
            }
        } else {
            for (int m = 0; m < d.d.nrow; ++m) take(d.d(m, m));
        }
    }
    cr.ldL2 = 2.0 * (std::log(mant) + static_cast<double>(expo) * 0.69314718055994530942);
    const DenseBlock& xy = lxy();
    for (int m = 0; m < p; ++m) cr.ldRX2 += std::log(xy(m, m));
    cr.ldRX2 *= 2.0;
    cr.pwrss = xy(p, p) * xy(p, p);
    return cr;
}

double Engine::objective(const double* theta, bool reml) {
    std::lock_guard<std::mutex> lock(mu_);
    const Criterion cr = update_unlocked(theta);
    constexpr double two_pi = 6.283185307179586476925286766559;
    if (reml) {
        const double nmp = static_cast<double>(n - p);
        return cr.ldL2 + cr.ldRX2 + nmp * (1.0 + std::log(two_pi * cr.pwrss / nmp));
    }
    const double nn = static_cast<double>(n);
    return cr.ldL2 + nn * (1.0 + std::log(two_pi * cr.pwrss / nn));
}

}  // namespace mm
