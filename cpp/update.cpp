// update_L(theta): the blocked left-looking Cholesky of docs/design.md section 4, and the parts of the
// criterion (criterion.hpp turns them into the criterion).
#include <cmath>
#include <string>

#include "blas.hpp"
#include "engine.hpp"
#include "errors.hpp"

namespace mm {

void Engine::set_theta(const double* theta) {
    for (int f = 0; f < nf_; ++f) {
        double* t = T_.data() + toff_[f];
        std::fill(t, t + static_cast<size_t>(k_[f]) * k_[f], 0.0);
        const FactorLayout& fl = layout_->factor(f);
        for (size_t e = 0; e < fl.th_idx.size(); ++e) {
            const double v = theta[fl.th_idx[e]];
            if (!std::isfinite(v)) throw InvalidInput("theta[" + std::to_string(fl.th_idx[e]) + "] is not finite");
            t[fl.th_row[e] + fl.th_col[e] * k_[f]] = v;
        }
    }
}

void Engine::init_block(int c, int j) {
    const double* tc = c < nf_ ? T_.data() + toff_[c] : nullptr;
    const double* tj = j < nf_ ? T_.data() + toff_[j] : nullptr;
    const int kc = c < nf_ ? k_[c] : p_ + 1;
    const int kj = j < nf_ ? k_[j] : p_ + 1;
    scale_into(L_[tri(c, j)], A_[tri(c, j)], tc, kc, tj, kj, c == j && j < nf_);
}

void Engine::require_update() const {
    if (!updated_) throw InvalidInput("the factor has not been updated at a theta yet (call update first)");
}

Criterion Engine::update_unlocked(const double* theta) {
    const blas::SingleThreaded one_thread(pin_blas_);
    updated_ = false;  // until the update completes
    set_theta(theta);
    for (int j = 0; j <= nf_; ++j) {
        for (int c = j; c <= nf_; ++c) init_block(c, j);
        for (int i = 0; i < j; ++i)
            for (int c = j; c <= nf_; ++c) rank_update(L_[tri(c, j)], L_[tri(c, i)], L_[tri(j, i)], c == j);
        factor_diag(j);
        solve_all_below(j);
    }
    Criterion cr;
    cr.n = n_;
    cr.p = p_;
    // log of a product of many diagonal entries: multiply mantissas, add exponents (one log).
    double mant = 1.0;
    long expo = 0;
    auto take = [&](double v) {
        int e = 0;
        mant = std::frexp(mant * v, &e);
        expo += e;
    };
    for (int j = 0; j < nf_; ++j) {
        const Block& d = L_[tri(j, j)];
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
    for (int m = 0; m < p_; ++m) cr.ldRX2 += std::log(xy(m, m));
    cr.ldRX2 *= 2.0;
    cr.pwrss = xy(p_, p_) * xy(p_, p_);
    updated_ = true;
    return cr;
}

double Engine::objective(const double* theta, bool reml) {
    std::lock_guard<std::mutex> lock(mu_);
    return update_unlocked(theta).profiled(reml);
}

Estimates Engine::estimates(const double* theta) {
    std::lock_guard<std::mutex> lock(mu_);
    Estimates out;
    out.criterion = update_unlocked(theta);
    std::vector<double> u;
    solve_unlocked(out.beta, u);
    out.rx_inverse_crossprod = rx_inverse_crossprod_unlocked();
    out.b = lambda_times(u);
    return out;
}

}  // namespace mm
