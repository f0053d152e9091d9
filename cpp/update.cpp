// update_L(theta): the blocked left-looking Cholesky of docs/design.md section 4, and the parts of the
// criterion (criterion.hpp turns them into the criterion).
#include <cmath>
#include <cstring>
#include <string>

#include "blas.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "pool.hpp"

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

// Values scaled per chunk below which init_block stays whole (a pool dispatch costs ~20 us).
constexpr int64_t kMinScaledPerChunk = 32768;

void Engine::init_block(int c, int j) {
    const double* tc = c < nf_ ? T_.data() + toff_[c] : nullptr;
    const double* tj = j < nf_ ? T_.data() + toff_[j] : nullptr;
    const int kc = c < nf_ ? k_[c] : p_ + 1;
    const int kj = j < nf_ ? k_[j] : p_ + 1;
    Block& target = L_[tri(c, j)];
    const Block& a = A_[tri(c, j)];
    const bool diag = c == j && j < nf_;
    if (threads_ > 1 && j < nf_ && (a.kind == Kind::UBD || a.kind == Kind::Dense)) {
        const int64_t nlev = nlev_[j];
        const int nchunks = pool::chunks_for(static_cast<int64_t>(values(a).size()) * kj, kMinScaledPerChunk);
        if (nchunks > 1 && scale_levels(target, a, tc, kc, tj, kj, diag, 0, 0)) {
            pool::run(threads_, nchunks, [&](int ch) {
                const auto r = pool::chunk_range(nlev, nchunks, ch);
                scale_levels(target, a, tc, kc, tj, kj, diag, r.first, r.second);
            });
            return;
        }
    }
    scale_into(target, a, tc, kc, tj, kj, diag);
}

// Block column j less the products of the earlier columns: L(c, j) -= sum_i L(c, i) L(j, i)^T.
void Engine::rank_updates(int j) {
    for (int i = 0; i < j; ++i)
        for (int c = j; c <= nf_; ++c) {
            Block& t = L_[tri(c, j)];
            if (!rank_update_chunked(t, L_[tri(c, i)], L_[tri(j, i)], c == j, threads_))
                rank_update(t, L_[tri(c, i)], L_[tri(j, i)], c == j);
        }
}

void Engine::require_update() const {
    if (!updated_) throw InvalidInput("the factor has not been updated at a theta yet (call update first)");
}

Criterion Engine::update_unlocked(const double* theta) {
    const size_t nt = static_cast<size_t>(ntheta());
    if (updated_ && theta_at_.size() == nt && std::memcmp(theta_at_.data(), theta, nt * sizeof(double)) == 0)
        return criterion_at_;
    const blas::SingleThreaded one_thread(single_threaded_blas());
    updated_ = false;  // until the update completes
    set_theta(theta);
    for (int j = 0; j <= nf_; ++j) {
        for (int c = j; c <= nf_; ++c) init_block(c, j);
        rank_updates(j);
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
    theta_at_.assign(theta, theta + nt);
    criterion_at_ = cr;
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
    move_levels(out.b.data(), 1, true);
    return out;
}

}  // namespace mm
