"""The native streamed pass (issue 19, item 3) and Arrow dictionary columns at scale: Parquet record
batches and pandas chunks encoded without formulaic (`stream_encode.NativePlan`) must give the very
cross-products formulaic's path gives (bit for bit), and the first pass over Arrow batches the very
levels the pandas conversion gives."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import stream
from mixedmodels.formula import parse_formula
from mixedmodels.stream import model_from_source
from mixedmodels.stream_encode import NativePlan

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _frame(n=3000, groups=150, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x1, x2 = rng.normal(size=n), rng.integers(0, 5, n)
    b = rng.normal(size=(groups, 2))
    y = 2 + 0.5 * x1 - 0.2 * x2 + b[g, 0] + b[g, 1] * x1 + rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": y,
            "x1": x1,
            "x2": x2,
            "g": np.array([f"s{v:04d}" for v in g], dtype=object),
            "h": rng.integers(0, 7, n),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )


def _write(df, path, dictionary=True, files=3, row_group_size=400):
    paths = []
    bounds = np.linspace(0, len(df), files + 1).astype(int)
    for i in range(files):
        part = df.iloc[bounds[i] : bounds[i + 1]]
        table = pa.Table.from_pandas(part, preserve_index=False)
        if dictionary:  # each file its own dictionary, in the order the values appear
            table = table.set_column(table.schema.get_field_index("g"), "g", pc_encode(table.column("g")))
        p = path / f"part{i}.parquet"
        pq.write_table(table, p, row_group_size=row_group_size)
        paths.append(str(p))
    return paths


def pc_encode(col):
    import pyarrow.compute as pc

    return pc.dictionary_encode(col)


def _both(formula, source, **kw):
    """The model streamed natively and by formulaic's path."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        native = model_from_source(formula, source, batch_size=500, **kw)
        formulaic = model_from_source(formula, source, batch_size=500, native=False, **kw)
    return native, formulaic


def _same_cross_products(a, b):
    ca, cb = a.cross_products, b.cross_products
    assert ca.nobs == cb.nobs
    np.testing.assert_array_equal(ca.fixed_crossprod(), cb.fixed_crossprod())
    for f in range(len(a.structure.factors)):
        np.testing.assert_array_equal(ca.factor_crossprod(f), cb.factor_crossprod(f))
    np.testing.assert_array_equal(ca.column_sumsq(), cb.column_sumsq())
    assert a.structure.theta.names == b.structure.theta.names
    assert [list(f.levels) for f in a.structure.factors] == [list(f.levels) for f in b.structure.factors]


FORMULAS = [
    "y ~ x1 + x2 + (1 + x1 | g)",
    "y ~ x1 + (1 + x1 | g)",  # Z's columns are X's: one array for both
    "y ~ x1 + (1 | g) + (0 + x1 | h)",
    "y ~ 0 + x1 + x2 + (1 | g) + (1 | h)",
]


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("dictionary", [True, False])
def test_parquet_native_equals_formulaic_bit_for_bit(tmp_path, formula, dictionary):
    df = _frame()
    df.loc[[3, 50, 777], "x1"] = np.nan  # dropped rows
    df.loc[[9, 1200], "g"] = None
    paths = _write(df, tmp_path, dictionary)
    native, formulaic = _both(formula, paths)
    _same_cross_products(native, formulaic)
    a, b = native.fit(), formulaic.fit()
    assert a.objective == b.objective
    np.testing.assert_array_equal(a.theta, b.theta)
    # and the in-memory fit (the first pass's levels are the data's)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        mem = mm.lmer(formula, pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True))
    assert a.objective == pytest.approx(mem.objective, rel=1e-10)


def test_native_plan_is_used_and_declines_what_it_cannot_encode(tmp_path, monkeypatch):
    df = _frame()
    paths = _write(df, tmp_path)
    calls = {"native": 0, "declined": 0}
    rows = NativePlan.rows

    def counting(self, chunk):
        out = rows(self, chunk)
        calls["native" if out is not None else "declined"] += 1
        return out

    monkeypatch.setattr(NativePlan, "rows", counting)
    model_from_source("y ~ x1 + (1 | g)", paths, batch_size=500)
    assert calls["native"] >= 6
    assert calls["declined"] == 0
    levels = {"g": sorted(df["g"].unique()), "h": sorted(df["h"].unique())}
    s, _ = mm.design.materialise("y ~ x1 + (1 | g)", df, levels=levels)
    for formula in (
        "y ~ C(h) + (1 | g)",
        "y ~ poly(x1, 2) + (1 | g)",
        "y ~ x1 + (1 | g:h)",
        "log(y + 10) ~ x1 + (1 | g)",
    ):
        pf = parse_formula(formula)
        assert NativePlan.of(pf, s, levels) is None, formula


