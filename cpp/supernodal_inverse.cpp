// Takahashi's recurrences by supernodes on a dense block's storage (supernodal_inverse.hpp).
#include "supernodal_inverse.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "blas.hpp"
#include "dense_inverse.hpp"

namespace mm {

int selected_inverse_supernodal(const SupernodePlan& plan, const double* l, int ldl, double* z, int ldz, int threads) {
    const blas::SingleThreaded one_thread;
    const size_t lz = static_cast<size_t>(ldz), ll = static_cast<size_t>(ldl);
    const int n = plan.start.back();
    for (int c = 0; c < n; ++c) std::fill(z + c * lz, z + c * lz + n, 0.0);  // off the structure: finite
    std::vector<double> tinv, b, zrr, y, jj;
    for (size_t s = plan.start.size() - 1; s-- > 0;) {
        const int c0 = plan.start[s], w = plan.start[s + 1] - c0;
        const std::vector<int>& rows = plan.rows[s];
        const int r = static_cast<int>(rows.size());
        double* zjj = z + c0 * lz + c0;
        // T = L(J, J)^{-1}, in Z(J, J)'s lower triangle when it has no rows below (then T'T in place)
        if (r == 0) {
            for (int t = 0; t < w; ++t) std::copy(l + (c0 + t) * ll + c0 + t, l + (c0 + t) * ll + c0 + w, zjj + t * lz + t);
            const int info = trtri_lower_pooled(w, zjj, ldz, threads);
            if (info != 0) return c0 + info;
            lauum_lower_pooled(w, zjj, ldz, threads);
        } else {
            tinv.assign(static_cast<size_t>(w) * w, 0.0);
            for (int t = 0; t < w; ++t)
                std::copy(l + (c0 + t) * ll + c0 + t, l + (c0 + t) * ll + c0 + w, tinv.data() + static_cast<size_t>(t) * w + t);
            const int info = blas::trtri_lower(w, tinv.data(), w);
            if (info != 0) return c0 + info;
            // the rows below: their whole range (zero rows of L included) or gathered
            const bool ranged = plan.ranged[s] != 0;
            const int lo = rows.front(), m = ranged ? rows.back() - lo + 1 : r;
            b.resize(static_cast<size_t>(m) * w);
            for (int t = 0; t < w; ++t) {
                const double* col = l + (c0 + t) * ll;
                double* out = b.data() + static_cast<size_t>(t) * m;
                if (ranged)
                    std::copy(col + lo, col + lo + m, out);
                else
                    for (int i = 0; i < r; ++i) out[i] = col[rows[i]];
            }
            blas::trmm_lower(false, m, w, 1.0, tinv.data(), w, b.data(), m);  // B = L(R, J) T
            y.resize(static_cast<size_t>(m) * w);
            if (ranged) {  // Y = Z(R, R) B over the range, both triangles of Z held
                blas::gemm(false, false, m, w, m, 1.0, z + lo * lz + lo, ldz, b.data(), m, 0.0, y.data(), m);
            } else {
                zrr.resize(static_cast<size_t>(r) * r);
                for (int c = 0; c < r; ++c) {
                    const double* col = z + static_cast<size_t>(rows[c]) * lz;
                    double* out = zrr.data() + static_cast<size_t>(c) * r;
                    for (int i = 0; i < r; ++i) out[i] = col[rows[i]];
                }
                blas::gemm(false, false, r, w, r, 1.0, zrr.data(), r, b.data(), r, 0.0, y.data(), r);
            }
            // Z(R, J) = -Y, and its transpose
            for (int t = 0; t < w; ++t) {
                double* col = z + (c0 + t) * lz;
                const double* in = y.data() + static_cast<size_t>(t) * m;
                for (int i = 0; i < m; ++i) {
                    const int row = ranged ? lo + i : rows[i];
                    col[row] = -in[i];
                    z[static_cast<size_t>(row) * lz + c0 + t] = -in[i];
                }
            }
            // Z(J, J) = T'T + B'Y
            jj.assign(static_cast<size_t>(w) * w, 0.0);
            blas::gemm(true, false, w, w, m, 1.0, b.data(), m, y.data(), m, 0.0, jj.data(), w);
            blas::lauum_lower(w, tinv.data(), w);
            for (int t = 0; t < w; ++t)
                for (int i = t; i < w; ++i) zjj[t * lz + i] = tinv[static_cast<size_t>(t) * w + i] + jj[static_cast<size_t>(t) * w + i];
        }
        for (int t = 0; t < w; ++t)  // both triangles of Z(J, J)
            for (int i = t + 1; i < w; ++i) zjj[i * lz + t] = zjj[t * lz + i];
    }
    return 0;
}

}  // namespace mm
