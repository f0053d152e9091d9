// lme4's derivative check at the optimum, for the Hessian's diagonal only: finite-difference gradient
// and Hessian diagonal.
#include <cmath>
#include <limits>

#include "blas.hpp"
#include "errors.hpp"
#include "optim.hpp"

namespace mm::optim {

// Central differences with step h; a parameter within h of its lower bound gets a one-sided
// difference, and a gradient of 0 when the criterion increases into the feasible region (the
// optimality condition at a bound) and no Hessian entry (NaN). Evaluations: up for every
// parameter, then down for those with room, in parameter order.
Check derivative_check(Engine& e, bool reml, const std::vector<double>& x, const std::vector<double>& lower,
                       double fx, double h) {
    const size_t n = x.size();
    if (n != static_cast<size_t>(e.ntheta()) || lower.size() != n)
        throw InvalidInput("x and lower must have " + std::to_string(e.ntheta()) + " entries");
    const blas::SingleThreaded one_thread(e.single_threaded_blas());  // once for all the evaluations
    Check c;
    c.gradient.assign(n, 0.0);
    c.hessian_diagonal.assign(n, std::numeric_limits<double>::quiet_NaN());
    std::vector<double> up(n), pt = x;
    for (size_t i = 0; i < n; ++i) {
        pt[i] = x[i] + h;
        up[i] = e.objective(pt.data(), reml);
        pt[i] = x[i];
    }
    for (size_t i = 0; i < n; ++i) {
        if (x[i] - h >= lower[i]) {
            pt[i] = x[i] - h;
            const double down = e.objective(pt.data(), reml);
            pt[i] = x[i];
            c.gradient[i] = (up[i] - down) / (2 * h);
            c.hessian_diagonal[i] = (up[i] - 2 * fx + down) / (h * h);
        } else {
            const double d = (up[i] - fx) / h;
            c.gradient[i] = d >= 0 ? 0.0 : d;
        }
    }
    return c;
}

}  // namespace mm::optim
