// Pooled triangular inverse and L^T L of a large dense block (dense_inverse.hpp). Both recurse by
// halves, L = [L11 0; L21 L22]:
//   L^{-1} = [L11^{-1} 0; -L22^{-1} L21 L11^{-1}  L22^{-1}],
//   L^T L  = [L11^T L11 + L21^T L21   .; L22^T L21   L22^T L22]  (lower triangle),
// and each level's products are BLAS calls on chunks of rows or columns whose bounds depend only
// on the order: every entry gets the same operations whatever the number of threads.
#include "dense_inverse.hpp"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "blas.hpp"
#include "pool.hpp"

namespace mm {

namespace {
// Each product is cut into this many near-equal chunks of rows or columns: wide enough for BLAS's
// kernels on one thread, and an even number for two.
constexpr int kParts = 4;

std::pair<int, int> part(int n, int c) {
    const auto r = pool::chunk_range(n, kParts, c);
    return {static_cast<int>(r.first), static_cast<int>(r.second)};
}
}  // namespace

int trtri_lower_pooled(int n, double* a, int lda, int threads) {
    if (n < kPooledInverseFrom) return blas::trtri_lower(n, a, lda);
    const int n1 = n / 2, n2 = n - n1;
    double* l21 = a + n1;
    double* l22 = a + static_cast<size_t>(n1) * lda + n1;
    int info = trtri_lower_pooled(n1, a, lda, threads);
    if (info != 0) return info;
    info = trtri_lower_pooled(n2, l22, lda, threads);
    if (info != 0) return n1 + info;
    // L21 L11^{-1}: each chunk of rows of L21 on its own
    pool::run(threads, kParts, [&](int c) {
        const auto [r0, r1] = part(n2, c);
        blas::trmm_lower(false, r1 - r0, n1, 1.0, a, lda, l21 + r0, lda);
    });
    // -L22^{-1} (L21 L11^{-1}): each chunk of its columns on its own
    pool::run(threads, kParts, [&](int c) {
        const auto [c0, c1] = part(n1, c);
        blas::trmm_lower(true, n2, c1 - c0, -1.0, l22, lda, l21 + static_cast<size_t>(c0) * lda, lda);
    });
    return 0;
}

void lauum_lower_pooled(int n, double* a, int lda, int threads) {
    if (n < kPooledInverseFrom) {
        blas::lauum_lower(n, a, lda);
        return;
    }
    const int n1 = n / 2, n2 = n - n1;
    double* l21 = a + n1;
    double* l22 = a + static_cast<size_t>(n1) * lda + n1;
    lauum_lower_pooled(n1, a, lda, threads);
    // L11^T L11 + L21^T L21 (lower triangle), by chunks of columns: the chunk's diagonal part and the
    // rows below it; then L22^T L21 (L21 overwritten: after its use above); then L22^T L22
    pool::run(threads, kParts, [&](int c) {
        const auto [c0, c1] = part(n1, c);
        double* out = a + static_cast<size_t>(c0) * lda + c0;
        const double* cols = l21 + static_cast<size_t>(c0) * lda;
        blas::syrk_lower_trans(c1 - c0, n2, 1.0, cols, lda, 1.0, out, lda);
        if (c1 < n1)
            blas::gemm(true, false, n1 - c1, c1 - c0, n2, 1.0, l21 + static_cast<size_t>(c1) * lda, lda, cols, lda, 1.0,
                       out + (c1 - c0), lda);
    });
    pool::run(threads, kParts, [&](int c) {
        const auto [c0, c1] = part(n1, c);
        blas::trmm_lower_trans_left(n2, c1 - c0, 1.0, l22, lda, l21 + static_cast<size_t>(c0) * lda, lda);
    });
    lauum_lower_pooled(n2, l22, lda, threads);
}

}  // namespace mm
