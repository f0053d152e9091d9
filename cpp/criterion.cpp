// The criterion from the factor's parts (criterion.hpp).
#include "criterion.hpp"

#include <cmath>

namespace mm {

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;
}

double Criterion::profiled(bool reml) const {
    const double m = dof(reml);
    return ldL2 + (reml ? ldRX2 : 0.0) + m * (1.0 + std::log(kTwoPi * pwrss / m));
}

double Criterion::at_sigma(double sigma, bool reml) const {
    const double s2 = sigma * sigma;
    return ldL2 + (reml ? ldRX2 : 0.0) + pwrss / s2 + dof(reml) * std::log(kTwoPi * s2);
}

double Criterion::sigma(bool reml) const { return std::sqrt(pwrss / dof(reml)); }

}  // namespace mm
