// The REML criterion and -2 log-likelihood from the parts of the factor L(theta) (docs/design.md,
// section 1). The only place these formulas are written.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mm {

struct Criterion {
    double ldL2 = 0;   // log |L_theta|^2 = 2 sum log diag(L_ZZ)
    double ldRX2 = 0;  // log |R_X|^2 = 2 sum log diag(L_XX)
    double pwrss = 0;  // penalised residual sum of squares r_yy^2
    int64_t n = 0;     // observations
    int p = 0;         // fixed-effects columns

    // Residual degrees of freedom of the criterion: n - p (REML) or n (ML).
    double dof(bool reml) const { return static_cast<double>(reml ? n - p : n); }
    // sigma profiled out: the REML criterion (reml) or -2 log-likelihood.
    double profiled(bool reml) const;
    // at a given residual SD sigma (beta still profiled): lmerTest's deviance of (theta, sigma).
    double at_sigma(double sigma, bool reml) const;
    // The residual SD that `profiled` implies: sqrt(pwrss / dof).
    double sigma(bool reml) const;
};

// The criterion at theta and the derivatives of its parts in theta (Engine::gradient): log |L|^2,
// log |R_X|^2 and the penalised residual sum of squares.
struct GradientParts {
    Criterion criterion;
    std::vector<double> dldl, dldrx, dpwrss;
};

// Entry i of the criterion's gradient from the derivatives of its parts (log |L|^2, log |R_X|^2,
// which counts for REML only, and the PRSS), also recorded in parts when given.
inline void set_gradient_entry(std::vector<double>& grad, GradientParts* parts, std::size_t i, const Criterion& cr,
                               bool reml, double dldl, double drx, double dr2) {
    grad[i] = dldl + (reml ? drx : 0.0) + cr.dof(reml) * dr2 / cr.pwrss;
    if (parts != nullptr) {
        parts->dldl[i] = dldl;
        parts->dldrx[i] = drx;
        parts->dpwrss[i] = dr2;
    }
}

}  // namespace mm
