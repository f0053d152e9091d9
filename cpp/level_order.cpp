// The fill-reducing order of a dense diagonal block's levels and its supernodes (level_order.hpp).
// The level graph (levels joined where a column of a block to the left holds both) is eliminated
// explicitly on bitsets by minimum degree; the order is then postordered along its elimination tree
// (the same fill, each subtree's columns together) and cut into supernodes: runs of columns whose
// rows below them are (nearly, `kRelax`) the same, so the factor runs as dense BLAS kernels on them.
#include "level_order.hpp"

#include <algorithm>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

namespace mm {

namespace {

constexpr int kMinColumns = 256;      // below, the dense factor is cheap enough
constexpr int kMaxLevels = 3000;      // above, the bitset elimination would cost too much
constexpr double kMaxDensity = 0.5;   // a level graph denser than this cannot save enough
constexpr double kMinSaving = 0.5;    // the plan's work at most this fraction of the dense factor's
constexpr double kRelax = 0.2;        // zeros a supernode may hold, as a fraction of its entries
constexpr double kScatter = 16.0;     // cost of one gathered or scattered entry, in multiply-adds

using Bits = std::vector<uint64_t>;

struct Graph {
    int n = 0, words = 0;
    Bits adj;  // n rows of `words` words
    uint64_t* row(int v) { return adj.data() + static_cast<size_t>(v) * words; }
};

// Bits counted over words: set in both dst and src (And), in either (Or), or in src and not in dst,
// dst then taking src's (Merge). One body; with the CPU's popcnt where it has one (x86-64 builds
// do not assume it, and libgcc's popcount took a fifth of InstEval's order).
enum class Bitwise { And, Or, Merge };
template <Bitwise op>
inline __attribute__((always_inline)) int count_words(uint64_t* dst, const uint64_t* src, int words) {
    int c = 0;
    for (int w = 0; w < words; ++w) {
        if constexpr (op == Bitwise::And) {
            c += __builtin_popcountll(dst[w] & src[w]);
        } else if constexpr (op == Bitwise::Or) {
            c += __builtin_popcountll(dst[w] | src[w]);
        } else {
            c += __builtin_popcountll(src[w] & ~dst[w]);
            dst[w] |= src[w];
        }
    }
    return c;
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
template <Bitwise op>
__attribute__((target("popcnt"))) int count_popcnt(uint64_t* dst, const uint64_t* src, int words) {
    return count_words<op>(dst, src, words);
}
template <Bitwise op>
int count_bits(uint64_t* dst, const uint64_t* src, int words) {
    static const bool hw = __builtin_cpu_supports("popcnt");
    return hw ? count_popcnt<op>(dst, src, words) : count_words<op>(dst, src, words);
}
#else
template <Bitwise op>
int count_bits(uint64_t* dst, const uint64_t* src, int words) {
    return count_words<op>(dst, src, words);
}
#endif

// Work of a supernode (multiply-adds): its diagonal factor, solve and update, gathered or in place.
double supernode_work(double w, double r, double range, bool ranged) {
    const double tile = w * w * w / 6.0;
    if (ranged) return tile + w * w * range / 2.0 + w * range * range / 2.0;
    return tile + w * w * r / 2.0 + w * r * r / 2.0 + kScatter * (r * r / 2.0 + 2.0 * w * r);
}

}  // namespace

bool SupernodePlan::on_structure(int a, int b) const {
    if (a == b) return true;
    const int lo = std::min(a, b), hi = std::max(a, b);
    if (lo < 0 || static_cast<size_t>(lo) + 1 >= below_ptr.size()) return false;
    const auto first = below.begin() + below_ptr[lo], last = below.begin() + below_ptr[lo + 1];
    return std::binary_search(first, last, hi);
}

bool fill_reducing_order(int nlev, int k, const std::vector<const SparseBlock*>& left, std::vector<int>& order,
                         SupernodePlan& plan) {
    const int64_t q = static_cast<int64_t>(nlev) * k;
    if (q < kMinColumns || nlev > kMaxLevels || left.empty()) return false;
    Graph g;
    g.n = nlev;
    g.words = (nlev + 63) / 64;
    g.adj.assign(static_cast<size_t>(nlev) * g.words, 0);
    Bits col(static_cast<size_t>(g.words));
    for (const SparseBlock* s : left)
        for (int c = 0; c < s->ncollev; ++c) {
            const int64_t b0 = s->colptr[c], b1 = s->colptr[c + 1];
            if (b1 - b0 < 2) continue;
            std::fill(col.begin(), col.end(), 0);
            for (int64_t idx = b0; idx < b1; ++idx) col[s->rowlev[idx] >> 6] |= uint64_t{1} << (s->rowlev[idx] & 63);
            for (int64_t idx = b0; idx < b1; ++idx) {
                uint64_t* r = g.row(s->rowlev[idx]);
                for (int w = 0; w < g.words; ++w) r[w] |= col[w];
            }
        }
    int64_t edges = 0;
    for (int v = 0; v < nlev; ++v) {
        g.row(v)[v >> 6] &= ~(uint64_t{1} << (v & 63));
        edges += count_bits<Bitwise::And>(g.row(v), g.row(v), g.words);
    }
    const double n = nlev;
    if (static_cast<double>(edges) > kMaxDensity * n * (n - 1)) return false;

    // minimum degree, explicitly: each eliminated level's neighbours become a clique. The levels
    // of each degree are kept in a list (the last one added is taken first: deterministic).
    const double dense_work = n * n * n / 6.0;  // in levels; the plan's is weighed in levels too
    Bits alive(static_cast<size_t>(g.words), 0);
    for (int v = 0; v < nlev; ++v) alive[v >> 6] |= uint64_t{1} << (v & 63);
    std::vector<int> degree(static_cast<size_t>(nlev)), head(static_cast<size_t>(nlev), -1),
        next(static_cast<size_t>(nlev), -1), prev(static_cast<size_t>(nlev), -1);
    auto link = [&](int v) {
        const int d = degree[v];
        prev[v] = -1;
        next[v] = head[d];
        if (head[d] >= 0) prev[head[d]] = v;
        head[d] = v;
    };
    auto unlink = [&](int v) {
        if (prev[v] >= 0)
            next[prev[v]] = next[v];
        else
            head[degree[v]] = next[v];
        if (next[v] >= 0) prev[next[v]] = prev[v];
    };
    for (int v = 0; v < nlev; ++v) {
        degree[v] = count_bits<Bitwise::And>(g.row(v), alive.data(), g.words);
        link(v);
    }
    std::vector<int> md(static_cast<size_t>(nlev));                 // md[step] = level
    std::vector<std::vector<int>> below(static_cast<size_t>(nlev));  // per level: its neighbours when eliminated
    Bits nbits(static_cast<size_t>(g.words));
    double work = 0.0;
    int least = 0;
    for (int step = 0; step < nlev; ++step) {
        while (least < nlev && head[least] < 0) ++least;
        if (least >= nlev) return false;  // (not reached: a level is left at every step)
        const int v = head[least];
        if (least == nlev - step - 1) {
            // every level left has all the others as neighbours (the least degree is theirs): a clique,
            // whose elimination is written down at once. Minimum degree takes v, then relinks the
            // others in ascending order (the largest at its list's head) one degree lower, and so
            // takes them from the largest down, each with the smaller ones as its neighbours
            std::vector<int> rest;
            for (int w = 0; w < g.words; ++w)
                for (uint64_t bits = alive[w]; bits; bits &= bits - 1) {
                    const int u = w * 64 + __builtin_ctzll(bits);
                    if (u != v) rest.push_back(u);
                }
            md[step] = v;
            below[v] = rest;
            for (size_t i = rest.size() + 1; i-- > 0;) {
                const double cc = static_cast<double>(i) + 1.0;  // the level taken, and its i neighbours
                work += cc * cc / 2.0;
                if (i < rest.size()) {
                    md[++step] = rest[i];
                    below[rest[i]].assign(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(i));
                }
            }
            if (work > kMinSaving * dense_work) return false;
            break;
        }
        unlink(v);
        md[step] = v;
        alive[v >> 6] &= ~(uint64_t{1} << (v & 63));
        const uint64_t* rv = g.row(v);
        std::vector<int>& nb = below[v];
        for (int w = 0; w < g.words; ++w) {
            nbits[w] = rv[w] & alive[w];
            for (uint64_t bits = nbits[w]; bits; bits &= bits - 1) nb.push_back(w * 64 + __builtin_ctzll(bits));
        }
        const double cc = static_cast<double>(nb.size()) + 1.0;
        work += cc * cc / 2.0;
        if (work > kMinSaving * dense_work) return false;
        for (int u : nb) {
            // u loses v and gains the others of nb it did not have (nb holds u: one fewer)
            uint64_t* ru = g.row(u);
            const int added = count_bits<Bitwise::Merge>(ru, nbits.data(), g.words) - 1;
            ru[u >> 6] &= ~(uint64_t{1} << (u & 63));
            unlink(u);
            degree[u] += added - 1;
            link(u);
            if (degree[u] < least) least = degree[u];
        }
    }

    // postorder along the elimination tree (a level's parent: its first neighbour eliminated after it)
    std::vector<int> at_step(static_cast<size_t>(nlev));
    for (int st = 0; st < nlev; ++st) at_step[md[st]] = st;
    std::vector<std::vector<int>> children(static_cast<size_t>(nlev));  // by step, ascending
    std::vector<int> roots;
    for (int st = 0; st < nlev; ++st) {
        int parent = -1;
        for (int u : below[md[st]])
            if (parent < 0 || at_step[u] < parent) parent = at_step[u];
        if (parent < 0)
            roots.push_back(st);
        else
            children[parent].push_back(st);
    }
    std::vector<int> post;
    post.reserve(static_cast<size_t>(nlev));
    std::vector<std::pair<int, size_t>> stack;
    for (int r : roots) {
        stack.emplace_back(r, 0);
        while (!stack.empty()) {
            const int st = stack.back().first;
            const size_t k_next = stack.back().second;
            if (k_next < children[st].size()) {
                ++stack.back().second;
                stack.emplace_back(children[st][k_next], 0);
            } else {
                post.push_back(st);
                stack.pop_back();
            }
        }
    }
    std::vector<int> out(static_cast<size_t>(nlev)), pos(static_cast<size_t>(nlev));
    for (int p = 0; p < nlev; ++p) {
        out[p] = md[post[p]];
        pos[out[p]] = p;
    }

    // supernodes (in levels): a column joins the run before it while the run's zeros stay within
    // kRelax; each column's rows below it (in the new positions) as a bitset, the run's as their union
    std::vector<int> sn_start{0};
    std::vector<std::vector<int>> sn_rows;
    Bits run(static_cast<size_t>(g.words), 0), col_bits(static_cast<size_t>(g.words));
    SupernodePlan pl;  // (its exact structure by levels from the bitsets, in order: p = 0, 1, ...)
    pl.below_ptr.assign(static_cast<size_t>(nlev) + 1, 0);
    auto column = [&](int p) {  // col_bits = column p's rows below it; their number
        std::fill(col_bits.begin(), col_bits.end(), 0);
        for (int u : below[out[p]]) col_bits[pos[u] >> 6] |= uint64_t{1} << (pos[u] & 63);
        for (int w = 0; w < g.words; ++w)
            for (uint64_t bits = col_bits[w]; bits; bits &= bits - 1) pl.below.push_back(w * 64 + __builtin_ctzll(bits));
        pl.below_ptr[p + 1] = static_cast<int64_t>(pl.below.size());
        return static_cast<double>(below[out[p]].size());
    };
    auto take_run = [&]() {
        std::vector<int> rows;
        for (int w = 0; w < g.words; ++w)
            for (uint64_t bits = run[w]; bits; bits &= bits - 1) rows.push_back(w * 64 + __builtin_ctzll(bits));
        sn_rows.push_back(std::move(rows));
    };
    double truth = column(0);
    run = col_bits;
    for (int p = 1; p < nlev; ++p) {
        const int s0 = sn_start.back();
        const double cp = column(p);
        // the run's rows and column p's, less row p (the new column's diagonal)
        const bool had = (run[p >> 6] >> (p & 63)) & 1;
        const double merged = count_bits<Bitwise::Or>(run.data(), col_bits.data(), g.words) - (had ? 1.0 : 0.0);
        const double w = p + 1 - s0;
        const double stored = w * (w - 1) / 2.0 + w * merged;
        if (stored - (truth + cp) <= kRelax * stored) {
            for (int x = 0; x < g.words; ++x) run[x] |= col_bits[x];
            run[p >> 6] &= ~(uint64_t{1} << (p & 63));
            truth += cp;
            continue;
        }
        take_run();
        sn_start.push_back(p);
        run = col_bits;
        truth = cp;
    }
    take_run();
    sn_start.push_back(nlev);

    // in columns, each run in place or gathered, whichever costs less; and the plan's work
    double plan_work = 0.0;
    for (size_t s = 0; s + 1 < sn_start.size(); ++s) {
        pl.start.push_back(sn_start[s] * k);
        std::vector<int> cols;
        for (int l : sn_rows[s])
            for (int a = 0; a < k; ++a) cols.push_back(l * k + a);
        const double w = static_cast<double>(sn_start[s + 1] - sn_start[s]) * k, r = static_cast<double>(cols.size());
        const double range = cols.empty() ? 0.0 : static_cast<double>(cols.back() - cols.front() + 1);
        const bool ranged = supernode_work(w, r, range, true) <= supernode_work(w, r, range, false);
        plan_work += supernode_work(w, r, range, ranged);
        pl.ranged.push_back(ranged ? 1 : 0);
        pl.rows.push_back(std::move(cols));
    }
    pl.start.push_back(static_cast<int>(q));
    const double qd = static_cast<double>(q);
    if (plan_work > kMinSaving * qd * qd * qd / 6.0) return false;
    order = std::move(out);
    plan = std::move(pl);
    return true;
}

namespace {

// rows relabelled: level l -> pos[l], each column's entries sorted by their new rows
void permute_sparse_rows(SparseBlock& s, const std::vector<int>& pos) {
    const size_t bs = s.bsz();
    std::vector<int> rl(s.rowlev.size());
    std::vector<double> v(s.v.size());
    std::vector<std::pair<int, int64_t>> idx;
    for (int c = 0; c < s.ncollev; ++c) {
        const int64_t b0 = s.colptr[c], b1 = s.colptr[c + 1];
        idx.resize(static_cast<size_t>(b1 - b0));
        for (int64_t i = b0; i < b1; ++i) idx[i - b0] = {pos[s.rowlev[i]], i};
        std::sort(idx.begin(), idx.end());
        for (int64_t i = b0; i < b1; ++i) {
            const int64_t from = idx[i - b0].second;
            rl[i] = idx[i - b0].first;
            std::memcpy(v.data() + i * bs, s.v.data() + from * bs, bs * sizeof(double));
        }
    }
    s.rowlev = std::move(rl);
    s.v = std::move(v);
}

// columns relabelled: level l -> pos[l]
void permute_sparse_columns(SparseBlock& s, const std::vector<int>& pos) {
    const size_t bs = s.bsz();
    std::vector<int> from(static_cast<size_t>(s.ncollev));
    for (int c = 0; c < s.ncollev; ++c) from[pos[c]] = c;
    std::vector<int64_t> cp(s.colptr.size(), 0);
    std::vector<int> rl;
    std::vector<double> v;
    rl.reserve(s.rowlev.size());
    v.reserve(s.v.size());
    for (int c = 0; c < s.ncollev; ++c) {
        const int o = from[c];
        for (int64_t i = s.colptr[o]; i < s.colptr[o + 1]; ++i) {
            rl.push_back(s.rowlev[i]);
            v.insert(v.end(), s.v.begin() + i * bs, s.v.begin() + (i + 1) * bs);
        }
        cp[c + 1] = static_cast<int64_t>(rl.size());
    }
    s.colptr = std::move(cp);
    s.rowlev = std::move(rl);
    s.v = std::move(v);
}

void permute_dense(DenseBlock& d, const std::vector<int>& pos, int k, bool rows) {
    DenseBlock out = d;
    for (int c = 0; c < d.ncol; ++c)
        for (int r = 0; r < d.nrow; ++r) {
            const int nr = rows ? pos[r / k] * k + r % k : r;
            const int nc = rows ? c : pos[c / k] * k + c % k;
            out(nr, nc) = d(r, c);
        }
    d = std::move(out);
}

}  // namespace

void permute_levels(std::vector<Block>& blocks, int nf, int f, const std::vector<int>& pos, bool dense_values) {
    for (int c = 0; c <= nf; ++c)
        for (int j = 0; j <= c; ++j) {
            if (c != f && j != f) continue;
            Block& b = blocks[tri(c, j)];
            if (c == f && j == f) {
                if (b.kind == Kind::UBD) {
                    UBDBlock out = b.u;
                    const size_t kk = static_cast<size_t>(b.u.k) * b.u.k;
                    for (int l = 0; l < b.u.nlev; ++l) std::memcpy(out.at(pos[l]), b.u.at(l), kk * sizeof(double));
                    b.u = std::move(out);
                } else if (b.kind == Kind::Dense && dense_values) {
                    const int k = b.d.nrow / static_cast<int>(pos.size());
                    permute_dense(b.d, pos, k, true);
                    permute_dense(b.d, pos, k, false);
                }
                continue;
            }
            const bool rows = c == f;  // f's levels are this block's rows (else its columns)
            if (b.kind == Kind::Sparse) {
                if (rows)
                    permute_sparse_rows(b.s, pos);
                else
                    permute_sparse_columns(b.s, pos);
            } else if (b.kind == Kind::Dense && dense_values) {
                const int extent = rows ? b.d.nrow : b.d.ncol;
                permute_dense(b.d, pos, extent / static_cast<int>(pos.size()), rows);
            }
        }
}

}  // namespace mm
