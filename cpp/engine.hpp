// The PLS engine: the blocks of A = [Z X y]^T [Z X y] (taken, rounded, from a model's
// CrossProducts) and of its blocked Cholesky factor L(theta), updated for each theta
// (docs/design.md, sections 1, 3 and 4). Block 0..nf-1 are grouping factors (largest first), block nf is
// the dense [X y] block. The block type of every block of L is chosen once, by analyse().
#pragma once
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "blocks.hpp"
#include "criterion.hpp"
#include "cross_products.hpp"
#include "layout.hpp"
#include "level_order.hpp"
#include "selected_inverse.hpp"

namespace mm {

// What a fit reports at its optimum, from one update of L.
struct Estimates {
    Criterion criterion;
    std::vector<double> beta;  // p
    std::vector<double> b;     // Lambda(theta) u: per factor (engine order), level by level
    std::vector<double> rx_inverse_crossprod;  // (R_X^T R_X)^{-1}, p x p
};

// The type and size of one block of L (Engine::describe).
struct BlockInfo {
    std::string kind;  // "Diagonal", "BlkDiag", "Sparse" or "Dense"
    int64_t nrow = 0, ncol = 0;
    int nlev = 0, k = 0;       // block-diagonal blocks: levels and block size
    int64_t nnz_blocks = 0;    // sparse blocks: stored k x k blocks
};

class Engine {
public:
    // Takes A = hi + lo of the cross-products (a copy: they stay as they are) and chooses the
    // block types of L; a sparse block between factors denser than dense_threshold becomes dense.
    // With `like` (an engine of cross-products with the same pattern), its choices are taken (its
    // fill-reducing orders, or none) where the patterns they came from are this one's
    // (reorder_dense_levels).
    // reorder false: no factor's levels are reordered.
    explicit Engine(const CrossProducts& a, double dense_threshold = 0.1, int threads = 1, const Engine* like = nullptr,
                    bool reorder = true);

    int nf() const { return nf_; }
    int p() const { return p_; }
    int ntheta() const { return layout_->ntheta(); }
    int64_t nobs() const { return n_; }
    int64_t qtotal() const { return layout_->q(); }
    const LayoutPtr& layout() const { return layout_; }

    // Replace A's blocks by others of the same kinds, sizes and sparse patterns (the same rows with
    // other weights or another response: PIRLS' working weights, WorkingRows::fill), keeping the
    // block types of L chosen by analyse(). Throws InvalidInput if a pattern differs.
    void refill_blocks(std::vector<Block>&& blocks, int64_t nobs);

    // Update L for theta (length ntheta) and return the parts of the criterion. At the theta of the
    // last completed update (bit for bit) L is already that factor: its criterion is returned as it
    // was (a fit's estimates at the end its optimiser last evaluated, a gradient at a point just
    // evaluated), the same bits as factoring again.
    Criterion update(const double* theta) {
        std::lock_guard<std::mutex> lock(mu_);
        return update_unlocked(theta);
    }
    // The profiled criterion at theta (Criterion::profiled; updates L).
    double objective(const double* theta, bool reml);
    // Update L at theta and compute every estimate a fit reports.
    Estimates estimates(const double* theta);
    // Update L at theta; return the profiled criterion (Criterion::profiled) and write its gradient
    // in theta into grad (ntheta), both from the one factorisation (docs/design.md, section 3a;
    // gradient.cpp). With parts, also the criterion's parts and the derivatives of each in theta
    // (for the deviance at a given sigma: lmerTest's Hessian in (theta, sigma)).
    double gradient(const double* theta, bool reml, std::vector<double>& grad, GradientParts* parts = nullptr);
    // With one grouping factor (has_hessian()), the same and also the criterion's Hessian in theta
    // into hess (ntheta x ntheta, column-major), from the one factorisation (hessian_one_factor.cpp).
    double hessian(const double* theta, bool reml, std::vector<double>& grad, std::vector<double>& hess);
    bool has_hessian() const;

