// The rows of a generalized linear mixed model, held in the core for PIRLS (docs/design.md, section
// 3b): each iteration re-forms A = [Z X z]^T W [Z X z] for new working weights W and working
// response z in one pass over the rows, straight into an engine whose block types were chosen once
// (Engine::refill_blocks). The blocks' pattern and each row's place in it are found once, here.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "blocks.hpp"
#include "cross_products.hpp"
#include "engine.hpp"
#include "glm_family.hpp"
#include "layout.hpp"
#include "row_sizes.hpp"

namespace mm {

// What PIRLS starts from (pirls.cpp). The offset of the modes-only system (no X) includes X beta.
struct PirlsInput {
    const double* y = nullptr;       // n responses
    const double* prior = nullptr;   // n prior weights
    const double* offset = nullptr;  // n
    const double* x = nullptr;       // n x fixed_beta.size(), row-major: with fixed_beta, the offset
    std::vector<double> fixed_beta;  // of the modes-only system is offset + x fixed_beta (formed here)
    const double* theta = nullptr;   // ntheta
    const double* eta0 = nullptr;    // n, or none: a start from the family's mustart (beta = 0, u = 0)
    std::vector<double> beta0, u0;   // the start otherwise (p and q entries)
    double tol = 1e-9;               // largest increment at convergence, relative to 1 + max |u|, |beta|
    int maxit = 100;
    bool rows_out = true;            // eta and mu in the output (false: left empty, no copies made)
};

struct PirlsOutput {
    std::vector<double> beta, u, eta, mu;  // eta and mu if rows_out
    double devsum = 0, ussq = 0, ldl2 = 0;
    int iterations = 0;
    bool converged = false;
};

class WorkingRows {
public:
    // PIRLS' passes over the rows (pirls.cpp) and the one-factor fill run in chunks of at least
    // this many rows (pool.hpp: one chunk, on the caller's thread, below twice it)
    static constexpr int64_t kMinRowsPerChunk = 16384;

    // Copies the rows (x may have no columns: the modes-only system of PIRLS with beta fixed); the
    // response is not read (the pattern is formed with response 0).
    explicit WorkingRows(const RowsView& rows, LayoutPtr layout);
    // The same rows without X (the modes-only system of PIRLS with beta fixed, `layout`: these
    // factors and no fixed effects), sharing these rows' codes and random-effects columns and
    // PIRLS' workspace (one PIRLS at a time over both: a fit uses one system at a time, and each
    // copy of the rows or of the workspace costs its page faults).
    WorkingRows modes_only(LayoutPtr layout) const;

    int64_t nobs() const { return n_; }
    const LayoutPtr& layout() const { return layout_; }
    // The unweighted cross-products of the rows with response y: what an engine for them is formed from.
    const CrossProducts& pattern() const { return pattern_; }
    // A of the rows with response y and weights w (n each, w >= 0), summed in double (PIRLS needs
    // no more), given to the engine (which keeps its block types).
    void fill(Engine& engine, const double* y, const double* w) const;
    // fill() with PIRLS' working weights and response at the linear predictor eta (n each): what
    // PIRLS forms at its modes, for a factor at given modes (the joint system's, for vcov). False,
    // and the engine untouched, where a weight or response is not finite (means at the range's edge).
    bool fill_working(Engine& engine, const GlmFamily& fam, const double* eta, const double* y, const double* prior,
                      const double* offset) const;
    // The conditional modes (and, with X held, beta) at theta by penalised iteratively re-weighted
    // least squares with step-halving, to convergence (pirls.cpp); L at the modes' weights.
    PirlsOutput pirls(Engine& engine, const GlmFamily& fam, const PirlsInput& in) const;

private:
    // PIRLS' working weight w and response resp = (eta - offset) + r of one row at eta, whose mean
    // is mu; returns the working residual r (pirls.cpp's passes and fill_working share it)
    static double working_row(const GlmFamily& fam, double eta, double mu, double y, double prior, double offset,
                              double& w, double& resp) {
        double r = 0.0;
        fam.working_at(eta, mu, y, prior, w, r);
        resp = (eta - offset) + r;
        return r;
    }

    WorkingRows(const WorkingRows& joint, LayoutPtr layout);
    // the pattern, the zero blocks and the rows' block indices, from the rows held
    void form_pattern();

    // fill's loop for one grouping factor, into A (the zero blocks), in chunks of rows fixed by
    // the data's size on up to `threads` threads
    void fill_one_factor(std::vector<Block>& A, const double* y, const double* w, int threads) const;

    LayoutPtr layout_;
    int64_t n_ = 0;
    int p_ = 0;
    std::vector<double> x_;                    // n x p, row-major
    struct Columns {                           // shared with the modes-only rows
        std::vector<std::vector<int32_t>> codes;  // per factor
        std::vector<std::vector<double>> z;       // per factor, n x k
    };
    std::shared_ptr<const Columns> cols_;
    std::vector<std::vector<int64_t>> rowblk_; // per pair tri(c, j), c > j: each row's block index
    CrossProducts pattern_;
    std::vector<Block> zero_;                  // the blocks, values 0
    struct Workspace {                         // PIRLS' row-length arrays, kept between calls (and shared
                                               // with the modes-only rows)
        std::mutex mutex;
        std::vector<double> eta, mu, w, resp, dconst, offset;
        std::vector<double> dconst_y;                     // the responses dconst was formed from
        FamilyKind dconst_family = FamilyKind::Gaussian;  // and its family
        std::mutex fill_mutex;                            // held by the one-factor fill while it uses:
        std::vector<std::vector<double>> fill_parts;      // its chunks' sums (fresh pages cost their faults)
    };
    std::shared_ptr<Workspace> work_ = std::make_shared<Workspace>();
};

}  // namespace mm
