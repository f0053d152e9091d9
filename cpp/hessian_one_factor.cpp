// The Hessian of the profiled criterion in theta with one grouping factor, for the Newton polish
// (docs/design.md, section 6, "The polish's Hessian"): the second derivatives of the three parts
// that gradient_one_factor.cpp differentiates once, level by level. theta's entries are entries
// (r_e, c_e) of T (E_e the unit matrix there); per level l, D the level's block of Z'Z, C its Z'X,
// M = T'DT + I = L L', G = M^{-1}, V = M^{-1} T'C (k x p), Q = C - D T V, u the spherical effects
// and Z'r the residuals' sums, and with t_r the r-th column of T'D, q_r and v_c rows of Q and V:
//   log|L|^2: N_e = dM/d theta_e = e_c t_r' + t_r e_c', and
//             d2 = sum_l 2 G[c_e, c_f] D[r_e, r_f] - tr(G N_e G N_f);
//   r^2 (the PLS minimum; the envelope theorem at second order), with the full factor of
//             [M, T'C; C'T, X'X]:
//             d2 = sum_l 2 u[c_e] D[r_e, r_f] u[c_f] - 2 a_e' [..]^{-1} a_f,
//             a_e = (per level -e_c (Z'r)[r] + t_r u[c]; over levels sum C[r, :]' u[c]);
//   log|R_X|^2 = log|S|, S = X'X - C'T M^{-1} T'C: with Q_e = e_c q_r' - t_r v_c' and P_e = G Q_e,
//             S_e = -sum_l (q_r v_c' + v_c q_r'),
//             d2 = -2 sum_l <Q_e S^{-1}, P_f> + 2 sum_l D[r_e, r_f] v_ce' S^{-1} v_cf
//                  - tr(S^{-1} S_e S^{-1} S_f);
// and the criterion's Hessian is d2 log|L|^2 [+ d2 log|R_X|^2] + m (d2 r^2 / r^2 - d r^2 d r^2' / r^4),
// m = n (ML) or n - p (REML). The levels are cut into chunks by size only, each chunk's sums added in
// chunk order: the same bits for every thread count.
#include <algorithm>
#include <vector>

#include "blas.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "one_factor_level.hpp"
#include "pool.hpp"
#include "row_sizes.hpp"
#include "small.hpp"

