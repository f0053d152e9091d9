// The Cholesky factor of a random-effects dense diagonal block (dense_potrf.cpp): right-looking by
// panels, its solves and updates on the core's thread pool with BLAS held to one thread.
#pragma once

namespace mm {

// Lower Cholesky factor in place (LAPACK's info: 0, or k > 0 where the leading minor of order k is
// not positive definite): the panels' solves and updates in size-fixed chunks on the pool
// (`threads`), BLAS on one thread inside them, bitwise the same for every thread count, from order
// 256 (OpenBLAS's own dpotrf on two threads takes as long as on one at order 500); below it,
// blas::potrf_lower.
int potrf_lower_blocked(int n, double* a, int lda, int threads);

// The solve and symmetric update below a factored diagonal tile of a supernode (supernodal_potrf.cpp):
// B = B L^{-T} for B (m x w, ldb) and L the tile (w x w, lower, ldl), then C = beta C + alpha B B'
// (m x m, lower triangle, ldc). Where the update's work is large (m m w / 2 from kPooledUpdate), the
// solve runs in chunks of rows and the update in chunks of columns on the pool (a syrk on each
// chunk's diagonal part and one gemm below it), fixed by the sizes alone: bitwise the same for
// every thread count. BLAS on one thread (the caller holds it so).
void solve_and_update_pooled(int m, int w, const double* l, int ldl, double* b, int ldb, double alpha, double beta,
                             double* c, int ldc, int threads);

}  // namespace mm
