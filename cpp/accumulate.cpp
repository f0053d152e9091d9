// The pass over rows that forms their cross-products A = [Z X y]^T [Z X y] (CrossProducts::add_rows).
#include <algorithm>
#include <cmath>
#include <string>

#include "cross_products.hpp"
#include "dd.hpp"
#include "errors.hpp"
#include "pool.hpp"
#include "row_sizes.hpp"

namespace mm {

namespace {

// One grouping factor (several: sum_rows, no chunks of rows): rows per chunk of the pass, at most
// kMaxRowChunks chunks, whose blocks (32 bytes a value with the level-major sums) take at most
// kMaxPartBytes together; a chunk has at least kOneFactorRowsPerValue rows per value: below that
// its blocks (allocated, zeroed, summed into the others: ~10 ns a value) cost more than a pass over
// the rows sliced by levels (sum_rows_one_factor), which needs no partial sums at all.
constexpr int64_t kMinRowsPerChunk = 65536;
constexpr int64_t kOneFactorRowsPerValue = 4;
constexpr int kMaxRowChunks = 16;
constexpr int64_t kMaxPartBytes = int64_t{256} << 20;
// one factor with a single chunk (many levels): at most this many slices of its levels, one task each
constexpr int kMaxLevelSlices = 8;

// Values in the blocks of A whose size the layout fixes (block-diagonal and [X y] blocks).
int64_t block_values(const Layout& lay) {
    const int64_t pp = lay.p() + 1;
    int64_t v = pp * pp;
    for (int f = 0; f < lay.nf(); ++f) {
        const int64_t k = lay.factor(f).k;
        v += static_cast<int64_t>(lay.factor(f).nlev) * k * (k + pp);
    }
    return v;
}

// Rows [r0, r0 + n) of a view.
RowsView shifted(const RowsView& rows, int64_t r0, int64_t n, const Layout& lay) {
    RowsView v = rows;
    v.n = n;
    v.y = rows.y + r0;
    v.x = rows.x + r0 * lay.p();
    for (int f = 0; f < lay.nf(); ++f) {
        v.codes[f] = rows.codes[f] + r0;
        v.z[f] = rows.z[f] + r0 * lay.factor(f).k;
    }
    if (rows.w) v.w = rows.w + r0;
    return v;
}

// Row i's products (a * b), times its weight where the rows have weights: symmetric blocks stay
// exactly symmetric.
inline double weighted(const double* w, int64_t i, double prod) { return w ? w[i] * prod : prod; }

// Z_c^T Z_j of the rows (c: the rows' factor, j: the columns'), pattern and values, in
// double-double into s (its shape set) and lo: the rows in order of their column level (a stable
// counting sort), so each column's blocks fill one after another; each block's products are added
// in the rows' order.
void pair_sums(const RowsView& rows, int c, int j, SparseBlock& s, std::vector<double>& lo) {
    const int64_t n = rows.n;
    const int32_t* rcodes = rows.codes[c];
    const int32_t* ccodes = rows.codes[j];
    const double* zr = rows.z[c];
    const double* zc = rows.z[j];
    const int kr = s.kr, kc = s.kc, nrowlev = s.nrowlev, ncollev = s.ncollev;
    std::vector<int64_t> start(static_cast<size_t>(ncollev) + 1, 0);
    for (int64_t i = 0; i < n; ++i) ++start[ccodes[i] + 1];
    for (int l = 0; l < ncollev; ++l) start[l + 1] += start[l];
    std::vector<int64_t> order(static_cast<size_t>(n));
    {
        std::vector<int64_t> pos(start.begin(), start.end() - 1);
        for (int64_t i = 0; i < n; ++i) order[pos[ccodes[i]]++] = i;
    }
    // the pattern: each column's row levels, sorted
    s.colptr.assign(static_cast<size_t>(ncollev) + 1, 0);
    s.rowlev.clear();
    std::vector<int> seen(static_cast<size_t>(nrowlev), -1);  // the last column each row level occurred in
    for (int l = 0; l < ncollev; ++l) {
        const size_t base = s.rowlev.size();
        for (int64_t t = start[l]; t < start[l + 1]; ++t) {
            const int r = rcodes[order[t]];
            if (seen[r] != l) {
                seen[r] = l;
                s.rowlev.push_back(r);
            }
        }
        std::sort(s.rowlev.begin() + static_cast<std::ptrdiff_t>(base), s.rowlev.end());
        s.colptr[l + 1] = static_cast<int64_t>(s.rowlev.size());
    }
    // the values, column by column
    const size_t bsz = s.bsz();
    s.v.assign(static_cast<size_t>(s.nnzb()) * bsz, 0.0);
    lo.assign(s.v.size(), 0.0);
    std::vector<int64_t> slot(static_cast<size_t>(nrowlev), 0);  // a row level's block in this column
    const double* w = rows.w;
    for (int l = 0; l < ncollev; ++l) {
        for (int64_t e = s.colptr[l]; e < s.colptr[l + 1]; ++e) slot[s.rowlev[e]] = e;
        for (int64_t t = start[l]; t < start[l + 1]; ++t) {
            const int64_t i = order[t];
            const double* a = zr + i * kr;
            const double* b = zc + i * kc;
            const size_t at = static_cast<size_t>(slot[rcodes[i]]) * bsz;
            double* hi = s.v.data() + at;
            double* el = lo.data() + at;
            for (int q = 0; q < kc; ++q)
                for (int m = 0; m < kr; ++m) two_sum_into(hi[m + q * kr], el[m + q * kr], weighted(w, i, a[m] * b[q]));
        }
    }
}

// [X y]^T [X y] of the rows (its lower triangle, column-major pp x pp), in double-double, and
// the response's range; P is p where known at compile time (the sums then stay in registers), else -1.
template <int P>
void fixed_sums(const RowsView& rows, int p_rt, double* hi, double* lo, double& ymin, double& ymax) {
    const int p = P >= 0 ? P : p_rt, pp = p + 1;
    constexpr int kFixed = P >= 0 ? (P + 1) * (P + 1) : 1;
    double vf[P >= 0 ? P + 1 : 1], hf[kFixed], lf[kFixed];
    std::vector<double> vdyn(P >= 0 ? 0 : static_cast<size_t>(pp));
    double* v = P >= 0 ? vf : vdyn.data();
    double* h = P >= 0 ? hf : hi;  // the sums so far: these blocks start at zero
    double* l = P >= 0 ? lf : lo;
    if (P >= 0)
        for (int e = 0; e < pp * pp; ++e) h[e] = l[e] = 0.0;
    const double* w = rows.w;
    for (int64_t i = 0; i < rows.n; ++i) {
        for (int m = 0; m < p; ++m) v[m] = rows.x[i * p + m];
        v[p] = rows.y[i];
        ymin = std::min(ymin, v[p]);
        ymax = std::max(ymax, v[p]);
        for (int b = 0; b < pp; ++b)
            for (int a = b; a < pp; ++a) two_sum_into(h[a + b * pp], l[a + b * pp], weighted(w, i, v[a] * v[b]));
    }
    if (P >= 0)
        for (int e = 0; e < pp * pp; ++e) {
            hi[e] = h[e];
            lo[e] = l[e];
        }
}

}  // namespace

void CrossProducts::add_rows(const RowsView& rows, int threads) {
    check_not_frozen();
    const Layout& lay = *layout_;
    const int nf = lay.nf();
    const int64_t n = rows.n;
    if (n < 0) throw InvalidInput("negative number of rows");
    if (static_cast<int>(rows.codes.size()) != nf || static_cast<int>(rows.z.size()) != nf)
        throw InvalidInput("one array of codes and one of random-effects columns per grouping factor");
    if (n == 0) return;
    // the rows' log weights summed in double-double (each addition's rounding error kept), so that
    // batches of rows give the sum of all of them at once (cross_products.hpp), but for sums that
    // cancel to within ~2^-106 of their terms' size
    dd::DD log_weights;
    if (rows.w) {
        bool zero = false;
        for (int64_t i = 0; i < n; ++i) {
            if (!(rows.w[i] >= 0.0) || !std::isfinite(rows.w[i]))
                throw InvalidInput("weight " + std::to_string(rows.w[i]) + " at row " + std::to_string(i) +
                                   " is not a finite number >= 0");
            if (rows.w[i] == 0.0) {
                zero = true;
                continue;
            }
            log_weights = dd::add(log_weights, dd::DD{std::log(rows.w[i]), 0.0});
        }
        if (zero) log_weights = dd::DD{-std::numeric_limits<double>::infinity(), 0.0};
    }
    for (int f = 0; f < nf; ++f) {
        const int nl = lay.factor(f).nlev;
        const int32_t* codes = rows.codes[f];
        for (int64_t i = 0; i < n; ++i)
            if (codes[i] < 0 || codes[i] >= nl)
                throw InvalidInput("code " + std::to_string(codes[i]) + " of grouping factor " + std::to_string(f) +
                                   " at row " + std::to_string(i) + " is outside [0, " + std::to_string(nl) + ")");
    }

    if (nf != 1) {  // one pass per block row of A on up to `threads` threads (sum_rows; none: [X y]'s only)
        CrossProducts sums(layout_);
        sums.sum_rows(rows, threads);
        sums.log_weights_ = log_weights;
        if (n_ == 0) {
            *this = std::move(sums);
        } else {
            add(sums);
        }
        return;
    }
    // One factor: the rows in chunks (their number fixed by the sizes alone, so the sums are the same
    // for every thread count), each summed into its own cross-products, then added in chunk order.
    const int64_t values = block_values(lay);
    const int max_chunks =
        static_cast<int>(std::clamp<int64_t>(kMaxPartBytes / std::max<int64_t>(1, 32 * values), 1, kMaxRowChunks));
    const int nchunks =
        pool::chunks_for(n, std::max<int64_t>(kMinRowsPerChunk, kOneFactorRowsPerValue * values), max_chunks);
    if (nchunks == 1) {
        // One factor's rows in one chunk: summed straight into these blocks (a stream's chunks reuse
        // the level sums' memory), the same additions as into new cross-products added to these.
        const bool fold = n_ != 0;
        if (!fold) {
            ymin_ = std::numeric_limits<double>::infinity();
            ymax_ = -std::numeric_limits<double>::infinity();
        }
        sum_rows_one_factor(rows, threads, fold);
        n_ = fold ? n_ + n : n;
        log_weights_ = fold ? dd::add_or_inf(log_weights_, log_weights) : log_weights;
        return;
    }
    std::vector<CrossProducts> parts;
    parts.reserve(static_cast<size_t>(nchunks));
    for (int c = 0; c < nchunks; ++c) parts.emplace_back(layout_);
    pool::run(threads, nchunks, [&](int c) {
        const auto r = pool::chunk_range(n, nchunks, c);
        parts[c].sum_rows_one_factor(shifted(rows, r.first, r.second - r.first, lay), 1, false);
        parts[c].n_ = r.second - r.first;
    });
    CrossProducts chunk = std::move(parts[0]);
    for (int c = 1; c < nchunks; ++c) chunk.add(parts[c]);
    chunk.log_weights_ = log_weights;
    if (n_ == 0) {
        chunk.layout_ = layout_;
        *this = std::move(chunk);
    } else {
        add(chunk);
    }
}

namespace {

// (hi, lo) normalised into (out_hi, out_lo), or with fold added to them in double-double; (hi, lo)
// left zero.
void put_sum(double& hi, double& lo, double& out_hi, double& out_lo, bool fold) {
    const dd::DD s = dd::normalise(hi, lo);
    hi = 0.0;
    lo = 0.0;
    if (fold) {
        dd_add_into(out_hi, out_lo, s.hi, s.lo);
    } else {
        out_hi = s.hi;
        out_lo = s.lo;
    }
}

// Which sums a pass over the rows adds: those of the levels [first, last) into acc, and (cross)
// [X y]'[X y] into xx with the response's range.
struct LevelSlice {
    int32_t first = 0, last = 0;
    bool cross = true;
};

// The row loop of sum_rows_one_factor into acc (per level: the his, then the los) and xx, with the
// sizes known at compile time where K > 0 and P >= 0 (the common shapes: the products then stay in
// registers), else k and p: the same additions in the same order either way. Each row's level is
// requested from memory kAheadRows rows before it is summed (a hint only).
template <int K, int P>
void one_factor_rows(const RowsView& rows, int k_rt, int p_rt, const LevelSlice& slice, std::vector<double>& acc,
                     std::vector<double>& xx, double& ymin, double& ymax) {
    constexpr int64_t kAheadRows = 16;
    constexpr int kMaxPer = K > 0 && P >= 0 ? K * (K + 1) / 2 + K * (P + 1) : 1;
    const int k = K > 0 ? K : k_rt, p = P >= 0 ? P : p_rt, pp = p + 1;
    const int ntri = k * (k + 1) / 2, per = ntri + k * pp;
    const int64_t n = rows.n;
    double vf[P >= 0 ? P + 1 : 1], pf[kMaxPer];
    std::vector<double> vdyn, pdyn;
    if (P < 0 || K <= 0) {
        vdyn.resize(static_cast<size_t>(pp));
        pdyn.resize(static_cast<size_t>(per));
    }
    double* v = P >= 0 && K > 0 ? vf : vdyn.data();
    double* prod = P >= 0 && K > 0 ? pf : pdyn.data();
    const double* rw = rows.w;
    const int32_t* codes = rows.codes[0];
    const double* z = rows.z[0];
    const size_t level_bytes = static_cast<size_t>(per) * 2 * sizeof(double);
    const int32_t l0 = slice.first, l1 = slice.last;
    const auto in_slice = [l0, l1](int32_t c) { return c >= l0 && c < l1; };
    for (int64_t i = 0; i < n; ++i) {
        if (i + kAheadRows < n && in_slice(codes[i + kAheadRows])) {
            const char* ahead = reinterpret_cast<const char*>(acc.data() + static_cast<size_t>(codes[i + kAheadRows]) * per * 2);
            for (size_t off = 0; off < level_bytes; off += 64) __builtin_prefetch(ahead + off, 1, 3);
        }
        const bool level = in_slice(codes[i]);
        if (!level && !slice.cross) continue;
        for (int m = 0; m < p; ++m) v[m] = rows.x[i * p + m];
        v[p] = rows.y[i];
        if (level) {
            const double* zi = z + i * k;
            int e = 0;
            for (int b = 0; b < k; ++b)
                for (int a = b; a < k; ++a) prod[e++] = rw ? rw[i] * (zi[a] * zi[b]) : zi[a] * zi[b];
            for (int b = 0; b < k; ++b)
                for (int a = 0; a < pp; ++a) prod[e++] = rw ? rw[i] * (v[a] * zi[b]) : v[a] * zi[b];
            double* lev = acc.data() + static_cast<size_t>(codes[i]) * per * 2;
            for (int t = 0; t < per; ++t) two_sum_into(lev[t], lev[per + t], prod[t]);
        }
        if (slice.cross) {
            ymin = std::min(ymin, v[p]);
            ymax = std::max(ymax, v[p]);
            for (int b = 0; b < pp; ++b)
                for (int a = b; a < pp; ++a) {
                    const size_t at = 2 * static_cast<size_t>(a + b * pp);
                    two_sum_into(xx[at], xx[at + 1], rw ? rw[i] * (v[a] * v[b]) : v[a] * v[b]);
                }
        }
    }
}

void one_factor_rows_any(const RowsView& rows, int k, int p, const LevelSlice& slice, std::vector<double>& acc,
                         std::vector<double>& xx, double& ymin, double& ymax) {
    with_term_sizes(k, p, [&](auto kc, auto pc) {
        one_factor_rows<decltype(kc)::value, decltype(pc)::value>(rows, k, p, slice, acc, xx, ymin, ymax);
    });
}

// The first level of each of nslices slices of the levels [0, levels), and `levels` at the end
// (nslices + 1 values): slice 0 (whose task also adds [X y]'[X y], costing `cross` a row against
// `level` a row for a level's sums) gets fewer rows, so that every task has about the same work.
// Where the cuts fall changes no sum.
std::vector<int32_t> level_cuts(const int32_t* codes, int64_t n, int32_t levels, int nslices, double cross,
                                double level) {
    std::vector<int64_t> count(static_cast<size_t>(levels), 0);
    for (int64_t i = 0; i < n; ++i) ++count[codes[i]];
    // slice 0's share of the rows, and each other's
    const double work = (cross + level) / nslices;
    const double first = std::max(0.0, (work - cross) / level);
    const double other = (1.0 - first) / (nslices - 1);
    std::vector<int32_t> cut(static_cast<size_t>(nslices) + 1, levels);
    cut[0] = 0;
    int64_t seen = 0;
    int s = 1;
    for (int32_t l = 0; l < levels && s < nslices; ++l) {
        seen += count[l];
        while (s < nslices && static_cast<double>(seen) >= (first + other * (s - 1)) * static_cast<double>(n))
            cut[s++] = l + 1;
    }
    return cut;
}

}  // namespace

// The sums of the rows of several grouping factors (or none) into these (new, empty) cross-products, in
// double-double: each addition's rounding error goes to a second array, so A is the correctly
// rounded sum of the products whatever the order of the rows (but for sums that cancel to within
// ~2^-106 of their terms' size of a rounding boundary: docs/design.md, section 3). One task per
// block row of A (a pair of factors, a factor's own blocks, [X y]'s), each a pass over all the
// rows adding them in order: every value gets the same additions in the same order on any number
// of threads, and no partial sums are merged. (Chunks of rows, each with its own pattern between
// factors merged afterwards, took crossed200k 14 ms on two threads, against 20 on one.)
void CrossProducts::sum_rows(const RowsView& rows, int threads) {
    const Layout& lay = *layout_;
    const int nf = lay.nf(), p = lay.p();
    std::vector<std::pair<int, int>> pairs;  // the pairs first: the longest tasks
    for (int j = 0; j < nf; ++j)
        for (int c = j + 1; c < nf; ++c) pairs.emplace_back(c, j);
    const int npairs = static_cast<int>(pairs.size());
    double ymin = ymin_, ymax = ymax_;
    pool::run(threads, npairs + nf + 1, [&](int t) {
        if (t < npairs) {
            const auto [c, j] = pairs[static_cast<size_t>(t)];
            pair_sums(rows, c, j, hi_[tri(c, j)].s, lo_[tri(c, j)]);
        } else if (t < npairs + nf) {
            // factor j's own blocks: the one-factor pass over a view of its columns
            const int j = t - npairs, k = lay.factor(j).k, pp = p + 1;
            const int32_t nlev = lay.factor(j).nlev;
            RowsView own = rows;
            own.codes = {rows.codes[j]};
            own.z = {rows.z[j]};
            std::vector<double> acc(static_cast<size_t>(nlev) * (k * (k + 1) / 2 + k * pp) * 2, 0.0), xx;
            double unused_min = 0.0, unused_max = 0.0;
            one_factor_rows_any(own, k, p, LevelSlice{0, nlev, false}, acc, xx, unused_min, unused_max);
            put_level_sums(j, acc, 1, false);
        } else {
            with_p<1>(p, [&](auto, auto pc) {
                fixed_sums<decltype(pc)::value>(rows, p, hi_[tri(nf, nf)].d.v.data(), lo_[tri(nf, nf)].data(), ymin, ymax);
            });
        }
    });
    // normalise each (hi, lo) pair of the blocks between factors and of [X y]'s: hi becomes the
    // correctly rounded sum, lo the exact remainder (each factor's own blocks were put so)
    std::vector<size_t> summed;
    for (const auto& [c, j] : pairs) summed.push_back(tri(c, j));
    summed.push_back(tri(nf, nf));
    for (const size_t b : summed) {
        std::vector<double>& hi = values(hi_[b]);
        std::vector<double>& lo = lo_[b];
        for (size_t e = 0; e < hi.size(); ++e) {
            const dd::DD s = dd::normalise(hi[e], lo[e]);
            hi[e] = s.hi;
            lo[e] = s.lo;
        }
    }
    n_ = rows.n;
    ymin_ = ymin;
    ymax_ = ymax;
}

// One grouping factor (the large simulated and streamed designs): the same additions in the same
// order as sum_rows, so the same sums to the last bit, but each level's values side by side (its
// his, then its los: contiguous, so the additions vectorise), and the symmetric k x k block's
// lower triangle only (mirrored at the end: its products are the same both ways). A row of a
// random design then touches about half the cache lines.
void CrossProducts::sum_rows_one_factor(const RowsView& rows, int threads, bool fold) {
    const Layout& lay = *layout_;
    const int p = lay.p(), pp = p + 1, k = lay.factor(0).k;
    const int64_t n = rows.n;
    const size_t nlev = static_cast<size_t>(lay.factor(0).nlev);
    const int ntri = k * (k + 1) / 2, per = ntri + k * pp;  // values per level
    std::vector<double>& acc = level_sums_.v;               // per level: per values of hi, then of lo, zero
    if (acc.size() != nlev * per * 2) acc.assign(nlev * per * 2, 0.0);
    std::vector<double> xx(static_cast<size_t>(pp) * pp * 2, 0.0);  // [X y]'[X y]'s lower triangle
    double ymin = ymin_, ymax = ymax_;
    // Several threads (this pass is add_rows' only chunk: levels too many for partial sums per
    // chunk of rows): one task each, each reads every row but adds only those of its own slice of
    // the levels, and the first also adds [X y]'[X y]. Each sum gets the same additions in the
    // same order as on one thread: the same bits for every thread count. From kMinRowsPerChunk rows
    // (sim100k's 100,000 rows, 2,000 levels: 3.0 -> 2.0 ms on two threads).
    const int nslices = threads > 1 && n >= kMinRowsPerChunk ? std::min(threads, kMaxLevelSlices) : 1;
    const int32_t levels = static_cast<int32_t>(nlev);
    const std::vector<int32_t> cut = nslices == 1 ? std::vector<int32_t>{0, levels}
                                                  : level_cuts(rows.codes[0], n, levels, nslices, pp * (pp + 1) / 2.0, per);
    pool::run(threads, nslices, [&](int c) {  // one slice: on this thread
        const bool cross = c == 0;
        double unused_min = 0.0, unused_max = 0.0;
        one_factor_rows_any(rows, k, p, LevelSlice{cut[c], cut[c + 1], cross}, acc, xx, cross ? ymin : unused_min,
                            cross ? ymax : unused_max);
    });
    put_level_sums(0, acc, threads, fold);
    std::vector<double>& xhi = hi_[tri(1, 1)].d.v;
    std::vector<double>& xlo = lo_[tri(1, 1)];
    for (int b = 0; b < pp; ++b)
        for (int a = b; a < pp; ++a) {
            const size_t at = static_cast<size_t>(a + b * pp);
            put_sum(xx[2 * at], xx[2 * at + 1], xhi[at], xlo[at], fold);
        }
    ymin_ = ymin;
    ymax_ = ymax;
}

// Factor f's level sums of one_factor_rows (acc: per level its values' his, then their los) into
// its blocks (both triangles of the diagonal ones), each (hi, lo) normalised as sum_rows does and,
// with fold, added as add_blocks adds; acc is left zero for the next call. The levels in slices of
// kLevelsPerSlice, each slice's blocks its own: the same bits on any number of threads.
void CrossProducts::put_level_sums(int f, std::vector<double>& acc, int threads, bool fold) {
    const Layout& lay = *layout_;
    const int nf = lay.nf(), pp = lay.p() + 1, k = lay.factor(f).k;
    const size_t nlev = static_cast<size_t>(lay.factor(f).nlev);
    const int per = k * (k + 1) / 2 + k * pp;
    std::vector<double>& dhi = hi_[tri(f, f)].u.v;
    std::vector<double>& dlo = lo_[tri(f, f)];
    std::vector<double>& chi = hi_[tri(nf, f)].d.v;
    std::vector<double>& clo = lo_[tri(nf, f)];
    constexpr int64_t kLevelsPerSlice = 8192;
    const int nput = pool::chunks_for(static_cast<int64_t>(nlev), kLevelsPerSlice, 64);
    pool::run(threads, nput, [&](int c) {
        const auto r = pool::chunk_range(static_cast<int64_t>(nlev), nput, c);
        for (size_t l = static_cast<size_t>(r.first); l < static_cast<size_t>(r.second); ++l) {
            double* lev = acc.data() + l * per * 2;
            int e = 0;
            for (int b = 0; b < k; ++b)
                for (int a = b; a < k; ++a, ++e) {
                    const size_t lower = l * k * k + a + static_cast<size_t>(b) * k;
                    const size_t upper = l * k * k + b + static_cast<size_t>(a) * k;
                    put_sum(lev[e], lev[per + e], dhi[lower], dlo[lower], fold);
                    dhi[upper] = dhi[lower];
                    dlo[upper] = dlo[lower];
                }
            for (int b = 0; b < k; ++b)
                for (int a = 0; a < pp; ++a, ++e) {
                    const size_t at = l * k * pp + a + static_cast<size_t>(b) * pp;
                    put_sum(lev[e], lev[per + e], chi[at], clo[at], fold);
                }
        }
    });
}

}  // namespace mm
