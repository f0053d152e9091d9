// NLopt's BOBYQA driven from C++: the optimiser calls the engine's criterion (or a GLMM's Laplace
// stage) directly, with no Python between evaluations. NLopt's C entry points are looked up
// (dlsym) in the library that the nlopt Python package ships, so nothing is linked at build time;
// where they cannot be found (a platform or build that does not export them) Python drives NLopt
// through its binding instead.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine.hpp"

namespace mm::optim {

// Look NLopt's C API up in the shared object at path (nlopt's _nlopt extension). Returns "" on
// success, else why not. Idempotent: once loaded, later calls return "".
std::string load_nlopt(const std::string& path);
bool nlopt_loaded();

struct Result {
    std::vector<double> x;  // the best point the optimiser returned (or the best seen, if lower)
    double fx = 0;
    int n_evals = 0;
    int code = 0;  // nlopt_result
    bool interrupted = false;  // stopped because Settings::interrupted said so
};

struct Settings {
    int algorithm = 0;  // nlopt_algorithm (the Python package's nlopt.LN_BOBYQA)
    double xtol_abs = 0, ftol_abs = 0;
    int maxeval = 0;
    std::vector<double> step;  // initial step per parameter; empty: NLopt's default
    // Asked between evaluations, at most every 50 ms: true stops the optimiser (Ctrl-C in Python).
    std::function<bool()> interrupted;
};

// Minimise e.objective(theta, reml) over theta >= lower from x0 (clipped to lower). Exceptions
// thrown by an evaluation stop the optimiser and are rethrown here.
Result minimize(Engine& e, bool reml, const std::vector<double>& x0, const std::vector<double>& lower,
                const Settings& s);

// The same for any criterion f of n parameters (a GLMM's Laplace stage, laplace_stage.hpp); pin_blas
// holds BLAS to one thread for the run (Engine::single_threaded_blas of the engine f updates).
Result minimize_fn(const std::function<double(const double*)>& f, unsigned n, const std::vector<double>& x0,
                   const std::vector<double>& lower, const Settings& s, bool pin_blas);

struct Check {
    std::vector<double> gradient, hessian_diagonal;
};

// lme4's derivative check of the criterion at its optimum x (value fx), step h
// (derivative_check.cpp): 2 evaluations per parameter.
Check derivative_check(Engine& e, bool reml, const std::vector<double>& x, const std::vector<double>& lower,
                       double fx, double h);

}  // namespace mm::optim
