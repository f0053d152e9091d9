// The worker threads behind pool::run (pool.hpp). Workers are started on first use, as many as the
// largest thread count asked for less one, and sleep on a condition variable between jobs (no
// spinning: the machine's other core may be busy with other work). BLAS is held to one thread while
// a job runs on the workers.
#include "pool.hpp"

#include <algorithm>
#include <atomic>
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

    // Claim and run chunks until none is left; returns how many this thread ran.
    void work() {
        int done = 0;
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
            ++done;
        }
        std::lock_guard<std::mutex> lock(m);
        finished += done;
    }
};

class Pool {
public:
    void run(int threads, int nchunks, const std::function<void(int)>& body) {
        Job job;
        job.body = &body;
        job.nchunks = nchunks;
        const int helpers = std::min({threads - 1, nchunks - 1, kMaxWorkers});
        {
            std::lock_guard<std::mutex> lock(mu_);
            while (static_cast<int>(workers_.size()) < helpers) workers_.emplace_back([this] { loop(); });
            job.slots = helpers;
            queue_.push_back(&job);
        }
        for (int h = 0; h < helpers; ++h) cv_.notify_one();
        job.work();
        {
            std::lock_guard<std::mutex> lock(mu_);  // no worker joins from now on
            const auto it = std::find(queue_.begin(), queue_.end(), &job);
            if (it != queue_.end()) queue_.erase(it);
        }
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
    std::vector<std::thread> workers_;  // detached never, joined never: see the_pool()

    void loop() {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            cv_.wait(lock, [&] { return !queue_.empty(); });
            Job* job = queue_.front();
            if (--job->slots <= 0) queue_.pop_front();
            {
                std::lock_guard<std::mutex> jl(job->m);
                ++job->active;
            }
            lock.unlock();
            job->work();
            {
                std::lock_guard<std::mutex> jl(job->m);
                --job->active;
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
