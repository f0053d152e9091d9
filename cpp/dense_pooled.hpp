// Dense factorisations of mid-size order on the core's thread pool (pool.hpp) with BLAS held to one
// thread: OpenBLAS's own threads do not pay below order ~1,000 (its dpotrf on two threads takes as
// long as on one at order 500) and, left awake, hold the core the pool's kernels need.
#pragma once

namespace mm {

// From this order on, potrf_lower_pooled works by panels on the pool; below it, blas::potrf_lower.
constexpr int kPooledPotrfFrom = 256;

// Lower Cholesky factor in place (LAPACK's info: 0, or k > 0 where the leading minor of order k is
// not positive definite), bitwise the same for every thread count.
int potrf_lower_pooled(int n, double* a, int lda, int threads);

}  // namespace mm
