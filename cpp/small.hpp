// Inlined kernels on small dense blocks (k <= ~8), column-major.
#pragma once
#include <cmath>
#include <type_traits>

namespace mm::small {

// Calls f(std::integral_constant<int, K>) with K = k for k = 1..4 (loops fully unrolled), K = 0
// (the size read at run time) otherwise. Kernels below take K as a template argument.
template <typename F>
inline void with_k(int k, F&& f) {
    switch (k) {
        case 1: f(std::integral_constant<int, 1>{}); break;
        case 2: f(std::integral_constant<int, 2>{}); break;
        case 3: f(std::integral_constant<int, 3>{}); break;
        case 4: f(std::integral_constant<int, 4>{}); break;
        default: f(std::integral_constant<int, 0>{}); break;
    }
}

// Unblocked lower Cholesky of a k x k matrix with leading dimension ld (0: ld = k), upper part
// zeroed; returns 0, or j + 1 when the leading minor of order j + 1 is not positive definite.
template <int K = 0>
inline int chol_ld(double* a, int k_, int ld_ = 0) {
    const int k = K ? K : k_;
    const int ld = ld_ ? ld_ : k;
    for (int j = 0; j < k; ++j) {
        double d = a[j + j * ld];
        for (int m = 0; m < j; ++m) d -= a[j + m * ld] * a[j + m * ld];
        if (!(d > 0.0)) return j + 1;
        d = std::sqrt(d);
        a[j + j * ld] = d;
        for (int i = j + 1; i < k; ++i) {
            double s = a[i + j * ld];
            for (int m = 0; m < j; ++m) s -= a[i + m * ld] * a[j + m * ld];
            a[i + j * ld] = s / d;
        }
        for (int i = 0; i < j; ++i) a[i + j * ld] = 0.0;
    }
    return 0;
}

// In-place lower Cholesky of a k x k block (upper part set to zero). False if not PD.
template <int K = 0>
inline bool chol(double* a, int k_) {
    return chol_ld<K>(a, k_) == 0;
}

// out (kr x kc) = Tr^T M Tc, Tr kr x kr and Tc kc x kc lower triangular, M kr x kc.
// out must not alias M. tmp holds kr * kc doubles.
template <int KR = 0, int KC = 0>
inline void scale_tt(const double* tr, int kr_, const double* m, const double* tc, int kc_, double* out,
                     double* tmp) {
    const int kr = KR ? KR : kr_, kc = KC ? KC : kc_;
    // tmp = M Tc
    for (int j = 0; j < kc; ++j)
        for (int i = 0; i < kr; ++i) {
            double s = 0.0;
            for (int l = j; l < kc; ++l) s += m[i + l * kr] * tc[l + j * kc];
            tmp[i + j * kr] = s;
        }
    // out = Tr^T tmp
    for (int j = 0; j < kc; ++j)
        for (int i = 0; i < kr; ++i) {
            double s = 0.0;
            for (int l = i; l < kr; ++l) s += tr[l + i * kr] * tmp[l + j * kr];
            out[i + j * kr] = s;
        }
}

// Rows of B (m x k, leading dimension ldb) times L^{-T}: solves X L^T = B for X in place.
template <int K = 0>
inline void solve_right_lt(double* b, int m, int ldb, const double* l, int k_) {
    const int k = K ? K : k_;
    for (int r = 0; r < m; ++r)
        for (int a = 0; a < k; ++a) {
            double s = b[r + a * ldb];
            for (int c = 0; c < a; ++c) s -= l[a + c * k] * b[r + c * ldb];
            b[r + a * ldb] = s / l[a + a * k];
        }
}

// x = L^{-T} x (back substitution with the transpose of lower L, k x k).
inline void solve_lt(const double* l, int k, double* x) {
    for (int a = k - 1; a >= 0; --a) {
        double s = x[a];
        for (int c = a + 1; c < k; ++c) s -= l[c + a * k] * x[c];
        x[a] = s / l[a + a * k];
    }
}

// In-place inverse of lower triangular k x k L.
inline void inv_lower(double* l, int k) {
    for (int j = 0; j < k; ++j) {
        l[j + j * k] = 1.0 / l[j + j * k];
        for (int i = j + 1; i < k; ++i) {
            double s = 0.0;
            for (int m = j; m < i; ++m) s += l[i + m * k] * l[m + j * k];
            l[i + j * k] = -s / l[i + i * k];
        }
    }
}

// out (n x n, column-major, both triangles) = R^T R for R lower triangular (n x n, column-major;
// its upper triangle is not read): (L L^T)^{-1} from R = L^{-1}.
inline void lower_crossprod(const double* r, int n, double* out) {
    for (int a = 0; a < n; ++a)
        for (int b = a; b < n; ++b) {
            double s = 0.0;
            for (int m = b; m < n; ++m) s += r[m + static_cast<size_t>(a) * n] * r[m + static_cast<size_t>(b) * n];
            out[a + static_cast<size_t>(b) * n] = out[b + static_cast<size_t>(a) * n] = s;
        }
}

// C (m x n, ldc) -= A (m x k, lda) B^T (B n x k, ldb)
inline void sub_abt(double* __restrict__ c, int ldc, const double* __restrict__ a, int lda,
                    const double* __restrict__ b, int ldb, int m, int n, int k) {
    for (int j = 0; j < n; ++j)
        for (int l = 0; l < k; ++l) {
            const double bv = b[j + l * ldb];
            if (bv == 0.0) continue;
            for (int i = 0; i < m; ++i) c[i + j * ldc] -= a[i + l * lda] * bv;
        }
}

}  // namespace mm::small
