// The worker threads behind pool::run (pool.hpp). Workers are started on first use, as many as the
// largest thread count asked for less one. Between jobs a worker polls for the next one for kSpin
// (500 us: an evaluation's kernels follow each other closely, and so do a fit's calls, Newton's
// Hessians on sim100k 0.1-0.2 ms apart; a wake-up through the condition variable costs tens of
// microseconds, on a virtual machine more than a small kernel's share of work: 50 us gave sim100k
// 13.3 ms against 12.5), then sleeps on a condition variable, so an idle pool takes no CPU from
// other work. The caller polls for its job's last chunks the same
// way before it waits. BLAS is held to one thread while a job runs on the workers.
#include "pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "blas.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define MM_HAVE_ATFORK 1
#endif

namespace mm::pool {

namespace {

constexpr int kMaxWorkers = 255;
// How long a worker polls for the next job, and the caller for its job's last chunks, before
// sleeping: an evaluation's kernels follow each other within tens of microseconds.
constexpr auto kSpin = std::chrono::microseconds(500);

// Polls ready() for up to kSpin; whether it became true.
template <class Ready>
bool spin_until(Ready ready) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0;; ++i) {
        if (ready()) return true;
        if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return false;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

// One call of run(): the chunks are claimed through `next`; the caller waits until every chunk is
// finished and every worker that joined has left (so the job, on the caller's stack, outlives them).
struct Job {
    const std::function<void(int)>* body = nullptr;
    int nchunks = 0;
    int slots = 0;  // workers that may still join (guarded by the pool's mutex)
    std::atomic<int> next{0};
    std::mutex m;  // guards the fields below
    std::condition_variable cv;
    int finished = 0;
    int active = 0;  // workers inside work()
    int err_chunk = INT_MAX;
    std::exception_ptr err;
    std::atomic<bool> done{false};  // finished == nchunks and active == 0 (set under m), for polling

    // Claim and run chunks until none is left; returns how many this thread ran.
    void work() {
        int ran = 0;
        for (int c = next.fetch_add(1); c < nchunks; c = next.fetch_add(1)) {
            try {
                (*body)(c);
            } catch (...) {
                std::lock_guard<std::mutex> lock(m);
                if (c < err_chunk) {
                    err_chunk = c;
                    err = std::current_exception();
                }
            }
            ++ran;
        }
        std::lock_guard<std::mutex> lock(m);
        finished += ran;
        if (finished == nchunks && active == 0) done.store(true, std::memory_order_release);
    }
};

class Pool {
public:
    void run(int threads, int nchunks, const std::function<void(int)>& body) {
        Job job;
        job.body = &body;
        job.nchunks = nchunks;
        const int helpers = std::min({threads - 1, nchunks - 1, kMaxWorkers});
        int wake = 0;
        {
            std::lock_guard<std::mutex> lock(mu_);
            while (static_cast<int>(workers_.size()) < helpers) workers_.emplace_back([this] { loop(); });
            job.slots = helpers;
            queue_.push_back(&job);
            queued_.store(static_cast<int>(queue_.size()), std::memory_order_release);
            wake = std::min(helpers, sleeping_);
        }
        for (int h = 0; h < wake; ++h) cv_.notify_one();
        job.work();
        {
            std::lock_guard<std::mutex> lock(mu_);  // no worker joins from now on
            const auto it = std::find(queue_.begin(), queue_.end(), &job);
            if (it != queue_.end()) queue_.erase(it);
            queued_.store(static_cast<int>(queue_.size()), std::memory_order_release);
        }
        // the workers' last chunks: briefly polled, then waited for
        spin_until([&] { return job.done.load(std::memory_order_acquire); });
        {
            std::unique_lock<std::mutex> lock(job.m);
            job.cv.wait(lock, [&] { return job.finished == job.nchunks && job.active == 0; });
        }
        if (job.err) std::rethrow_exception(job.err);
    }

    int workers() {
        std::lock_guard<std::mutex> lock(mu_);
        return static_cast<int>(workers_.size());
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job*> queue_;
    std::atomic<int> queued_{0};  // queue_.size(), for polling without the mutex
    int sleeping_ = 0;            // workers waiting on cv_ (guarded by mu_)
    std::vector<std::thread> workers_;  // detached never, joined never: see the_pool()

    void loop() {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            if (queue_.empty()) {
                // a job's kernels come in runs (an evaluation dispatches several): poll for the next
                // briefly before sleeping, which costs a wake-up (tens of microseconds) per job
                lock.unlock();
                spin_until([&] { return queued_.load(std::memory_order_acquire) > 0; });
                lock.lock();
                ++sleeping_;
                cv_.wait(lock, [&] { return !queue_.empty(); });
                --sleeping_;
            }
            Job* job = queue_.front();
            if (--job->slots <= 0) queue_.pop_front();
            queued_.store(static_cast<int>(queue_.size()), std::memory_order_release);
            {
                std::lock_guard<std::mutex> jl(job->m);
                ++job->active;
            }
            lock.unlock();
            job->work();
            {
                std::lock_guard<std::mutex> jl(job->m);
                --job->active;
                if (job->finished == job->nchunks && job->active == 0) job->done.store(true, std::memory_order_release);
                job->cv.notify_all();  // under the lock: the job may be gone once it is released
            }
            lock.lock();
        }
    }
};

// The pool lives as long as the process (never destroyed: its sleeping workers end with it, and no
// destructor joins threads at exit). A child made by fork() has none of the parent's workers, and
// maybe a mutex some parent thread held: it starts a pool of its own.
Pool* g_pool = nullptr;
std::once_flag g_once;

Pool& the_pool() {
    std::call_once(g_once, [] {
        g_pool = new Pool;
#ifdef MM_HAVE_ATFORK
        pthread_atfork(nullptr, nullptr, [] { g_pool = new Pool; });
#endif
    });
    return *g_pool;
}

}  // namespace

void run(int threads, int nchunks, const std::function<void(int)>& body) {
    if (nchunks <= 0) return;
    if (threads <= 1 || nchunks == 1) {
        std::exception_ptr err;  // the first chunk's, as the pool reports it
        for (int c = 0; c < nchunks; ++c) {
            try {
                body(c);
            } catch (...) {
                if (!err) err = std::current_exception();
            }
        }
        if (err) std::rethrow_exception(err);
        return;
    }
    // BLAS on one thread while the chunks run: its own threads would compete with the pool's
    const blas::SingleThreaded one_thread;
    the_pool().run(threads, nchunks, body);
}

int workers() { return the_pool().workers(); }

}  // namespace mm::pool
