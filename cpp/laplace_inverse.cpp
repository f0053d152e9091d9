// The Laplace gradient's uses of the factor with several grouping factors (docs/design.md, section
// 3b): after PIRLS has left L at the modes' working weights, S = (LL')^{-1} = (Lambda'Z'WZ Lambda +
// I)^{-1} at each row's random-effects columns, from the selected inversion on the blocks of L
// (selected_inverse.cpp), and solves with LL'. Every pair of one row's columns lies on the pattern
// of A (the row adds to that entry), hence on L's, where the selected inversion forms S.
#include <string>
#include <vector>

#include "blas.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "selected_inverse.hpp"

namespace mm {

namespace {

// Entry (xa, xb) of S's level block (la, lb) between factors fa and fb, into v; false when the
// block is not on the pattern (a dense diagonal block in a fill-reducing order, `plans`: off the
// factor's exact structure, where the selected inverse is not formed).
bool s_entry(const std::vector<Block>& g, const std::vector<int>& k, const std::vector<SupernodePlan>& plans, int fa,
             int la, int xa, int fb, int lb, int xb, double& v) {
    if (fa < fb) return s_entry(g, k, plans, fb, lb, xb, fa, la, xa, v);
    const Block& blk = g[tri(fa, fb)];
    if (blk.kind == Kind::UBD) {
        if (la != lb) return false;
        v = blk.u.at(la)[xa + xb * k[fa]];
        return true;
    }
    if (blk.kind == Kind::Sparse) {
        const int64_t idx = blk.s.find(la, lb);
        if (idx < 0) return false;
        v = blk.s.blk(idx)[xa + xb * blk.s.kr];
        return true;
    }
    if (fa == fb && !plans[fa].empty() && !plans[fa].on_structure(la, lb)) return false;
    v = blk.d(la * k[fa] + xa, lb * k[fb] + xb);
    return true;
}

}  // namespace

std::vector<double> Engine::inverse_at_rows(const int64_t* idx, int64_t n, int r) const {
    std::lock_guard<std::mutex> lock(mu_);
    require_update();
    const blas::SingleThreaded one_thread(single_threaded_blas());
    std::vector<int64_t> off(static_cast<size_t>(nf_) + 1, 0);
    for (int j = 0; j < nf_; ++j) off[j + 1] = off[j] + static_cast<int64_t>(nlev_[j]) * k_[j];
    // the factor of each position of a row, from the first row; every row is checked against it
    std::vector<int> fpos(static_cast<size_t>(r), -1);
    if (n > 0)
        for (int t = 0; t < r; ++t)
            for (int f = 0; f < nf_; ++f)
                if (idx[t] >= off[f] && idx[t] < off[f + 1]) fpos[t] = f;
    for (int64_t i = 0; i < n; ++i)
        for (int t = 0; t < r; ++t) {
            const int64_t col = idx[i * r + t];
            const int f = fpos[t];
            if (f < 0 || col < off[f] || col >= off[f + 1])
                throw InvalidInput("column " + std::to_string(col) + " of row " + std::to_string(i) +
                                   " is not a random effect of the factor its position holds in the first row");
        }
    const SelectedInverse::TrimAfterUse trim{selinv_};
    const std::vector<Block>& g = selected_inverse(L_, nf_, nlev_, k_, threads_, selinv_, &plan_);
    std::vector<double> out(static_cast<size_t>(n) * r * r);
    std::vector<int64_t> ecols(static_cast<size_t>(r));
    for (int64_t i = 0; i < n; ++i) {
        const int64_t* cols = idx + i * r;
        for (int a = 0; a < r; ++a) ecols[a] = engine_column(cols[a]);  // (a reordered factor's levels)
        double* s = out.data() + static_cast<size_t>(i) * r * r;
        for (int a = 0; a < r; ++a) {
            const int fa = fpos[a];
            const int64_t ca = ecols[a] - off[fa];
            for (int b = 0; b <= a; ++b) {
                const int fb = fpos[b];
                const int64_t cb = ecols[b] - off[fb];
                double v = 0.0;
                if (!s_entry(g, k_, plan_, fa, static_cast<int>(ca / k_[fa]), static_cast<int>(ca % k_[fa]), fb,
                             static_cast<int>(cb / k_[fb]), static_cast<int>(cb % k_[fb]), v))
                    throw InvalidInput("columns " + std::to_string(cols[a]) + " and " + std::to_string(cols[b]) +
                                       " of row " + std::to_string(i) + " are not on the factor's pattern");
                s[a * r + b] = s[b * r + a] = v;
            }
        }
    }
    return out;
}

std::vector<double> Engine::solve_zz(const double* rhs, int m) const {
    std::lock_guard<std::mutex> lock(mu_);
    require_update();
    const blas::SingleThreaded one_thread(single_threaded_blas());
    std::vector<int64_t> off(static_cast<size_t>(nf_) + 1, 0);
    for (int j = 0; j < nf_; ++j) off[j + 1] = off[j] + static_cast<int64_t>(nlev_[j]) * k_[j];
    std::vector<double> x(rhs, rhs + static_cast<size_t>(off[nf_]) * m);
    move_levels(x.data(), m, false);
    forward_solve(L_, nf_, nlev_, k_, off, x, m);
    back_solve(L_, nf_, nlev_, k_, off, x, m);
    move_levels(x.data(), m, true);
    return x;
}

}  // namespace mm
