// The dimensions of a model as the core sees them: per grouping factor (engine order, most levels
// first) its number of levels, its number of random-effects columns and the map from theta to the
// entries of its k x k lower-triangular relative covariance factor T; and the number of fixed-effects
// columns. Python's ThetaLayout (layout.py) builds it; the cross-products and the engine share it.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace mm {

struct FactorLayout {
    int nlev = 0;
    int k = 0;
    // theta[th_idx[e]] is entry (th_row[e], th_col[e]) of T (on or below the diagonal).
    std::vector<int> th_idx, th_row, th_col;
};

class Layout {
public:
    // Checks every entry (throws InvalidInput): each factor's map fills distinct entries of T's lower
    // triangle, and theta's indices 0 .. ntheta - 1 are each used once.
    Layout(std::vector<FactorLayout> factors, int p);

    int nf() const { return static_cast<int>(factors_.size()); }
    int p() const { return p_; }
    int ntheta() const { return ntheta_; }
    const FactorLayout& factor(int f) const { return factors_[static_cast<size_t>(f)]; }
    const std::vector<FactorLayout>& factors() const { return factors_; }
    int64_t q() const;  // number of random effects: sum of nlev * k
    // The same factors with another number of fixed-effects columns.
    std::shared_ptr<const Layout> with_p(int p) const;
    // The same dimensions and theta map.
    bool same_as(const Layout& other) const;

private:
    std::vector<FactorLayout> factors_;
    int p_ = 0;
    int ntheta_ = 0;
};

using LayoutPtr = std::shared_ptr<const Layout>;

}  // namespace mm
