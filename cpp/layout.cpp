// Validation of a model's layout (layout.hpp).
#include "layout.hpp"

#include <algorithm>
#include <string>

#include "errors.hpp"

namespace mm {

Layout::Layout(std::vector<FactorLayout> factors, int p) : factors_(std::move(factors)), p_(p) {
    if (p_ < 0) throw InvalidInput("negative number of fixed-effects columns");
    for (size_t f = 0; f < factors_.size(); ++f) {
        const FactorLayout& fl = factors_[f];
        const std::string name = "grouping factor " + std::to_string(f);
        if (fl.nlev < 1) throw InvalidInput(name + " has no levels");
        if (fl.k < 1) throw InvalidInput(name + " has no model columns");
        const size_t nt = fl.th_idx.size();
        if (fl.th_row.size() != nt || fl.th_col.size() != nt) throw InvalidInput("theta map arrays of " + name + " differ in length");
        for (size_t t = 0; t < nt; ++t) {
            if (fl.th_idx[t] < 0 || fl.th_row[t] < fl.th_col[t] || fl.th_row[t] >= fl.k || fl.th_col[t] < 0)
                throw InvalidInput("theta map entry outside the lower triangle of " + name);
            ntheta_ = std::max(ntheta_, fl.th_idx[t] + 1);
        }
    }
}

int64_t Layout::q() const {
    int64_t q = 0;
    for (const FactorLayout& f : factors_) q += static_cast<int64_t>(f.nlev) * f.k;
    return q;
}

std::shared_ptr<const Layout> Layout::with_p(int p) const { return std::make_shared<const Layout>(factors_, p); }

}  // namespace mm
