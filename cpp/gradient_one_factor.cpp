// The gradient of the profiled criterion with one grouping factor (Engine::gradient's common case):
// the terms of gradient.cpp, level by level. With one factor, L_ZZ is block-diagonal, so every
// quantity that gradient.cpp carries as a q x (p + 1) array (V, Lambda V, Q, P, Z'r, u) and the
// selected inverse (here each level's (L_l L_l')^{-1}) is local to one level: one pass over the
// levels forms them in registers and adds each level's k x k contributions to three sums,
//   W  += (L_l L_l')^{-1} T' D_l          (d log|L|^2 = 2 W[c, r]),
//   R2 += (Z'r)_l u_l'                     (d r^2 = -2 R2[r, c]),
//   RX += Q_X,l (V_X,l S^{-1})'            (d log|R_X|^2 = -2 RX[r, c]),
// with D_l the level's block of Z'Z. The levels are cut into chunks by size only; each chunk sums
// its own, and the chunks' sums are added in chunk order, so the result is the same for every
// thread count.
#include <algorithm>
#include <vector>

#include "blas.hpp"
#include "engine.hpp"
#include "one_factor_level.hpp"
#include "pool.hpp"
#include "row_sizes.hpp"
#include "small.hpp"

namespace mm {

namespace {

// Floating-point work per chunk below which the levels stay in one chunk (a pool dispatch costs ~20 us).
constexpr int64_t kMinWorkPerChunk = 200000;

// The level sums of one chunk, each k x k column-major.
struct LevelSums {
    std::vector<double> w, r2, rx;
};

// Levels [l0, l1) into s. K the compile-time k and P the compile-time p (0 and -1: at run time,
// k_ and pp_ - 1; the same operations in the same order either way); ld the row stride of the
// [X y] x Z blocks of L and A (at least pp); sinv (p x p) empty for ML.
template <int K, int P>
void level_sums(int k_, int pp_, int l0, int l1, const double* lzz, const double* lxz, int ldl, const double* azz,
                const double* axz, int lda, const double* t, const double* beta, const std::vector<double>& sinv,
                LevelSums& s) {
    const int k = K ? K : k_;
    const int pp = P >= 0 ? P + 1 : pp_;
    const int p = pp - 1;
    const size_t kk = static_cast<size_t>(k) * k;
    // the level's small arrays: on the stack when the sizes are known at compile time
    constexpr bool kFixed = K > 0 && P >= 0;
    constexpr size_t kKP = kFixed ? static_cast<size_t>(K) * (P + 1) : 1, kKK = K > 0 ? static_cast<size_t>(K) * K : 1;
    constexpr size_t kK = K > 0 ? K : 1;
    double vf[kKP], lvf[kKP], qmf[kKP], pmf[kKP];
    double linvf[kKK], gf[kKK], taf[kKK], hf[kKK], uf[kK], ztrf[kK];
    std::vector<double> heap;
    if (!kFixed) heap.resize(4 * static_cast<size_t>(k) * pp + 4 * kk + 2 * static_cast<size_t>(k));
    double* const v = kFixed ? vf : heap.data();
    double* const lv = kFixed ? lvf : v + static_cast<size_t>(k) * pp;
    double* const qm = kFixed ? qmf : lv + static_cast<size_t>(k) * pp;
    double* const pm = kFixed ? pmf : qm + static_cast<size_t>(k) * pp;
    double* const linv = kFixed ? linvf : pm + static_cast<size_t>(k) * pp;
    double* const g = kFixed ? gf : linv + kk;
    double* const ta = kFixed ? taf : g + kk;
    double* const h = kFixed ? hf : ta + kk;
    double* const u = kFixed ? uf : h + kk;
    double* const ztr = kFixed ? ztrf : u + k;
    for (int l = l0; l < l1; ++l) {
        const double* ll = lzz + l * kk;
        const double* dl = azz + l * kk;
        const double* bl = lxz + static_cast<size_t>(l) * k * ldl;
        const double* cl = axz + static_cast<size_t>(l) * k * lda;
        // V, u, T V, Q and Z'r (one_factor_level.hpp)
        one_factor::level_solution<K, P>(k, pp, ll, dl, bl, ldl, cl, lda, t, beta, v, u, lv, qm, ztr);
        for (int c = 0; c < k; ++c)
            for (int r = 0; r < k; ++r) s.r2[r + c * k] += ztr[r] * u[c];
        if (!sinv.empty()) {  // P_l = V_X,l S^{-1}; RX += Q_X,l P_l'
            for (int m = 0; m < p; ++m)
                for (int c = 0; c < k; ++c) {
                    double x = 0.0;
                    for (int m2 = 0; m2 < p; ++m2) x += v[c + static_cast<size_t>(m2) * k] * sinv[m2 + static_cast<size_t>(m) * p];
                    pm[c + static_cast<size_t>(m) * k] = x;
                }
            for (int c = 0; c < k; ++c)
                for (int r = 0; r < k; ++r) {
                    double x = 0.0;
                    for (int m = 0; m < p; ++m) x += qm[r + static_cast<size_t>(m) * k] * pm[c + static_cast<size_t>(m) * k];
                    s.rx[r + c * k] += x;
                }
        }
        // G_l = (L_l L_l')^{-1} = L_l^{-T} L_l^{-1}; W += G_l T' D_l
        one_factor::level_inverse<K>(k, ll, dl, t, linv, g, ta, h);
        for (size_t i = 0; i < kk; ++i) s.w[i] += h[i];
    }
}

}  // namespace

double Engine::gradient_one_factor(const Criterion& cr, bool reml, std::vector<double>& grad, GradientParts* parts) {
    const int k = k_[0], pp = p_ + 1, nlev = nlev_[0];
    const size_t kk = static_cast<size_t>(k) * k;
    const DenseBlock& lxz = L_[tri(1, 0)].d;
    const DenseBlock& axz = A_[tri(1, 0)].d;
    const std::vector<double> beta = beta_unlocked();
    const std::vector<double> sinv = reml && p_ > 0 ? rx_inverse_crossprod_unlocked() : std::vector<double>();
    const int64_t per_level = static_cast<int64_t>(kk) * (4 * pp + 3 * k) + static_cast<int64_t>(k) * p_ * p_;
    const int nchunks = pool::chunks_for(static_cast<int64_t>(nlev) * per_level, kMinWorkPerChunk);
    std::vector<LevelSums> sums(static_cast<size_t>(nchunks));
    for (LevelSums& s : sums) {
        s.w.assign(kk, 0.0);
        s.r2.assign(kk, 0.0);
        s.rx.assign(kk, 0.0);
    }
    const double* t = T_.data() + toff_[0];
    pool::run(threads_, nchunks, [&](int ch) {
        const auto range = pool::chunk_range(nlev, nchunks, ch);
        const int l0 = static_cast<int>(range.first), l1 = static_cast<int>(range.second);
        small::with_k(k, [&](auto kc) {
            with_p<decltype(kc)::value>(p_, [&](auto, auto pc) {
                level_sums<decltype(kc)::value, decltype(pc)::value>(k, pp, l0, l1, L_[0].u.v.data(), lxz.data(),
                                                                     lxz.nrow, A_[0].u.v.data(), axz.data(), axz.nrow,
                                                                     t, beta.data(), sinv, sums[ch]);
            });
        });
    });
    std::vector<double> w(kk, 0.0), r2(kk, 0.0), rx(kk, 0.0);
    for (const LevelSums& s : sums)
        for (size_t i = 0; i < kk; ++i) {
            w[i] += s.w[i];
            r2[i] += s.r2[i];
            rx[i] += s.rx[i];
        }
    one_factor::set_gradient(layout_->factor(0), k, cr, reml, w.data(), r2.data(), rx.data(), grad, parts);
    return cr.profiled(reml);
}

}  // namespace mm
