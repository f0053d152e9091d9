// The engine's construction from a model's cross-products (engine.hpp).
#include "engine.hpp"

#include <algorithm>
#include <string>

#include "errors.hpp"

namespace mm {

Engine::Engine(const CrossProducts& a, double dense_threshold, int threads, const Engine* like, bool reorder)
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
    order_.assign(static_cast<size_t>(nf_), {});
    pos_.assign(static_cast<size_t>(nf_), {});
    plan_.assign(static_cast<size_t>(nf_), {});
    if (reorder) reorder_dense_levels(like);
}

namespace {

// Whether the blocks to the left of factor j's diagonal block (its rows) have the same patterns
bool same_left_patterns(const std::vector<Block>& a, const std::vector<Block>& b, int j) {
    for (int i = 0; i < j; ++i) {
        const Block& x = a[tri(j, i)];
        const Block& y = b[tri(j, i)];
        if (x.kind != y.kind || x.kind != Kind::Sparse || x.s.kr != y.s.kr || x.s.kc != y.s.kc ||
            x.s.colptr != y.s.colptr || x.s.rowlev != y.s.rowlev)
            return false;
    }
    return true;
}

}  // namespace

void Engine::reorder_dense_levels(const Engine* like) {
    for (int j = 1; j < nf_; ++j) {
        if (L_[tri(j, j)].kind != Kind::Dense || A_[tri(j, j)].kind != Kind::UBD) continue;
        bool ok = true;
        std::vector<const SparseBlock*> left;
        for (int i = 0; i < j && ok; ++i) {
            ok = L_[tri(j, i)].kind == Kind::Sparse;
            if (ok) left.push_back(&L_[tri(j, i)].s);
        }
        for (int c = 0; c < nf_ && ok; ++c)
            if (c != j) ok = A_[c > j ? tri(c, j) : tri(j, c)].kind == Kind::Sparse;
        if (!ok) continue;
        const bool alike = like != nullptr && like->nf_ == nf_ && like->nlev_ == nlev_ && like->k_ == k_;
        if (alike && like->plan_[j].empty()) {
            if (same_left_patterns(A_, like->A_, j)) continue;  // like's decision: not worth reordering
        } else if (alike) {
            std::vector<Block> trial = A_;  // like's order, where the patterns it came from are these
            permute_levels(trial, nf_, j, like->pos_[j]);
            if (same_left_patterns(trial, like->A_, j)) {
                A_ = std::move(trial);
                permute_levels(L_, nf_, j, like->pos_[j], false);
                order_[j] = like->order_[j];
                pos_[j] = like->pos_[j];
                plan_[j] = like->plan_[j];
                continue;
            }
        }
        std::vector<int> order;
        SupernodePlan plan;
        if (!fill_reducing_order(nlev_[j], k_[j], left, order, plan)) continue;
        std::vector<int> pos(order.size());
        for (size_t p = 0; p < order.size(); ++p) pos[order[p]] = static_cast<int>(p);
        permute_levels(A_, nf_, j, pos);
        permute_levels(L_, nf_, j, pos, false);  // L's patterns as analyse() forms them from the relabelled A
        order_[j] = std::move(order);
        pos_[j] = std::move(pos);
        plan_[j] = std::move(plan);
    }
}

void Engine::move_levels(double* x, int m, bool to_model) const {
    const int64_t q = layout_->q();
    int64_t off = 0;
    std::vector<double> seg;
    for (int f = 0; f < nf_; ++f) {
        const int64_t kf = k_[f], nl = nlev_[f];
        if (!order_[f].empty())
            for (int c = 0; c < m; ++c) {
                double* x0 = x + c * q + off;
                seg.assign(x0, x0 + nl * kf);
                for (int64_t p = 0; p < nl; ++p) {  // engine position p holds model level order_[f][p]
                    const int64_t from = to_model ? p : order_[f][p], to = to_model ? order_[f][p] : p;
                    std::copy(seg.begin() + from * kf, seg.begin() + (from + 1) * kf, x0 + to * kf);
                }
            }
        off += nl * kf;
    }
}

int64_t Engine::engine_column(int64_t col) const {
    int64_t off = 0;
    for (int f = 0; f < nf_; ++f) {
        const int64_t qf = static_cast<int64_t>(nlev_[f]) * k_[f];
        if (col >= off && col < off + qf) {
            if (pos_[f].empty()) return col;
            const int64_t c = col - off;
            return off + static_cast<int64_t>(pos_[f][c / k_[f]]) * k_[f] + c % k_[f];
        }
        off += qf;
    }
    return col;
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
    for (size_t b = 0; b < blocks.size(); ++b) {  // (kinds and sizes: the same in either order)
        const Block& o = A_[b];
        const Block& nb = blocks[b];
        if (nb.kind != o.kind || values(nb).size() != values(o).size() ||
            (o.kind == Kind::Sparse && (nb.s.colptr.size() != o.s.colptr.size() || nb.s.rowlev.size() != o.s.rowlev.size() ||
                                        nb.s.kr != o.s.kr || nb.s.kc != o.s.kc)) ||
            (o.kind == Kind::Dense && (nb.d.nrow != o.d.nrow || nb.d.ncol != o.d.ncol)) ||
            (o.kind == Kind::UBD && (nb.u.nlev != o.u.nlev || nb.u.k != o.u.k)))
            throw InvalidInput("refill: the cross-products' pattern differs from the engine's (other rows?)");
    }
    for (int f = 0; f < nf_; ++f)
        if (!pos_[f].empty()) permute_levels(blocks, nf_, f, pos_[f]);  // into the engine's order
    for (size_t b = 0; b < blocks.size(); ++b) {
        const Block& o = A_[b];
        const Block& nb = blocks[b];
        if (o.kind == Kind::Sparse && (nb.s.colptr != o.s.colptr || nb.s.rowlev != o.s.rowlev))
            throw InvalidInput("refill: the cross-products' pattern differs from the engine's (other rows?)");
    }
    std::lock_guard<std::mutex> lock(mu_);
    A_ = std::move(blocks);
    n_ = nobs;
    updated_ = false;
}

}  // namespace mm
