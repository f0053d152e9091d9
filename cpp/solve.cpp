// After update(): the estimates by back substitution, and the conditional covariance blocks.
#include <algorithm>
#include <vector>

#include "blas.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "selected_inverse.hpp"
#include "small.hpp"

namespace mm {

void Engine::solve(std::vector<double>& beta, std::vector<double>& u) const {
    std::lock_guard<std::mutex> lock(mu_);
    require_update();
    solve_unlocked(beta, u);
    move_levels(u.data(), 1, true);
}

std::vector<double> fixed_beta(const DenseBlock& xy, int p) {
    std::vector<double> beta(static_cast<size_t>(p));
    for (int m = 0; m < p; ++m) beta[m] = xy(p, m);
    if (p > 0) blas::trsm_left_lower_trans(p, 1, xy.data(), xy.nrow, beta.data(), p);
    return beta;
}

std::vector<double> Engine::beta_unlocked() const { return fixed_beta(lxy(), p_); }

void Engine::solve_unlocked(std::vector<double>& beta, std::vector<double>& u) const {
    beta = beta_unlocked();
    // r_j = l_yZ - L_XZ^T beta, then L_ZZ^T u = r by block back substitution.
    std::vector<int64_t> off(static_cast<size_t>(nf_) + 1, 0);
    for (int j = 0; j < nf_; ++j) off[j + 1] = off[j] + static_cast<int64_t>(nlev_[j]) * k_[j];
    u.assign(static_cast<size_t>(off[nf_]), 0.0);
    for (int j = 0; j < nf_; ++j) {
        const DenseBlock& b = L_[tri(nf_, j)].d;
        double* r = u.data() + off[j];
        for (int c = 0; c < b.ncol; ++c) {
            double s = b(p_, c);
            for (int m = 0; m < p_; ++m) s -= b(m, c) * beta[m];
            r[c] = s;
        }
    }
    back_solve(L_, nf_, nlev_, k_, off, u, 1);  // L_ZZ^T u = r
}

namespace {

// Y (rows of block c, dense, ld = y.nrow) += B X where B = L(c, i) and X is dense (q_i x ncol).
void add_block_times(DenseBlock& y, const Block& b, const DenseBlock& x) {
    if (b.kind == Kind::Dense) {
        blas::gemm(false, false, y.nrow, y.ncol, b.d.ncol, 1.0, b.d.data(), b.d.nrow, x.data(), x.nrow, 1.0,
                   y.data(), y.nrow);
        return;
    }
    const SparseBlock& s = b.s;
    for (int col = 0; col < s.ncollev; ++col)
        for (int64_t idx = s.colptr[col]; idx < s.colptr[col + 1]; ++idx) {
            const double* blk = s.blk(idx);
            const int r0 = s.rowlev[idx] * s.kr;
            const int x0 = col * s.kc;
            for (int jc = 0; jc < y.ncol; ++jc)
                for (int m = 0; m < s.kc; ++m) {
                    const double xv = x(x0 + m, jc);
                    if (xv == 0.0) continue;
                    for (int a = 0; a < s.kr; ++a) y(r0 + a, jc) += blk[a + m * s.kr] * xv;
                }
        }
}

// Y += B X where X is block diagonal: nlev inverse blocks of size kj (X_j = L(j,j)^{-1}, UBD).
void add_block_times_ubd(DenseBlock& y, const Block& b, const std::vector<double>& inv, int kj) {
    const size_t kk = static_cast<size_t>(kj) * kj;
    if (b.kind == Kind::Dense) {
        const int nl = b.d.ncol / kj;
        for (int l = 0; l < nl; ++l)
            blas::gemm(false, false, y.nrow, kj, kj, 1.0, b.d.data() + static_cast<size_t>(l) * kj * b.d.nrow,
                       b.d.nrow, inv.data() + l * kk, kj, 1.0, &y(0, l * kj), y.nrow);
        return;
    }
    const SparseBlock& s = b.s;
    for (int col = 0; col < s.ncollev; ++col) {
        const double* xl = inv.data() + col * kk;
        for (int64_t idx = s.colptr[col]; idx < s.colptr[col + 1]; ++idx) {
            const double* blk = s.blk(idx);
            const int r0 = s.rowlev[idx] * s.kr;
            for (int jc = 0; jc < kj; ++jc)
                for (int m = 0; m < kj; ++m) {
                    const double xv = xl[m + jc * kj];
                    if (xv == 0.0) continue;
                    for (int a = 0; a < s.kr; ++a) y(r0 + a, col * kj + jc) += blk[a + m * s.kr] * xv;
                }
        }
    }
}

// Y = L(c, c)^{-1} Y in place.
void left_solve(DenseBlock& y, const Block& d) {
    if (d.kind == Kind::Dense) {
        blas::trsm_left_lower(y.nrow, y.ncol, d.d.data(), d.d.nrow, y.data(), y.nrow);
        return;
    }
    const int kk = d.u.k;
    std::vector<double> col(static_cast<size_t>(kk));
    for (int l = 0; l < d.u.nlev; ++l) {
        const double* lv = d.u.at(l);
        for (int jc = 0; jc < y.ncol; ++jc) {
            double* v = &y(l * kk, jc);
            for (int a = 0; a < kk; ++a) {
                double s = v[a];
                for (int m = 0; m < a; ++m) s -= lv[a + m * kk] * v[m];
                v[a] = s / lv[a + a * kk];
            }
        }
    }
}

}  // namespace

// b = Lambda(theta) u for spherical u (engine order, level by level), at the current theta.
std::vector<double> Engine::lambda_times(const std::vector<double>& u) const {
    if (static_cast<int64_t>(u.size()) != qtotal()) throw InvalidInput("u must have one entry per random effect");
    std::vector<double> b(u.size());
    size_t off = 0;
    for (int f = 0; f < nf_; ++f) {
        const int kf = k_[f];
        const double* t = T_.data() + toff_[f];  // lower triangular, column-major
        for (int l = 0; l < nlev_[f]; ++l, off += kf)
            for (int a = 0; a < kf; ++a) {
                double s = 0.0;
                for (int m = 0; m <= a; ++m) s += t[a + m * kf] * u[off + m];
                b[off + a] = s;
            }
    }
    return b;
}

std::vector<double> Engine::rx_inverse_crossprod() const {
    std::lock_guard<std::mutex> lock(mu_);
    require_update();
    return rx_inverse_crossprod_unlocked();
}

std::vector<double> Engine::rx_inverse_crossprod_unlocked() const {
    const DenseBlock& xy = lxy();
    // R = L_XX^{-1} (lower), then R^T R = (L_XX L_XX^T)^{-1}
    std::vector<double> r(static_cast<size_t>(p_) * p_, 0.0), out(static_cast<size_t>(p_) * p_);
    for (int c = 0; c < p_; ++c)
        for (int m = c; m < p_; ++m) r[m + static_cast<size_t>(c) * p_] = xy(m, c);
    if (p_ > 0 && blas::trtri_lower(p_, r.data(), p_) != 0)
        throw NotPositiveDefinite("the fixed-effects block of the factor is singular");
    small::lower_crossprod(r.data(), p_, out.data());
    return out;
}

std::vector<std::vector<double>> Engine::condcov_u() const {
    const blas::SingleThreaded one_thread(single_threaded_blas());
    std::lock_guard<std::mutex> lock(mu_);
    require_update();
    std::vector<std::vector<double>> out(static_cast<size_t>(nf_));
    for (int j = 0; j < nf_; ++j) {
        const int kj = k_[j], nl = nlev_[j];
        const int qj = nl * kj;
        std::vector<double>& res = out[j];
        res.assign(static_cast<size_t>(nl) * kj * kj, 0.0);
        // X_j = L(j,j)^{-1}: per-level inverses when L(j,j) is block diagonal, else dense.
        DenseBlock xj;
        xj.nrow = xj.ncol = qj;
        std::vector<double> invs;
        const Block& d = L_[tri(j, j)];
        const bool ubd = d.kind == Kind::UBD;
        if (ubd) {
            invs.assign(d.u.v.begin(), d.u.v.end());
            for (int l = 0; l < nl; ++l) {
                double* inv = invs.data() + static_cast<size_t>(l) * kj * kj;
                small::inv_lower(inv, kj);
                for (int b = 0; b < kj; ++b)
                    for (int a = 0; a < b; ++a) inv[a + b * kj] = 0.0;
                small::lower_crossprod(inv, kj, res.data() + static_cast<size_t>(l) * kj * kj);
            }
        } else {
            xj.v = d.d.v;
            for (int b = 0; b < qj; ++b)
                for (int a = 0; a < b; ++a) xj(a, b) = 0.0;
            blas::trtri_lower(qj, xj.data(), qj);
            for (int l = 0; l < nl; ++l) {
                double* rb = res.data() + static_cast<size_t>(l) * kj * kj;
                for (int a = 0; a < kj; ++a)
                    for (int b = 0; b < kj; ++b) {
                        double s = 0.0;
                        for (int m = 0; m < qj; ++m) s += xj(m, l * kj + a) * xj(m, l * kj + b);
                        rb[a + b * kj] = s;
                    }
            }
        }
        // Blocks of L^{-1} below: X_c = -L(c,c)^{-1} sum_{i=j}^{c-1} L(c,i) X_i.
        std::vector<DenseBlock> xs(static_cast<size_t>(nf_));
        if (!ubd) xs[j] = std::move(xj);
        for (int c = j + 1; c < nf_; ++c) {
            DenseBlock& y = xs[c];
            y.nrow = nlev_[c] * k_[c];
            y.ncol = qj;
            y.v.assign(static_cast<size_t>(y.nrow) * qj, 0.0);
            if (ubd)
                add_block_times_ubd(y, L_[tri(c, j)], invs, kj);
            else
                add_block_times(y, L_[tri(c, j)], xs[j]);
            for (int i = j + 1; i < c; ++i) add_block_times(y, L_[tri(c, i)], xs[i]);
            left_solve(y, L_[tri(c, c)]);
            for (double& v : y.v) v = -v;
            for (int l = 0; l < nl; ++l) {
                double* rb = res.data() + static_cast<size_t>(l) * kj * kj;
                for (int a = 0; a < kj; ++a)
                    for (int b = 0; b < kj; ++b) {
                        double s = 0.0;
                        for (int m = 0; m < y.nrow; ++m) s += y(m, l * kj + a) * y(m, l * kj + b);
                        rb[a + b * kj] += s;
                    }
            }
        }
        if (!order_[j].empty()) {  // levels in the model's order
            const std::vector<double> held = res;
            const size_t kk = static_cast<size_t>(kj) * kj;
            for (int p = 0; p < nl; ++p)
                std::copy(held.begin() + p * kk, held.begin() + (p + 1) * kk, res.begin() + order_[j][p] * kk);
        }
    }
    return out;
}

std::vector<double> Engine::dense(bool of_l) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (of_l) require_update();
    const std::vector<Block>& blocks = of_l ? L_ : A_;
    std::vector<int64_t> off(static_cast<size_t>(nf_) + 2, 0);
    for (int j = 0; j < nf_; ++j) off[j + 1] = off[j] + static_cast<int64_t>(nlev_[j]) * k_[j];
    off[nf_ + 1] = off[nf_] + p_ + 1;
    const int64_t qq = off[nf_ + 1];
    std::vector<double> out(static_cast<size_t>(qq * qq), 0.0);
    auto put = [&](int64_t r, int64_t c, double v) {
        if (r >= c) out[static_cast<size_t>(r * qq + c)] = v;  // row-major, lower triangle
    };
    for (int c = 0; c <= nf_; ++c)
        for (int j = 0; j <= c; ++j) {
            const Block& b = blocks[tri(c, j)];
            if (b.kind == Kind::UBD) {
                for (int l = 0; l < b.u.nlev; ++l)
                    for (int bb = 0; bb < b.u.k; ++bb)
                        for (int a = 0; a < b.u.k; ++a)
                            put(off[c] + l * b.u.k + a, off[j] + l * b.u.k + bb, b.u.at(l)[a + bb * b.u.k]);
            } else if (b.kind == Kind::Sparse) {
                const SparseBlock& s = b.s;
                for (int col = 0; col < s.ncollev; ++col)
                    for (int64_t idx = s.colptr[col]; idx < s.colptr[col + 1]; ++idx)
                        for (int bb = 0; bb < s.kc; ++bb)
                            for (int a = 0; a < s.kr; ++a)
                                put(off[c] + static_cast<int64_t>(s.rowlev[idx]) * s.kr + a, off[j] + col * s.kc + bb,
                                    s.blk(idx)[a + bb * s.kr]);
            } else {
                for (int bb = 0; bb < b.d.ncol; ++bb)
                    for (int a = 0; a < b.d.nrow; ++a) put(off[c] + a, off[j] + bb, b.d(a, bb));
            }
        }
    return out;
}

}  // namespace mm
