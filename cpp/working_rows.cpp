// WorkingRows (working_rows.hpp): PIRLS' re-formed cross-products, one pass per iteration.
#include "working_rows.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "errors.hpp"
#include "pool.hpp"

namespace mm {

namespace {
// the one-factor fill's chunks: at most this many (each holds its own sums of the blocks), each of
// at least kMinRowsPerChunk rows and twice the values of its sums (so a large factor's partial sums
// never cost more than its rows)
constexpr int kMaxRowChunks = 8;
// fill_one_factor requests a level's sums this many rows before it adds to them
constexpr int64_t kAheadRows = 16;
}  // namespace

WorkingRows::WorkingRows(const RowsView& rows, LayoutPtr layout)
    : layout_(std::move(layout)), n_(rows.n), p_(layout_->p()), pattern_(layout_) {
    const int nf = layout_->nf();
    if (static_cast<int>(rows.codes.size()) != nf || static_cast<int>(rows.z.size()) != nf)
        throw InvalidInput("one array of codes and one of random-effects columns per grouping factor");
    x_.assign(rows.x, rows.x + static_cast<size_t>(n_) * p_);
    auto cols = std::make_shared<Columns>();
    for (int f = 0; f < nf; ++f) {
        cols->codes.emplace_back(rows.codes[f], rows.codes[f] + n_);
        cols->z.emplace_back(rows.z[f], rows.z[f] + static_cast<size_t>(n_) * layout_->factor(f).k);
    }
    cols_ = std::move(cols);
    form_pattern();
}

WorkingRows::WorkingRows(const WorkingRows& joint, LayoutPtr layout)
    : layout_(std::move(layout)), n_(joint.n_), p_(0), cols_(joint.cols_), pattern_(layout_), work_(joint.work_) {
    form_pattern();
}

WorkingRows WorkingRows::modes_only(LayoutPtr layout) const {
    const int nf = layout_->nf();
    bool same = layout->p() == 0 && layout->nf() == nf;
    for (int f = 0; same && f < nf; ++f)
        same = layout->factor(f).k == layout_->factor(f).k && layout->factor(f).nlev == layout_->factor(f).nlev;
    if (!same)
        throw InvalidInput("the modes-only layout must have these rows' grouping factors (sizes and columns) and no "
                           "fixed effects");
    return WorkingRows(*this, std::move(layout));
}

void WorkingRows::form_pattern() {
    const int nf = layout_->nf();
    const std::vector<double> zeros(static_cast<size_t>(n_), 0.0);  // the response
    const double none = 0.0;                                         // X's place when it has no columns
    RowsView rows;
    rows.n = n_;
    rows.y = zeros.data();
    rows.x = p_ > 0 ? x_.data() : &none;
    for (int f = 0; f < nf; ++f) {
        rows.codes.push_back(cols_->codes[f].data());
        rows.z.push_back(cols_->z[f].data());
    }
    pattern_.add_rows(rows);  // checks the codes
    pattern_.freeze();
    zero_ = pattern_.rounded();
    for (Block& b : zero_) std::fill(values(b).begin(), values(b).end(), 0.0);
    rowblk_.resize(zero_.size());
    for (int j = 0; j < nf; ++j)
        for (int c = j + 1; c < nf; ++c) {
            const SparseBlock& s = zero_[tri(c, j)].s;
            std::vector<int64_t>& rb = rowblk_[tri(c, j)];
            rb.resize(n_);
            for (int64_t i = 0; i < n_; ++i) rb[i] = s.find(cols_->codes[c][i], cols_->codes[j][i]);
        }
}

void WorkingRows::fill(Engine& engine, const double* y, const double* w) const {
    const int nf = layout_->nf();
    std::vector<Block> A = zero_;
    if (nf == 1) {  // one grouping factor (the large simulated and streamed designs): a tighter loop
        fill_one_factor(A, y, w, engine.threads());
        engine.refill_blocks(std::move(A), n_);
        return;
    }
    std::vector<int> k(static_cast<size_t>(nf));
    std::vector<const double*> z(static_cast<size_t>(nf));
    std::vector<const int32_t*> codes(static_cast<size_t>(nf));
    std::vector<double*> diag(static_cast<size_t>(nf)), xycol(static_cast<size_t>(nf));
    for (int f = 0; f < nf; ++f) {
        k[f] = layout_->factor(f).k;
        z[f] = cols_->z[f].data();
        codes[f] = cols_->codes[f].data();
        diag[f] = A[tri(f, f)].u.v.data();
        xycol[f] = A[tri(nf, f)].d.v.data();
    }
    // the pairs of factors (j, then c > j): their blocks' values, each row's block index, c's columns
    std::vector<double*> pair_v;
    std::vector<const int64_t*> pair_row;
    std::vector<const double*> pair_z;
    std::vector<int> pair_k;
    for (int j = 0; j < nf; ++j)
        for (int c = j + 1; c < nf; ++c) {
            pair_v.push_back(A[tri(c, j)].s.v.data());
            pair_row.push_back(rowblk_[tri(c, j)].data());
            pair_z.push_back(cols_->z[c].data());
            pair_k.push_back(k[c]);
        }
    double* xx = A[tri(nf, nf)].d.v.data();
    std::vector<double> wz(64);
    // compiled for the common shapes, every factor one scalar column and up to 4 fixed-effects
    // columns (the same sums in the same order for every instance)
    const bool scalar_terms = std::all_of(k.begin(), k.end(), [](int kj) { return kj == 1; });
    with_row_sizes(scalar_terms, p_, [&](auto kt, auto pc) {
        constexpr bool scalar = decltype(kt)::value == 1;
        const int p = pc >= 0 ? int(pc) : p_, pp = p + 1;
        const double* __restrict x = x_.data();
        for (int64_t i = 0; i < n_; ++i) {
            const double wi = w[i], yi = y[i];
            if (!(wi >= 0.0) || !std::isfinite(wi) || !std::isfinite(yi))  // (A is a local copy: nothing changed yet)
                throw InvalidInput("working weight " + std::to_string(wi) + " or response " + std::to_string(yi) +
                                   " at row " + std::to_string(i) + " is not finite (weights must be >= 0)");
            const double* xi = x + static_cast<size_t>(i) * p;
            size_t pair = 0;
            for (int j = 0; j < nf; ++j) {
                const int kj = scalar ? 1 : k[j];
                const double* zj = z[j] + static_cast<size_t>(i) * kj;
                const size_t lj = static_cast<size_t>(codes[j][i]);
                if (scalar || kj == 1) {  // scalar terms: most models
                    const double wz0 = wi * zj[0];
                    diag[j][lj] += wz0 * zj[0];
                    for (int c = j + 1; c < nf; ++c, ++pair) {
                        const int kc = scalar ? 1 : pair_k[pair];
                        const double* zc = pair_z[pair] + static_cast<size_t>(i) * kc;
                        double* blk = pair_v[pair] + static_cast<size_t>(pair_row[pair][i]) * kc;
                        for (int a = 0; a < kc; ++a) blk[a] += zc[a] * wz0;
                    }
                    double* col = xycol[j] + lj * pp;
                    for (int a = 0; a < p; ++a) col[a] += xi[a] * wz0;
                    col[p] += yi * wz0;
                    continue;
                }
                if (static_cast<size_t>(kj) > wz.size()) wz.resize(static_cast<size_t>(kj));
                for (int a = 0; a < kj; ++a) wz[a] = wi * zj[a];
                double* dj = diag[j] + lj * kj * kj;
                for (int b = 0; b < kj; ++b)
                    for (int a = 0; a < kj; ++a) dj[a + b * kj] += wz[b] * zj[a];
                for (int c = j + 1; c < nf; ++c, ++pair) {
                    const int kc = pair_k[pair];
                    const double* zc = pair_z[pair] + static_cast<size_t>(i) * kc;
                    double* blk = pair_v[pair] + static_cast<size_t>(pair_row[pair][i]) * kc * kj;
                    for (int b = 0; b < kj; ++b)
                        for (int a = 0; a < kc; ++a) blk[a + b * kc] += zc[a] * wz[b];
                }
                double* col = xycol[j] + lj * kj * pp;
                for (int b = 0; b < kj; ++b) {
                    for (int a = 0; a < p; ++a) col[a + b * pp] += xi[a] * wz[b];
                    col[p + b * pp] += yi * wz[b];
                }
            }
            for (int b = 0; b < p; ++b) {
                const double wb = wi * xi[b];
                for (int a = b; a < p; ++a) xx[a + b * pp] += xi[a] * wb;
                xx[p + b * pp] += yi * wb;
            }
            xx[p + p * pp] += yi * (wi * yi);
        }
    });
    engine.refill_blocks(std::move(A), n_);
}

bool WorkingRows::fill_working(Engine& engine, const GlmFamily& fam, const double* eta, const double* y,
                               const double* prior, const double* offset) const {
    const std::lock_guard<std::mutex> lock(work_->mutex);  // PIRLS' pair of arrays, free between calls
    std::vector<double>& w = work_->w;
    std::vector<double>& resp = work_->resp;
    w.resize(static_cast<size_t>(n_));
    resp.resize(static_cast<size_t>(n_));
    const int nchunks = pool::chunks_for(n_, kMinRowsPerChunk);  // rows independent: any cut, the same values
    std::vector<char> finite(static_cast<size_t>(nchunks), 1);
    pool::run(engine.threads(), nchunks, [&](int c) {
        const auto [lo, hi] = pool::chunk_range(n_, nchunks, c);
        bool ok = true;
        for (int64_t i = lo; i < hi; ++i) {
            const double r = working_row(fam, eta[i], fam.linkinv(eta[i]), y[i], prior[i], offset[i], w[i], resp[i]);
            ok = ok && std::isfinite(w[i]) && std::isfinite(r);
        }
        finite[static_cast<size_t>(c)] = ok;
    });
    if (std::find(finite.begin(), finite.end(), 0) != finite.end()) return false;
    fill(engine, resp.data(), w.data());
    return true;
}

void WorkingRows::fill_one_factor(std::vector<Block>& A, const double* y, const double* w, int threads) const {
    const int kf = layout_->factor(0).k, ppf = p_ + 1;
    const size_t nlev = static_cast<size_t>(layout_->factor(0).nlev);
    const size_t kk = static_cast<size_t>(kf) * kf, kpp = static_cast<size_t>(kf) * ppf;
    const size_t ndiag = nlev * kk, ncol = nlev * kpp, nxx = static_cast<size_t>(ppf) * ppf;
    const size_t per = kk + kpp;  // a level's values side by side: its k x k block, then its k columns of [X y]
    const int nchunks = pool::chunks_for(
        n_, std::max<int64_t>(kMinRowsPerChunk, 2 * static_cast<int64_t>(ndiag + ncol + nxx)), kMaxRowChunks);
    // each chunk sums into its own level-major array (a row's updates on one or two cache lines, not
    // spread over two arrays), added into A's blocks in chunk order afterwards: the same numbers for
    // every thread count
    const std::lock_guard<std::mutex> lock(work_->fill_mutex);
    std::vector<std::vector<double>>& parts = work_->fill_parts;
    parts.resize(static_cast<size_t>(nchunks));
    std::vector<double> xxl(static_cast<size_t>(nchunks) * nxx, 0.0);  // [X y]'W[X y], each chunk's lower triangle
    pool::run(threads, nchunks, [&](int c) {
        std::vector<double>& mine = parts[static_cast<size_t>(c)];
        mine.assign(nlev * per, 0.0);
        double* __restrict sums = mine.data();
        // [X y]'W[X y] in the chunk's own local array (the chunks' sums side by side in one array
        // would share cache lines between threads on every row)
        std::vector<double> xxc(nxx, 0.0);
        double* __restrict xx = xxc.data();
        const auto range = pool::chunk_range(n_, nchunks, c);
        const int64_t lo = range.first, hi = range.second;
        const auto rows = [&](auto kc, auto pc) {  // sizes known at compile time for the common shapes
            const int k = kc > 0 ? int(kc) : kf, p = pc >= 0 ? int(pc) : p_, pp = p + 1;
            const size_t lper = per;
            const int32_t* __restrict codes = cols_->codes[0].data();
            const double* __restrict z = cols_->z[0].data();
            const double* __restrict x = x_.data();
            const size_t level_bytes = lper * sizeof(double);
            for (int64_t i = lo; i < hi; ++i) {
                if (i + kAheadRows < hi) {  // the level kAheadRows rows on, requested from memory now (a hint)
                    const char* ahead = reinterpret_cast<const char*>(sums + static_cast<size_t>(codes[i + kAheadRows]) * lper);
                    __builtin_prefetch(ahead, 1, 3);
                    __builtin_prefetch(ahead + level_bytes - 1, 1, 3);
                }
                const double wi = w[i], yi = y[i];
                if (!(wi >= 0.0) || !std::isfinite(wi) || !std::isfinite(yi))
                    throw InvalidInput("working weight " + std::to_string(wi) + " or response " + std::to_string(yi) +
                                       " at row " + std::to_string(i) + " is not finite (weights must be >= 0)");
                const double* xi = x + static_cast<size_t>(i) * p;
                const double* zi = z + static_cast<size_t>(i) * k;
                double* dj = sums + static_cast<size_t>(codes[i]) * lper;
                double* col = dj + k * k;
                for (int b = 0; b < k; ++b) {
                    const double wzb = wi * zi[b];
                    for (int a = 0; a < k; ++a) dj[a + b * k] += wzb * zi[a];
                    double* cb = col + b * pp;
                    for (int a = 0; a < p; ++a) cb[a] += xi[a] * wzb;
                    cb[p] += yi * wzb;
                }
                for (int b = 0; b < p; ++b) {
                    const double wb = wi * xi[b];
                    for (int a = b; a < p; ++a) xx[a + b * pp] += xi[a] * wb;
                    xx[p + b * pp] += yi * wb;
                }
                xx[p + p * pp] += yi * yi * wi;
            }
        };
        with_row_sizes(kf == 1, p_, rows);
        std::copy(xxc.begin(), xxc.end(), xxl.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(c) * nxx));
    });
    double* diag = A[tri(0, 0)].u.v.data();
    double* xycol = A[tri(1, 0)].d.v.data();
    for (size_t l = 0; l < nlev; ++l) {
        const double* first = parts[0].data() + l * per;
        std::copy(first, first + kk, diag + l * kk);
        std::copy(first + kk, first + per, xycol + l * kpp);
        for (size_t c = 1; c < parts.size(); ++c) {
            const double* part = parts[c].data() + l * per;
            for (size_t e = 0; e < kk; ++e) diag[l * kk + e] += part[e];
            for (size_t e = 0; e < kpp; ++e) xycol[l * kpp + e] += part[kk + e];
        }
    }
    double* out = A[tri(1, 1)].d.v.data();
    for (int c = 0; c < nchunks; ++c)
        for (size_t e = 0; e < nxx; ++e) out[e] += xxl[static_cast<size_t>(c) * nxx + e];
}

}  // namespace mm
