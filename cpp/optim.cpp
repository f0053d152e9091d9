#include "optim.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>

#include "blas.hpp"
#include "errors.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define MM_HAVE_DLOPEN 1
#endif

namespace mm::optim {

namespace {

// NLopt's C API (nlopt.h, stable since 2.0): an opaque handle, enums passed as int.
using opt_t = void*;
using func_t = double (*)(unsigned, const double*, double*, void*);

struct Api {
    void (*version)(int*, int*, int*) = nullptr;
    opt_t (*create)(int, unsigned) = nullptr;
    void (*destroy)(opt_t) = nullptr;
    int (*set_min_objective)(opt_t, func_t, void*) = nullptr;
    int (*set_lower_bounds)(opt_t, const double*) = nullptr;
    int (*set_xtol_abs1)(opt_t, double) = nullptr;
    int (*set_ftol_abs)(opt_t, double) = nullptr;
    int (*set_maxeval)(opt_t, int) = nullptr;
    int (*set_initial_step)(opt_t, const double*) = nullptr;
    int (*force_stop)(opt_t) = nullptr;
    int (*optimize)(opt_t, double*, double*) = nullptr;
};

Api api;
bool loaded = false;
std::mutex load_mu;

#ifdef MM_HAVE_DLOPEN
template <typename F>
bool find(void* lib, const char* name, F& out, std::string& why) {
    void* sym = dlsym(lib, name);
    if (!sym) {
        why = std::string("NLopt's ") + name + " is not exported by the library";
        return false;
    }
    out = reinterpret_cast<F>(sym);
    return true;
}
#endif

using Clock = std::chrono::steady_clock;
constexpr auto kCheckEvery = std::chrono::milliseconds(50);

struct Call {
    const std::function<double(const double*)>* f;
    opt_t opt;
    const std::function<bool()>* interrupted;
    Clock::time_point checked;
    bool stopped = false;
    int n = 0;
    double best_f = std::numeric_limits<double>::infinity();
    std::vector<double> best_x;
    std::exception_ptr error;
};

double evaluate(unsigned n, const double* x, double*, void* data) {
    Call& c = *static_cast<Call*>(data);
    if (*c.interrupted) {
        const Clock::time_point now = Clock::now();
        if (now - c.checked >= kCheckEvery) {
            c.checked = now;
            if ((*c.interrupted)()) {
                c.stopped = true;
                api.force_stop(c.opt);
                return std::numeric_limits<double>::quiet_NaN();
            }
        }
    }
    try {
        const double v = (*c.f)(x);
        ++c.n;
        if (v < c.best_f) {
            c.best_f = v;
            c.best_x.assign(x, x + n);
        }
        return v;
    } catch (...) {  // no C++ exception may cross NLopt's C frames
        c.error = std::current_exception();
        api.force_stop(c.opt);
        return std::numeric_limits<double>::quiet_NaN();
    }
}

}  // namespace

std::string load_nlopt(const std::string& path) {
    std::lock_guard<std::mutex> lock(load_mu);
    if (loaded) return "";
#ifdef MM_HAVE_DLOPEN
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // already loaded by Python: a new reference
    if (!lib) {
        const char* err = dlerror();
        return std::string("cannot open ") + path + ": " + (err ? err : "unknown error");
    }
    Api a;
    std::string why;
    if (!(find(lib, "nlopt_version", a.version, why) && find(lib, "nlopt_create", a.create, why) &&
          find(lib, "nlopt_destroy", a.destroy, why) && find(lib, "nlopt_set_min_objective", a.set_min_objective, why) &&
          find(lib, "nlopt_set_lower_bounds", a.set_lower_bounds, why) &&
          find(lib, "nlopt_set_xtol_abs1", a.set_xtol_abs1, why) && find(lib, "nlopt_set_ftol_abs", a.set_ftol_abs, why) &&
          find(lib, "nlopt_set_maxeval", a.set_maxeval, why) &&
          find(lib, "nlopt_set_initial_step", a.set_initial_step, why) &&
          find(lib, "nlopt_force_stop", a.force_stop, why) && find(lib, "nlopt_optimize", a.optimize, why))) {
        dlclose(lib);
        return why;
    }
    int major = 0, minor = 0, bugfix = 0;
    a.version(&major, &minor, &bugfix);
    if (major != 2) {
        dlclose(lib);
        return "NLopt " + std::to_string(major) + "." + std::to_string(minor) + " is not version 2";
    }
    api = a;  // the library stays open for the life of the process
    loaded = true;
    return "";
#else
    (void)path;
    return "no dlopen on this platform";
#endif
}

bool nlopt_loaded() {
    std::lock_guard<std::mutex> lock(load_mu);
    return loaded;
}

Result minimize(Engine& e, bool reml, const std::vector<double>& x0, const std::vector<double>& lower,
                const Settings& s) {
    const std::function<double(const double*)> f = [&e, reml](const double* x) { return e.objective(x, reml); };
    return minimize_fn(f, static_cast<unsigned>(e.ntheta()), x0, lower, s, e.single_threaded_blas());
}

Result minimize_fn(const std::function<double(const double*)>& f, unsigned n, const std::vector<double>& x0,
                   const std::vector<double>& lower, const Settings& s, bool pin_blas) {
    if (!nlopt_loaded()) throw InvalidInput("NLopt's C API is not loaded (call load_nlopt first)");
    if (x0.size() != n || lower.size() != n || (!s.step.empty() && s.step.size() != n))
        throw InvalidInput("x0, lower and step must have " + std::to_string(n) + " entries");
    // NLopt does not check its inputs: a NaN start or bound makes BOBYQA write out of bounds
    for (unsigned i = 0; i < n; ++i) {
        if (!std::isfinite(x0[i])) throw InvalidInput("x0[" + std::to_string(i) + "] is not finite");
        if (std::isnan(lower[i]) || lower[i] == std::numeric_limits<double>::infinity())
            throw InvalidInput("lower[" + std::to_string(i) + "] is NaN or +inf");
        if (!s.step.empty() && !(std::isfinite(s.step[i]) && s.step[i] > 0))
            throw InvalidInput("step[" + std::to_string(i) + "] is not a positive finite number");
    }
    if (!(s.xtol_abs >= 0) || !(s.ftol_abs >= 0)) throw InvalidInput("tolerances must be non-negative numbers");
    opt_t opt = api.create(s.algorithm, n);
    if (!opt) throw InvalidInput("NLopt could not create algorithm " + std::to_string(s.algorithm));
    struct Guard {
        opt_t o;
        ~Guard() { api.destroy(o); }
    } guard{opt};
    Call call{&f, opt, &s.interrupted, Clock::now(), false, 0, std::numeric_limits<double>::infinity(), x0, nullptr};
    api.set_lower_bounds(opt, lower.data());
    api.set_xtol_abs1(opt, s.xtol_abs);
    api.set_ftol_abs(opt, s.ftol_abs);
    api.set_maxeval(opt, s.maxeval);
    if (!s.step.empty()) api.set_initial_step(opt, s.step.data());
    api.set_min_objective(opt, &evaluate, &call);
    Result r;
    r.x.resize(n);
    for (unsigned i = 0; i < n; ++i) r.x[i] = std::max(x0[i], lower[i]);
    r.fx = std::numeric_limits<double>::infinity();
    {
        const blas::SingleThreaded one_thread(pin_blas);  // once for the run, not per evaluation
        r.code = api.optimize(opt, r.x.data(), &r.fx);
    }
    if (call.error) std::rethrow_exception(call.error);
    r.n_evals = call.n;
    r.interrupted = call.stopped;
    if (r.code == -4 || call.best_f < r.fx) {  // roundoff-limited, or stopped somewhere worse: keep the best
        r.x = call.best_x;
        r.fx = call.best_f;
    }
    return r;
}

}  // namespace mm::optim
