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
// gmat (nlev x k x p), which are overwritten. Rows are summed in order (deterministic).
void laplace_level_sums(const LaplaceRows& r, double* g, double* c, double* gmat);

// Pass 2, with amat (nlev x k x k, symmetric) the levels' A_j: per row h_i = z_i'A_j z_i and
// w1_i = w_i V'(mu_i); per level qv_j = sum w1_i h_i z_i (nlev x k), and xsum = sum x_i (d_i +
// w1_i h_i) (p); both overwritten.
void laplace_row_terms(const LaplaceRows& r, const double* amat, double* qv, double* xsum);

}  // namespace mm