def test_an_infinite_value_takes_formulaics_path(tmp_path):
    """An infinite value in a used row: the chunk is declined and formulaic's path names the row; in
    a row left out for a missing value elsewhere it is declined too, and the cross-products are the
    same bits as formulaic's."""
    df = _frame()
    df.loc[1500, "x1"] = np.inf
    (tmp_path / "a").mkdir()
    with pytest.raises(mm.DataError, match="'x1' has .* non-finite values \\(first at row position 1500 of the data"):
        model_from_source("y ~ x1 + (1 + x1 | g)", _write(df, tmp_path / "a"), batch_size=500)
    df = _frame()
    df.loc[1500, "x1"], df.loc[1500, "y"] = np.inf, np.nan
    (tmp_path / "b").mkdir()
    native, formulaic = _both("y ~ x1 + (1 + x1 | g)", _write(df, tmp_path / "b"))
    _same_cross_products(native, formulaic)
    assert native.nobs == len(df) - 1


def test_chunks_encoded_on_several_threads_at_once_are_each_their_own():
    """The chunks' X and Z are written into scratch arrays reused from chunk to chunk: one set per
    thread (a Dask partition's task on the threaded scheduler shares the plan), freed by release,
    and not sent with a pickled plan."""
    import pickle
    import threading

    df = _frame(n=6000)
    chunks = [pa.RecordBatch.from_pandas(df.iloc[i : i + 1000], preserve_index=False) for i in range(0, 6000, 1000)]
    levels = {"g": sorted(df["g"].unique())}
    s, _ = mm.design.materialise("y ~ x1 + x2 + (1 + x1 | g)", df, levels=levels)
    plan = NativePlan.of(parse_formula("y ~ x1 + x2 + (1 + x1 | g)"), s, levels)
    assert plan is not None
    want = [(r.x.copy(), r.z[0].copy(), r.codes[0].copy()) for r in (plan.rows(c) for c in chunks)]
    got: dict[int, list[tuple[np.ndarray, ...]]] = {0: [], 1: []}
    start = threading.Barrier(2)

    def encode(t: int) -> None:
        start.wait()
        for _ in range(20):
            for c in chunks[t::2]:
                r = plan.rows(c)
                got[t].append((r.x.copy(), r.z[0].copy(), r.codes[0].copy()))

    threads = [threading.Thread(target=encode, args=(t,)) for t in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in (0, 1):
        mine = want[t::2] * 20
        assert len(got[t]) == len(mine)
        for a, b in zip(got[t], mine, strict=True):
            for u, v in zip(a, b, strict=True):
                np.testing.assert_array_equal(u, v)
    assert len(plan.scratch) >= 2  # the main thread's and the two workers' (idents may repeat)
    assert not pickle.loads(pickle.dumps(plan)).scratch
    plan.release()
    assert not plan.scratch


@pytest.mark.parametrize(
    ("dtype", "low", "high"), [(np.int8, -100, 100), (np.int16, -20000, 20000), (np.uint8, 0, 250)]
)
@pytest.mark.parametrize("arrow", [False, True])
def test_small_integer_ids_sorted_by_value_are_coded_as_in_memory(dtype, low, high, arrow):
    """Integer grouping ids of a narrow type, rows sorted by id (so the first chunk, which the plan is
    checked against, holds only the smallest): an id less the first level computed in the column's
    own type wrapped (int8 ids from -100: 28 and up coded as other levels, silently)."""
    rng = np.random.default_rng(1)
    g = np.sort(rng.integers(low, high + 1, 20_000)).astype(dtype)
    eff = rng.normal(size=high - low + 1)
    df = pd.DataFrame({"y": eff[g.astype(int) - low] + rng.normal(size=g.size), "x": rng.normal(size=g.size), "g": g})
    chunks = [df.iloc[i : i + 5000] for i in range(0, len(df), 5000)]
    if arrow:
        chunks = [pa.RecordBatch.from_pandas(c, preserve_index=False) for c in chunks]
    native, formulaic = _both("y ~ x + (1 | g)", chunks)
    _same_cross_products(native, formulaic)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        assert native.fit().objective == pytest.approx(mm.lmer("y ~ x + (1 | g)", df).objective, rel=1e-10)


def test_levels_with_a_negative_id_and_an_unsigned_batch():
    """Levels -1, 2, 5 from an int8 batch, then a uint8 batch of 2 and 5: the ids are compared with
    the levels as int64 (a uint8 array less -1 raised OverflowError)."""
    rng = np.random.default_rng(2)
    a = pd.DataFrame({"y": rng.normal(size=300), "g": np.array([-1, 2, 5], np.int8)[rng.integers(0, 3, 300)]})
    b = pd.DataFrame({"y": rng.normal(size=300), "g": np.array([2, 5], np.uint8)[rng.integers(0, 2, 300)]})
    src = [pa.RecordBatch.from_pandas(d, preserve_index=False) for d in (a, b)]
    native, formulaic = _both("y ~ 1 + (1 | g)", src)
    _same_cross_products(native, formulaic)


def test_weights_offset_and_pandas_chunks(tmp_path):
    df = _frame()
    df["o"] = np.linspace(-1, 1, len(df))
    chunks = [df.iloc[i : i + 700] for i in range(0, len(df), 700)]
    native, formulaic = _both("y ~ x1 + (1 + x1 | g)", chunks, weights="w", offset="o")
    _same_cross_products(native, formulaic)
    paths = _write(df, tmp_path)
    native, formulaic = _both("y ~ x1 + (1 + x1 | g)", paths, weights="w", offset="o")
    _same_cross_products(native, formulaic)
    # categorical pandas chunks (pass 1's categories, pass 2's codes)
    cat = [c.assign(g=pd.Categorical(c["g"])) for c in chunks]
    native, formulaic = _both("y ~ x1 + (1 | g)", cat)
    _same_cross_products(native, formulaic)


def test_far_slopes_and_large_response_natively(tmp_path):
    """The centred copy's and the shifted response's passes take the native path too."""
    df = _frame().assign(x1=lambda d: d["x1"] + 1e5, y=lambda d: d["y"] + 1e6)
    paths = _write(df, tmp_path)
    native, formulaic = _both("y ~ x1 + (1 + x1 | g)", paths)
    a, b = native.fit(), formulaic.fit()
    assert a.objective == b.objective
    assert native._centred is not None


def test_arrow_first_pass_gives_the_pandas_levels(tmp_path):
    """Levels from Arrow batches (dictionaries merged in Arrow, strings, ints, floats with NaN,
    ints with nulls) are those of the batches converted to pandas."""
    df = _frame()
    df["k"] = df["h"].astype(float)
    df.loc[[5, 17], "k"] = np.nan
    df["m"] = pd.array(df["h"].to_numpy(), dtype="Int64")
    df.loc[[8], "m"] = pd.NA
    paths = _write(df, tmp_path, dictionary=True, files=4, row_group_size=300)
    cols = ["g", "h", "k", "m", "x1", "y"]
    pf = parse_formula("y ~ x1 + (1 | g) + (1 | h) + (1 | k) + (1 | m)")
    grouping = {"g", "h", "k", "m"}
    arrow = stream._ArrowLevels(cols, grouping)
    st_a, st_p = stream._Levels(), stream._Levels()
    for i, batch in enumerate(stream._batch_source(paths, cols, 250)()):
        part = arrow.stats(batch, i)
        if part is None:  # m has nulls in this batch: pandas converts it (nullable Int64)
            assert batch.column("m").null_count
            part = stream._level_stats(batch.to_pandas(), pf, cols, grouping, i)
        st_a = stream._merge_levels([st_a, part])
        st_p = stream._merge_levels([st_p, stream._level_stats(batch.to_pandas(), pf, cols, grouping, i)])
    arrow.finish(st_a)
    la, lp = stream._level_lists(st_a, pf), stream._level_lists(st_p, pf)
    assert la.keys() == lp.keys()
    for c in la:
        assert la[c] == lp[c], c
        assert [type(v) for v in la[c]] == [type(v) for v in lp[c]], c
    assert (st_a.n, st_a.n_dropped) == (st_p.n, st_p.n_dropped)
    assert {c: k for c, (k, _) in st_a.kinds.items()} == {c: k for c, (k, _) in st_p.kinds.items()}


def test_many_dictionary_levels(tmp_path):
    """200,000 levels in dictionary columns, batches whose dictionaries differ: the streamed model
    has the in-memory model's levels and cross-products (a smoke test of the linear merge; the
    timings are in bench/bench_stream.py)."""
    n, groups = 400_000, 200_000
    rng = np.random.default_rng(5)
    g = rng.integers(0, groups, n)
    labels = pa.array([f"L{i:06d}" for i in range(groups)])
    y = rng.normal(size=groups)[g] + rng.normal(size=n)
    paths = []
    for i, idx in enumerate(np.array_split(np.arange(n), 2)):
        col = pa.DictionaryArray.from_arrays(pa.array(g[idx].astype(np.int32)), labels)
        p = tmp_path / f"d{i}.parquet"
        pq.write_table(pa.table({"y": y[idx], "g": col}), p, row_group_size=50_000)
        paths.append(str(p))
    model = model_from_source("y ~ 1 + (1 | g)", paths, batch_size=60_000)
    mem = mm.LinearMixedModel.from_formula("y ~ 1 + (1 | g)", pd.concat([pd.read_parquet(p) for p in paths]))
    assert list(model.structure.factors[0].levels) == list(mem.structure.factors[0].levels)
    np.testing.assert_array_equal(model.cross_products.factor_crossprod(0), mem.cross_products.factor_crossprod(0))


CATEGORICAL = [
    "angle ~ recipe * temperature + (1 | replicate)",
    "angle ~ x:recipe + temperature + (1 + x | replicate)",
    "angle ~ 0 + r + x + r:x + (1 | replicate)",
]


@pytest.mark.parametrize("formula", CATEGORICAL)
def test_categorical_fixed_effects_natively(fits, tmp_path, monkeypatch, formula):
    """Categorical main effects and their interactions (treatment contrasts, reduced and full
    rank, with a numeric column) from pandas chunks and Parquet batches: the native rows are
    formulaic's bit for bit, and the plan is used for every chunk."""
    d = fits.data("cake").copy()
    d["x"] = np.random.default_rng(0).normal(size=len(d))
    d["r"] = d["recipe"].astype(str)
    calls = {"native": 0, "declined": 0}
    rows = NativePlan.rows

    def counting(self, chunk):
        out = rows(self, chunk)
        calls["native" if out is not None else "declined"] += 1
        return out

    monkeypatch.setattr(NativePlan, "rows", counting)
    chunks = [d.iloc[i : i + 40] for i in range(0, len(d), 40)]
    native, formulaic = _both(formula, chunks)
    _same_cross_products(native, formulaic)
    assert native.structure.fixed_names == formulaic.structure.fixed_names
    assert calls["declined"] == 0
    assert calls["native"] >= len(chunks)
    for i in range(3):
        d.iloc[i * 90 : (i + 1) * 90].to_parquet(tmp_path / f"c{i}.parquet")
    paths = sorted(str(p) for p in tmp_path.glob("c*.parquet"))
    native, formulaic = _both(formula, paths)
    _same_cross_products(native, formulaic)
    mem = fits.fit(formula, "cake") if "x" not in formula else None
    if mem is not None:
        assert native.fit().objective == pytest.approx(mem.objective, rel=1e-10)


@pytest.mark.parametrize(
    ("low", "high", "max_span"),
    [(0, 5_000, None), (-3_000, 3_000, None), (0, 10**12, None), (-(2**62), 2**62, None), (0, 50_000, 1_000)],
)
def test_integer_grouping_values_without_python_sets(low, high, max_span, monkeypatch):
    """Pass 1 keeps an integer grouping column's distinct values as a presence array over their
    range (or, past `MAX_SPAN`, as merged distinct arrays), and pass 2 finds their positions by a
    table or a binary search: the same values and positions as NumPy's unique and Arrow's
    ``index_in``, values outside the levels -1."""
    from mixedmodels.stream_encode import _Codes

    if max_span is not None:
        monkeypatch.setattr(stream._IntegerSet, "MAX_SPAN", max_span)
    rng = np.random.default_rng(3)
    batches = [rng.integers(low, high, size, dtype=np.int64) for size in (700, 1, 2_000, 0, 900)]
    seen = stream._IntegerSet()
    for b in batches:
        seen.add(b)
    want = np.unique(np.concatenate(batches))
    np.testing.assert_array_equal(seen.values(), want)
    levels = want[::2].tolist()  # every other value a level
    codes = _Codes(levels=levels)
    for b in [*batches, np.array([low - 1, high + 1, *want[:3]], dtype=np.int64)]:
        for arr in (pa.array(b), pa.array(b.astype(np.int32)) if np.abs(b).max(initial=0) < 2**31 else pa.array(b)):
            got = codes.of_arrow(arr)
            ref = pc_index_in(arr, levels)
            np.testing.assert_array_equal(got, ref)
    assert isinstance(codes.ints, tuple)


def pc_index_in(arr, levels):
    import pyarrow.compute as pc

    return (
        pc.index_in(arr.cast(pa.int64()), value_set=pa.array(levels, pa.int64()))
        .fill_null(-1)
        .to_numpy(zero_copy_only=False)
    )


def test_integer_set_leaves_its_presence_array_when_the_range_grows_too_wide(monkeypatch):
    monkeypatch.setattr(stream._IntegerSet, "MAX_SPAN", 1_000)
    seen = stream._IntegerSet()
    parts = [np.array([5, 3, 900, 3]), np.array([-50, 2]), np.array([10**9, 7, -(10**9)]), np.array([4, 4])]
    for part in parts:
        seen.add(part.astype(np.int64))
    assert seen.present is None
    assert seen.arrays
    np.testing.assert_array_equal(seen.values(), np.unique(np.concatenate(parts)))


def test_uint64_ids_beyond_int64_decline_the_native_pass(tmp_path):
    """Grouping ids of uint64 at and above 2**63 beside int64 ones (another file): Arrow cannot hold
    those levels as one array, so the native pass declines and formulaic's path fits (it used to
    raise OverflowError from Arrow)."""
    rng = np.random.default_rng(0)
    n = 400
    g = rng.integers(0, 30, n)
    vals = np.array([2**63 + i for i in range(15)] + list(range(15)), dtype=np.uint64)
    x = rng.normal(size=n)
    y = 1 + x + rng.normal(size=n) + g % 5
    keep = g[300:] >= 15
    paths = [str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet")]
    pq.write_table(pa.table({"y": y[:300], "x": x[:300], "g": pa.array(vals[g[:300]], pa.uint64())}), paths[0])
    second = {"y": y[300:][keep], "x": x[300:][keep], "g": pa.array(vals[g[300:]][keep].astype(np.int64), pa.int64())}
    pq.write_table(pa.table(second), paths[1])
    native = model_from_source("y ~ x + (1 | g)", paths, batch_size=64)
    plain = model_from_source("y ~ x + (1 | g)", paths, batch_size=64, native=False)
    assert native.structure.factors[0].nlev == plain.structure.factors[0].nlev == 30
    theta = np.array([0.7])
    assert native.objective(theta) == plain.objective(theta)


def test_columns_formulaic_is_told_quoted_are_encoded_natively(tmp_path):
    """Columns named like a function (``c``, ``min``, a grouping ``C``) or with a space reach formulaic
    as ``Q('name')``: the native pass reads them by their names, bit for bit as formulaic does."""
    df = _frame().rename(columns={"x1": "c", "x2": "my x", "g": "C"})
    df["min"] = pd.Categorical(np.array(["lo", "mid", "hi"])[df["h"].to_numpy() % 3])
    paths = _write(df.rename(columns={"C": "g"}), tmp_path)
    for p in paths:  # the dictionary-encoded grouping column under its awkward name
        pq.write_table(pq.read_table(p).rename_columns(["C" if n == "g" else n for n in df.columns]), p)
    formula = "y ~ c + `my x` + min + (1 + c | C)"
    levels = {"C": sorted(df["C"].unique()), "min": ["hi", "lo", "mid"]}
    s, _ = mm.design.materialise(formula, df, levels=levels)
    plan = NativePlan.of(parse_formula(formula), s, levels)
    assert plan is not None
    assert plan.rows(df) is not None
    native, formulaic = _both(formula, paths)
    _same_cross_products(native, formulaic)
    assert native.fit().objective == formulaic.fit().objective