    // After update(): beta (p) and spherical u (sum of nlev*k over factors, engine order).
    void solve(std::vector<double>& beta, std::vector<double>& u) const;
    // Starting theta from moments of the OLS residuals (start.cpp); intercept_col[f] is the
    // column of factor f that is its intercept, or -1. L is left as it was.
    std::vector<double> moment_start(const std::vector<int>& intercept_col);
    // After update(): (R_X^T R_X)^{-1} = vcov(beta) / sigma^2, p x p (symmetric, so either order).
    std::vector<double> rx_inverse_crossprod() const;
    // After update(): S = (L_ZZ L_ZZ^T)^{-1} at each row's random-effects columns (laplace_inverse.cpp):
    // idx (n x r, row-major) holds each row's r columns (engine order), the t-th of every row in the
    // factor of the first row's t-th; returns n x r x r, row i's S[idx[i, a], idx[i, b]]. From the
    // selected inversion: only the entries on L's pattern are formed (a pair off it is InvalidInput).
    std::vector<double> inverse_at_rows(const int64_t* idx, int64_t n, int r) const;
    // After update(): (L_ZZ L_ZZ^T)^{-1} rhs for rhs q x m (column-major), into a new array.
    std::vector<double> solve_zz(const double* rhs, int m) const;
    // After update(): per factor, nlev x k x k diagonal blocks of (L_ZZ L_ZZ^T)^{-1}.
    std::vector<std::vector<double>> condcov_u() const;
    // Dense copies (for tests on small designs): the lower triangle of A and of L, (q+p+1)^2, a
    // reordered factor's levels at the engine's level positions (level_order()).
    std::vector<double> dense(bool of_l) const;
    // Per factor, the model's level at each of the engine's level positions where the engine
    // reordered the factor's levels (a dense diagonal block whose factor a fill-reducing order makes
    // sparse: reorder_dense_levels), else empty. Every other method takes and gives the levels in
    // the model's order.
    const std::vector<std::vector<int>>& level_order() const { return order_; }
    // The type and size of every block of L, row by row of the lower triangle.
    std::vector<std::vector<BlockInfo>> describe() const;
    // Rough floating-point work of one update(theta), from the block types chosen by analyse().
    double update_flops() const;
    // Whether the engine holds BLAS to one thread while it factors and inverts (blas_threads.cpp):
    // always. Its large dense blocks are factored and inverted by panels on the pool
    // (dense_potrf.hpp, dense_inverse.hpp), as fast as on OpenBLAS's threads for InstEval's 1,128
    // block (an evaluation 11 ms, a gradient 35 ms), whose workers spin for ~0.1 s after each call:
    // they took the second core from the second engine of a Hessian's points (InstEval's fit 342
    // against 300 ms pooled) and, beside another busy process, doubled the evaluations (fit 730
    // against 488 ms). Callers pass it on, so that a guard stays where the rule would change.
    bool single_threaded_blas() const { return true; }
    // The selected inverse the gradients form (its blocks about the size of L's) is kept from call
    // to call while a caller holds it (a fit: its optimiser, polish and check), and freed after each
    // call otherwise when it is larger than SelectedInverse::kKeepValues values. Holds nest; a
    // release without a hold only trims.
    void hold_workspace();
    void release_workspace();
    // The values the selected inverse's workspace holds now.
    size_t workspace_values() const;
    // Threads the large kernels of update and gradient may use (pool.hpp), the caller's included;
    // 1 is the single-threaded path. Results are bitwise the same for every count.
    int threads() const { return threads_; }
    void set_threads(int threads);

private:
    LayoutPtr layout_;
    int nf_ = 0, p_ = 0;
    int64_t n_ = 0;
    std::vector<int> nlev_, k_;
    std::vector<Block> A_, L_;  // lower triangle, tri(c, j)
    std::vector<double> T_;     // per factor k*k, column-major, offsets toff_
    std::vector<size_t> toff_;
    std::vector<double> stack_;  // rows of the dense blocks below a dense diagonal block, stacked
    bool updated_ = false;       // L holds the factor at some theta (an update completed)
    std::vector<double> theta_at_;  // that theta (while updated_)
    Criterion criterion_at_;        // and its criterion
    int threads_ = 1;            // see threads()
    mutable std::mutex mu_;
    mutable SelectedInverse selinv_;  // the gradients' selected inverse, reused (under mu_)
    void require_update() const;

