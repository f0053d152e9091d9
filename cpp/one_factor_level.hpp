// One level's quantities with one grouping factor, shared by the gradient (gradient_one_factor.cpp)
// and the Hessian (hessian_one_factor.cpp) of the profiled criterion. For level l with L_l its
// diagonal block of L, D its block of Z'Z, B its columns of L's [X y] rows, C its block of Z'[X y]:
//   V = L_l^{-T} B' (k x pp: M^{-1} T'C), u = V_y - V_X beta, T V, Q = C - D T V,
//   Z'r = Q_y - Q_X beta;
// and G = M^{-1} = (L_l L_l')^{-1}, T'D and H = G T'D. Each array column-major, k rows. K and P the
// compile-time k and p (0 and -1: at run time); the same operations in the same order either way.
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "criterion.hpp"
#include "layout.hpp"
#include "small.hpp"

namespace mm::one_factor {

template <int K, int P>
inline void level_solution(int k_, int pp_, const double* ll, const double* dl, const double* bl, int ldl,
                           const double* cl, int lda, const double* t, const double* beta, double* v, double* u,
                           double* lv, double* qm, double* ztr) {
    const int k = K ? K : k_;
    const int pp = P >= 0 ? P + 1 : pp_;
    const int p = pp - 1;
    for (int m = 0; m < pp; ++m) {
        double* vm = v + static_cast<size_t>(m) * k;
        for (int c = 0; c < k; ++c) vm[c] = bl[m + static_cast<size_t>(c) * ldl];
        small::solve_lt(ll, k, vm);
    }
    for (int c = 0; c < k; ++c) {
        double x = v[c + static_cast<size_t>(p) * k];
        for (int m = 0; m < p; ++m) x -= v[c + static_cast<size_t>(m) * k] * beta[m];
        u[c] = x;
    }
    for (int m = 0; m < pp; ++m) {
        const double* vm = v + static_cast<size_t>(m) * k;
        double* lm = lv + static_cast<size_t>(m) * k;
        for (int a = 0; a < k; ++a) {
            double x = 0.0;
            for (int b = 0; b <= a; ++b) x += t[a + b * k] * vm[b];
            lm[a] = x;
        }
        double* qmm = qm + static_cast<size_t>(m) * k;
        for (int a = 0; a < k; ++a) {
            double x = cl[m + static_cast<size_t>(a) * lda];
            for (int b = 0; b < k; ++b) x -= dl[a + b * k] * lm[b];
            qmm[a] = x;
        }
    }
    for (int a = 0; a < k; ++a) {
        double x = qm[a + static_cast<size_t>(p) * k];
        for (int m = 0; m < p; ++m) x -= qm[a + static_cast<size_t>(m) * k] * beta[m];
        ztr[a] = x;
    }
}

// G = (L_l L_l')^{-1} (linv: scratch for L_l^{-1}), ta = T'D and h = G T'D, each k x k.
template <int K>
inline void level_inverse(int k_, const double* ll, const double* dl, const double* t, double* linv, double* g,
                          double* ta, double* h) {
    const int k = K ? K : k_;
    const size_t kk = static_cast<size_t>(k) * k;
    std::copy(ll, ll + kk, linv);
    small::inv_lower(linv, k);
    small::lower_crossprod(linv, k, g);
    for (int b = 0; b < k; ++b)
        for (int a = 0; a < k; ++a) {
            double x = 0.0;
            for (int e = a; e < k; ++e) x += t[e + a * k] * dl[e + b * k];
            ta[a + b * k] = x;
        }
    for (int b = 0; b < k; ++b)
        for (int a = 0; a < k; ++a) {
            double x = 0.0;
            for (int e = 0; e < k; ++e) x += g[a + e * k] * ta[e + b * k];
            h[a + b * k] = x;
        }
}

// The gradient (and, with parts, its parts) from the level sums W (sum of G T'D), R2 (sum of
// Z'r u') and RX (sum of Q_X P'), each k x k: theta entry (r, c) of T gets d log|L|^2 = 2 W[c, r],
// d log|R_X|^2 = -2 RX[r, c] and d r^2 = -2 R2[r, c].
inline void set_gradient(const FactorLayout& fl, int k, const Criterion& cr, bool reml, const double* w,
                         const double* r2, const double* rx, std::vector<double>& grad, GradientParts* parts) {
    for (size_t e = 0; e < fl.th_idx.size(); ++e) {
        const int r = fl.th_row[e], c = fl.th_col[e];
        set_gradient_entry(grad, parts, static_cast<size_t>(fl.th_idx[e]), cr, reml, 2.0 * w[c + r * k],
                           -2.0 * rx[r + c * k], -2.0 * r2[r + c * k]);
    }
}

}  // namespace mm::one_factor
