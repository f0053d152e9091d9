// The gradient of the profiled criterion in theta (docs/design.md, section 3a) from the blocked
// factor that update() leaves. With M = Lambda'Z'Z Lambda + I = L_ZZ L_ZZ', Lambda_k = dLambda/dtheta_k
// (entry (r, c) of a factor's T, on every level) and the PLS solution (beta, u):
//   d log|L|^2     = 2 tr(Lambda_k M^-1 Lambda'Z'Z): M^-1 on the pattern of Z'Z only, from a
//                    selected inversion (Takahashi's recurrences) on the blocks of L;
//   d r^2          = -2 (Z'r)' Lambda_k u (the envelope theorem), Z'r from A's blocks;
//   d log|R_X|^2   = -2 tr(Lambda_k V S^-1 Q'), V = M^-1 Lambda'Z'X = L_ZZ^-T L_XZ', S = R_X'R_X,
//                    Q = Z'X - Z'Z Lambda V;
// and the criterion's gradient is d log|L|^2 [+ d log|R_X|^2] + (n or n - p) d r^2 / r^2.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "blas.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "pool.hpp"
#include "selected_inverse.hpp"
#include "small.hpp"

namespace mm {

double Engine::gradient(const double* theta, bool reml, std::vector<double>& grad, GradientParts* parts) {
    std::lock_guard<std::mutex> lock(mu_);
    const blas::SingleThreaded one_thread(single_threaded_blas());  // outermost: the update's own guard then costs nothing
    const Criterion cr = update_unlocked(theta);
    const int nt = ntheta(), pp = p_ + 1;
    grad.assign(static_cast<size_t>(nt), 0.0);
    if (parts != nullptr) {
        parts->criterion = cr;
        parts->dldl.assign(static_cast<size_t>(nt), 0.0);
        parts->dldrx.assign(static_cast<size_t>(nt), 0.0);
        parts->dpwrss.assign(static_cast<size_t>(nt), 0.0);
    }
    if (nf_ == 1 && L_[0].kind == Kind::UBD && A_[0].kind == Kind::UBD && L_[tri(1, 0)].kind == Kind::Dense &&
        A_[tri(1, 0)].kind == Kind::Dense)
        return gradient_one_factor(cr, reml, grad, parts);
    std::vector<int64_t> off(static_cast<size_t>(nf_) + 1, 0);
    for (int j = 0; j < nf_; ++j) off[j + 1] = off[j] + static_cast<int64_t>(nlev_[j]) * k_[j];
    const int64_t q = off[nf_];

    // V = L_ZZ^{-T} L_[X y]Z' (q x (p + 1)): M^{-1} Lambda'Z'[X y]
    std::vector<double> v(static_cast<size_t>(q) * pp);
    for (int j = 0; j < nf_; ++j) {
        const DenseBlock& b = L_[tri(nf_, j)].d;
        for (int c = 0; c < b.ncol; ++c)
            for (int m = 0; m < pp; ++m) v[m * q + off[j] + c] = b(m, c);
    }
    back_solve(L_, nf_, nlev_, k_, off, v, pp);
    // beta (L_XX' beta = l_yX') and u = V_y - V_X beta
    const std::vector<double> beta = beta_unlocked();
    std::vector<double> u(v.begin() + p_ * q, v.begin() + pp * q);
    for (int m = 0; m < p_; ++m)
        for (int64_t e = 0; e < q; ++e) u[e] -= v[m * q + e] * beta[m];
    // Q = Z'[X y] - Z'Z Lambda V, from A's blocks
    std::vector<double> lv(v.size(), 0.0), qm(v.size(), 0.0);
    for (int f = 0; f < nf_; ++f) {
        const double* t = T_.data() + toff_[f];
        const int kf = k_[f];
        for (int m = 0; m < pp; ++m)
            for (int l = 0; l < nlev_[f]; ++l) {
                const int64_t o = m * q + off[f] + static_cast<int64_t>(l) * kf;
                for (int a = 0; a < kf; ++a) {
                    double s = 0.0;
                    for (int b = 0; b <= a; ++b) s += t[a + b * kf] * v[o + b];
                    lv[o + a] = s;
                }
            }
        const DenseBlock& axz = A_[tri(nf_, f)].d;
        for (int c = 0; c < axz.ncol; ++c)
            for (int m = 0; m < pp; ++m) qm[m * q + off[f] + c] = axz(m, c);
    }
    for (int f = 0; f < nf_; ++f) {
        const int kf = k_[f];
        const UBDBlock& d = A_[tri(f, f)].u;
        for (int m = 0; m < pp; ++m)
            for (int l = 0; l < nlev_[f]; ++l) {
                const int64_t o = m * q + off[f] + static_cast<int64_t>(l) * kf;
                const double* blk = d.at(l);
                for (int b = 0; b < kf; ++b)
                    for (int a = 0; a < kf; ++a) qm[o + a] -= blk[a + b * kf] * lv[o + b];
            }
        for (int c = f + 1; c < nf_; ++c) {
            const SparseBlock& s = A_[tri(c, f)].s;
            double* __restrict__ qp = qm.data();
            const double* __restrict__ lp = lv.data();
            if (s.kr == 1 && s.kc == 1) {  // scalar terms: the loop below without its level-block loops
                for (int l = 0; l < s.ncollev; ++l) {
                    const int64_t cf = off[f] + l;
                    for (int64_t idx = s.colptr[l]; idx < s.colptr[l + 1]; ++idx) {
                        const double a = s.v[idx];
                        const int64_t rc = off[c] + s.rowlev[idx];
                        for (int m = 0; m < pp; ++m) {
                            qp[m * q + rc] -= a * lp[m * q + cf];
                            qp[m * q + cf] -= a * lp[m * q + rc];
                        }
                    }
                }
                continue;
            }
            for (int l = 0; l < s.ncollev; ++l)
                for (int64_t idx = s.colptr[l]; idx < s.colptr[l + 1]; ++idx) {
                    const double* blk = s.blk(idx);
                    const int64_t rc = off[c] + static_cast<int64_t>(s.rowlev[idx]) * s.kr;
                    const int64_t cf = off[f] + static_cast<int64_t>(l) * s.kc;
                    for (int m = 0; m < pp; ++m)
                        for (int y = 0; y < s.kc; ++y)
                            for (int x = 0; x < s.kr; ++x) {
                                const double a = blk[x + y * s.kr];
                                qp[m * q + rc + x] -= a * lp[m * q + cf + y];
                                qp[m * q + cf + y] -= a * lp[m * q + rc + x];
                            }
                }
        }
    }
    // Z'r = Q_y - Q_X beta
    std::vector<double> ztr(qm.begin() + p_ * q, qm.begin() + pp * q);
    for (int m = 0; m < p_; ++m)
        for (int64_t e = 0; e < q; ++e) ztr[e] -= qm[m * q + e] * beta[m];
    // P = V_X S^{-1} (REML)
    std::vector<double> pm;
    if (reml && p_ > 0) {
        const std::vector<double> sinv = rx_inverse_crossprod_unlocked();
        pm.assign(static_cast<size_t>(q) * p_, 0.0);
        blas::gemm(false, false, static_cast<int>(q), p_, p_, 1.0, v.data(), static_cast<int>(q), sinv.data(), p_,
                   0.0, pm.data(), static_cast<int>(q));
    }
    // W_f = sum over levels of the diagonal level blocks of M^{-1} Lambda'Z'Z, from G on A's pattern
    const SelectedInverse::TrimAfterUse trim{selinv_};
    const std::vector<Block>& g = selected_inverse(L_, nf_, nlev_, k_, threads_, selinv_, &plan_);
    std::vector<std::vector<double>> w(static_cast<size_t>(nf_));
    for (int f = 0; f < nf_; ++f) w[f].assign(static_cast<size_t>(k_[f]) * k_[f], 0.0);
    {
        std::vector<double> gb, ta;
        // add gblk T_h' a to w[f]: gblk the k_f x k_h level block G(f, h)[l, b], a the k_h x k_f
        // block (Lambda'Z'Z)(h, f)[b, l] before T_h'
        auto add_block = [&](int f, int h, const double* gblk, const double* a) {
            const int kf = k_[f], kh = k_[h];
            ta.assign(static_cast<size_t>(kh) * kf, 0.0);
            add_tproduct(ta.data(), T_.data() + toff_[h], a, kh, kh, kf);  // T_h' a
            add_product(w[f].data(), gblk, ta.data(), kf, kh, kf);
        };
        auto add_term = [&](int f, int h, int l, int b, const double* a) {
            gb.resize(static_cast<size_t>(k_[f]) * k_[h]);
            if (level_block(g, k_, f, h, l, b, gb.data())) add_block(f, h, gb.data(), a);
        };
        std::vector<double> at, gt;
        for (int f = 0; f < nf_; ++f) {
            const UBDBlock& d = A_[tri(f, f)].u;
            for (int l = 0; l < nlev_[f]; ++l) add_term(f, f, l, l, d.at(l));
            for (int c = f + 1; c < nf_; ++c) {
                const SparseBlock& s = A_[tri(c, f)].s;
                // a sparse L(c, f), hence G(c, f), holds A(c, f)'s pattern (analyse): its blocks by index
                const Block& gcf = g[tri(c, f)];
                const bool same_pattern =
                    gcf.kind == Kind::Sparse && gcf.s.colptr == s.colptr && gcf.s.rowlev == s.rowlev;
                at.resize(s.bsz());
                gt.resize(s.bsz());
                if (same_pattern && s.kr == 1 && s.kc == 1) {  // scalar terms: w += G(c, f)[a, l] A(c, f)[a, l] T
                    double sum = 0.0;
                    for (int64_t idx = 0; idx < s.nnzb(); ++idx) sum += gcf.s.v[idx] * s.v[idx];
                    w[f][0] += T_[toff_[c]] * sum;
                    w[c][0] += T_[toff_[f]] * sum;
                    continue;
                }
                for (int l = 0; l < s.ncollev; ++l)
                    for (int64_t idx = s.colptr[l]; idx < s.colptr[l + 1]; ++idx) {
                        const int a = s.rowlev[idx];
                        const double* ab = s.blk(idx);
                        for (int y = 0; y < s.kc; ++y)
                            for (int x = 0; x < s.kr; ++x) at[y + x * s.kc] = ab[x + y * s.kr];
                        if (same_pattern) {
                            const double* gca = gcf.s.blk(idx);  // G(c, f)[a, l], k_c x k_f
                            for (int y = 0; y < s.kc; ++y)
                                for (int x = 0; x < s.kr; ++x) gt[y + x * s.kc] = gca[x + y * s.kr];
                            add_block(f, c, gt.data(), ab);  // G(f, c)[l, a] (Z'Z)(c, f)[a, l]
                            add_block(c, f, gca, at.data());  // G(c, f)[a, l] (Z'Z)(f, c)[l, a]
                            continue;
                        }
                        add_term(f, c, l, a, ab);  // (Z'Z)(c, f)[a, l]
                        add_term(c, f, a, l, at.data());  // (Z'Z)(f, c)[l, a]
                    }
            }
        }
    }
    // assemble per theta entry (r, c) of factor f: Lambda_k has T's (r, c) entry on every level
    for (int f = 0; f < nf_; ++f) {
        const FactorLayout& fl = layout_->factor(f);
        const int kf = k_[f];
        for (size_t e = 0; e < fl.th_idx.size(); ++e) {
            const int r = fl.th_row[e], c = fl.th_col[e];
            double dldl = 2.0 * w[f][c + r * kf];
            double dr2 = 0.0, drx = 0.0;
            for (int l = 0; l < nlev_[f]; ++l) {
                const int64_t o = off[f] + static_cast<int64_t>(l) * kf;
                dr2 += ztr[o + r] * u[o + c];
                if (!pm.empty())
                    for (int m = 0; m < p_; ++m) drx += pm[m * q + o + c] * qm[m * q + o + r];
            }
            set_gradient_entry(grad, parts, static_cast<size_t>(fl.th_idx[e]), cr, reml, dldl, -2.0 * drx, -2.0 * dr2);
        }
    }
    return cr.profiled(reml);
}

}  // namespace mm
