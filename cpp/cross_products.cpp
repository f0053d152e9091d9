// CrossProducts: the empty sum, sums of sums, rescaled and reduced copies, and A rounded for the
// engine (cross_products.hpp). The pass over rows is in accumulate.cpp.
#include "cross_products.hpp"

#include <algorithm>
#include <string>

#include "errors.hpp"

namespace mm {

std::vector<double>& values(Block& b) {
    return b.kind == Kind::UBD ? b.u.v : (b.kind == Kind::Sparse ? b.s.v : b.d.v);
}

const std::vector<double>& values(const Block& b) {
    return b.kind == Kind::UBD ? b.u.v : (b.kind == Kind::Sparse ? b.s.v : b.d.v);
}

CrossProducts::CrossProducts(LayoutPtr layout) : layout_(std::move(layout)) {
    if (!layout_) throw InvalidInput("no layout");
    const Layout& lay = *layout_;
    const int nf = lay.nf(), pp = lay.p() + 1;
    hi_.resize(tri(nf, nf) + 1);
    for (int j = 0; j < nf; ++j) {
        const int nl = lay.factor(j).nlev, kj = lay.factor(j).k;
        Block& d = hi_[tri(j, j)];
        d.kind = Kind::UBD;
        d.u.nlev = nl;
        d.u.k = kj;
        d.u.v.assign(static_cast<size_t>(nl) * kj * kj, 0.0);
        for (int c = j + 1; c < nf; ++c) {
            SparseBlock& s = hi_[tri(c, j)].s;
            hi_[tri(c, j)].kind = Kind::Sparse;
            s.nrowlev = lay.factor(c).nlev;
            s.ncollev = nl;
            s.kr = lay.factor(c).k;
            s.kc = kj;
            s.colptr.assign(static_cast<size_t>(nl) + 1, 0);
        }
        Block& xy = hi_[tri(nf, j)];
        xy.kind = Kind::Dense;
        xy.d.nrow = pp;
        xy.d.ncol = nl * kj;
        xy.d.v.assign(static_cast<size_t>(pp) * nl * kj, 0.0);
    }
    Block& xx = hi_[tri(nf, nf)];
    xx.kind = Kind::Dense;
    xx.d.nrow = xx.d.ncol = pp;
    xx.d.v.assign(static_cast<size_t>(pp) * pp, 0.0);
    lo_.resize(hi_.size());
    for (size_t b = 0; b < hi_.size(); ++b) lo_[b].assign(values(hi_[b]).size(), 0.0);
}

CrossProducts::CrossProducts(LayoutPtr layout, int64_t n, double ymin, double ymax, std::vector<Block> hi,
                             std::vector<std::vector<double>> lo)
    : CrossProducts(std::move(layout)) {
    if (n < 0) throw InvalidInput("negative number of rows");
    if (hi.size() != hi_.size() || lo.size() != hi.size()) throw InvalidInput("wrong number of blocks");
    for (size_t b = 0; b < hi.size(); ++b) {
        const Block& want = hi_[b];
        const Block& got = hi[b];
        bool ok = got.kind == want.kind && values(got).size() == lo[b].size();
        if (ok && got.kind == Kind::Sparse) {
            const SparseBlock& s = got.s;
            ok = s.nrowlev == want.s.nrowlev && s.ncollev == want.s.ncollev && s.kr == want.s.kr && s.kc == want.s.kc &&
                 s.colptr.size() == want.s.colptr.size() && s.colptr.front() == 0 &&
                 static_cast<size_t>(s.colptr.back()) == s.rowlev.size() && s.v.size() == s.rowlev.size() * s.bsz();
            for (int c = 0; ok && c < s.ncollev; ++c) {
                ok = s.colptr[c] <= s.colptr[c + 1];
                for (int64_t t = s.colptr[c]; ok && t < s.colptr[c + 1]; ++t)
                    ok = s.rowlev[t] >= 0 && s.rowlev[t] < s.nrowlev && (t == s.colptr[c] || s.rowlev[t - 1] < s.rowlev[t]);
            }
        } else if (ok) {
            ok = values(got).size() == values(want).size();
        }
        if (!ok) throw InvalidInput("block " + std::to_string(b) + " of the cross-products does not fit the layout");
    }
    n_ = n;
    ymin_ = ymin;
    ymax_ = ymax;
    // keep the shapes set by the layout (UBD and dense sizes), take the values
    for (size_t b = 0; b < hi.size(); ++b) {
        if (hi[b].kind == Kind::Sparse)
            hi_[b].s = std::move(hi[b].s);
        else
            values(hi_[b]) = std::move(values(hi[b]));
    }
    lo_ = std::move(lo);
}

namespace {

// The sum of two sparse blocks of the same shape in double-double: the union of their patterns,
// blocks present in both added.
void add_sparse(SparseBlock& a, std::vector<double>& alo, const SparseBlock& b, const std::vector<double>& blo) {
    const size_t bs = a.bsz();
    SparseBlock out;
    out.nrowlev = a.nrowlev;
    out.ncollev = a.ncollev;
    out.kr = a.kr;
    out.kc = a.kc;
    out.colptr.assign(static_cast<size_t>(a.ncollev) + 1, 0);
    out.rowlev.reserve(a.rowlev.size() + b.rowlev.size());
    out.v.reserve(a.v.size() + b.v.size());
    std::vector<double> olo;
    olo.reserve(out.v.capacity());
    auto take = [&](const SparseBlock& s, const std::vector<double>& lo, int64_t t) {
        out.rowlev.push_back(s.rowlev[t]);
        out.v.insert(out.v.end(), s.v.begin() + t * bs, s.v.begin() + (t + 1) * bs);
        olo.insert(olo.end(), lo.begin() + t * bs, lo.begin() + (t + 1) * bs);
    };
    for (int c = 0; c < a.ncollev; ++c) {
        int64_t s = a.colptr[c], t = b.colptr[c];
        const int64_t se = a.colptr[c + 1], te = b.colptr[c + 1];
        while (s < se || t < te) {
            if (t == te || (s < se && a.rowlev[s] < b.rowlev[t])) {
                take(a, alo, s++);
            } else if (s == se || b.rowlev[t] < a.rowlev[s]) {
                take(b, blo, t++);
            } else {
                take(a, alo, s);
                const size_t o = out.v.size() - bs;
                for (size_t e = 0; e < bs; ++e) dd_add_into(out.v[o + e], olo[o + e], b.v[t * bs + e], blo[t * bs + e]);
                ++s;
                ++t;
            }
        }
        out.colptr[c + 1] = static_cast<int64_t>(out.rowlev.size());
    }
    a = std::move(out);
    alo = std::move(olo);
}

}  // namespace

void CrossProducts::check_not_frozen() const {
    if (frozen_) throw InvalidInput("these cross-products are a model's and final: no rows can be added");
}

void CrossProducts::add_blocks(const CrossProducts& other, double sign) {
    for (size_t b = 0; b < hi_.size(); ++b) {
        if (hi_[b].kind == Kind::Sparse) {
            if (sign > 0) {
                add_sparse(hi_[b].s, lo_[b], other.hi_[b].s, other.lo_[b]);
            } else {
                SparseBlock neg = other.hi_[b].s;
                std::vector<double> neglo = other.lo_[b];
                for (double& v : neg.v) v = -v;
                for (double& v : neglo) v = -v;
                add_sparse(hi_[b].s, lo_[b], neg, neglo);
            }
        } else {
            std::vector<double>& v = values(hi_[b]);
            const std::vector<double>& w = values(other.hi_[b]);
            for (size_t e = 0; e < v.size(); ++e) dd_add_into(v[e], lo_[b][e], sign * w[e], sign * other.lo_[b][e]);
        }
    }
}

void CrossProducts::add(const CrossProducts& other) {
    check_not_frozen();
    if (!layout_->same_as(*other.layout_))
        throw InvalidInput("cross-products of models with different layouts cannot be added");
    if (other.n_ == 0) return;
    if (n_ == 0) {
        const LayoutPtr keep = layout_;
        *this = other;
        layout_ = keep;
        frozen_ = false;
        return;
    }
    add_blocks(other, 1.0);
    n_ += other.n_;
    log_weights_ = dd::add_or_inf(log_weights_, other.log_weights_);
    ymin_ = std::min(ymin_, other.ymin_);
    ymax_ = std::max(ymax_, other.ymax_);
}

void CrossProducts::subtract(const CrossProducts& other) {
    check_not_frozen();
    if (!layout_->same_as(*other.layout_))
        throw InvalidInput("cross-products of models with different layouts cannot be subtracted");
    if (other.n_ > n_)
        throw InvalidInput("cannot subtract the cross-products of " + std::to_string(other.n_) + " rows from those of " +
                           std::to_string(n_));
    if (other.n_ == 0) return;
    add_blocks(other, -1.0);
    n_ -= other.n_;
    log_weights_ = dd::add_or_inf(log_weights_, dd::neg(other.log_weights_));
}

CrossProducts CrossProducts::minus(const CrossProducts& other) const {
    CrossProducts out(*this);
    out.frozen_ = false;
    out.subtract(other);
    return out;
}

CrossProducts CrossProducts::scaled(const std::vector<std::vector<double>>& zscale,
                                    const std::vector<double>& xscale) const {
    const Layout& lay = *layout_;
    const int nf = lay.nf(), p = lay.p(), pp = p + 1;
    if (static_cast<int>(zscale.size()) != nf || static_cast<int>(xscale.size()) != p)
        throw InvalidInput("one scale per random-effects column of each factor and per fixed-effects column");
    for (int f = 0; f < nf; ++f)
        if (static_cast<int>(zscale[f].size()) != lay.factor(f).k)
            throw InvalidInput("one scale per random-effects column of factor " + std::to_string(f));
    std::vector<double> wx(xscale);
    wx.push_back(1.0);  // y is not scaled
    CrossProducts out(*this);
    out.frozen_ = false;
    auto scale = [&](size_t b, size_t e, double f) {
        values(out.hi_[b])[e] = values(hi_[b])[e] / f;
        out.lo_[b][e] = lo_[b][e] / f;
    };
    for (int j = 0; j < nf; ++j) {
        const std::vector<double>& sj = zscale[j];
        const int kj = lay.factor(j).k, nl = lay.factor(j).nlev;
        const size_t d = tri(j, j);
        for (int l = 0; l < nl; ++l)
            for (int b = 0; b < kj; ++b)
                for (int a = 0; a < kj; ++a)
                    scale(d, static_cast<size_t>(l) * kj * kj + a + static_cast<size_t>(b) * kj, sj[a] * sj[b]);
        for (int c = j + 1; c < nf; ++c) {
            const size_t o = tri(c, j);
            const SparseBlock& s = hi_[o].s;
            for (int64_t t = 0; t < s.nnzb(); ++t)
                for (int b = 0; b < s.kc; ++b)
                    for (int a = 0; a < s.kr; ++a)
                        scale(o, t * s.bsz() + a + static_cast<size_t>(b) * s.kr, zscale[c][a] * sj[b]);
        }
        const size_t x = tri(nf, j);
        for (int col = 0; col < nl * kj; ++col)
            for (int r = 0; r < pp; ++r) scale(x, static_cast<size_t>(col) * pp + r, wx[r] * sj[col % kj]);
    }
    const size_t x = tri(nf, nf);
    for (int b = 0; b < pp; ++b)
        for (int a = 0; a < pp; ++a) scale(x, static_cast<size_t>(b) * pp + a, wx[a] * wx[b]);
    return out;
}

CrossProducts CrossProducts::select_fixed(const std::vector<int>& keep) const {
    const Layout& lay = *layout_;
    const int nf = lay.nf(), p = lay.p(), pp = p + 1;
    for (size_t i = 0; i < keep.size(); ++i)
        if (keep[i] < 0 || keep[i] >= p || (i > 0 && keep[i] <= keep[i - 1]))
            throw InvalidInput("the fixed-effects columns to keep must be ascending indices below " + std::to_string(p));
    std::vector<int> rows(keep);
    rows.push_back(p);  // and y
    const int np = static_cast<int>(rows.size());
    CrossProducts out(lay.with_p(static_cast<int>(keep.size())));
    for (size_t b = 0; b < hi_.size(); ++b)
        if (hi_[b].kind != Kind::Dense) {
            out.hi_[b] = hi_[b];
            out.lo_[b] = lo_[b];
        }
    for (int j = 0; j <= nf; ++j) {
        const size_t b = tri(nf, j);
        const DenseBlock& src = hi_[b].d;
        DenseBlock& dst = out.hi_[b].d;
        const int ncol = j < nf ? src.ncol : np;
        for (int col = 0; col < ncol; ++col) {
            const int sc = j < nf ? col : rows[col];
            for (int r = 0; r < np; ++r) {
                const size_t from = static_cast<size_t>(sc) * pp + rows[r];
                const size_t to = static_cast<size_t>(col) * np + r;
                dst.v[to] = src.v[from];
                out.lo_[b][to] = lo_[b][from];
            }
        }
    }
    out.n_ = n_;
    out.log_weights_ = log_weights_;
    out.ymin_ = ymin_;
    out.ymax_ = ymax_;
    return out;
}

std::vector<Block> CrossProducts::rounded() const {
    std::vector<Block> out(hi_);
    for (size_t b = 0; b < out.size(); ++b) {
        std::vector<double>& v = values(out[b]);
        for (size_t e = 0; e < v.size(); ++e) v[e] += lo_[b][e];
    }
    return out;
}

std::vector<double> CrossProducts::column_sumsq() const {
    const Layout& lay = *layout_;
    const int nf = lay.nf(), p = lay.p(), pp = p + 1;
    std::vector<double> out;
    for (int f = 0; f < nf; ++f) {
        const UBDBlock& d = hi_[tri(f, f)].u;
        const std::vector<double>& lo = lo_[tri(f, f)];
        for (int a = 0; a < d.k; ++a) {
            double s = 0.0;
            for (int l = 0; l < d.nlev; ++l) {
                const size_t e = static_cast<size_t>(l) * d.k * d.k + a + static_cast<size_t>(a) * d.k;
                s += d.v[e] + lo[e];
            }
            out.push_back(s);
        }
    }
    const DenseBlock& xx = hi_[tri(nf, nf)].d;
    const std::vector<double>& lo = lo_[tri(nf, nf)];
    for (int m = 0; m < p; ++m) out.push_back(xx(m, m) + lo[static_cast<size_t>(m) * pp + m]);
    return out;
}

std::vector<double> CrossProducts::factor_crossprod(int f) const {
    if (f < 0 || f >= layout_->nf()) throw InvalidInput("no grouping factor " + std::to_string(f));
    const UBDBlock& d = hi_[tri(f, f)].u;
    const std::vector<double>& lo = lo_[tri(f, f)];
    const size_t kk = static_cast<size_t>(d.k) * d.k;
    std::vector<double> out(kk, 0.0);
    for (int l = 0; l < d.nlev; ++l)
        for (size_t e = 0; e < kk; ++e) out[e] += d.v[l * kk + e] + lo[l * kk + e];
    return out;
}

}  // namespace mm
