// GlmFamily (glm_family.hpp): R's family and link functions, with R's clamps.
#include "glm_family.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "errors.hpp"

namespace mm {

namespace {

constexpr double kEps = DBL_EPSILON;
constexpr double kThresh = GlmFamily::kLogitHigh;
constexpr double kMThresh = GlmFamily::kLogitLow;
constexpr double kProbitThresh = 8.125890664701906;   // -qnorm(.Machine$double.eps)
constexpr double kCauchitThresh = 1.4331824607964273e+15;  // -qcauchy(.Machine$double.eps)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kPi = 3.14159265358979323846;

double ylogy_ratio(double y, double mu) { return y > 0.0 ? y * std::log(y / mu) : 0.0; }

}  // namespace

GlmFamily GlmFamily::from_names(const std::string& family, const std::string& link, double parameter) {
    GlmFamily out;
    if (family == "binomial") out.family = FamilyKind::Binomial;
    else if (family == "poisson") out.family = FamilyKind::Poisson;
    else if (family == "Gamma") out.family = FamilyKind::Gamma;
    else if (family == "inverse.gaussian") out.family = FamilyKind::InverseGaussian;
    else if (family == "gaussian") out.family = FamilyKind::Gaussian;
    else if (family == "negative.binomial") out.family = FamilyKind::NegativeBinomial;
    else throw InvalidInput("unknown family " + family);
    if (out.family == FamilyKind::NegativeBinomial) {
        if (!(parameter > 0.0) || !std::isfinite(parameter))
            throw InvalidInput("the negative binomial family needs a finite theta > 0");
        out.nb_theta = parameter;
    }
    if (link == "logit") out.link = LinkKind::Logit;
    else if (link == "probit") out.link = LinkKind::Probit;
    else if (link == "cauchit") out.link = LinkKind::Cauchit;
    else if (link == "cloglog") out.link = LinkKind::Cloglog;
    else if (link == "log") out.link = LinkKind::Log;
    else if (link == "identity") out.link = LinkKind::Identity;
    else if (link == "inverse") out.link = LinkKind::Inverse;
    else if (link == "sqrt") out.link = LinkKind::Sqrt;
    else if (link == "1/mu^2") out.link = LinkKind::InverseSquare;
    else throw InvalidInput("unknown link " + link);
    return out;
}

double GlmFamily::linkinv(double eta) const {
    switch (link) {
        case LinkKind::Logit: {
            const double e = eta < kMThresh ? kEps : (eta > kThresh ? 1.0 / kEps : std::exp(eta));
            return e / (1.0 + e);
        }
        case LinkKind::Probit:
            return 0.5 * std::erfc(-std::clamp(eta, -kProbitThresh, kProbitThresh) * kInvSqrt2);
        case LinkKind::Cauchit:
            return 0.5 + std::atan(std::clamp(eta, -kCauchitThresh, kCauchitThresh)) / kPi;
        case LinkKind::Cloglog:
            return std::max(std::min(-std::expm1(-std::exp(eta)), 1.0 - kEps), kEps);
        case LinkKind::Log: return std::max(std::exp(eta), kEps);
        case LinkKind::Identity: return eta;
        case LinkKind::Inverse: return 1.0 / eta;
        case LinkKind::Sqrt: return eta * eta;
        case LinkKind::InverseSquare: return 1.0 / std::sqrt(eta);
    }
    return eta;
}

double GlmFamily::mu_eta(double eta) const {
    switch (link) {
        case LinkKind::Logit: {
            const double opexp = 1.0 + std::exp(eta);
            return (eta > kThresh || eta < kMThresh) ? kEps : std::exp(eta) / (opexp * opexp);
        }
        case LinkKind::Probit: return std::max(kInvSqrt2Pi * std::exp(-0.5 * eta * eta), kEps);
        case LinkKind::Cauchit: return std::max(1.0 / (kPi * (1.0 + eta * eta)), kEps);
        case LinkKind::Cloglog: {
            const double e = std::min(eta, 700.0);
            return std::max(std::exp(e) * std::exp(-std::exp(e)), kEps);
        }
        case LinkKind::Log: return std::max(std::exp(eta), kEps);
        case LinkKind::Identity: return 1.0;
        case LinkKind::Inverse: return -1.0 / (eta * eta);
        case LinkKind::Sqrt: return 2.0 * eta;
        case LinkKind::InverseSquare: return -1.0 / (2.0 * std::pow(eta, 1.5));
    }
    return 1.0;
}

bool GlmFamily::valid(double eta, double mu) const {
    if (!std::isfinite(eta) || !std::isfinite(mu)) return false;
    if ((link == LinkKind::Inverse || link == LinkKind::InverseSquare) && !(eta > 0.0) &&
        family != FamilyKind::Gaussian)
        return false;
    switch (family) {
        case FamilyKind::Binomial: return mu > 0.0 && mu < 1.0;
        case FamilyKind::Poisson:
        case FamilyKind::Gamma:
        case FamilyKind::InverseGaussian:
        case FamilyKind::NegativeBinomial: return mu > 0.0;
        case FamilyKind::Gaussian: return true;
    }
    return true;
}

double GlmFamily::dev_resid(double y, double mu, double wt) const {
    switch (family) {
        case FamilyKind::Binomial:
            if (y == 0.0) return -2.0 * wt * std::log(1.0 - mu);  // the two terms of 0/1 data, one log each
            if (y == 1.0) return -2.0 * wt * std::log(mu);
            return 2.0 * wt * (ylogy_ratio(y, mu) + ylogy_ratio(1.0 - y, 1.0 - mu));
        case FamilyKind::Poisson: return 2.0 * wt * (ylogy_ratio(y, mu) - (y - mu));
        case FamilyKind::Gamma: return -2.0 * wt * (std::log(y == 0.0 ? 1.0 : y / mu) - (y - mu) / mu);
        case FamilyKind::InverseGaussian: return wt * (y - mu) * (y - mu) / (y * mu * mu);
        case FamilyKind::Gaussian: return wt * (y - mu) * (y - mu);
        case FamilyKind::NegativeBinomial:  // MASS: 2 wt (y log(max(1, y) / mu) - (y + th) log((y + th) / (mu + th)))
            return 2.0 * wt *
                   ((y > 0.0 ? y * std::log(std::max(1.0, y) / mu) : 0.0) -
                    (y + nb_theta) * std::log((y + nb_theta) / (mu + nb_theta)));
    }
    return 0.0;
}

double GlmFamily::deviance_constant(double y) const {
    if (family == FamilyKind::Poisson) return y > 0.0 ? y * std::log(y) : 0.0;
    if (family == FamilyKind::Binomial)
        return (y > 0.0 ? y * std::log(y) : 0.0) + (y < 1.0 ? (1.0 - y) * std::log1p(-y) : 0.0);
    return 0.0;
}

bool GlmFamily::newton_steps() const {
    switch (family) {
        case FamilyKind::Binomial: return link == LinkKind::Logit;
        case FamilyKind::Poisson: return link == LinkKind::Log;
        case FamilyKind::Gaussian: return link == LinkKind::Identity;
        case FamilyKind::Gamma: return link == LinkKind::Inverse;
        case FamilyKind::InverseGaussian: return link == LinkKind::InverseSquare;
        case FamilyKind::NegativeBinomial: return false;
    }
    return false;
}

double GlmFamily::mean_and_deviance_general(double eta, double y, double wt, double c, double& mu) const {
    (void)c;  // the inline fast paths' (the header's mean_and_deviance)
    mu = linkinv(eta);
    if (!valid(eta, mu)) return std::numeric_limits<double>::quiet_NaN();
    return dev_resid(y, mu, wt);
}

}  // namespace mm
