// laplace_sums.hpp: the Laplace gradient's two passes over a GLMM's rows.
#include "laplace_sums.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "pool.hpp"
#include "row_sizes.hpp"

namespace mm {

namespace {

// Row i as both passes read it: w_i = prior_i V(mu_i), V'(mu_i), d_i = -2 prior_i (y_i - mu_i),
// its level and its z and x
struct Row {
    double w, dvar, d;
    size_t level;
    const double* z;
    const double* x;
};

inline Row row(const LaplaceRows& r, int64_t i) {
    const double m = r.mu[i];
    const double var = r.poisson ? m : m * (1.0 - m);
    return {r.prior[i] * var,
            r.poisson ? 1.0 : 1.0 - 2.0 * m,
            -2.0 * r.prior[i] * (r.y[i] - m),
            static_cast<size_t>(r.codes[i]),
            r.z + static_cast<size_t>(i) * r.k,
            r.x + static_cast<size_t>(i) * r.p};
}

}  // namespace

namespace {

// chunks of the rows for the pool: at least kMinRows rows and twice the values of a chunk's own
// sums each (so a large factor's partial sums never cost more than its rows; one chunk sums into
// the outputs), at most kMaxChunks; by the sizes only (rows, levels, k, p), so the sums are the
// same for every thread count
constexpr int64_t kMinRows = 16384;
constexpr int kMaxChunks = 8;

int chunks_of(const LaplaceRows& r, size_t per_chunk) {
    return pool::chunks_for(r.n, std::max<int64_t>(kMinRows, 2 * static_cast<int64_t>(per_chunk)), kMaxChunks);
}

}  // namespace

void laplace_level_sums(const LaplaceRows& r, double* g, double* c, double* gmat, int threads) {
    const int k = r.k, p = r.p;
    const size_t nlev = static_cast<size_t>(r.nlev);
    const size_t kk = static_cast<size_t>(k) * k, kp = static_cast<size_t>(k) * p;
    const size_t per = k + kk + kp;  // a level's g, C and G side by side in a chunk's sums
    const int nchunks = chunks_of(r, nlev * per);
    // rows [lo, hi) into a level's g, C and G at (gs, cs, ms) + level * stride
    const auto sum_rows = [&](int64_t lo, int64_t hi, double* gs, double* cs, double* ms, size_t stride_g,
                              size_t stride_c, size_t stride_m) {
        with_row_sizes(k == 1, p, [&](auto kc, auto pc) {  // sizes known at compile time
            const int kr = kc > 0 ? int(kc) : k, pr = pc >= 0 ? int(pc) : p;
            for (int64_t i = lo; i < hi; ++i) {
                const Row ri = row(r, i);
                double* gl = gs + ri.level * stride_g;
                double* cl = cs + ri.level * stride_c;
                double* ml = ms + ri.level * stride_m;
                for (int a = 0; a < kr; ++a) {
                    gl[a] += ri.d * ri.z[a];
                    const double wza = ri.w * ri.z[a];
                    for (int b = 0; b <= a; ++b) cl[a * kr + b] += wza * ri.z[b];
                    for (int j = 0; j < pr; ++j) ml[a * pr + j] += wza * ri.x[j];
                }
            }
        });
    };
    std::fill(g, g + nlev * k, 0.0);
    std::fill(c, c + nlev * kk, 0.0);
    std::fill(gmat, gmat + nlev * kp, 0.0);
    if (nchunks == 1) {  // into the outputs directly: no copy of them (many levels, few rows)
        sum_rows(0, r.n, g, c, gmat, k, kk, kp);
    } else {
        std::vector<std::vector<double>> parts(static_cast<size_t>(nchunks));
        pool::run(threads, nchunks, [&](int ch) {
            std::vector<double>& mine = parts[static_cast<size_t>(ch)];
            mine.assign(nlev * per, 0.0);
            const auto [lo, hi] = pool::chunk_range(r.n, nchunks, ch);
            sum_rows(lo, hi, mine.data(), mine.data() + k, mine.data() + k + kk, per, per, per);
        });
        for (size_t l = 0; l < nlev; ++l)  // the chunks' sums, in chunk order
            for (int ch = 0; ch < nchunks; ++ch) {
                const double* src = parts[static_cast<size_t>(ch)].data() + l * per;
                for (int a = 0; a < k; ++a) g[l * k + a] += src[a];
                for (size_t e = 0; e < kk; ++e) c[l * kk + e] += src[k + e];
                for (size_t e = 0; e < kp; ++e) gmat[l * kp + e] += src[k + kk + e];
            }
    }
    for (size_t l = 0; l < nlev; ++l) {  // C's upper triangle
        double* cl = c + l * kk;
        for (int a = 0; a < k; ++a)
            for (int b = 0; b < a; ++b) cl[b * k + a] = cl[a * k + b];
    }
}

void laplace_row_terms(const LaplaceRows& r, const double* amat, double* qv, double* xsum, int threads) {
    const int k = r.k, p = r.p;
    const size_t nlev = static_cast<size_t>(r.nlev);
    const size_t per = static_cast<size_t>(k);
    const int nchunks = chunks_of(r, nlev * per);
    // rows [lo, hi) into q (nlev x k) and xl (p)
    const auto sum_rows = [&](int64_t lo, int64_t hi, double* __restrict q, double* __restrict xl) {
        with_row_sizes(k == 1, p, [&](auto kc, auto pc) {
            const int kr = kc > 0 ? int(kc) : k, pr = pc >= 0 ? int(pc) : p;
            for (int64_t i = lo; i < hi; ++i) {
                const Row ri = row(r, i);
                const double* zi = ri.z;
                const double* al = amat + ri.level * kr * kr;
                double h = 0.0;
                for (int a = 0; a < kr; ++a) {
                    h += al[a * kr + a] * zi[a] * zi[a];
                    for (int b = 0; b < a; ++b) h += 2.0 * al[a * kr + b] * zi[a] * zi[b];
                }
                const double w1h = ri.w * ri.dvar * h;
                double* ql = q + ri.level * kr;
                for (int a = 0; a < kr; ++a) ql[a] += w1h * zi[a];
                const double s = ri.d + w1h;
                for (int j = 0; j < pr; ++j) xl[j] += ri.x[j] * s;
            }
        });
    };
    const size_t total = nlev * per;
    std::fill(qv, qv + total, 0.0);
    std::fill(xsum, xsum + p, 0.0);
    if (nchunks == 1) {  // into the outputs directly
        sum_rows(0, r.n, qv, xsum);
        return;
    }
    std::vector<std::vector<double>> parts(static_cast<size_t>(nchunks));  // each chunk's qv, then its xsum
    pool::run(threads, nchunks, [&](int ch) {
        std::vector<double>& mine = parts[static_cast<size_t>(ch)];
        mine.assign(total + static_cast<size_t>(p), 0.0);
        std::vector<double> xs(static_cast<size_t>(p), 0.0);  // the chunk's own (not beside another's)
        const auto [lo, hi] = pool::chunk_range(r.n, nchunks, ch);
        sum_rows(lo, hi, mine.data(), xs.data());
        std::copy(xs.begin(), xs.end(), mine.data() + total);
    });
    for (int ch = 0; ch < nchunks; ++ch) {  // in chunk order
        const double* src = parts[static_cast<size_t>(ch)].data();
        for (size_t e = 0; e < total; ++e) qv[e] += src[e];
        for (int j = 0; j < p; ++j) xsum[j] += src[total + static_cast<size_t>(j)];
    }
}

}  // namespace mm
