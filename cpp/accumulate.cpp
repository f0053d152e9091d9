// The single pass over the rows that forms the blocks of A = [Z X y]^T [Z X y].
#include <algorithm>
#include <string>

#include "engine.hpp"
#include "errors.hpp"

namespace mm {

namespace {

// Pattern of the (row factor, column factor) block of Z^T Z, and each data row's block index.
void build_pattern(int64_t n, const int32_t* rcodes, int nrowlev, const int32_t* ccodes, int ncollev,
                   SparseBlock& s, std::vector<int64_t>& rowblk) {
    s.nrowlev = nrowlev;
    s.ncollev = ncollev;
    std::vector<int64_t> start(static_cast<size_t>(ncollev) + 1, 0);
    for (int64_t i = 0; i < n; ++i) ++start[ccodes[i] + 1];
    for (int c = 0; c < ncollev; ++c) start[c + 1] += start[c];
    std::vector<int64_t> order(n);
    {
        std::vector<int64_t> pos(start.begin(), start.end() - 1);
        for (int64_t i = 0; i < n; ++i) order[pos[ccodes[i]]++] = i;
    }
    s.colptr.assign(static_cast<size_t>(ncollev) + 1, 0);
    s.rowlev.clear();
    rowblk.resize(n);
    std::vector<int> seen(static_cast<size_t>(nrowlev), -1);  // the last column each row level occurred in
    std::vector<int64_t> slot(static_cast<size_t>(nrowlev), 0);  // its block's index in that column
    std::vector<int> rows;
    for (int c = 0; c < ncollev; ++c) {
        rows.clear();
        for (int64_t t = start[c]; t < start[c + 1]; ++t) {
            const int r = rcodes[order[t]];
            if (seen[r] != c) {
                seen[r] = c;
                rows.push_back(r);
            }
        }
        std::sort(rows.begin(), rows.end());
        const int64_t base = static_cast<int64_t>(s.rowlev.size());
        s.rowlev.insert(s.rowlev.end(), rows.begin(), rows.end());
        s.colptr[c + 1] = static_cast<int64_t>(s.rowlev.size());
        for (size_t e = 0; e < rows.size(); ++e) slot[rows[e]] = base + static_cast<int64_t>(e);
        for (int64_t t = start[c]; t < start[c + 1]; ++t) rowblk[order[t]] = slot[rcodes[order[t]]];
    }
}

}  // namespace

void Engine::init_meta(const std::vector<FactorSpec>& factors) {
    if (n <= 0) throw InvalidInput("no observations");
    if (p < 0) throw InvalidInput("negative number of fixed-effects columns");
    nlev.resize(nf);
    k.resize(nf);
    th_idx_.resize(nf);
    th_row_.resize(nf);
    th_col_.resize(nf);
    toff.assign(static_cast<size_t>(nf) + 1, 0);
    ntheta = 0;
    for (int f = 0; f < nf; ++f) {
        const FactorSpec& fs = factors[f];
        if (fs.nlev < 1) throw InvalidInput("grouping factor " + std::to_string(f) + " has no levels");
        if (fs.k < 1) throw InvalidInput("grouping factor " + std::to_string(f) + " has no model columns");
        nlev[f] = fs.nlev;
        k[f] = fs.k;
        const size_t nt = fs.th_idx.size();
        if (fs.th_row.size() != nt || fs.th_col.size() != nt)
            throw InvalidInput("theta map arrays differ in length");
        for (size_t t = 0; t < nt; ++t) {
            if (fs.th_idx[t] < 0 || fs.th_row[t] < fs.th_col[t] || fs.th_row[t] >= fs.k || fs.th_col[t] < 0)
                throw InvalidInput("theta map entry outside the lower triangle of factor " + std::to_string(f));
            ntheta = std::max(ntheta, fs.th_idx[t] + 1);
        }
        th_idx_[f] = fs.th_idx;
        th_row_[f] = fs.th_row;
        th_col_[f] = fs.th_col;
        toff[f + 1] = toff[f] + static_cast<size_t>(fs.k) * fs.k;
    }
    T.assign(toff[nf], 0.0);
}

Engine::Engine(int64_t n_, std::vector<FactorSpec> factors, int p_, std::vector<Block> a, double dense_threshold)
    : nf(static_cast<int>(factors.size())), p(p_), n(n_) {
    init_meta(factors);
    if (a.size() != tri(nf, nf) + 1) throw InvalidInput("wrong number of blocks of A");
    A = std::move(a);
    analyse(dense_threshold);
}

Engine::Engine(int64_t n_, std::vector<FactorSpec> factors, const double* x, int p_, const double* y,
               double dense_threshold, bool do_analyse)
    : nf(static_cast<int>(factors.size())), p(p_), n(n_) {
    init_meta(factors);
    for (int f = 0; f < nf; ++f) {
        const FactorSpec& fs = factors[f];
        for (int64_t i = 0; i < n; ++i)
            if (fs.codes[i] < 0 || fs.codes[i] >= fs.nlev)
                throw InvalidInput("code " + std::to_string(fs.codes[i]) + " of grouping factor " +
                                   std::to_string(f) + " at row " + std::to_string(i) + " is outside [0, " +
                                   std::to_string(fs.nlev) + ")");
    }

    const int nb = nf + 1;
    A.resize(tri(nb - 1, nb - 1) + 1);
    std::vector<std::vector<int64_t>> rowblk(A.size());
    for (int j = 0; j < nf; ++j) {
        Block& d = A[tri(j, j)];
        d.kind = Kind::UBD;
        d.u.nlev = nlev[j];
        d.u.k = k[j];
        d.u.v.assign(static_cast<size_t>(nlev[j]) * k[j] * k[j], 0.0);
        for (int c = j + 1; c < nf; ++c) {
            Block& b = A[tri(c, j)];
            b.kind = Kind::Sparse;
            build_pattern(n, factors[c].codes, nlev[c], factors[j].codes, nlev[j], b.s, rowblk[tri(c, j)]);
            b.s.kr = k[c];
            b.s.kc = k[j];
            b.s.v.assign(static_cast<size_t>(b.s.nnzb()) * b.s.bsz(), 0.0);
        }
        Block& xy = A[tri(nf, j)];
        xy.kind = Kind::Dense;
        xy.d.nrow = p + 1;
        xy.d.ncol = nlev[j] * k[j];
        xy.d.v.assign(static_cast<size_t>(xy.d.nrow) * xy.d.ncol, 0.0);
    }
    Block& axx = A[tri(nf, nf)];
    axx.kind = Kind::Dense;
    axx.d.nrow = axx.d.ncol = p + 1;
    axx.d.v.assign(static_cast<size_t>(p + 1) * (p + 1), 0.0);

    std::vector<double> w(static_cast<size_t>(p) + 1);
    const int pp = p + 1;
    // Every sum is accumulated in double-double (the rounding error of each addition is kept in a
    // second array), so A is the correctly rounded sum of the products whatever the order of the
    // rows: fits of the same data formed in chunks, partitions or in one pass agree bit for bit.
    A_lo.assign(A.size(), std::vector<double>());
    for (size_t b = 0; b < A.size(); ++b) A_lo[b].assign(values(A[b]).size(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
        for (int m = 0; m < p; ++m) w[m] = x[i * p + m];
        w[p] = y[i];
        for (int j = 0; j < nf; ++j) {
            const int kj = k[j];
            const double* zj = factors[j].z + i * kj;
            const int lj = factors[j].codes[i];
            const size_t dofs = static_cast<size_t>(lj) * kj * kj;
            double* dj = A[tri(j, j)].u.v.data() + dofs;
            double* ej = A_lo[tri(j, j)].data() + dofs;
            for (int b = 0; b < kj; ++b)
                for (int a = 0; a < kj; ++a) two_sum_into(dj[a + b * kj], ej[a + b * kj], zj[a] * zj[b]);
            for (int c = j + 1; c < nf; ++c) {
                const int kc = k[c];
                const double* zc = factors[c].z + i * kc;
                SparseBlock& s = A[tri(c, j)].s;
                const size_t bofs = static_cast<size_t>(rowblk[tri(c, j)][i]) * s.bsz();
                double* blk = s.v.data() + bofs;
                double* ebl = A_lo[tri(c, j)].data() + bofs;
                for (int b = 0; b < kj; ++b)
                    for (int a = 0; a < kc; ++a) two_sum_into(blk[a + b * kc], ebl[a + b * kc], zc[a] * zj[b]);
            }
            DenseBlock& xy = A[tri(nf, j)].d;
            const size_t cofs = static_cast<size_t>(lj) * kj * pp;
            double* col = xy.data() + cofs;
            double* ecol = A_lo[tri(nf, j)].data() + cofs;
            for (int b = 0; b < kj; ++b)
                for (int a = 0; a < pp; ++a) two_sum_into(col[a + b * pp], ecol[a + b * pp], w[a] * zj[b]);
        }
        double* dxx = axx.d.data();
        double* exx = A_lo[tri(nf, nf)].data();
        for (int b = 0; b < pp; ++b)
            for (int a = b; a < pp; ++a) two_sum_into(dxx[a + b * pp], exx[a + b * pp], w[a] * w[b]);
    }
    // normalise each (hi, lo) pair: hi becomes the correctly rounded sum, lo the exact remainder
    for (size_t b = 0; b < A.size(); ++b) {
        std::vector<double>& hi = values(A[b]);
        std::vector<double>& lo = A_lo[b];
        for (size_t e = 0; e < hi.size(); ++e) {
            const double s = hi[e] + lo[e];
            lo[e] = lo[e] - (s - hi[e]);
            hi[e] = s;
        }
    }
    if (do_analyse) {  // an engine that will be factored needs only the rounded sums
        std::vector<std::vector<double>>().swap(A_lo);
        analyse(dense_threshold);
    }
}

std::vector<double>& values(Block& b) {
    return b.kind == Kind::UBD ? b.u.v : (b.kind == Kind::Sparse ? b.s.v : b.d.v);
}

int64_t Engine::qtotal() const {
    int64_t q = 0;
    for (int f = 0; f < nf; ++f) q += static_cast<int64_t>(nlev[f]) * k[f];
    return q;
}

std::vector<double> Engine::column_sumsq() const {
    std::vector<double> out;
    for (int f = 0; f < nf; ++f) {
        const UBDBlock& d = A[tri(f, f)].u;
        for (int a = 0; a < d.k; ++a) {
            double s = 0.0;
            for (int l = 0; l < d.nlev; ++l) s += d.at(l)[a + a * d.k];
            out.push_back(s);
        }
    }
    const DenseBlock& xx = A[tri(nf, nf)].d;
    for (int m = 0; m < p; ++m) out.push_back(xx(m, m));
    return out;
}

}  // namespace mm
