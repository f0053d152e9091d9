// L(c, j) = Lambda_c^T A(c, j) Lambda_j (+ I on the random-effects diagonal). A null T is identity
// (the [X y] block is not scaled). scale_levels does the block-diagonal and [X y] cases on a range
// of the column factor's levels, for the thread pool's chunks (update.cpp): the same arithmetic,
// so a chunked update is bitwise the whole one.
#include <algorithm>
#include <vector>

#include "engine.hpp"
#include "small.hpp"

namespace mm {

namespace {

// out (kr x kc) = Tr^T m Tc, either T may be null (identity).
template <int KR = 0, int KC = 0>
inline void scale_one(const double* tr, int kr, const double* m, const double* tc, int kc, double* out,
                      double* tmp) {
    if (tr && tc) {
        small::scale_tt<KR, KC>(tr, kr, m, tc, kc, out, tmp);
    } else if (tc) {  // out = m Tc
        for (int j = 0; j < kc; ++j)
            for (int i = 0; i < kr; ++i) {
                double s = 0.0;
                for (int l = j; l < kc; ++l) s += m[i + l * kr] * tc[l + j * kc];
                out[i + j * kr] = s;
            }
    } else {
        std::copy(m, m + static_cast<size_t>(kr) * kc, out);
    }
}

// Levels [l0, l1) of a block-diagonal block: out_l = Tc^T A_l Tj (+ I).
void scale_ubd_levels(UBDBlock& target, const UBDBlock& a, const double* tc, int kc, const double* tj, int kj,
                      bool add_identity, int64_t l0, int64_t l1) {
    std::vector<double> tmp(static_cast<size_t>(kc) * kj);
    small::with_k(kj, [&](auto K) {
        constexpr int k = decltype(K)::value;
        for (int64_t l = l0; l < l1; ++l) {
            double* o = target.at(static_cast<int>(l));
            scale_one<k, k>(tc, kc, a.at(static_cast<int>(l)), tj, kj, o, tmp.data());
            if (add_identity)
                for (int m = 0; m < kj; ++m) o[m + m * kj] += 1.0;
        }
    });
}

// Levels [l0, l1) of the [X y] rows below a factor: their columns scaled by T_j level by level.
void scale_xy_levels(DenseBlock& d, const DenseBlock& src, const double* tj, int kj, int64_t l0, int64_t l1) {
    const int nr = src.nrow;
    small::with_k(kj, [&](auto K) {
        constexpr int KK = decltype(K)::value;
        const int k = KK ? KK : kj;
        for (int64_t l = l0; l < l1; ++l) {
            const double* m = src.data() + static_cast<size_t>(l) * k * nr;
            double* o = d.data() + static_cast<size_t>(l) * k * nr;
            for (int j = 0; j < k; ++j) {
                double* oc = o + static_cast<size_t>(j) * nr;
                for (int i = 0; i < nr; ++i) {
                    double s = 0.0;
                    for (int l2 = j; l2 < k; ++l2) s += m[i + static_cast<size_t>(l2) * nr] * tj[l2 + j * k];
                    oc[i] = s;
                }
            }
        }
    });
}

}  // namespace

void scale_into(Block& target, const Block& a, const double* tc, int kc, const double* tj, int kj,
                bool add_identity) {
    std::vector<double> tmp(static_cast<size_t>(kc) * kj), out(static_cast<size_t>(kc) * kj);
    if (a.kind == Kind::UBD) {
        const int nl = a.u.nlev;
        if (target.kind == Kind::UBD) {
            scale_ubd_levels(target.u, a.u, tc, kc, tj, kj, add_identity, 0, nl);
        } else {  // dense diagonal block with fill-in: only the lower triangle is used
            DenseBlock& d = target.d;
            for (int c = 0; c < d.ncol; ++c) std::fill(&d(c, c), &d(0, c) + d.nrow, 0.0);
            for (int l = 0; l < nl; ++l) {
                scale_one(tc, kc, a.u.at(l), tj, kj, out.data(), tmp.data());
                for (int b = 0; b < kj; ++b)
                    for (int r = 0; r < kc; ++r) d(l * kc + r, l * kj + b) = out[r + b * kc];
            }
            if (add_identity)
                for (int m = 0; m < d.nrow; ++m) d(m, m) += 1.0;
        }
    } else if (a.kind == Kind::Sparse) {
        const SparseBlock& s = a.s;
        if (target.kind == Kind::Sparse && kc == 1 && kj == 1 && tc && tj) {  // scalar terms (crossed)
            const double r = tc[0], c = tj[0];
            const double* in = s.v.data();
            double* out = target.s.v.data();
            for (size_t idx = 0; idx < s.v.size(); ++idx) out[idx] = r * (in[idx] * c);  // as scale_tt
        } else if (target.kind == Kind::Sparse) {
            for (int64_t idx = 0; idx < s.nnzb(); ++idx)
                scale_one(tc, kc, s.blk(idx), tj, kj, target.s.blk(idx), tmp.data());
        } else if (kc == 1 && kj == 1 && tc && tj) {  // scalar terms into a dense block (crossed): as scale_tt
            DenseBlock& d = target.d;
            std::fill(d.v.begin(), d.v.end(), 0.0);
            const double r = tc[0], c = tj[0];
            for (int col = 0; col < s.ncollev; ++col)
                for (int64_t idx = s.colptr[col]; idx < s.colptr[col + 1]; ++idx) d(s.rowlev[idx], col) = r * (s.v[idx] * c);
        } else {
            DenseBlock& d = target.d;
            std::fill(d.v.begin(), d.v.end(), 0.0);
            for (int col = 0; col < s.ncollev; ++col)
                for (int64_t idx = s.colptr[col]; idx < s.colptr[col + 1]; ++idx) {
                    scale_one(tc, kc, s.blk(idx), tj, kj, out.data(), tmp.data());
                    const int row = s.rowlev[idx];
                    for (int b = 0; b < kj; ++b)
                        for (int r = 0; r < kc; ++r) d(row * kc + r, col * kj + b) = out[r + b * kc];
                }
        }
    } else {  // dense [X y] rows: columns scaled by T_j level by level, rows not scaled
        const DenseBlock& src = a.d;
        DenseBlock& d = target.d;
        if (!tj) {
            std::copy(src.v.begin(), src.v.end(), d.v.begin());
            return;
        }
        scale_xy_levels(d, src, tj, kj, 0, src.ncol / kj);
    }
}

bool scale_levels(Block& target, const Block& a, const double* tc, int kc, const double* tj, int kj,
                  bool add_identity, int64_t l0, int64_t l1) {
    if (a.kind == Kind::UBD && target.kind == Kind::UBD && tc && tj && kc == kj) {
        scale_ubd_levels(target.u, a.u, tc, kc, tj, kj, add_identity, l0, l1);
        return true;
    }
    if (a.kind == Kind::Dense && target.kind == Kind::Dense && !tc && tj) {  // the [X y] rows
        scale_xy_levels(target.d, a.d, tj, kj, l0, l1);
        return true;
    }
    return false;
}

}  // namespace mm
