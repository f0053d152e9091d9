// The engine's construction from a model's cross-products (engine.hpp).
#include "engine.hpp"

#include <algorithm>
#include <string>

#include "errors.hpp"

namespace mm {

Engine::Engine(const CrossProducts& a, double dense_threshold, int threads)
    : layout_(a.layout()), nf_(a.layout()->nf()), p_(a.layout()->p()), n_(a.nobs()) {
    if (n_ <= 0) throw InvalidInput("no observations");
    set_threads(threads);
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

void Engine::set_threads(int threads) {
    if (threads < 1) throw InvalidInput("threads must be at least 1, got " + std::to_string(threads));
    std::lock_guard<std::mutex> lock(mu_);
    threads_ = threads;
}

void Engine::hold_workspace() {
    std::lock_guard<std::mutex> lock(mu_);
    ++selinv_.holds;
}

void Engine::release_workspace() {
    std::lock_guard<std::mutex> lock(mu_);
    if (selinv_.holds > 0) --selinv_.holds;
    selinv_.trim();
}

size_t Engine::workspace_values() const {
    std::lock_guard<std::mutex> lock(mu_);
    return selinv_.held();
}

void Engine::refill_blocks(std::vector<Block>&& blocks, int64_t nobs) {
    if (nobs <= 0) throw InvalidInput("no observations");
    if (blocks.size() != A_.size()) throw InvalidInput("refill: the blocks have another layout than the engine's");
    for (size_t b = 0; b < blocks.size(); ++b) {
        const Block& o = A_[b];
        const Block& nb = blocks[b];
        if (nb.kind != o.kind || values(nb).size() != values(o).size() ||
            (o.kind == Kind::Sparse && (nb.s.colptr != o.s.colptr || nb.s.rowlev != o.s.rowlev)))
            throw InvalidInput("refill: the cross-products' pattern differs from the engine's (other rows?)");
    }
    std::lock_guard<std::mutex> lock(mu_);
    A_ = std::move(blocks);
    n_ = nobs;
    updated_ = false;
}

}  // namespace mm
