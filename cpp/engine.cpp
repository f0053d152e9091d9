// The engine's construction from a model's cross-products (engine.hpp).
#include "engine.hpp"

#include "errors.hpp"

namespace mm {

Engine::Engine(const CrossProducts& a, double dense_threshold)
    : layout_(a.layout()), nf_(a.layout()->nf()), p_(a.layout()->p()), n_(a.nobs()) {
    if (n_ <= 0) throw InvalidInput("no observations");
    nlev_.resize(nf_);
    k_.resize(nf_);
    toff_.assign(static_cast<size_t>(nf_) + 1, 0);
    for (int f = 0; f < nf_; ++f) {
        nlev_[f] = layout_->factor(f).nlev;
        k_[f] = layout_->factor(f).k;
        toff_[f + 1] = toff_[f] + static_cast<size_t>(k_[f]) * k_[f];
    }
    T_.assign(toff_[nf_], 0.0);
    A_ = a.rounded();
    analyse(dense_threshold);
}

}  // namespace mm
