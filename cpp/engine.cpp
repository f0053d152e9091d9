// The engine's construction from a model's cross-products (engine.hpp).
#include "engine.hpp"

#include <algorithm>

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
    // BLAS on one thread while factoring (blas_threads.cpp), unless a dense diagonal block is large
    // enough for OpenBLAS's threads to pay (InstEval's 1,128 x 1,128 block: 30 % slower pinned)
    int largest = 0;
    for (int j = 0; j <= nf_; ++j) {
        const Block& d = L_[tri(j, j)];
        if (d.kind == Kind::Dense) largest = std::max(largest, d.d.nrow);
    }
    pin_blas_ = largest < kPinBlasBelow;
}

}  // namespace mm
