// Right-looking supernodal Cholesky on a dense block's storage (supernodal_potrf.hpp).
#include "supernodal_potrf.hpp"

#include <cmath>
#include <cstddef>
#include <vector>

#include "blas.hpp"
#include "dense_potrf.hpp"

namespace mm {

int potrf_supernodal(const SupernodePlan& plan, double* a, int lda, int threads) {
    const blas::SingleThreaded one_thread;
    std::vector<double> panel, update;
    const size_t ld = static_cast<size_t>(lda);
    for (size_t s = 0; s + 1 < plan.start.size(); ++s) {
        const int c0 = plan.start[s], w = plan.start[s + 1] - c0;
        double* tile = a + c0 * ld + c0;
        const std::vector<int>& rows = plan.rows[s];
        const int r = static_cast<int>(rows.size());
        int info = 0;
        if (w == 1) {
            if (!(tile[0] > 0.0)) return c0 + 1;  // (a NaN pivot too, as LAPACK)
            tile[0] = std::sqrt(tile[0]);
        } else {
            info = r == 0 ? potrf_lower_blocked(w, tile, lda, threads) : blas::potrf_lower_lapack(w, tile, lda);
        }
        if (info != 0) return c0 + info;
        if (r == 0) continue;
        if (plan.ranged[s]) {  // in place over the rows' range: the rows between hold zeros and keep them
            const int lo = rows.front(), len = rows.back() - lo + 1;
            double* below = a + c0 * ld + lo;
            solve_and_update_pooled(len, w, tile, lda, below, lda, -1.0, 1.0, a + lo * ld + lo, lda, threads);
            continue;
        }
        panel.resize(static_cast<size_t>(r) * w);
        for (int t = 0; t < w; ++t) {
            const double* col = a + (c0 + t) * ld;
            double* out = panel.data() + static_cast<size_t>(t) * r;
            for (int i = 0; i < r; ++i) out[i] = col[rows[i]];
        }
        update.resize(static_cast<size_t>(r) * r);
        solve_and_update_pooled(r, w, tile, lda, panel.data(), r, 1.0, 0.0, update.data(), r, threads);
        for (int t = 0; t < w; ++t) {
            double* col = a + (c0 + t) * ld;
            const double* in = panel.data() + static_cast<size_t>(t) * r;
            for (int i = 0; i < r; ++i) col[rows[i]] = in[i];
        }
        for (int b = 0; b < r; ++b) {
            double* col = a + static_cast<size_t>(rows[b]) * ld;
            const double* in = update.data() + static_cast<size_t>(b) * r;
            for (int i = b; i < r; ++i) col[rows[i]] -= in[i];
        }
    }
    return 0;
}

}  // namespace mm
