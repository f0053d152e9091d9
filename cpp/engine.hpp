// The PLS engine: blocks of A = [Z X y]^T [Z X y], formed once, and of its blocked Cholesky
// factor L(theta), updated for each theta. Block 0..nf-1 are grouping factors (largest first),
// block nf is the dense [X y] block.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "blocks.hpp"

namespace mm {

// One grouping factor as the caller hands it over: integer codes, its model columns and the map
// from theta to the entries of its k x k lower-triangular relative covariance factor T.
struct FactorSpec {
    const int32_t* codes = nullptr;  // n codes in [0, nlev)
    int nlev = 0;
    int k = 0;
    const double* z = nullptr;  // n x k, row-major
    std::vector<int> th_idx, th_row, th_col;
};

struct Criterion {
    double ldL2 = 0, ldRX2 = 0, pwrss = 0;
};

class Engine {
public:
    // x is n x p row-major. Reads the rows once; keeps no reference to them.
    Engine(int64_t n, std::vector<FactorSpec> factors, const double* x, int p, const double* y,
           double dense_threshold = 0.1, bool do_analyse = true);
    // From blocks of A accumulated elsewhere (by chunks, or summed over partitions): diagonal
    // blocks UBD, blocks between factors Sparse (sorted pattern), [X y] rows and block Dense.
    // factors carry the structure only (codes and z unused).
    Engine(int64_t n, std::vector<FactorSpec> factors, int p, std::vector<Block> a, double dense_threshold = 0.1);

    int nf = 0, p = 0, ntheta = 0;
    int64_t n = 0;
    std::vector<int> nlev, k;
    std::vector<Block> A, L;  // lower triangle, tri(c, j)
    // Exact remainders of A's sums (A + A_lo is the double-double sum); kept only by engines built
    // with do_analyse = false (form_only in Python), whose blocks are summed with other chunks.
    std::vector<std::vector<double>> A_lo;

    // Update L for theta (length ntheta) and return the parts of the criterion.
    Criterion update(const double* theta) {
        std::lock_guard<std::mutex> lock(mu_);
        return update_unlocked(theta);
    }
    // -2 log-likelihood (ML) or REML criterion from the parts.
    double objective(const double* theta, bool reml);

    // After update(): beta (p) and spherical u (sum of nlev*k over factors, engine order).
    void solve(std::vector<double>& beta, std::vector<double>& u) const;
    // Starting theta from moments of the OLS residuals (start.cpp); intercept_col[f] is the
    // column of factor f that is its intercept, or -1. Leaves L at theta = 0.
    std::vector<double> moment_start(const std::vector<int>& intercept_col);
    // b = Lambda(theta) u for spherical u (engine order, level by level), at the current theta.
    std::vector<double> lambda_times(const std::vector<double>& u) const;
    // Sums of squares of the model's columns from A's diagonal: each factor's Z columns, then X's.
    std::vector<double> column_sumsq() const;
    // After update(): (R_X^T R_X)^{-1} = vcov(beta) / sigma^2, p x p (symmetric, so either order).
    std::vector<double> rx_inverse_crossprod() const;
    // After update(): per factor, nlev x k x k diagonal blocks of (L_ZZ L_ZZ^T)^{-1}.
    std::vector<std::vector<double>> condcov_u() const;
    // The current [X y] block of L, (p+1) x (p+1) column-major lower triangular.
    const DenseBlock& lxy() const { return L[tri(nf, nf)].d; }
    // Dense copies (for tests on small designs): the lower triangle of A and of L, (q+p+1)^2.
    std::vector<double> dense(bool of_l) const;
    int64_t qtotal() const;
    std::string describe() const;
    // Rough floating-point work of one update(theta), from the block types chosen by analyse().
    double update_flops() const;
    std::vector<double> T;  // per factor k*k, column-major, offsets toff
    std::vector<size_t> toff;

private:
    std::vector<std::vector<int>> th_idx_, th_row_, th_col_;
    mutable std::mutex mu_;
    void init_meta(const std::vector<FactorSpec>& factors);
    void analyse(double dense_threshold);
    Criterion update_unlocked(const double* theta);
    void solve_unlocked(std::vector<double>& beta, std::vector<double>& u) const;
    void set_theta(const double* theta);
    void init_block(int c, int j);
    void factor_diag(int j);
    void solve_below(int c, int j);
    void solve_all_below(int j);
    std::vector<double> stack_;  // rows of the dense blocks below a dense diagonal block, stacked
};

// Add x to the double-double accumulator (hi, lo): hi + lo gains x up to an error of ~2^-106.
inline void two_sum_into(double& hi, double& lo, double x) {
    const double s = hi + x;
    const double bp = s - hi;
    lo += (hi - (s - bp)) + (x - bp);
    hi = s;
}

// The value array of a block of any kind.
std::vector<double>& values(Block& b);

// Kernels, one per file.
void rank_update(Block& target, const Block& lc, const Block& lj, bool diagonal);
void scale_into(Block& target, const Block& a, const double* tc, int kc, const double* tj, int kj,
                bool add_identity);

}  // namespace mm
