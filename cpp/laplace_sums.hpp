// The row sums of the exact Laplace gradient of a GLMM with one grouping factor and a canonical
// link (python/mixedmodels/glmm.py, GeneralizedLinearMixedModel.laplace_gradient): two passes over
// the rows in the core instead of some twenty NumPy passes (bincounts and their temporaries).
#pragma once
#include <cstdint>

namespace mm {

struct LaplaceRows {
    int64_t n = 0;
    int k = 0, p = 0, nlev = 0;
    const int32_t* codes = nullptr;  // n level codes in [0, nlev)
    const double* z = nullptr;       // n x k random-effects columns, row-major
    const double* x = nullptr;       // n x p fixed-effects columns, row-major
    const double* mu = nullptr;      // n means at the modes
    const double* y = nullptr;       // n responses
    const double* prior = nullptr;   // n prior weights
    bool poisson = false;            // Poisson-log (V = mu), else binomial-logit (V = mu (1 - mu))
};

// Pass 1, per level j: g_j = sum d_i z_i (d_i = -2 prior_i (y_i - mu_i)), C_j = sum w_i z_i z_i'
// (w_i = prior_i V(mu_i)) and G_j = sum w_i z_i x_i'; into g (nlev x k), c (nlev x k x k) and
// gmat (nlev x k x p), which are overwritten. The rows are cut into chunks by the sizes alone (rows,
// levels, k, p), each summed in order, the chunks added in order: the same numbers for every thread count.
void laplace_level_sums(const LaplaceRows& r, double* g, double* c, double* gmat, int threads);

// Pass 2, with amat (nlev x k x k, symmetric) the levels' A_j: per row h_i = z_i'A_j z_i and
// w1_i = w_i V'(mu_i); per level qv_j = sum w1_i h_i z_i (nlev x k), and xsum = sum x_i (d_i +
// w1_i h_i) (p); both overwritten (chunked as laplace_level_sums).
void laplace_row_terms(const LaplaceRows& r, const double* amat, double* qv, double* xsum, int threads);

// Several grouping factors (GeneralizedLinearMixedModel._laplace_gradient_crossed): row i of
// A = Z Lambda has the values vals[i] (r) at the columns idx[i] (r, in [0, q)), and those of
// Z dLambda/dtheta_k the values parts[k][i]; S = (LL')^-1 at the row's columns is s_rows[i] (r x r).
struct LaplaceCrossed {
    int64_t n = 0, q = 0;
    int r = 0, p = 0, ntheta = 0;
    const int64_t* idx = nullptr;     // n x r
    const double* vals = nullptr;     // n x r
    const double* parts = nullptr;    // ntheta x n x r
    const double* s_rows = nullptr;   // n x r x r
    const double* w = nullptr;        // n: prior V(mu)
    const double* w1 = nullptr;       // n: dw/deta
    const double* d1 = nullptr;       // n: d(deviance)/deta
    const double* x = nullptr;        // n x p, row-major
    const double* u = nullptr;        // q: the modes
};

// With h_i = a_i'S a_i and, per theta entry k, da_i = parts[k][i] and dau_i = da_i'u: atq = A'(w1 h)
// (q), awx = A'W X (q x p, row-major), xsum = X'(d1 + w1 h) (p), scal[k] = sum d1 dau + 2 w a'S da
// + w1 h dau and rhs (q x ntheta, row-major) = A'(w dau) + dA'd1 / 2; all overwritten.
void laplace_crossed_rows(const LaplaceCrossed& r, double* atq, double* awx, double* xsum, double* scal,
                          double* rhs);

}  // namespace mm
