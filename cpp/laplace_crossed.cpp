// The row sums of the exact Laplace gradient with several grouping factors (laplace_sums.hpp,
// LaplaceCrossed): one pass over the rows in place of some twenty NumPy passes (gathers, bincounts
// and their temporaries) per gradient. Rows are summed in order, so the result is deterministic.
#include <algorithm>

#include "laplace_sums.hpp"

namespace mm {

void laplace_crossed_rows(const LaplaceCrossed& r, double* atq, double* awx, double* xsum, double* scal,
                          double* rhs) {
    const int64_t n = r.n;
    const int nr = r.r, p = r.p, nt = r.ntheta;
    std::fill(atq, atq + r.q, 0.0);
    std::fill(awx, awx + r.q * p, 0.0);
    std::fill(xsum, xsum + p, 0.0);
    std::fill(scal, scal + nt, 0.0);
    std::fill(rhs, rhs + r.q * nt, 0.0);
    const size_t rr = static_cast<size_t>(nr) * nr;
    for (int64_t i = 0; i < n; ++i) {
        const int64_t* col = r.idx + i * nr;
        const double* a = r.vals + i * nr;
        const double* s = r.s_rows + static_cast<size_t>(i) * rr;
        const double* xi = r.x + i * p;
        const double wi = r.w[i], di = r.d1[i];
        // h = a'S a
        double h = 0.0;
        for (int e = 0; e < nr; ++e) {
            double t = 0.0;
            for (int f = 0; f < nr; ++f) t += s[e * nr + f] * a[f];
            h += a[e] * t;
        }
        const double w1h = r.w1[i] * h;
        for (int e = 0; e < nr; ++e) {
            const int64_t c = col[e];
            atq[c] += a[e] * w1h;
            const double wa = wi * a[e];
            double* row = awx + c * p;
            for (int m = 0; m < p; ++m) row[m] += wa * xi[m];
        }
        for (int m = 0; m < p; ++m) xsum[m] += xi[m] * (di + w1h);
        for (int k = 0; k < nt; ++k) {
            const double* dv = r.parts + (static_cast<int64_t>(k) * n + i) * nr;
            double dau = 0.0, asd = 0.0;
            for (int e = 0; e < nr; ++e) {
                dau += dv[e] * r.u[col[e]];
                double t = 0.0;
                for (int f = 0; f < nr; ++f) t += s[e * nr + f] * dv[f];
                asd += a[e] * t;
            }
            scal[k] += di * dau + 2.0 * wi * asd + w1h * dau;
            const double wdau = wi * dau, hd = 0.5 * di;
            for (int e = 0; e < nr; ++e) rhs[col[e] * nt + k] += a[e] * wdau + dv[e] * hd;
        }
    }
}

}  // namespace mm
