// Chooses, once per model, the type of every block of L from the sparsity of A.
#include <sstream>
#include <string>

#include "engine.hpp"
#include "errors.hpp"

namespace mm {

namespace {

constexpr double kMaxDenseElements = 4.0e8;  // 3.2 GB for one dense block

void make_dense(Block& b, int64_t nrow, int64_t ncol, const std::string& what) {
    if (static_cast<double>(nrow) * static_cast<double>(ncol) > kMaxDenseElements) {
        std::ostringstream os;
        os << "the " << what << " block of the Cholesky factor would be dense with " << nrow << " x " << ncol
           << " entries; this design is too large for a dense fill-in block";
        throw TooLarge(os.str());
    }
    b.kind = Kind::Dense;
    b.d.nrow = static_cast<int>(nrow);
    b.d.ncol = static_cast<int>(ncol);
    b.d.v.assign(static_cast<size_t>(nrow) * static_cast<size_t>(ncol), 0.0);
}

bool at_most_one_per_column(const SparseBlock& s) {
    for (int c = 0; c < s.ncollev; ++c)
        if (s.colptr[c + 1] - s.colptr[c] > 1) return false;
    return true;
}

// Does the pattern of Lc * Lj^T (both sparse over the same column factor) lie inside target?
bool product_inside(const SparseBlock& lc, const SparseBlock& lj, const SparseBlock& target) {
    for (int t = 0; t < lc.ncollev; ++t)
        for (int64_t a = lc.colptr[t]; a < lc.colptr[t + 1]; ++a)
            for (int64_t b = lj.colptr[t]; b < lj.colptr[t + 1]; ++b)
                if (target.find(lc.rowlev[a], lj.rowlev[b]) < 0) return false;
    return true;
}

}  // namespace

void Engine::analyse(double dense_threshold) {
    L_.assign(A_.size(), Block{});
    for (int j = 0; j < nf_; ++j) {
        bool ubd = true;
        for (int i = 0; i < j && ubd; ++i) {
            const Block& b = L_[tri(j, i)];
            ubd = b.kind == Kind::Sparse && at_most_one_per_column(b.s);
        }
        Block& d = L_[tri(j, j)];
        if (ubd) {
            d.kind = Kind::UBD;
            d.u.nlev = nlev_[j];
            d.u.k = k_[j];
            d.u.v.assign(A_[tri(j, j)].u.v.size(), 0.0);
        } else {
            const int64_t q = static_cast<int64_t>(nlev_[j]) * k_[j];
            make_dense(d, q, q, "diagonal " + std::to_string(j));
        }
        for (int c = j + 1; c < nf_; ++c) {
            const SparseBlock& pat = A_[tri(c, j)].s;
            bool sparse = ubd;
            for (int i = 0; i < j && sparse; ++i) {
                const Block& lci = L_[tri(c, i)];
                const Block& lji = L_[tri(j, i)];
                sparse = lci.kind == Kind::Sparse && lji.kind == Kind::Sparse && product_inside(lci.s, lji.s, pat);
            }
            if (sparse && !at_most_one_per_column(pat)) {  // nested blocks stay sparse: no fill below
                const double density = static_cast<double>(pat.nnzb()) / (static_cast<double>(pat.nrowlev) * pat.ncollev);
                sparse = density <= dense_threshold;
            }
            Block& b = L_[tri(c, j)];
            if (sparse) {
                b.kind = Kind::Sparse;
                b.s = pat;
            } else {
                make_dense(b, static_cast<int64_t>(nlev_[c]) * k_[c], static_cast<int64_t>(nlev_[j]) * k_[j],
                           "(" + std::to_string(c) + ", " + std::to_string(j) + ")");
            }
        }
        make_dense(L_[tri(nf_, j)], p_ + 1, static_cast<int64_t>(nlev_[j]) * k_[j], "[X y]");
    }
    make_dense(L_[tri(nf_, nf_)], p_ + 1, p_ + 1, "[X y] diagonal");
}

namespace {

int64_t nrows(const Block& b) {
    return b.kind == Kind::UBD ? static_cast<int64_t>(b.u.nlev) * b.u.k
                               : (b.kind == Kind::Sparse ? static_cast<int64_t>(b.s.nrowlev) * b.s.kr : b.d.nrow);
}

double stored(const Block& b) {
    return static_cast<double>(b.kind == Kind::UBD ? b.u.v.size() : (b.kind == Kind::Sparse ? b.s.v.size() : b.d.v.size()));
}

// Work of target -= lc lj^T, both over the columns of one block column.
double product_flops(const Block& lc, const Block& lj) {
    if (lc.kind == Kind::Sparse && lj.kind == Kind::Sparse) {
        double w = 0.0;
        for (int col = 0; col < lc.s.ncollev; ++col)
            w += static_cast<double>(lc.s.colptr[col + 1] - lc.s.colptr[col]) *
                 static_cast<double>(lj.s.colptr[col + 1] - lj.s.colptr[col]);
        return w * lc.s.kr * lj.s.kr * lc.s.kc;
    }
    if (lc.kind == Kind::Sparse) return stored(lc) * static_cast<double>(nrows(lj));
    if (lj.kind == Kind::Sparse) return stored(lj) * static_cast<double>(nrows(lc));
    return static_cast<double>(lc.d.nrow) * lj.d.nrow * lc.d.ncol;
}

}  // namespace

double Engine::update_flops() const {
    double w = 0.0;
    for (int j = 0; j <= nf_; ++j) {
        const Block& d = L_[tri(j, j)];
        const double q = static_cast<double>(nrows(d));
        w += d.kind == Kind::UBD ? stored(d) * d.u.k / 3.0 : q * q * q / 3.0;
        for (int c = j; c <= nf_; ++c) {
            const Block& b = L_[tri(c, j)];
            if (c > j) w += d.kind == Kind::Dense ? static_cast<double>(nrows(b)) * q * q : stored(b) * d.u.k;
            for (int i = 0; i < j; ++i) w += product_flops(L_[tri(c, i)], L_[tri(j, i)]) / (c == j ? 2.0 : 1.0);
        }
    }
    return w;
}

std::vector<std::vector<BlockInfo>> Engine::describe() const {
    std::vector<std::vector<BlockInfo>> out(static_cast<size_t>(nf_) + 1);
    for (int c = 0; c <= nf_; ++c) {
        for (int j = 0; j <= c; ++j) {
            const Block& b = L_[tri(c, j)];
            BlockInfo info;
            info.nrow = nrows(b);
            if (b.kind == Kind::UBD) {
                info.kind = b.u.k == 1 ? "Diagonal" : "BlkDiag";
                info.ncol = info.nrow;
                info.nlev = b.u.nlev;
                info.k = b.u.k;
            } else if (b.kind == Kind::Sparse) {
                info.kind = "Sparse";
                info.ncol = static_cast<int64_t>(b.s.ncollev) * b.s.kc;
                info.nnz_blocks = b.s.nnzb();
            } else {
                info.kind = "Dense";
                info.ncol = b.d.ncol;
            }
            out[c].push_back(info);
        }
    }
    return out;
}

}  // namespace mm
