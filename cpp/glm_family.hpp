// The closed set of GLM families and links PIRLS runs in C++ (R's stats family objects, with R's
// clamps: python/mixedmodels/families.py is the reference implementation and reports the final
// numbers). Row by row: the mean from the linear predictor, its derivative, the variance function
// and the unit deviance. The negative binomial (MASS's negative.binomial(theta)) carries its theta.
#pragma once
#include <cfloat>
#include <cmath>
#include <string>

namespace mm {

enum class FamilyKind { Binomial, Poisson, Gamma, InverseGaussian, Gaussian, NegativeBinomial };
enum class LinkKind { Logit, Probit, Cauchit, Cloglog, Log, Identity, Inverse, Sqrt, InverseSquare };

struct GlmFamily {
    FamilyKind family = FamilyKind::Gaussian;
    LinkKind link = LinkKind::Identity;
    double nb_theta = 0.0;  // the negative binomial's theta (variance mu + mu^2 / theta); unused otherwise

    // From R's names ("binomial", "logit", ...; "negative.binomial" with its theta > 0 as
    // `parameter`); throws InvalidInput for others.
    static GlmFamily from_names(const std::string& family, const std::string& link, double parameter = 0.0);

    // Whether PIRLS' steps are Newton's: the link is canonical in the strict sense, so the working
    // weights are the observed information and the steps converge quadratically (not the
    // negative binomial's log link, which Python's Family.canonical counts as its default).
    bool newton_steps() const;
    double linkinv(double eta) const;
    double mu_eta(double eta) const;
    double variance(double mu) const {  // (inline: PIRLS' working weights take it once per row)
        switch (family) {
            case FamilyKind::Binomial: return mu * (1.0 - mu);
            case FamilyKind::Poisson: return mu;
            case FamilyKind::Gamma: return mu * mu;
            case FamilyKind::InverseGaussian: return mu * mu * mu;
            case FamilyKind::Gaussian: return 1.0;
            case FamilyKind::NegativeBinomial: return mu + mu * mu / nb_theta;
        }
        return 1.0;
    }
    // Whether eta and its mean are in the family's and link's range (R's valideta / validmu): a
    // mean outside it has no likelihood (Poisson identity link with mu <= 0, binomial log link with
    // mu >= 1, Gamma inverse link with eta <= 0, ...).
    bool valid(double eta, double mu) const;
    // wt times the unit deviance of y at mu (R's dev.resids).
    double dev_resid(double y, double mu, double wt) const;
    // The part of the unit deviance that depends on y alone (y log y, and (1 - y) log(1 - y) for the
    // binomial), for `mean_and_deviance`.
    double deviance_constant(double y) const;
    // mu = linkinv(eta) and dev_resid(y, mu, wt) in one go, with c = deviance_constant(y): one exp
    // (Poisson log link) or one exp and one log (binomial logit link) instead of an exp and a log
    // or two; NaN when eta or mu is outside the family's range (`valid`).
    // (Inline: the Poisson-log and binomial-logit paths run once per row and PIRLS pass.)
    double mean_and_deviance(double eta, double y, double wt, double c, double& mu) const {
        if (family == FamilyKind::Poisson && link == LinkKind::Log && eta > -36.0 && eta < 700.0) {
            mu = std::exp(eta);  // above DBL_EPSILON here, so log(mu) = eta: y log(y / mu) = y log y - y eta
            return 2.0 * wt * (c - y * eta - (y - mu));
        }
        if (family == FamilyKind::Binomial && link == LinkKind::Logit && eta >= kLogitLow && eta <= kLogitHigh) {
            const double e = std::exp(eta);
            mu = e / (1.0 + e);
            // -y log(mu) - (1 - y) log(1 - mu) = log(1 + e) - y eta
            return 2.0 * wt * (c + log1p_nonneg(e) - y * eta);
        }
        return mean_and_deviance_general(eta, y, wt, c, mu);
    }
    // PIRLS' quantities at eta whose mean mu = linkinv(eta) is known (no exp for the logit and log
    // links): the working weight prior * mu_eta^2 / V(mu) and the working residual (y - mu) / mu_eta.
    void working_at(double eta, double mu, double y, double prior, double& weight, double& residual) const {
        double d = 0.0;
        if (link == LinkKind::Logit) {
            d = (eta < kLogitLow || eta > kLogitHigh) ? DBL_EPSILON : mu * (1.0 - mu);  // e / (1 + e)^2
        } else if (link == LinkKind::Log) {
            d = mu;
        } else {
            d = mu_eta(eta);
        }
        weight = prior * d * d / variance(mu);
        residual = (y - mu) / d;
    }

    // R's logit thresholds (family.c): beyond them the mean is clamped
    static constexpr double kLogitHigh = 30.0;
    static constexpr double kLogitLow = -30.0;

    // log(1 + e) for finite e >= 0 (the caller clamps eta) to a few ulps by Goldberg's trick (Theorem 4
    // of "What every computer scientist should know about floating-point arithmetic"): log(u) e /
    // (u - 1) with u = 1 + e rounded, whose rounding error the ratio cancels. Half the cost of
    // glibc's log1p, which was a third of a logistic PIRLS iteration.
    static double log1p_nonneg(double e) {
        const double u = 1.0 + e;
        return u == 1.0 ? e : std::log(u) * (e / (u - 1.0));
    }

private:
    double mean_and_deviance_general(double eta, double y, double wt, double c, double& mu) const;
};

}  // namespace mm
