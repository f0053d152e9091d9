// BLAS on one thread while the core factors: its dense blocks are small, and OpenBLAS's worker
// threads only spin on them (20 crossed 10-level factors, 3,000 rows: 9 s against 248 s with
// the second core busy). The thread count is OpenBLAS's global one, so the first of overlapping
// or nested calls (fits in several threads; an optimisation loop around its updates) sets it to 1
// and the last restores it: a whole native BOBYQA run pays for one change and one restore.
#include <atomic>
#include <mutex>
#include <string>

#include "blas.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#define MM_HAVE_DLOPEN 1
#endif

namespace mm::blas {

namespace {

using set_threads_t = void (*)(int);
using get_threads_t = int (*)();

set_threads_t set_threads = nullptr;
get_threads_t get_threads = nullptr;
std::mutex mu;
int depth = 0;
int saved = 0;
std::atomic<long> pinned_calls{0};
std::atomic<int> most_inside{0};

}  // namespace

std::string load_thread_control(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu);
    if (set_threads) return "";
#ifdef MM_HAVE_DLOPEN
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);  // only a library already loaded
    if (!lib) return "the library " + path + " is not loaded";
    const char* names[][2] = {{"scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"},
                              {"openblas_set_num_threads", "openblas_get_num_threads"}};
    for (const auto& n : names) {
        void* s = dlsym(lib, n[0]);
        void* g = dlsym(lib, n[1]);
        if (s && g) {
            set_threads = reinterpret_cast<set_threads_t>(s);
            get_threads = reinterpret_cast<get_threads_t>(g);
            return "";  // the library stays open for the life of the process
        }
    }
    dlclose(lib);
    return "no OpenBLAS thread control in " + path;
#else
    return "no dlopen on this platform";
#endif
}

ThreadStats thread_stats() {
    ThreadStats s;
    std::lock_guard<std::mutex> lock(mu);
    s.loaded = set_threads != nullptr;
    s.threads = get_threads ? get_threads() : 0;
    s.pinned_calls = pinned_calls.load();
    s.most_inside = most_inside.load();
    return s;
}

SingleThreaded::SingleThreaded(bool active) {
    if (!active || !set_threads) return;
    std::lock_guard<std::mutex> lock(mu);
    if (depth++ == 0) {  // only the outermost call touches OpenBLAS (a call costs microseconds)
        saved = get_threads();
        if (saved != 1) set_threads(1);
        const int now = get_threads();
        int seen = most_inside.load();
        while (now > seen && !most_inside.compare_exchange_weak(seen, now)) {
        }
    }
    pinned_calls.fetch_add(1, std::memory_order_relaxed);
    active_ = true;
}

SingleThreaded::~SingleThreaded() {
    if (!active_) return;
    std::lock_guard<std::mutex> lock(mu);
    if (--depth == 0 && saved != 1) set_threads(saved);
}

}  // namespace mm::blas