    void analyse(double dense_threshold);
    // Relabel the levels of each factor whose diagonal block of L is dense, all blocks to its left
    // sparse, by a fill-reducing order (level_order.hpp) where that saves at least half the dense
    // factor's work; its supernodes then factor it (supernodal_potrf.hpp). InstEval's 1,128
    // lecturers: 44% of the triangle filled, a fifth of the dense factor's work.
    void reorder_dense_levels(const Engine* like);
    std::vector<std::vector<int>> order_, pos_;  // per factor: level at each position, position of each level
    std::vector<SupernodePlan> plan_;            // per factor: its supernodes where reordered
    // A q-row column-major array (m columns) from the engine's level positions to the model's level
    // order (to_model), or back, in place.
    void move_levels(double* x, int m, bool to_model) const;
    // An engine column (factor offset + position * k + a) of a model column.
    int64_t engine_column(int64_t col) const;
    Criterion update_unlocked(const double* theta);
    void solve_unlocked(std::vector<double>& beta, std::vector<double>& u) const;
    std::vector<double> rx_inverse_crossprod_unlocked() const;
    // After update(): beta (p) from L_XX' beta = l_yX' (solve.cpp).
    std::vector<double> beta_unlocked() const;
    // moment_start for one factor with a full T of k >= 2 columns (start.cpp); false: not applicable
    bool multivariate_start(const std::vector<double>& sze, double ete, std::vector<double>& theta) const;
    // moment_start's variances of the intercepts of two or more grouping factors and of the
    // residuals (start_crossed.cpp): var[f] for each factor with an intercept column and a finite
    // within[f] (the residual sum of squares within its levels), -1 for the others; false where
    // fewer than two factors qualify or the equations give no positive residual variance.
    bool crossed_intercept_moments(const std::vector<int>& intercept_col, const std::vector<double>& within,
                                   double ete, std::vector<double>& var, double& sigma2) const;
    // gradient()'s work after the update with one grouping factor (gradient_one_factor.cpp).
    double gradient_one_factor(const Criterion& cr, bool reml, std::vector<double>& grad, GradientParts* parts);
    std::vector<double> lambda_times(const std::vector<double>& u) const;
    void set_theta(const double* theta);
    void init_block(int c, int j);
    void factor_diag(int j);
    void rank_updates(int j);
    void solve_below(int c, int j, int64_t l0, int64_t l1);
    void solve_all_below(int j);
    const DenseBlock& lxy() const { return L_[tri(nf_, nf_)].d; }
};

// Kernels, one per file.
void rank_update(Block& target, const Block& lc, const Block& lj, bool diagonal);
// The [X y] block's factor in place, p + 1 square: L_XX, the row l_yX and r_yy (factor.cpp); and
// beta from it, L_XX' beta = l_yX' (solve.cpp).
void factor_fixed_block(DenseBlock& m, int p);
std::vector<double> fixed_beta(const DenseBlock& xy, int p);
// Whole columns of a dense block of nrow rows that the scalar scatter (rank_update.cpp) and gather
// (gradient.cpp) kernels take at a time: 65,536 entries (512 KB), which stay in cache.
inline int cache_slab_columns(int64_t nrow) {
    return static_cast<int>(std::max<int64_t>(1, 65536 / std::max<int64_t>(1, nrow)));
}
// rank_update's kernels on a range of the target (rank_update.cpp): columns [rb0, rb1) of a dense
// target from two sparse sources, rows [r0, r1) of a dense target from dense times sparse.
void sparse_sparse_dense(DenseBlock& t, const SparseBlock& lc, const SparseBlock& lj, bool diagonal, int rb0, int rb1);
void dense_sparse(DenseBlock& t, const DenseBlock& d, const SparseBlock& s, int r0, int r1);
void scale_into(Block& target, const Block& a, const double* tc, int kc, const double* tj, int kj,
                bool add_identity);
// Chunked for the thread pool, bitwise the same as the kernels above (fill_in.cpp, scale.cpp):
// rank_update of a large dense target from sparse sources (false: not such a case, or too small to
// split; call rank_update), and scale_into on the levels [l0, l1) of the column factor (false: a
// block kind it does not cover).
bool rank_update_chunked(Block& target, const Block& lc, const Block& lj, bool diagonal, int threads);
bool scale_levels(Block& target, const Block& a, const double* tc, int kc, const double* tj, int kj,
                  bool add_identity, int64_t l0, int64_t l1);

}  // namespace mm
