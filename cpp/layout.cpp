// Validation of a model's layout (layout.hpp).
#include "layout.hpp"

#include <algorithm>
#include <string>

#include "errors.hpp"

namespace mm {

Layout::Layout(std::vector<FactorLayout> factors, int p) : factors_(std::move(factors)), p_(p) {
    if (p_ < 0) throw InvalidInput("negative number of fixed-effects columns");
    size_t total = 0;
    for (size_t f = 0; f < factors_.size(); ++f) {
        const FactorLayout& fl = factors_[f];
        const std::string name = "grouping factor " + std::to_string(f);
        if (fl.nlev < 1) throw InvalidInput(name + " has no levels");
        if (fl.k < 1) throw InvalidInput(name + " has no model columns");
        const size_t nt = fl.th_idx.size();
        if (fl.th_row.size() != nt || fl.th_col.size() != nt) throw InvalidInput("theta map arrays of " + name + " differ in length");
        if (nt > static_cast<size_t>(fl.k) * (fl.k + 1) / 2) throw InvalidInput("theta map of " + name + " is longer than T's lower triangle");
        std::vector<char> used(static_cast<size_t>(fl.k) * fl.k, 0);
        for (size_t t = 0; t < nt; ++t) {
            if (fl.th_idx[t] < 0 || fl.th_row[t] < fl.th_col[t] || fl.th_row[t] >= fl.k || fl.th_col[t] < 0)
                throw InvalidInput("theta map entry outside the lower triangle of " + name);
            char& u = used[static_cast<size_t>(fl.th_row[t]) + static_cast<size_t>(fl.th_col[t]) * fl.k];
            if (u) throw InvalidInput("theta map of " + name + " fills an entry of T twice");
            u = 1;
        }
        total += nt;
    }
    // theta's entries are 0 .. ntheta - 1, each filling exactly one entry of one factor's T
    std::vector<char> seen(total, 0);
    for (const FactorLayout& fl : factors_)
        for (int idx : fl.th_idx) {
            if (static_cast<size_t>(idx) >= total || seen[static_cast<size_t>(idx)])
                throw InvalidInput("the theta map must use each index 0 .. " + std::to_string(total) + " - 1 once");
            seen[static_cast<size_t>(idx)] = 1;
        }
    ntheta_ = static_cast<int>(total);
}

bool Layout::same_as(const Layout& other) const {
    if (p_ != other.p_ || factors_.size() != other.factors_.size()) return false;
    for (size_t f = 0; f < factors_.size(); ++f) {
        const FactorLayout& a = factors_[f];
        const FactorLayout& b = other.factors_[f];
        if (a.nlev != b.nlev || a.k != b.k || a.th_idx != b.th_idx || a.th_row != b.th_row || a.th_col != b.th_col)
            return false;
    }
    return true;
}

int64_t Layout::q() const {
    int64_t q = 0;
    for (const FactorLayout& f : factors_) q += static_cast<int64_t>(f.nlev) * f.k;
    return q;
}

std::shared_ptr<const Layout> Layout::with_p(int p) const { return std::make_shared<const Layout>(factors_, p); }

}  // namespace mm
