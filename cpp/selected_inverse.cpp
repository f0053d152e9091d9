// The selected inversion of the blocked factor (docs/design.md, section 3a): (L_ZZ L_ZZ')^{-1} on
// the pattern of L_ZZ by Takahashi's recurrences, and the block substitutions with L_ZZ that the
// gradients (gradient.cpp, laplace_inverse.cpp) share.
#include "selected_inverse.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "blas.hpp"
#include "cross_products.hpp"
#include "dense_inverse.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "pool.hpp"
#include "small.hpp"
#include "supernodal_inverse.hpp"

namespace mm {

namespace {
// Floating-point work per chunk below which a loop over levels stays whole (a pool dispatch costs ~20 us).
constexpr int64_t kMinWorkPerChunk = 200000;
}  // namespace

// Level block (a, b) of the symmetric G, k[c] x k[i] column-major, copied into out; false when it
// is structurally zero. G(c, i) for c < i is the transpose of G(i, c).
bool level_block(const std::vector<Block>& g, const std::vector<int>& k, int c, int i, int a, int b, double* out) {
    const bool flip = c < i;
    const int r = flip ? i : c, s = flip ? c : i;
    const int ra = flip ? b : a, sb = flip ? a : b;
    const int kr = k[r], ks = k[s];
    const Block& blk = g[tri(r, s)];
    auto put = [&](int x, int y, double v) {  // entry (x, y) of the kr x ks block
        if (flip)
            out[y + x * ks] = v;
        else
            out[x + y * kr] = v;
    };
    if (blk.kind == Kind::UBD) {
        if (ra != sb) return false;
        const double* p = blk.u.at(ra);
        for (int y = 0; y < ks; ++y)
            for (int x = 0; x < kr; ++x) put(x, y, p[x + y * kr]);
    } else if (blk.kind == Kind::Sparse) {
        const int64_t idx = blk.s.find(ra, sb);
        if (idx < 0) return false;
        const double* p = blk.s.blk(idx);
        for (int y = 0; y < ks; ++y)
            for (int x = 0; x < kr; ++x) put(x, y, p[x + y * kr]);
    } else {
        for (int y = 0; y < ks; ++y)
            for (int x = 0; x < kr; ++x) put(x, y, blk.d(ra * kr + x, sb * ks + y));
    }
    return true;
}

// c (m x n) += alpha * a (m x l) b (l x n), all column-major and packed.
void add_product(double* c, const double* a, const double* b, int m, int l, int n, double alpha) {
    for (int y = 0; y < n; ++y)
        for (int z = 0; z < l; ++z) {
            const double bv = alpha * b[z + y * l];
            if (bv == 0.0) continue;
            for (int x = 0; x < m; ++x) c[x + y * m] += a[x + z * m] * bv;
        }
}

// c (m x n) += alpha * a^T b, a (l x m), b (l x n).
void add_tproduct(double* c, const double* a, const double* b, int m, int l, int n, double alpha) {
    for (int y = 0; y < n; ++y)
        for (int x = 0; x < m; ++x) {
            double s = 0.0;
            for (int z = 0; z < l; ++z) s += a[z + x * l] * b[z + y * l];
            c[x + y * m] += alpha * s;
        }
}

namespace {

// Level block (b, l) of a block of L below the diagonal (k_i x k_j), or nullptr if zero; dense
// blocks are copied into buf.
const double* l_block(const Block& lij, int ki, int kj, int64_t idx_or_b, int l, double* buf) {
    if (lij.kind == Kind::Sparse) return lij.s.blk(idx_or_b);
    const int b = static_cast<int>(idx_or_b);
    for (int y = 0; y < kj; ++y)
        for (int x = 0; x < ki; ++x) buf[x + y * ki] = lij.d(b * ki + x, l * kj + y);
    return buf;
}

// Whether g's blocks have the kinds, sizes and patterns of L's random-effects blocks.
bool shaped_like(const std::vector<Block>& g, const std::vector<Block>& l, int nf) {
    if (g.size() != static_cast<size_t>(tri(nf, 0))) return false;
    for (int c = 0; c < nf; ++c)
        for (int j = 0; j <= c; ++j) {
            const Block& src = l[tri(c, j)];
            const Block& dst = g[tri(c, j)];
            if (dst.kind != src.kind) return false;
            if (src.kind == Kind::UBD) {
                if (dst.u.nlev != src.u.nlev || dst.u.k != src.u.k || dst.u.v.size() != src.u.v.size()) return false;
            } else if (src.kind == Kind::Sparse) {
                if (dst.s.nrowlev != src.s.nrowlev || dst.s.ncollev != src.s.ncollev || dst.s.kr != src.s.kr ||
                    dst.s.kc != src.s.kc || dst.s.colptr != src.s.colptr || dst.s.rowlev != src.s.rowlev ||
                    dst.s.v.size() != src.s.v.size())
                    return false;
            } else if (dst.d.nrow != src.d.nrow || dst.d.ncol != src.d.ncol || dst.d.v.size() != src.d.v.size()) {
                return false;
            }
        }
    return true;
}

// Blocks of the same kinds, sizes and patterns as L's random-effects blocks, zeroed.
std::vector<Block> zero_like(const std::vector<Block>& l, int nf) {
    std::vector<Block> g(tri(nf, 0));
    for (int c = 0; c < nf; ++c)
        for (int j = 0; j <= c; ++j) {
            const Block& src = l[tri(c, j)];
            Block& dst = g[tri(c, j)];
            dst.kind = src.kind;
            if (src.kind == Kind::UBD) {
                dst.u.nlev = src.u.nlev;
                dst.u.k = src.u.k;
                dst.u.v.assign(src.u.v.size(), 0.0);
            } else if (src.kind == Kind::Sparse) {
                dst.s.nrowlev = src.s.nrowlev;
                dst.s.ncollev = src.s.ncollev;
                dst.s.kr = src.s.kr;
                dst.s.kc = src.s.kc;
                dst.s.colptr = src.s.colptr;
                dst.s.rowlev = src.s.rowlev;
                dst.s.v.assign(src.s.v.size(), 0.0);
            } else {
                dst.d.nrow = src.d.nrow;
                dst.d.ncol = src.d.ncol;
                dst.d.v.assign(src.d.v.size(), 0.0);
            }
        }
    return g;
}

// h (q_c x q_j, dense) += G(c, i) L(i, j).
void add_g_times_l(DenseBlock& h, const std::vector<Block>& g, const std::vector<int>& k,
                   const std::vector<int>& nlev, int c, int i, const Block& lij, int j) {
    const int qc = nlev[c] * k[c], qi = nlev[i] * k[i], qj = nlev[j] * k[j];
    const Block& gci = g[c >= i ? tri(c, i) : tri(i, c)];
    if (lij.kind == Kind::Dense && gci.kind == Kind::Dense) {  // G(c, c) is held whole (both triangles)
        if (c >= i)
            blas::gemm(false, false, qc, qj, qi, 1.0, gci.d.data(), qc, lij.d.data(), qi, 1.0, h.data(), qc);
        else
            blas::gemm(true, false, qc, qj, qi, 1.0, gci.d.data(), qi, lij.d.data(), qi, 1.0, h.data(), qc);
        return;
    }
    const int kc = k[c], ki = k[i], kj = k[j];
    if (lij.kind == Kind::Sparse && gci.kind == Kind::Dense) {
        // a sparse L(i, j) against a dense G(c, i) (a crossed factor against a small one, as dept
        // against s in InstEval): each stored block adds columns of G(c, i), or rows of G(i, c), to h
        const SparseBlock& s = lij.s;
        const DenseBlock& gd = gci.d;
        for (int l = 0; l < s.ncollev; ++l)
            for (int64_t e = s.colptr[l]; e < s.colptr[l + 1]; ++e) {
                const int b = s.rowlev[e];
                const double* lv = s.blk(e);
                for (int y = 0; y < kj; ++y) {
                    double* __restrict__ hc = h.data() + static_cast<size_t>(l * kj + y) * qc;
                    for (int z = 0; z < ki; ++z) {
                        const double lz = lv[z + y * ki];
                        if (c >= i) {
                            const double* __restrict__ gcol = gd.data() + static_cast<size_t>(b * ki + z) * gd.nrow;
                            for (int r = 0; r < qc; ++r) hc[r] += gcol[r] * lz;
                        } else {
                            const double* grow = gd.data() + (b * ki + z);
                            for (int r = 0; r < qc; ++r) hc[r] += grow[static_cast<size_t>(r) * gd.nrow] * lz;
                        }
                    }
                }
            }
        return;
    }
    std::vector<double> gb(static_cast<size_t>(kc) * ki), lb(static_cast<size_t>(ki) * kj),
        acc(static_cast<size_t>(kc) * kj);
    for (int l = 0; l < nlev[j]; ++l) {
        const int64_t b0 = lij.kind == Kind::Sparse ? lij.s.colptr[l] : 0;
        const int64_t b1 = lij.kind == Kind::Sparse ? lij.s.colptr[l + 1] : nlev[i];
        for (int64_t e = b0; e < b1; ++e) {
            const int b = lij.kind == Kind::Sparse ? lij.s.rowlev[e] : static_cast<int>(e);
            const double* lv = l_block(lij, ki, kj, e, l, lb.data());
            for (int a = 0; a < nlev[c]; ++a) {
                if (!level_block(g, k, c, i, a, b, gb.data())) continue;
                std::fill(acc.begin(), acc.end(), 0.0);
                add_product(acc.data(), gb.data(), lv, kc, ki, kj);
                for (int y = 0; y < kj; ++y)
                    for (int x = 0; x < kc; ++x) h(a * kc + x, l * kj + y) += acc[x + y * kc];
            }
        }
    }
}

// Tiles of kTile x kTile entries for the transposing loops below: the strided side of a tile
// stays in cache (a plain loop over a 1,128-order block took 4 ms, a tiled one well under 1).
constexpr int kTile = 64;

// Symmetrise a k x k block (the recurrences give it symmetric up to rounding): each pair of
// entries becomes their mean, tile by tile.
void symmetrise(double* m, int k, int ld) {
    for (int y0 = 0; y0 < k; y0 += kTile)
        for (int x0 = y0; x0 < k; x0 += kTile) {
            const int y1 = std::min(k, y0 + kTile), x1 = std::min(k, x0 + kTile);
            for (int y = y0; y < y1; ++y)
                for (int x = std::max(x0, y + 1); x < x1; ++x) {
                    const double v = 0.5 * (m[x + static_cast<size_t>(y) * ld] + m[y + static_cast<size_t>(x) * ld]);
                    m[x + static_cast<size_t>(y) * ld] = m[y + static_cast<size_t>(x) * ld] = v;
                }
        }
}

// The lower triangle of a k x k block copied onto its upper triangle, tile by tile.
void mirror_lower(double* m, int k, int ld) {
    for (int y0 = 0; y0 < k; y0 += kTile)
        for (int x0 = y0; x0 < k; x0 += kTile) {
            const int y1 = std::min(k, y0 + kTile), x1 = std::min(k, x0 + kTile);
            for (int y = y0; y < y1; ++y)
                for (int x = std::max(x0, y + 1); x < x1; ++x)
                    m[y + static_cast<size_t>(x) * ld] = m[x + static_cast<size_t>(y) * ld];
        }
}

}  // namespace

size_t SelectedInverse::held() const {
    size_t n = 0;
    for (const Block& b : g) n += values(b).size();
    return n;
}

void SelectedInverse::trim() {
    if (holds > 0 || held() <= kKeepValues) return;
    std::vector<Block>().swap(g);
}

// (L_ZZ L_ZZ')^{-1} on the pattern of L_ZZ, block column by block column from the last:
//   G(c, j) = -sum_{i>j} G(c, i) L(i, j) L(j, j)^{-1}                        (c > j)
//   G(j, j) = L(j, j)^{-T} [L(j, j)^{-1} - sum_{c>j} L(c, j)' G(c, j)]
// The pattern of L is closed under these products (analyse() keeps a sparse block only when the
// products that update it fall inside it), so every G(c, i) they read is on it.
// The loops over the levels of a block-diagonal column run in chunks on the pool (pool.hpp): each
// chunk writes its own levels' blocks of G, so the result is the same for every thread count.
// Every block of G is written whole before it is read, except a dense G(c, j) below a block-diagonal
// L(j, j), which is accumulated (zeroed first), so a reused workspace gives the bits of a fresh one.
namespace {

// X (rows x q, column-major) <- X L^{-1} for L lower triangular q x q (ld q): X' = L^{-T} X'.
void times_inverse(DenseBlock& x, const DenseBlock& l) {
    const int rows = x.nrow, q = x.ncol;
    std::vector<double> t(static_cast<size_t>(q) * rows);
    for (int c = 0; c < q; ++c)
        for (int r = 0; r < rows; ++r) t[static_cast<size_t>(r) * q + c] = x(r, c);
    blas::trsm_left_lower_trans(q, rows, l.data(), q, t.data(), q);
    for (int c = 0; c < q; ++c)
        for (int r = 0; r < rows; ++r) x(r, c) = t[static_cast<size_t>(r) * q + c];
}

// h = G(c, j) before its factor L(j, j)^{-1}: sum_i G(c, i) L(i, j) over the factors i > j.
void g_below_times_l(DenseBlock& h, const std::vector<Block>& g, const std::vector<int>& k,
                     const std::vector<int>& nlev, const std::vector<Block>& lblocks, int nf, int c, int j) {
    std::fill(h.v.begin(), h.v.end(), 0.0);
    for (int i = j + 1; i < nf; ++i) add_g_times_l(h, g, k, nlev, c, i, lblocks[tri(i, j)], j);
}

// G(j, j)'s lower triangle less sum_c W_c' G(c, j) (w: W_c for c = j + 1, ...), by panels of columns
// from the diagonal down, then both triangles held: the lower one copied onto the upper.
void less_w_g_and_mirror(DenseBlock& gjj, const std::vector<DenseBlock>& w, const std::vector<Block>& g,
                         const std::vector<int>& k, const std::vector<int>& nlev, int nf, int j) {
    const int qj = gjj.nrow;
    for (int c = j + 1; c < nf; ++c) {
        const int qc = nlev[c] * k[c];
        const double* wc = w[c - j - 1].data();
        const double* gc = g[tri(c, j)].d.data();
        for (int y0 = 0; y0 < qj; y0 += kTile) {
            const int nb = std::min(kTile, qj - y0);
            blas::gemm(true, false, qj - y0, nb, qc, -1.0, wc + static_cast<size_t>(y0) * qc, qc,
                       gc + static_cast<size_t>(y0) * qc, qc, 1.0, gjj.data() + static_cast<size_t>(y0) * qj + y0, qj);
        }
    }
    mirror_lower(gjj.data(), qj, qj);
}

// G(j, j) and G(c, j) below it for a dense diagonal block in a fill-reducing order (its plan): G(c, j)
// = -h L(j, j)^{-1} and W_c = L(c, j) L(j, j)^{-1} by triangular solves, (L(j, j) L(j, j)')^{-1} on
// the factor's structure by supernodes (supernodal_inverse.hpp; entries off it finite, not the
// inverse's: no reader of G takes them), less sum_c W_c' G(c, j), both triangles held.
void dense_block_by_supernodes(const std::vector<Block>& lblocks, int nf, const std::vector<int>& nlev,
                               const std::vector<int>& k, int threads, std::vector<Block>& g, int j,
                               const SupernodePlan& plan) {
    const DenseBlock& ljj = lblocks[tri(j, j)].d;
    const int qj = nlev[j] * k[j];
    DenseBlock& gjj = g[tri(j, j)].d;
    std::vector<DenseBlock> w(static_cast<size_t>(nf - j - 1));  // W_c, c = j + 1, ...
    for (int c = j + 1; c < nf; ++c) {
        DenseBlock& gcj = g[tri(c, j)].d;  // G(c, j) = -h L(j, j)^{-1}
        g_below_times_l(gcj, g, k, nlev, lblocks, nf, c, j);
        DenseBlock& wc = w[c - j - 1];
        wc = lblocks[tri(c, j)].d;
        // the two solves are independent: one chunk each on the pool (each its own block, so the same
        // bits on every thread count)
        pool::run(threads, 2, [&](int ch) {
            if (ch == 1) {
                times_inverse(wc, ljj);
                return;
            }
            times_inverse(gcj, ljj);
            for (double& v : gcj.v) v = -v;
        });
    }
    const int info = selected_inverse_supernodal(plan, ljj.data(), qj, gjj.data(), qj, threads);
    if (info != 0) throw NotPositiveDefinite("random-effects block " + std::to_string(j) + " of the factor is singular");
    less_w_g_and_mirror(gjj, w, g, k, nlev, nf, j);
}

}  // namespace

const std::vector<Block>& selected_inverse(const std::vector<Block>& lblocks, int nf, const std::vector<int>& nlev,
                                           const std::vector<int>& k, int threads, SelectedInverse& work,
                                           const std::vector<SupernodePlan>* plans) {
    if (!shaped_like(work.g, lblocks, nf)) work.g = zero_like(lblocks, nf);
    std::vector<Block>& g = work.g;
    for (int j = nf - 1; j >= 0; --j) {
        const Block& ljj = lblocks[tri(j, j)];
        const int kj = k[j], nlj = nlev[j], qj = nlj * kj;
        const size_t kk = static_cast<size_t>(kj) * kj;
        if (ljj.kind == Kind::UBD) {
            std::vector<double> linv(ljj.u.v);
            for (int l = 0; l < nlj; ++l) {
                double* p = linv.data() + l * kk;
                small::inv_lower(p, kj);
                for (int y = 1; y < kj; ++y)
                    for (int x = 0; x < y; ++x) p[x + y * kj] = 0.0;
            }
            for (int c = j + 1; c < nf; ++c) {
                const Block& lcj = lblocks[tri(c, j)];
                Block& gcj = g[tri(c, j)];
                const int kc = k[c];
                std::vector<double> acc(static_cast<size_t>(kc) * kj);
                if (lcj.kind == Kind::Dense) {
                    DenseBlock& h = gcj.d;
                    std::fill(h.v.begin(), h.v.end(), 0.0);
                    for (int i = j + 1; i < nf; ++i) add_g_times_l(h, g, k, nlev, c, i, lblocks[tri(i, j)], j);
                    for (int l = 0; l < nlj; ++l)
                        for (int a = 0; a < nlev[c]; ++a) {
                            std::fill(acc.begin(), acc.end(), 0.0);
                            for (int y = 0; y < kj; ++y)
                                for (int z = y; z < kj; ++z) {
                                    const double lv = -linv[l * kk + z + y * kj];
                                    for (int x = 0; x < kc; ++x) acc[x + y * kc] += h(a * kc + x, l * kj + z) * lv;
                                }
                            for (int y = 0; y < kj; ++y)
                                for (int x = 0; x < kc; ++x) h(a * kc + x, l * kj + y) = acc[x + y * kc];
                        }
                    continue;
                }
                // sparse: each stored block from the blocks of G it needs, column by column; a dense
                // G(c, i) (the usual crossed case) is read in place
                // level columns l in chunks for the pool (each writes its own stored blocks of G(c, j))
                const SparseBlock& s = lcj.s;
                const size_t bs = static_cast<size_t>(kc) * kj;
                const int nchunks_c =
                    pool::chunks_for((s.nnzb() + nlj) * static_cast<int64_t>(nlev[c]) * kc * kj, kMinWorkPerChunk);
                pool::run(threads, nchunks_c, [&](int ch) {
                const auto range = pool::chunk_range(nlj, nchunks_c, ch);
                const int l0 = static_cast<int>(range.first), l1 = static_cast<int>(range.second);
                const int64_t e0 = s.colptr[l0], e1 = s.colptr[l1];
                // the chunk's stored blocks of G(c, j) before the factor L(j, j)^{-1}; each receives
                // its terms in the order (i, then level b of i ascending), whatever the chunking
                std::vector<double> accs(static_cast<size_t>(e1 - e0) * bs, 0.0), gb, lb, hcol;
                std::vector<int64_t> cursor;
                for (int i = j + 1; i < nf; ++i) {
                    const Block& lij = lblocks[tri(i, j)];
                    const int ki = k[i];
                    const Block& gci = g[c >= i ? tri(c, i) : tri(i, c)];
                    const bool dense = gci.kind == Kind::Dense;
                    const size_t ld = dense ? static_cast<size_t>(gci.d.nrow) : 0;
                    const int qc = nlev[c] * kc;
                    if (dense && c >= i && lij.kind == Kind::Sparse && kc == 1 && ki == 1 && kj == 1) {
                        // scalar terms (crossed intercepts), the common case: acc(a) += G(c, i)(a, b) L(i, j)(b, l).
                        // As in the update's fill-in (rank_update.cpp), G(c, i) is read in slabs of whole
                        // columns that stay in cache, each level's rows b entering the slab from a cursor.
                        const SparseBlock& ls = lij.s;
                        const int slab = cache_slab_columns(static_cast<int64_t>(ld));
                        cursor.assign(ls.colptr.begin() + l0, ls.colptr.begin() + l1);
                        const double* gd = gci.d.data();
                        for (int s0 = 0; s0 < nlev[i]; s0 += slab) {
                            const int s1 = std::min(nlev[i], s0 + slab);
                            for (int l = l0; l < l1; ++l) {
                                const int64_t r0 = s.colptr[l], r1 = s.colptr[l + 1], b1 = ls.colptr[l + 1];
                                int64_t b = cursor[l - l0];
                                double* __restrict__ acc = accs.data() + (r0 - e0);
                                if (c == i) {
                                    // L(c, j) itself and G(c, c) symmetric: each pair of its rows read once,
                                    // for both of the entries it adds to (the same stored entries: b indexes both)
                                    for (; b < b1 && ls.rowlev[b] < s1; ++b) {
                                        const double* __restrict__ gcol = gd + static_cast<size_t>(ls.rowlev[b]) * ld;
                                        const double vb = ls.v[b];
                                        double own = gcol[ls.rowlev[b]] * vb;
                                        for (int64_t idx = b + 1; idx < r1; ++idx) {
                                            const double gv = gcol[s.rowlev[idx]];
                                            acc[idx - r0] += gv * vb;
                                            own += gv * s.v[idx];
                                        }
                                        acc[b - r0] += own;
                                    }
                                    cursor[l - l0] = b;
                                    continue;
                                }
                                for (; b < b1 && ls.rowlev[b] < s1; ++b) {
                                    const double* __restrict__ gcol = gd + static_cast<size_t>(ls.rowlev[b]) * ld;
                                    const double vb = ls.v[b];
                                    for (int64_t idx = r0; idx < r1; ++idx) acc[idx - r0] += gcol[s.rowlev[idx]] * vb;
                                }
                                cursor[l - l0] = b;
                            }
                        }
                        continue;
                    }
                    if (dense && c < i && lij.kind == Kind::Dense) {
                        // a dense L(i, j) below a sparse L(c, j) (a small factor after crossed ones): each
                        // entry a dot product of a column of G(i, c) with a column of L(i, j)
                        const DenseBlock& ld_ = lij.d;
                        const int qi = ld_.nrow;
                        for (int l = l0; l < l1; ++l)
                            for (int64_t idx = s.colptr[l]; idx < s.colptr[l + 1]; ++idx) {
                                const int a = s.rowlev[idx];
                                double* acc = accs.data() + static_cast<size_t>(idx - e0) * bs;
                                for (int y = 0; y < kj; ++y) {
                                    const double* __restrict__ lcol = ld_.data() + static_cast<size_t>(l * kj + y) * qi;
                                    for (int x = 0; x < kc; ++x) {
                                        const double* __restrict__ gcol = gci.d.data() + static_cast<size_t>(a * kc + x) * ld;
                                        double dot = 0.0;
                                        for (int r = 0; r < qi; ++r) dot += gcol[r] * lcol[r];
                                        acc[x + y * kc] += dot;
                                    }
                                }
                            }
                        continue;
                    }
                    gb.resize(static_cast<size_t>(kc) * ki);
                    lb.resize(static_cast<size_t>(ki) * kj);
                    for (int l = l0; l < l1; ++l) {
                        const int64_t r0 = s.colptr[l], r1 = s.colptr[l + 1];
                        if (r0 == r1) continue;
                        double* accl = accs.data() + static_cast<size_t>(r0 - e0) * bs;
                        const int64_t b0 = lij.kind == Kind::Sparse ? lij.s.colptr[l] : 0;
                        const int64_t b1 = lij.kind == Kind::Sparse ? lij.s.colptr[l + 1] : nlev[i];
                        if (dense && c >= i && (r1 - r0) * 32 >= nlev[c]) {
                            // many rows of G(c, i) needed: whole columns of G(c, i) L(i, j), streamed
                            hcol.assign(static_cast<size_t>(qc) * kj, 0.0);
                            for (int64_t e = b0; e < b1; ++e) {
                                const int b = lij.kind == Kind::Sparse ? lij.s.rowlev[e] : static_cast<int>(e);
                                const double* lv = l_block(lij, ki, kj, e, l, lb.data());
                                for (int y = 0; y < kj; ++y)
                                    for (int z = 0; z < ki; ++z) {
                                        const double lz = lv[z + y * ki];
                                        if (lz == 0.0) continue;
                                        const double* gcol = gci.d.data() + static_cast<size_t>(b * ki + z) * ld;
                                        double* hc = hcol.data() + static_cast<size_t>(y) * qc;
                                        for (int r = 0; r < qc; ++r) hc[r] += gcol[r] * lz;
                                    }
                            }
                            for (int64_t idx = r0; idx < r1; ++idx) {
                                const int a = s.rowlev[idx];
                                double* acc = accl + static_cast<size_t>(idx - r0) * bs;
                                for (int y = 0; y < kj; ++y)
                                    for (int x = 0; x < kc; ++x)
                                        acc[x + y * kc] += hcol[static_cast<size_t>(y) * qc + a * kc + x];
                            }
                            continue;
                        }
                        for (int64_t e = b0; e < b1; ++e) {
                            const int b = lij.kind == Kind::Sparse ? lij.s.rowlev[e] : static_cast<int>(e);
                            const double* lv = l_block(lij, ki, kj, e, l, lb.data());
                            for (int64_t idx = r0; idx < r1; ++idx) {
                                const int a = s.rowlev[idx];
                                double* acc = accl + static_cast<size_t>(idx - r0) * bs;
                                if (!dense) {
                                    if (level_block(g, k, c, i, a, b, gb.data())) add_product(acc, gb.data(), lv, kc, ki, kj);
                                    continue;
                                }
                                // entry (x, z) of G(c, i)[a, b]: G(c, i)(a kc + x, b ki + z), or G(i, c)(b ki + z, a kc + x)
                                const double* gd = gci.d.data();
                                for (int y = 0; y < kj; ++y)
                                    for (int z = 0; z < ki; ++z) {
                                        const double lz = lv[z + y * ki];
                                        if (lz == 0.0) continue;
                                        if (c >= i) {
                                            const double* gcol = gd + static_cast<size_t>(b * ki + z) * ld + a * kc;
                                            for (int x = 0; x < kc; ++x) acc[x + y * kc] += gcol[x] * lz;
                                        } else {
                                            const double* grow = gd + static_cast<size_t>(a * kc) * ld + b * ki + z;
                                            for (int x = 0; x < kc; ++x) acc[x + y * kc] += grow[x * ld] * lz;
                                        }
                                    }
                            }
                        }
                    }
                }
                for (int l = l0; l < l1; ++l)
                    for (int64_t idx = s.colptr[l]; idx < s.colptr[l + 1]; ++idx) {
                        double* out = gcj.s.blk(idx);
                        std::fill(out, out + bs, 0.0);
                        add_product(out, accs.data() + static_cast<size_t>(idx - e0) * bs, linv.data() + l * kk, kc, kj,
                                    kj, -1.0);
                    }
                });
            }
            // G(j, j), level by level, in chunks of levels
            int64_t below = 0;
            for (int c = j + 1; c < nf; ++c) below += static_cast<int64_t>(values(lblocks[tri(c, j)]).size());
            const int nchunks_d = pool::chunks_for(below * kj + static_cast<int64_t>(nlj) * kk * kj, kMinWorkPerChunk);
            pool::run(threads, nchunks_d, [&](int ch) {
            const auto range = pool::chunk_range(nlj, nchunks_d, ch);
            std::vector<double> y(kk), lb, gb;
            for (int l = static_cast<int>(range.first); l < range.second; ++l) {
                const double* li = linv.data() + l * kk;
                std::copy(li, li + kk, y.begin());
                for (int c = j + 1; c < nf; ++c) {
                    const Block& lcj = lblocks[tri(c, j)];
                    const Block& gcj = g[tri(c, j)];
                    const int kc = k[c];
                    lb.resize(static_cast<size_t>(kc) * kj);
                    if (lcj.kind == Kind::Sparse) {
                        for (int64_t idx = lcj.s.colptr[l]; idx < lcj.s.colptr[l + 1]; ++idx)
                            add_tproduct(y.data(), lcj.s.blk(idx), gcj.s.blk(idx), kj, kc, kj, -1.0);
                    } else {
                        gb.resize(static_cast<size_t>(kc) * kj);
                        for (int a = 0; a < nlev[c]; ++a) {
                            l_block(lcj, kc, kj, a, l, lb.data());
                            l_block(gcj, kc, kj, a, l, gb.data());
                            add_tproduct(y.data(), lb.data(), gb.data(), kj, kc, kj, -1.0);
                        }
                    }
                }
                double* out = g[tri(j, j)].u.at(l);
                std::fill(out, out + kk, 0.0);
                add_tproduct(out, li, y.data(), kj, kj, kj);
                symmetrise(out, kj, kj);
            }
            });
            continue;
        }
        // dense diagonal block: every block below it is dense. With W_c = L(c, j) L(j, j)^{-1},
        // G(j, j) = L(j, j)^{-T} L(j, j)^{-1} - sum_c W_c' G(c, j): the first term by lauum, or, for a
        // factor in a fill-reducing order, on its structure by supernodes (dense_block_by_supernodes).
        if (plans != nullptr && !(*plans)[j].empty()) {
            dense_block_by_supernodes(lblocks, nf, nlev, k, threads, g, j, (*plans)[j]);
            continue;
        }
        // The triangular inverse is formed in G(j, j)'s storage, from L(j, j)'s lower triangle (the
        // triangular kernels read and write no other), and serves G(c, j) and W_c before lauum
        // overwrites it: no copy of it is kept.
        DenseBlock& gjj = g[tri(j, j)].d;
        for (int y = 0; y < qj; ++y)
            std::copy(ljj.d.data() + static_cast<size_t>(y) * qj + y, ljj.d.data() + static_cast<size_t>(y + 1) * qj,
                      gjj.data() + static_cast<size_t>(y) * qj + y);
        if (trtri_lower_pooled(qj, gjj.data(), qj, threads) != 0)
            throw NotPositiveDefinite("random-effects block " + std::to_string(j) + " of the factor is singular");
        std::vector<DenseBlock> w(static_cast<size_t>(nf - j - 1));  // W_c, c = j + 1, ...
        for (int c = j + 1; c < nf; ++c) {
            DenseBlock& gcj = g[tri(c, j)].d;  // h (g_below_times_l), then
            const int qc = nlev[c] * k[c];
            g_below_times_l(gcj, g, k, nlev, lblocks, nf, c, j);
            blas::trmm_lower(false, qc, qj, -1.0, gjj.data(), qj, gcj.data(), qc);  // G(c, j) = -h L(j, j)^{-1}
            DenseBlock& wc = w[c - j - 1];
            wc = lblocks[tri(c, j)].d;
            blas::trmm_lower(false, qc, qj, 1.0, gjj.data(), qj, wc.data(), qc);  // W_c
        }
        lauum_lower_pooled(qj, gjj.data(), qj, threads);  // L(j, j)^{-T} L(j, j)^{-1} from the triangular inverse
        less_w_g_and_mirror(gjj, w, g, k, nlev, nf, j);
    }
    return g;
}

// x (q x ncol, column-major) <- L_ZZ^{-T} x, by block back substitution.
void back_solve(const std::vector<Block>& lblocks, int nf, const std::vector<int>& nlev, const std::vector<int>& k,
                const std::vector<int64_t>& off, std::vector<double>& x, int ncol) {
    const int64_t q = off[nf];
    // block column j of every right-hand side in turn: the sparse blocks are read once for all of
    // them, and each column receives the same operations in the same order as when solved alone
    double* __restrict__ xp = x.data();
    for (int j = nf - 1; j >= 0; --j) {
        for (int c = j + 1; c < nf; ++c) {
            const Block& b = lblocks[tri(c, j)];
            if (b.kind == Kind::Sparse && b.s.kr == 1 && b.s.kc == 1) {
                // scalar terms (crossed intercepts): one product per stored entry and right-hand side,
                // the same operations as below without its loops over the level blocks' sizes
                const SparseBlock& s = b.s;
                for (int l = 0; l < s.ncollev; ++l) {
                    const int64_t rj = off[j] + l;
                    for (int64_t idx = s.colptr[l]; idx < s.colptr[l + 1]; ++idx) {
                        const double v = s.v[idx];
                        const int64_t rc = off[c] + s.rowlev[idx];
                        for (int m = 0; m < ncol; ++m) xp[m * q + rj] -= v * xp[m * q + rc];
                    }
                }
            } else if (b.kind == Kind::Sparse) {
                const SparseBlock& s = b.s;
                for (int l = 0; l < s.ncollev; ++l)
                    for (int64_t idx = s.colptr[l]; idx < s.colptr[l + 1]; ++idx) {
                        const double* __restrict__ blk = s.blk(idx);
                        const int64_t rc = off[c] + static_cast<int64_t>(s.rowlev[idx]) * s.kr;
                        for (int m = 0; m < ncol; ++m) {
                            const double* __restrict__ ur = xp + m * q + rc;
                            double* __restrict__ r = xp + m * q + off[j] + static_cast<int64_t>(l) * s.kc;
                            for (int y = 0; y < s.kc; ++y) {
                                double acc = 0.0;
                                for (int a = 0; a < s.kr; ++a) acc += blk[a + y * s.kr] * ur[a];
                                r[y] -= acc;
                            }
                        }
                    }
            } else {
                for (int m = 0; m < ncol; ++m)
                    blas::gemv(true, b.d.nrow, b.d.ncol, -1.0, b.d.data(), b.d.nrow, xp + m * q + off[c], 1.0,
                               xp + m * q + off[j]);
            }
        }
        const Block& d = lblocks[tri(j, j)];
        for (int m = 0; m < ncol; ++m) {
            double* r = xp + m * q + off[j];
            if (d.kind == Kind::UBD) {
                for (int l = 0; l < nlev[j]; ++l) small::solve_lt(d.u.at(l), k[j], r + static_cast<size_t>(l) * k[j]);
            } else {
                blas::trsm_left_lower_trans(d.d.nrow, 1, d.d.data(), d.d.nrow, r, d.d.nrow);
            }
        }
    }
}

// x <- L_ZZ^{-1} x, by block forward substitution: x_j = L(j, j)^{-1} x_j, then x_c -= L(c, j) x_j.
void forward_solve(const std::vector<Block>& lblocks, int nf, const std::vector<int>& nlev, const std::vector<int>& k,
                   const std::vector<int64_t>& off, std::vector<double>& x, int ncol) {
    const int64_t q = off[nf];
    for (int m = 0; m < ncol; ++m) {
        double* col = x.data() + m * q;
        for (int j = 0; j < nf; ++j) {
            double* r = col + off[j];
            const Block& d = lblocks[tri(j, j)];
            if (d.kind == Kind::UBD) {
                const int kj = k[j];
                for (int l = 0; l < nlev[j]; ++l) {
                    const double* lv = d.u.at(l);
                    double* v = r + static_cast<size_t>(l) * kj;
                    for (int a = 0; a < kj; ++a) {
                        double s = v[a];
                        for (int b = 0; b < a; ++b) s -= lv[a + b * kj] * v[b];
                        v[a] = s / lv[a + a * kj];
                    }
                }
            } else {
                blas::trsm_left_lower(d.d.nrow, 1, d.d.data(), d.d.nrow, r, d.d.nrow);
            }
            for (int c = j + 1; c < nf; ++c) {
                const Block& b = lblocks[tri(c, j)];
                double* rc = col + off[c];
                if (b.kind == Kind::Sparse) {
                    const SparseBlock& s = b.s;
                    for (int l = 0; l < s.ncollev; ++l)
                        for (int64_t idx = s.colptr[l]; idx < s.colptr[l + 1]; ++idx) {
                            const double* blk = s.blk(idx);
                            double* out = rc + static_cast<size_t>(s.rowlev[idx]) * s.kr;
                            for (int y = 0; y < s.kc; ++y) {
                                const double xv = r[l * s.kc + y];
                                for (int a = 0; a < s.kr; ++a) out[a] -= blk[a + y * s.kr] * xv;
                            }
                        }
                } else {
                    blas::gemv(false, b.d.nrow, b.d.ncol, -1.0, b.d.data(), b.d.nrow, r, 1.0, rc);
                }
            }
        }
    }
}

}  // namespace mm
