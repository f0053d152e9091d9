// CrossProducts (cross_products.hpp): rows in, sums of sums, rescaled and reduced copies, the
// parts the identifiability checks read, and pickling (Dask moves partial sums between processes).
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>

#include <cmath>

#include "bind.hpp"
#include "cross_products.hpp"

namespace mm::bind {

namespace {

using i64array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

std::shared_ptr<Layout> layout_of(const CrossProducts& cp) { return std::const_pointer_cast<Layout>(cp.layout()); }

// Grouping codes as int32, refusing what a cast would change: non-integer dtypes, and values that do
// not fit (the range against the factor's levels is checked by add_rows itself).
iarray codes_of(const py::array& a, int f) {
    const py::dtype dt = a.dtype();
    const std::string what = "codes of grouping factor " + std::to_string(f);
    if (dt.kind() != 'i' && dt.kind() != 'u') throw InvalidInput(what + " must be integers, got dtype " + std::string(py::str(dt)));
    if (dt.kind() == 'i' && dt.itemsize() <= 4) return iarray::ensure(a);
    using i64 = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
    const i64 wide = dt.kind() == 'u' && dt.itemsize() == 8 ? i64() : i64::ensure(a);
    if (!wide) {  // uint64: any value above int64's range is out of range anyway
        using u64 = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>;
        const u64 u = u64::ensure(a);
        for (py::ssize_t i = 0; i < u.size(); ++i)
            if (u.data()[i] > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
                throw InvalidInput(what + ": code " + std::to_string(u.data()[i]) + " at row " + std::to_string(i) +
                                   " is out of range");
        return iarray::ensure(a);
    }
    for (py::ssize_t i = 0; i < wide.size(); ++i) {
        const int64_t v = wide.data()[i];
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max())
            throw InvalidInput(what + ": code " + std::to_string(v) + " at row " + std::to_string(i) + " is out of range");
    }
    return iarray::ensure(a);
}

void add_rows(CrossProducts& cp, const darray& y, const darray& x, const std::vector<py::array>& code_arrays,
              const std::vector<darray>& z, const std::optional<darray>& weights, const py::object& threads) {
    const Layout& lay = *cp.layout();
    const int nt = threads_of(threads);
    if (y.ndim() != 1) throw InvalidInput("y must be one-dimensional");
    const int64_t n = y.shape(0);
    if (x.ndim() != 2 || x.shape(0) != n || x.shape(1) != lay.p())
        throw InvalidInput("X must have shape (" + std::to_string(n) + ", " + std::to_string(lay.p()) + ")");
    if (static_cast<int>(code_arrays.size()) != lay.nf() || static_cast<int>(z.size()) != lay.nf())
        throw InvalidInput("one array of codes and one of random-effects columns per grouping factor (" +
                           std::to_string(lay.nf()) + ")");
    std::vector<iarray> codes;
    for (int f = 0; f < lay.nf(); ++f) codes.push_back(codes_of(code_arrays[f], f));
    RowsView rows;
    rows.n = n;
    rows.y = y.data();
    rows.x = x.data();
    for (int f = 0; f < lay.nf(); ++f) {
        if (codes[f].ndim() != 1 || codes[f].shape(0) != n)
            throw InvalidInput("codes of factor " + std::to_string(f) + " must have length " + std::to_string(n));
        if (z[f].ndim() != 2 || z[f].shape(0) != n || z[f].shape(1) != lay.factor(f).k)
            throw InvalidInput("random-effects columns of factor " + std::to_string(f) + " must have shape (" +
                               std::to_string(n) + ", " + std::to_string(lay.factor(f).k) + ")");
        rows.codes.push_back(codes[f].data());
        rows.z.push_back(z[f].data());
    }
    if (weights) {
        if (weights->ndim() != 1 || weights->shape(0) != n)
            throw InvalidInput("weights must have length " + std::to_string(n));
        rows.w = weights->data();
    }
    py::gil_scoped_release release;
    cp.add_rows(rows, nt);
}

// Rounded [X y]^T [X y], (p+1) x (p+1), both triangles.
py::array_t<double> fixed_crossprod(const CrossProducts& cp) {
    const int nf = cp.layout()->nf(), pp = cp.layout()->p() + 1;
    const DenseBlock& xx = cp.blocks()[tri(nf, nf)].d;
    const std::vector<double>& lo = cp.remainders()[tri(nf, nf)];
    py::array_t<double> out({static_cast<py::ssize_t>(pp), static_cast<py::ssize_t>(pp)});
    auto v = out.mutable_unchecked<2>();
    for (int r = 0; r < pp; ++r)
        for (int c = 0; c <= r; ++c) v(r, c) = v(c, r) = xx(r, c) + lo[static_cast<size_t>(c) * pp + r];
    return out;
}

py::tuple get_state(const CrossProducts& cp) {
    py::list blocks;
    for (size_t b = 0; b < cp.blocks().size(); ++b) {
        const Block& blk = cp.blocks()[b];
        py::object colptr = py::none(), rowlev = py::none();
        if (blk.kind == Kind::Sparse) {
            colptr = to_array(blk.s.colptr);
            rowlev = to_array(blk.s.rowlev);
        }
        blocks.append(py::make_tuple(static_cast<int>(blk.kind), to_array(values(blk)), to_array(cp.remainders()[b]),
                                     colptr, rowlev));
    }
    return py::make_tuple(layout_of(cp), cp.nobs(), cp.ymin(), cp.ymax(), blocks, cp.sum_log_weights(),
                          cp.sum_log_weights_remainder());
}

CrossProducts set_state_checked(const py::tuple& t) {
    if (t.size() < 5 || t.size() > 7) throw InvalidInput("bad CrossProducts state");
    auto layout = t[0].cast<std::shared_ptr<Layout>>();
    const py::list blocks = t[4].cast<py::list>();
    CrossProducts empty(layout);  // the shapes the layout implies
    if (blocks.size() != empty.blocks().size()) throw InvalidInput("bad CrossProducts state: number of blocks");
    std::vector<Block> hi(empty.blocks());
    std::vector<std::vector<double>> lo(hi.size());
    for (size_t b = 0; b < hi.size(); ++b) {
        const py::tuple s = blocks[b].cast<py::tuple>();
        if (s.size() != 5 || s[0].cast<int>() != static_cast<int>(hi[b].kind))
            throw InvalidInput("bad CrossProducts state: block " + std::to_string(b));
        const darray v = s[1].cast<darray>(), l = s[2].cast<darray>();
        values(hi[b]).assign(v.data(), v.data() + v.size());
        lo[b].assign(l.data(), l.data() + l.size());
        if (hi[b].kind == Kind::Sparse) {
            const i64array cp = s[3].cast<i64array>();
            const iarray rl = s[4].cast<iarray>();
            hi[b].s.colptr.assign(cp.data(), cp.data() + cp.size());
            hi[b].s.rowlev.assign(rl.data(), rl.data() + rl.size());
        }
    }
    CrossProducts out(layout, t[1].cast<int64_t>(), t[2].cast<double>(), t[3].cast<double>(), std::move(hi),
                      std::move(lo));
    if (t.size() >= 6) {
        const double hi = t[5].cast<double>(), lo = t.size() == 7 ? t[6].cast<double>() : 0.0;
        // a remainder is 0 beside a sum that is not finite, and below half an ulp of a finite one
        const bool finite = hi - hi == 0.0;
        if (finite ? (lo - lo != 0.0 || hi + lo != hi) : (hi != -std::numeric_limits<double>::infinity() || lo != 0.0))
            throw InvalidInput("bad CrossProducts state: the sum of the log weights");
        out.set_sum_log_weights(hi, lo);
    }
    return out;
}

CrossProducts set_state(const py::tuple& t) {
    try {
        return set_state_checked(t);
    } catch (const py::cast_error& e) {
        throw InvalidInput(std::string("bad CrossProducts state: ") + e.what());
    }
}

}  // namespace

void register_cross_products(py::module_& m) {
    py::class_<CrossProducts>(
        m, "CrossProducts",
        "The cross-products A = [Z X y]'[Z X y] of a model's rows, every entry summed in double-double (a value and "
        "the exact remainder of its rounding), so that the rounded A does not depend on how the rows were split or "
        "ordered (but for sums that cancel almost exactly). Starts empty; add_rows adds rows, add adds another model's cross-products.")
        .def(py::init([](std::shared_ptr<Layout> layout) { return CrossProducts(std::move(layout)); }),
             py::arg("layout"))
        .def("add_rows", &add_rows, py::arg("y"), py::arg("x"), py::arg("codes"), py::arg("z"),
             py::arg("weights") = py::none(), py::arg("threads") = py::none(),
             "Add rows: y (n,), x (n, p), per factor (engine order) codes int32 (n,) in [0, nlev) and random-effects "
             "columns z (n, k); with weights (n,) (finite, >= 0), row i's products are multiplied by weights[i]. The "
             "rows are summed on up to `threads` threads (None: os.cpu_count()): one factor's many rows in chunks, "
             "several factors' block rows of A in passes of their own; the sums do not depend on the count.")
        .def(
            "add",
            [](CrossProducts& a, const CrossProducts& b) {
                py::gil_scoped_release release;
                a.add(b);
            },
            py::arg("other"), "Add another set of cross-products of the same layout (their patterns merged).")
        .def(
            "__add__",
            [](const CrossProducts& a, const CrossProducts& b) {
                py::gil_scoped_release release;
                CrossProducts sum(a);
                sum.add(b);
                return sum;
            },
            py::arg("other"), "The sum of two sets of cross-products of the same layout, as a new object.")
        .def(
            "subtract",
            [](CrossProducts& a, const CrossProducts& b) {
                py::gil_scoped_release release;
                a.subtract(b);
            },
            py::arg("other"),
            "Subtract the cross-products of some of the rows already added (same layout, at most as many rows), in "
            "double-double: what is left is A of the other rows (a level left without rows has zero blocks). "
            "nobs and sum_log_weights follow; response_range is not narrowed.")
        .def(
            "__sub__",
            [](const CrossProducts& a, const CrossProducts& b) {
                py::gil_scoped_release release;
                return a.minus(b);
            },
            py::arg("other"), "The difference of two sets of cross-products of the same layout, as a new object (see subtract); this "
            "one may be frozen (a model's).")
        .def(
            "scaled",
            [](const CrossProducts& a, const std::vector<std::vector<double>>& zscale, const std::vector<double>& xscale) {
                py::gil_scoped_release release;
                return a.scaled(zscale, xscale);
            },
            py::arg("zscale"), py::arg("xscale"),
            "The cross-products of the rows with each factor's random-effects column a divided by zscale[f][a] and "
            "fixed-effects column m by xscale[m].")
        .def(
            "select_fixed",
            [](const CrossProducts& a, const std::vector<int>& keep) {
                py::gil_scoped_release release;
                return a.select_fixed(keep);
            },
            py::arg("keep"), "The cross-products with only the fixed-effects columns keep (ascending indices).")
        .def_property_readonly("sum_log_weights", &CrossProducts::sum_log_weights,
                               "Sum of log(weight) over the rows added with weights (0 without weights), in double-double: the "
                               "same rounded sum however the rows were split into batches (but for sums that cancel to "
                               "within ~2^-106 of their terms' size).")
        .def("freeze", &CrossProducts::freeze,
             "Make these cross-products final: add_rows and add raise from now on (a model freezes its own).")
        .def_property_readonly("frozen", &CrossProducts::frozen, "Whether rows can no longer be added.")
        .def_property_readonly("layout", &layout_of)
        .def_property_readonly("nobs", &CrossProducts::nobs, "Number of rows added.")
        .def_property_readonly(
            "response_range", [](const CrossProducts& a) { return py::make_tuple(a.ymin(), a.ymax()); },
            "(smallest, largest) response value added.")
        .def(
            "column_sumsq", [](const CrossProducts& a) { return to_array(a.column_sumsq()); },
            "Sums of squares of the model's columns (A's diagonal): each factor's random-effects columns (engine "
            "order), then X's.")
        .def("fixed_crossprod", &fixed_crossprod, "[X y]'[X y], (p + 1) x (p + 1).")
        .def(
            "factor_crossprod",
            [](const CrossProducts& cp, int f) {
                std::vector<double> v = cp.factor_crossprod(f);
                const auto k = static_cast<py::ssize_t>(std::lround(std::sqrt(static_cast<double>(v.size()))));
                py::array_t<double> out({k, k});
                auto o = out.mutable_unchecked<2>();
                for (py::ssize_t c = 0; c < k; ++c)
                    for (py::ssize_t r = 0; r < k; ++r) o(r, c) = v[static_cast<size_t>(r + c * k)];
                return out;
            },
            py::arg("f"),
            "Grouping factor f's k x k block of Z'Z summed over its levels: with an intercept column i, row i "
            "holds the columns' sums and the diagonal their sums of squares.")
        .def("independent_fixed", &CrossProducts::independent_fixed, py::arg("tol") = 1e-7,
             "Indices of the fixed-effects columns kept when columns aliased by earlier ones are dropped (R's qr "
             "rule with tolerance tol: a column goes when its part not explained by the kept earlier columns has "
             "relative norm below tol).")
        .def("constant_within_levels", &CrossProducts::constant_within_levels, py::arg("f"), py::arg("intercept"),
             py::arg("col"), py::arg("rel_tol") = 1e-10,
             "Whether factor f's random-effects column col is constant within every level: its within-level sum "
             "of squares (per level, sum of squares less sum^2 / count, count from the intercept column; in "
             "double-double) is at most rel_tol times its sum of squares about the overall mean, plus the "
             "rounding of the rows' squares.")
        .def(py::pickle(&get_state, &set_state));
}

}  // namespace mm::bind
