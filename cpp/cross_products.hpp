// The cross-products A = [Z X y]^T [Z X y] of a model's rows, summed in double-double. Every way
// data reaches the core (a data frame, arrays, chunks of a file, partitions of a Dask frame) adds
// rows here, and chunks' cross-products add up; the engine is formed from the sum. Each entry is
// kept as a value and the exact remainder of its rounding (hi, lo), so the rounded sum does not
// depend on how the rows were split or ordered, but for sums that cancel almost exactly
// (docs/design.md, section 3).
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "blocks.hpp"
#include "dd.hpp"
#include "layout.hpp"

namespace mm {

// A view of n rows of a model (row-major, the caller's memory; read only).
struct RowsView {
    int64_t n = 0;
    const double* y = nullptr;                // n
    const double* x = nullptr;                // n x p
    std::vector<const int32_t*> codes;        // per factor: n codes in [0, nlev)
    std::vector<const double*> z;             // per factor: n x k
    const double* w = nullptr;                // n prior or working weights (>= 0), or none: each row's
                                              // products are multiplied by its weight
};

class CrossProducts {
public:
    // No rows yet: every block zero, the blocks between factors with an empty pattern.
    explicit CrossProducts(LayoutPtr layout);
    // From stored parts (unpickling): the blocks and remainders exactly as `blocks`/`remainders` give.
    CrossProducts(LayoutPtr layout, int64_t n, double ymin, double ymax, std::vector<Block> hi,
                  std::vector<std::vector<double>> lo);

    // Add the rows' products (accumulate.cpp) on up to `threads` threads: one factor's many rows in
    // chunks, several factors' block rows of A in passes of their own (the sums do not depend on the
    // count). Throws InvalidInput for a code out of range.
    void add_rows(const RowsView& rows, int threads = 1);
    // Add another model's cross-products with the same layout (patterns merged), in double-double.
    void add(const CrossProducts& other);
    // Subtract the cross-products of some of the rows already added (same layout; `other`'s pattern
    // within this one's, at most as many rows), in double-double: what is left is A of the other
    // rows (a level left without rows has zero blocks; the pattern keeps its now-zero entries). The
    // response range is not narrowed (only sums are kept).
    void subtract(const CrossProducts& other);
    // This minus other (see subtract) as new, unfrozen cross-products: this one may be frozen.
    CrossProducts minus(const CrossProducts& other) const;
    // No more rows: add_rows and add throw from now on (a model's cross-products are final); the
    // pass's reusable sums are released.
    void freeze() {
        frozen_ = true;
        level_sums_.release();
    }
    bool frozen() const { return frozen_; }
    // The cross-products of the same rows with each factor's random-effects column a divided by
    // zscale[f][a] and fixed-effects column m by xscale[m].
    CrossProducts scaled(const std::vector<std::vector<double>>& zscale, const std::vector<double>& xscale) const;
    // The cross-products with only the fixed-effects columns `keep` (ascending).
    CrossProducts select_fixed(const std::vector<int>& keep) const;

