// The inverse of a dense diagonal block's Cholesky factor, and L^T L from it, on the core's thread
// pool (dense_inverse.cpp): the selected inversion's dense part (selected_inverse.cpp), BLAS held to
// one thread, as dense_potrf.hpp factors the block.
#pragma once

namespace mm {

// In-place inverse of a lower triangular n x n matrix (LAPACK's info: 0, or k > 0 where diagonal
// entry k is zero). From order kPooledInverseFrom, by halves with the triangular products cut into
// chunks of fixed sizes on the pool (`threads`), so the result is bitwise the same for every thread
// count, one included; below it, blas::trtri_lower.
int trtri_lower_pooled(int n, double* a, int lda, int threads);

// The lower triangle of L^T L in place of a lower triangular L (LAPACK's dlauum), the same way.
void lauum_lower_pooled(int n, double* a, int lda, int threads);

constexpr int kPooledInverseFrom = 256;

}  // namespace mm
