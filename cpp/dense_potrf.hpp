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

}  // namespace mm