namespace mm {

namespace {

// Chunks of levels small enough that the caller's thread takes the first ones while a worker wakes
// (sim100k's 2,000 levels: 37 chunks; with 9, two Hessians took 1.19 ms on two threads, with 37 0.96)
constexpr int64_t kMinWorkPerChunk = 50000;

// One chunk's sums: the gradient's k x k sums (as gradient_one_factor's), the level terms of the
// Hessian (ne x ne, upper triangle), and per entry e the p-vector sum of u_c q_r + (Z'r)_r v_c (the
// fixed-effects part of the PLS term) and the p x p matrix S_e.
struct HessianSums {
    std::vector<double> w, r2, rx, acc, xv, se;
};

// What the level pass reads: the factor's and A's blocks, T, beta, S^{-1} (REML), the entries.
struct HessianInputs {
    int k, p, ne, ldl, lda;
    bool rx_terms;
    double pls;  // m / r^2
    const double *lzz, *azz, *lxz, *axz, *t, *beta, *sinv;
    const int *re, *ce;
};

// The level terms of levels [l0, l1) into s. K and P the compile-time k and p (0 and -1: at run
// time); the same operations in the same order either way.
template <int K, int P>
void hessian_levels(const HessianInputs& in, int l0, int l1, HessianSums& s) {
    const int k = K ? K : in.k;
    const int p = P >= 0 ? P : in.p;
    const int pp = p + 1, ne = in.ne, ldl = in.ldl, lda = in.lda;
    const size_t kk = static_cast<size_t>(k) * k;
    const bool rx_terms = in.rx_terms;
    const double pls = in.pls;
    const double* t = in.t;
    const double* beta = in.beta;
    const double* sinv = in.sinv;
    const int* re = in.re;
    const int* ce = in.ce;
    const size_t kp = static_cast<size_t>(k) * pp;
    std::vector<double> v(kp), lv(kp), qm(kp), pm(kp), qs(kp), u(k), ztr(k), g(kk), linv(kk), ta(kk), h(kk),
        dk(kk), vsv(kk), qsv(kk), qsq(kk);
    for (int l = l0; l < l1; ++l) {
        const double* ll = in.lzz + l * kk;
        const double* dl = in.azz + l * kk;
        const double* bl = in.lxz + static_cast<size_t>(l) * k * ldl;
        const double* cl = in.axz + static_cast<size_t>(l) * k * lda;
        // V, u, T V, Q, Z'r (one_factor_level.hpp) and the gradient's sums, as gradient_one_factor.cpp
        one_factor::level_solution<K, P>(k, pp, ll, dl, bl, ldl, cl, lda, t, beta, v.data(), u.data(), lv.data(),
                                         qm.data(), ztr.data());
        for (int c = 0; c < k; ++c)
            for (int r = 0; r < k; ++r) s.r2[r + c * k] += ztr[r] * u[c];
        if (rx_terms) {
            // pm = V S^{-1}, qs = Q S^{-1} (k x p); RX += Q pm'; the tables V S^-1 V', Q S^-1 V', Q S^-1 Q'
            for (int m = 0; m < p; ++m)
                for (int c = 0; c < k; ++c) {
                    double x = 0.0, z = 0.0;
                    for (int m2 = 0; m2 < p; ++m2) {
                        const double si = sinv[m2 + static_cast<size_t>(m) * p];
                        x += v[c + static_cast<size_t>(m2) * k] * si;
                        z += qm[c + static_cast<size_t>(m2) * k] * si;
                    }
                    pm[c + static_cast<size_t>(m) * k] = x;
                    qs[c + static_cast<size_t>(m) * k] = z;
                }
            for (int b = 0; b < k; ++b)
                for (int a = 0; a < k; ++a) {
                    double x = 0.0, y = 0.0, z = 0.0, rxv = 0.0;
                    for (int m = 0; m < p; ++m) {
                        const size_t o = static_cast<size_t>(m) * k;
                        x += pm[a + o] * v[b + o];
                        y += qs[a + o] * v[b + o];
                        z += qs[a + o] * qm[b + o];
                        rxv += qm[a + o] * pm[b + o];
                    }
                    vsv[a + b * k] = x;
                    qsv[a + b * k] = y;
                    qsq[a + b * k] = z;
                    s.rx[a + b * k] += rxv;
                }
        }
        // G = M^{-1}; T'D (its columns the t_r); H = G T'D (W += H); DK = D - (T'D)' H
        one_factor::level_inverse<K>(k, ll, dl, t, linv.data(), g.data(), ta.data(), h.data());
        for (size_t i = 0; i < kk; ++i) s.w[i] += h[i];
        for (int b = 0; b < k; ++b)
            for (int a = 0; a < k; ++a) {
                double x = 0.0;
                for (int e = 0; e < k; ++e) x += ta[e + a * k] * h[e + b * k];
                dk[a + b * k] = dl[a + b * k] - x;
            }
        // per entry: the fixed-effects part of a_e's solve, and S_e
        for (int e = 0; e < ne; ++e) {
            const int r = re[e], c = ce[e];
            double* xe = s.xv.data() + static_cast<size_t>(e) * p;
            for (int m = 0; m < p; ++m)
                xe[m] += u[c] * qm[r + static_cast<size_t>(m) * k] + ztr[r] * v[c + static_cast<size_t>(m) * k];
            if (rx_terms) {
                double* sep = s.se.data() + static_cast<size_t>(p) * p * e;
                for (int m2 = 0; m2 < p; ++m2)
                    for (int m = 0; m < p; ++m)
                        sep[m + static_cast<size_t>(m2) * p] -=
                            qm[r + static_cast<size_t>(m) * k] * v[c + static_cast<size_t>(m2) * k] +
                            v[c + static_cast<size_t>(m) * k] * qm[r + static_cast<size_t>(m2) * k];
            }
        }
        // pairs e <= f
        for (int f = 0; f < ne; ++f) {
            const int r1 = re[f], c1 = ce[f];
            for (int e = 0; e <= f; ++e) {
                const int r = re[e], c = ce[e];
                const double gcc = g[c + c1 * k], dkr = dk[r + r1 * k];
                const double h1 = h[c1 + r * k], h2 = h[c + r1 * k];
                double x = 2.0 * (gcc * dkr - h1 * h2);
                x += 2.0 * pls *
                     (u[c] * u[c1] * dkr + u[c] * ztr[r1] * h1 + ztr[r] * u[c1] * h2 - ztr[r] * ztr[r1] * gcc);
                if (rx_terms)
                    x += 2.0 * (dkr * vsv[c + c1 * k] - gcc * qsq[r + r1 * k] + h2 * qsv[r + c1 * k] +
                                h1 * qsv[r1 + c * k]);
                s.acc[e + static_cast<size_t>(f) * ne] += x;
            }
        }
    }
}

}  // namespace

bool Engine::has_hessian() const {
    return nf_ == 1 && L_[0].kind == Kind::UBD && A_[0].kind == Kind::UBD && L_[tri(1, 0)].kind == Kind::Dense &&
           A_[tri(1, 0)].kind == Kind::Dense;
}

// Each term of a pair of entries e = (r, c), f = (r', c') is a product of entries of k x k tables of
// the level (N_e, Q_e and P_e have rank 2): G, H = G T'D (h_r = G t_r), K = D T G T'D (t_r' G t_r'),
// and with REML V S^{-1} V', Q S^{-1} V', Q S^{-1} Q'. Per level and pair, with DK = D - K:
//   d2 log|L|^2:  2 G[c,c'] DK[r,r'] - 2 H[c',r] H[c,r'];
//   the PLS term (phi - 2 a_e'C^{-1}a_f, its random-effects part; L_XZ L^{-1} = V'):
//                 2 (u_c u_c' DK[r,r'] + u_c (Z'r)_r' H[c',r] + (Z'r)_r u_c' H[c,r'] - (Z'r)_r (Z'r)_r' G[c,c']);
//   d2 log|R_X|^2 (its level part): 2 (DK[r,r'] VSV[c,c'] - G[c,c'] QSQ[r,r'] + H[c,r'] QSV[r,c'] + H[c',r] QSV[r',c]).
double Engine::hessian(const double* theta, bool reml, std::vector<double>& grad, std::vector<double>& hess) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!has_hessian()) throw InvalidInput("the analytic Hessian covers models with one grouping factor only");
    const blas::SingleThreaded one_thread(single_threaded_blas());
    const Criterion cr = update_unlocked(theta);
    const int k = k_[0], p = p_, pp = p_ + 1, nlev = nlev_[0];
    const size_t kk = static_cast<size_t>(k) * k;
    const FactorLayout& fl = layout_->factor(0);
    const int ne = static_cast<int>(fl.th_idx.size());
    const size_t nn = static_cast<size_t>(ne) * ne;
    const std::vector<int>& re = fl.th_row;
    const std::vector<int>& ce = fl.th_col;
    const DenseBlock& lxz = L_[tri(1, 0)].d;
    const DenseBlock& axz = A_[tri(1, 0)].d;
    const DenseBlock& xy = lxy();
    const int ldl = lxz.nrow, lda = axz.nrow;
    const std::vector<double> beta = beta_unlocked();
    const bool rx_terms = reml && p > 0;
    const std::vector<double> sinv = rx_terms ? rx_inverse_crossprod_unlocked() : std::vector<double>();
    const double* t = T_.data() + toff_[0];
    const double dof = cr.dof(reml), r2 = cr.pwrss, pls = dof / r2;
    const int64_t per_level = static_cast<int64_t>(kk) * (4 * pp + 4 * k + (rx_terms ? 3 * p : 0)) +
                              static_cast<int64_t>(ne) * (ne + 1) * 12 + static_cast<int64_t>(ne) * p * (p + 2);
    const int nchunks = pool::chunks_for(static_cast<int64_t>(nlev) * per_level, kMinWorkPerChunk);
    std::vector<HessianSums> sums(static_cast<size_t>(nchunks));
    const size_t pne = static_cast<size_t>(p) * ne;
    const HessianInputs in{k,        p,          ne,          ldl,       lda,         rx_terms,  pls,
                           L_[0].u.v.data(), A_[0].u.v.data(), lxz.data(), axz.data(), t, beta.data(), sinv.data(),
                           re.data(), ce.data()};
    pool::run(threads_, nchunks, [&](int ch) {
        HessianSums& s = sums[ch];
        s.w.assign(kk, 0.0);
        s.r2.assign(kk, 0.0);
        s.rx.assign(kk, 0.0);
        s.acc.assign(nn, 0.0);
        s.xv.assign(pne, 0.0);
        s.se.assign(rx_terms ? static_cast<size_t>(p) * p * ne : 0, 0.0);
        const auto range = pool::chunk_range(nlev, nchunks, ch);
        small::with_k(k, [&](auto kc) {
            with_p<decltype(kc)::value>(p, [&](auto, auto pc) {
                hessian_levels<decltype(kc)::value, decltype(pc)::value>(in, static_cast<int>(range.first),
                                                                         static_cast<int>(range.second), s);
            });
        });
    });
    HessianSums tot = std::move(sums[0]);
    for (int ch = 1; ch < nchunks; ++ch) {
        const HessianSums& s = sums[ch];
        auto add = [](std::vector<double>& a, const std::vector<double>& b) {
            for (size_t i = 0; i < a.size(); ++i) a[i] += b[i];
        };
        add(tot.w, s.w);
        add(tot.r2, s.r2);
        add(tot.rx, s.rx);
        add(tot.acc, s.acc);
        add(tot.xv, s.xv);
        add(tot.se, s.se);
    }
    // the gradient, as gradient_one_factor
    grad.assign(static_cast<size_t>(ntheta()), 0.0);
    one_factor::set_gradient(fl, k, cr, reml, tot.w.data(), tot.r2.data(), tot.rx.data(), grad, nullptr);
    std::vector<double> dr2(static_cast<size_t>(ne));
    for (int e = 0; e < ne; ++e) dr2[e] = -2.0 * tot.r2[re[e] + ce[e] * k];
    // the PLS term's fixed-effects part: w_X,e = L_XX^{-1} (sum of u_c q_r + (Z'r)_r v_c), p x ne
    std::vector<double> wx(tot.xv);
    if (p > 0) blas::trsm_left_lower(p, ne, xy.data(), xy.nrow, wx.data(), p);
    // S^{-1} S_e, p x p each
    std::vector<double> zs;
    if (rx_terms) {
        zs.assign(static_cast<size_t>(p) * p * ne, 0.0);
        for (int e = 0; e < ne; ++e)
            blas::gemm(false, false, p, p, p, 1.0, sinv.data(), p, tot.se.data() + static_cast<size_t>(p) * p * e, p,
                       0.0, zs.data() + static_cast<size_t>(p) * p * e, p);
    }
    const int nt = ntheta();
    hess.assign(static_cast<size_t>(nt) * nt, 0.0);
    for (int f = 0; f < ne; ++f)
        for (int e = 0; e <= f; ++e) {
            double dx = 0.0;
            for (int i = 0; i < p; ++i) dx += wx[i + static_cast<size_t>(e) * p] * wx[i + static_cast<size_t>(f) * p];
            double hv = tot.acc[e + static_cast<size_t>(f) * ne] - 2.0 * pls * dx - dof * dr2[e] * dr2[f] / (r2 * r2);
            if (rx_terms) {
                const double* ze = zs.data() + static_cast<size_t>(p) * p * e;
                const double* zf = zs.data() + static_cast<size_t>(p) * p * f;
                double tr = 0.0;
                for (int j = 0; j < p; ++j)
                    for (int i = 0; i < p; ++i) tr += ze[i + static_cast<size_t>(j) * p] * zf[j + static_cast<size_t>(i) * p];
                hv -= tr;
            }
            const size_t a = static_cast<size_t>(fl.th_idx[e]), b = static_cast<size_t>(fl.th_idx[f]);
            hess[a + b * nt] = hess[b + a * nt] = hv;
        }
    return cr.profiled(reml);
}

}  // namespace mm
