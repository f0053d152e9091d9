// BLAS/LAPACK reached through the function pointers scipy exports (scipy.linalg.cython_blas
// and cython_lapack), so the build links no BLAS and uses the OpenBLAS numpy/scipy ship.
#pragma once

#include <string>

namespace mm::blas {

using dgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const double*,
                         const double*, const int*, const double*, const int*, const double*, double*,
                         const int*);
using dsyrk_t = void (*)(const char*, const char*, const int*, const int*, const double*, const double*,
                         const int*, const double*, double*, const int*);
using dtrsm_t = void (*)(const char*, const char*, const char*, const char*, const int*, const int*,
                         const double*, const double*, const int*, double*, const int*);
using dgemv_t = void (*)(const char*, const int*, const int*, const double*, const double*, const int*,
                         const double*, const int*, const double*, double*, const int*);
using dpotrf_t = void (*)(const char*, const int*, double*, const int*, int*);
using dtrmm_t = void (*)(const char*, const char*, const char*, const char*, const int*, const int*,
                         const double*, const double*, const int*, double*, const int*);
using dtrtri_t = void (*)(const char*, const char*, const int*, double*, const int*, int*);
using dlauum_t = void (*)(const char*, const int*, double*, const int*, int*);

struct Table {
    dgemm_t dgemm = nullptr;
    dsyrk_t dsyrk = nullptr;
    dtrsm_t dtrsm = nullptr;
    dgemv_t dgemv = nullptr;
    dpotrf_t dpotrf = nullptr;
    dtrmm_t dtrmm = nullptr;
    dtrtri_t dtrtri = nullptr;
    dlauum_t dlauum = nullptr;
};

// Filled once by module.cpp when the extension is imported.
extern Table fn;

// C = alpha * op(A) op(B) + beta * C, column-major.
void gemm(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b,
          int ldb, double beta, double* c, int ldc);
// C(lower) = alpha * A A^T + beta * C, A is n x k.
void syrk_lower(int n, int k, double alpha, const double* a, int lda, double beta, double* c, int ldc);
// B = B * L^{-T} (side right, L lower n x n, B m x n).
void trsm_right_lower_trans(int m, int n, const double* l, int ldl, double* b, int ldb);
// B = L^{-1} B (side left, L lower m x m, B m x n).
void trsm_left_lower(int m, int n, const double* l, int ldl, double* b, int ldb);
// B = L^{-T} B (side left, L lower m x m, B m x n).
void trsm_left_lower_trans(int m, int n, const double* l, int ldl, double* b, int ldb);
// y = alpha * op(A) x + beta * y
void gemv(bool ta, int m, int n, double alpha, const double* a, int lda, const double* x, double beta, double* y);
// Lower Cholesky in place; returns LAPACK info (0 = success, k > 0 = leading minor k not PD, or
// its pivot not a number: reference LAPACK's answer, which OpenBLAS's dpotrf does not give).
int potrf_lower(int n, double* a, int lda);
// LAPACK's dpotrf itself, whatever the order (potrf_lower takes small kernels for n <= 32). The
// blocked factor of a large dense block on the pool: dense_potrf.hpp.
int potrf_lower_lapack(int n, double* a, int lda);
// B = alpha * L B (side left) or alpha * B L (side right), L lower triangular, B m x n.
void trmm_lower(bool left, int m, int n, double alpha, const double* l, int ldl, double* b, int ldb);
// B = alpha * L^T B (side left, L lower triangular m x m, B m x n).
void trmm_lower_trans_left(int m, int n, double alpha, const double* l, int ldl, double* b, int ldb);
// C(lower) = alpha * A^T A + beta * C, A is k x n.
void syrk_lower_trans(int n, int k, double alpha, const double* a, int lda, double beta, double* c, int ldc);
// In-place inverse of a lower triangular matrix; LAPACK's info (k > 0: diagonal entry k is zero, and
// then, above order 128, a part of the array may already be inverted).
int trtri_lower(int n, double* a, int lda);
// The lower triangle of L^T L in place of a lower triangular L (LAPACK dlauum; n^3/3 flops).
int lauum_lower(int n, double* a, int lda);

// OpenBLAS's thread control (blas_threads.cpp), found in the library at `path` (already loaded by
// scipy); "" when found, else why not. Without it, SingleThreaded does nothing.
std::string load_thread_control(const std::string& path);

// While alive, BLAS runs on one thread (the previous count is restored when the last overlapping
// one ends).
class SingleThreaded {
public:
    explicit SingleThreaded(bool active = true);
    ~SingleThreaded();
    SingleThreaded(const SingleThreaded&) = delete;
    SingleThreaded& operator=(const SingleThreaded&) = delete;

private:
    bool active_ = false;
};

struct ThreadStats {
    bool loaded = false;    // thread control found
    int threads = 0;        // BLAS's thread count now (0: unknown)
    long pinned_calls = 0;  // factorisations run with BLAS pinned
    int most_inside = 0;    // the largest thread count seen while pinned (1 when it works)
};
ThreadStats thread_stats();

}  // namespace mm::blas