    const LayoutPtr& layout() const { return layout_; }
    int64_t nobs() const { return n_; }
    double ymin() const { return ymin_; }
    // The sum of log(weight) over the rows added with weights (0 without): lme4's -2 log-likelihood
    // of a weighted linear mixed model is that of the weighted least-squares system less it. Summed
    // in double-double, as A is, so rows added in any batches give the same rounded sum (a
    // streamed fit the in-memory one's bits; but for sums that cancel to within ~2^-106 of their
    // terms' size); -inf once a row has weight 0.
    double sum_log_weights() const { return log_weights_.hi; }
    // Its low part: the exact remainder (0 when the sum is not finite).
    double sum_log_weights_remainder() const { return log_weights_.lo; }
    void set_sum_log_weights(double hi, double lo = 0.0) { log_weights_ = {hi, lo}; }
    double ymax() const { return ymax_; }
    // Block b's values (hi) and remainders (lo); blocks indexed by tri(c, j) as in the engine.
    const std::vector<Block>& blocks() const { return hi_; }
    const std::vector<std::vector<double>>& remainders() const { return lo_; }
    // A rounded to double (hi + lo), block by block: what the engine factors.
    std::vector<Block> rounded() const;
    // Factor f's k x k block of Z'Z summed over its levels (column-major): with an intercept column
    // i, row i holds the columns' sums and the diagonal their sums of squares.
    std::vector<double> factor_crossprod(int f) const;
    // Sums of squares of each factor's random-effects columns, then of X's columns (rounded A's diagonal).
    std::vector<double> column_sumsq() const;
    // The fixed-effects columns not aliased by earlier ones (checks.cpp): R's qr rule, a column goes
    // when its part unexplained by the kept earlier columns has relative norm below tol.
    std::vector<int> independent_fixed(double tol) const;
    // Whether factor f's column `col` is constant within every level, given its intercept column
    // (checks.cpp): its within-level sum of squares, in double-double, at most rel_tol times its
    // sum of squares about the overall mean (plus the rounding of the rows' squares).
    bool constant_within_levels(int f, int intercept, int col, double rel_tol) const;

private:
    LayoutPtr layout_;
    int64_t n_ = 0;
    double ymin_ = std::numeric_limits<double>::infinity();
    double ymax_ = -std::numeric_limits<double>::infinity();
    dd::DD log_weights_;
    std::vector<Block> hi_;
    std::vector<std::vector<double>> lo_;
    bool frozen_ = false;
    // One grouping factor: each level's (hi, lo) sums of a call of add_rows (sum_rows_one_factor),
    // kept zero between calls so that chunk after chunk of a stream reuses the memory (with 200,000
    // levels 58 MB, whose fresh pages cost more than the rows' sums); not copied with the rest.
    struct Scratch {
        std::vector<double> v;
        Scratch() = default;
        Scratch(const Scratch&) {}
        Scratch(Scratch&&) noexcept = default;
        Scratch& operator=(const Scratch&) {
            release();
            return *this;
        }
        Scratch& operator=(Scratch&&) noexcept = default;
        ~Scratch() = default;
        void release() { std::vector<double>().swap(v); }
    };
    Scratch level_sums_;
    void check_not_frozen() const;
    // The sums of the rows of several grouping factors (or none) into these new, empty cross-products
    // (accumulate.cpp; no checks), one pass per block row of A on up to `threads` threads.
    void sum_rows(const RowsView& rows, int threads);
    // sum_rows for one grouping factor: each level's sums side by side, (hi, lo) interleaved (on
    // `threads` threads by slices of the levels), then put into the blocks, or with `fold` added to
    // them in double-double as `add` adds another's (the same bits as summing into new
    // cross-products and adding those).
    void sum_rows_one_factor(const RowsView& rows, int threads, bool fold);
    // Factor f's level sums of a pass (accumulate.cpp's one_factor_rows) into its blocks,
    // normalised (with fold, added to them); the sums left zero.
    void put_level_sums(int f, std::vector<double>& acc, int threads, bool fold);
    // Add other's blocks, each multiplied by sign (+1 or -1), in double-double (patterns merged).
    void add_blocks(const CrossProducts& other, double sign);
};

// Add x to the double-double accumulator (hi, lo): hi + lo gains x up to an error of ~2^-106.
inline void two_sum_into(double& hi, double& lo, double x) {
    const double s = hi + x;
    const double bp = s - hi;
    lo += (hi - (s - bp)) + (x - bp);
    hi = s;
}

// (ah, al) += (bh, bl) for normalised double-double pairs (TwoSum of the values, then renormalised).
inline void dd_add_into(double& ah, double& al, double bh, double bl) {
    const double s = ah + bh;
    const double bp = s - ah;
    const double err = (ah - (s - bp)) + (bh - bp);
    double lo = al + bl + err;
    const double hi = s + lo;
    lo = lo - (hi - s);
    ah = hi;
    al = lo;
}

// The value array of a block of any kind.
std::vector<double>& values(Block& b);
const std::vector<double>& values(const Block& b);

}  // namespace mm
