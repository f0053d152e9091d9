// A GLMM's Laplace criterion as one stage of lme4's fit sees it (GeneralizedLinearMixedModel.laplace):
// stage 1 over theta with beta from the joint PIRLS, stage 2 over (theta, beta) = shift + scale v
// with the modes-only PIRLS. Each evaluation starts PIRLS from the modes of the previous one that
// had a finite value (and, in stage 1, its beta), and again from the family's start when that
// warm start does not converge. Evaluated here, NLopt's BOBYQA runs with no Python between
// evaluations (optim::minimize_fn); Python calls the same object where it drives NLopt itself.
#pragma once
#include <cstdint>
#include <mutex>
#include <vector>

#include "engine.hpp"
#include "glm_family.hpp"
#include "working_rows.hpp"

namespace mm {

struct LaplaceStage {
    const WorkingRows* rows = nullptr;  // the joint system's rows (stage 1) or the modes-only system's
    Engine* engine = nullptr;           // the engine of that system
    GlmFamily family;
    int64_t n = 0;
    int ntheta = 0, p = 0;               // p: beta's length (stage 2 only; 0 in stage 1)
    const double* y = nullptr;           // n responses
    const double* prior = nullptr;       // n prior weights
    const double* offset = nullptr;      // n
    const double* x = nullptr;           // n x p, row-major (stage 2)
    const double* eta_start = nullptr;   // n: the family's start (R's mustart), stage 1
    double aic_less_deviance = 0.0;      // the family's aic less the deviance (a constant)
    double tol = 1e-7;
    int maxit = 100;
    bool joint = true;                   // stage 1
    std::vector<double> shift, scale;    // stage 2: (theta, beta) = shift + scale * v
    std::vector<double> warm_u;          // the modes the next evaluation starts from (empty: zeros)
    std::vector<double> warm_beta;       // stage 1: the beta it starts from, if has_warm_beta
    bool has_warm_beta = false;          // (a flag: with no fixed effects warm_beta is empty but held)
    int64_t calls = 0, iterations = 0;   // PIRLS calls and their iterations, for the record
    // Held by operator() and by whoever reads or writes the fields above while one may run (the
    // binding's properties): one evaluation at a time.
    std::mutex mutex;

    // -2 log-likelihood by the Laplace approximation at v (theta in stage 1), +inf where PIRLS
    // finds no valid modes. Takes the mutex.
    double operator()(const double* v);

private:
    std::vector<double> theta_, beta_;
};

}  // namespace mm
