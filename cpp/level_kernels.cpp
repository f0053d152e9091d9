// scale_into (scale.cpp) on a range of the levels of the column factor, for the thread pool
// (pool.hpp): the block-diagonal blocks of a factor and the [X y] rows below them. The arithmetic is
// scale.cpp's, entry by entry, so a chunked update is bitwise the single-threaded one.
#include <algorithm>
#include <vector>

#include "engine.hpp"
#include "small.hpp"

namespace mm {

bool scale_levels(Block& target, const Block& a, const double* tc, int kc, const double* tj, int kj,
                  bool add_identity, int64_t l0, int64_t l1) {
    if (a.kind == Kind::UBD && target.kind == Kind::UBD && tc && tj && kc == kj) {
        std::vector<double> tmp(static_cast<size_t>(kc) * kj);
        small::with_k(kj, [&](auto K) {
            constexpr int k = decltype(K)::value;
            for (int64_t l = l0; l < l1; ++l) {
                double* o = target.u.at(static_cast<int>(l));
                small::scale_tt<k, k>(tc, kc, a.u.at(static_cast<int>(l)), tj, kj, o, tmp.data());
                if (add_identity)
                    for (int m = 0; m < kj; ++m) o[m + m * kj] += 1.0;
            }
        });
        return true;
    }
    if (a.kind == Kind::Dense && target.kind == Kind::Dense && !tc && tj) {  // the [X y] rows
        const DenseBlock& src = a.d;
        DenseBlock& d = target.d;
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
        return true;
    }
    return false;
}

}  // namespace mm
