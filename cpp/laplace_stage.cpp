#include "laplace_stage.hpp"

#include <cmath>
#include <limits>

namespace mm {

double LaplaceStage::operator()(const double* v) {
    const std::lock_guard<std::mutex> lock(mutex);
    theta_.resize(static_cast<size_t>(ntheta));
    if (joint) {
        for (int i = 0; i < ntheta; ++i) theta_[i] = v[i];
    } else {  // (theta, beta) = shift + scale v; X beta folded into the offset
        beta_.resize(static_cast<size_t>(p));
        for (int i = 0; i < ntheta; ++i) theta_[i] = shift[i] + scale[i] * v[i];
        for (int m = 0; m < p; ++m) beta_[m] = shift[ntheta + m] + scale[ntheta + m] * v[ntheta + m];
    }
    const auto run = [&](bool warm) {
        PirlsInput in;
        in.y = y;
        in.prior = prior;
        in.offset = offset;
        if (!joint) {  // X beta added to the offset by PIRLS
            in.x = x;
            in.fixed_beta = beta_;
        }
        in.rows_out = false;  // the criterion needs no eta or mu: no row-length copies
        in.theta = theta_.data();
        in.tol = tol;
        in.maxit = maxit;
        if (joint && (!warm || !has_warm_beta)) {
            in.eta0 = eta_start;  // R's glm start: the family's mustart, beta = u = 0
        } else if (warm) {
            if (joint) in.beta0 = warm_beta;
            in.u0 = warm_u;
        }
        PirlsOutput out = rows->pirls(*engine, family, in);
        ++calls;
        iterations += out.iterations;
        return out;
    };
    PirlsOutput out = run(true);
    if (!out.converged && (!warm_u.empty() || has_warm_beta)) out = run(false);  // a poor warm start
    const double aic = std::isfinite(out.devsum) ? out.devsum + aic_less_deviance : std::numeric_limits<double>::quiet_NaN();
    const double value = aic + out.ussq + out.ldl2;
    if (!std::isfinite(value)) return std::numeric_limits<double>::infinity();
    warm_u = std::move(out.u);
    if (joint) {
        warm_beta = std::move(out.beta);
        has_warm_beta = true;
    }
    return value;
}

}  // namespace mm
