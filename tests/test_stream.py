"""Streamed fits: chunks, CSV and Parquet files, Dask frames, against the in-memory fit.

A is summed in double-double everywhere, so the blocks -- and the whole fit -- are the same bit for
bit however the rows are split (the issue asks 1e-10 on the criterion and 1e-8 on the estimates)."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

CASES = [
    ("mAch ~ ses + (ses | school)", "hsb"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "pastes"),
    ("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake"),
]


def _same(a, b, rtol=1e-8):
    assert a.objective == pytest.approx(b.objective, rel=1e-10)
    np.testing.assert_allclose(a.fixef, b.fixef, rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(a.theta, b.theta, rtol=rtol, atol=1e-6)
    assert a.sigma == pytest.approx(b.sigma, rel=rtol)
    for g in a.ranef:
        np.testing.assert_allclose(a.ranef[g], b.ranef[g], rtol=1e-8, atol=1e-10 * np.abs(b.ranef[g]).max().max())
    assert a.nobs == b.nobs
    assert list(a.fixef.index) == list(b.fixef.index)


@pytest.mark.parametrize(("formula", "data"), CASES)
@pytest.mark.parametrize("batch", [7, 50, 1000])
def test_chunks_equal_in_memory(fits, formula, data, batch):
    df = fits.data(data)
    mem = fits.fit(formula, data)
    chunks = [df.iloc[i : i + batch] for i in range(0, len(df), batch)]  # batches split groups
    s = mm.lmer(formula, chunks)
    _same(s, mem)
    assert s.objective == mem.objective  # in fact bit for bit
    np.testing.assert_array_equal(s.theta, mem.theta)
    with pytest.raises(mm.DataError, match="streamed"):
        s.model.data.rows("test")


@pytest.mark.parametrize("batch", [7, 333])
def test_weighted_chunks_equal_in_memory(fits, batch):
    # the log weights are summed in double-double like A: a weighted stream gives the in-memory bits
    df = fits.data("hsb").copy()
    df["w"] = np.random.default_rng(3).uniform(0.1, 10.0, len(df))
    mem = mm.lmer("mAch ~ ses + (ses | school)", df, weights="w")
    chunks = [df.iloc[i : i + batch] for i in range(0, len(df), batch)]
    s = mm.lmer("mAch ~ ses + (ses | school)", chunks, weights="w")
    assert s.model.log_weights == mem.model.log_weights
    assert s.objective == mem.objective
    np.testing.assert_array_equal(s.theta, mem.theta)


def test_log_weights_sum_in_batches_and_pickles():
    # core level: batches of rows (and a pickled copy) keep the double-double sum's remainder
    rng = np.random.default_rng(1)
    n = 5000
    codes = rng.integers(0, 40, n).astype(np.int32)
    y, x, z = rng.normal(size=n), np.ones((n, 1)), np.ones((n, 1))
    w = np.exp(rng.normal(0.0, 20.0, n))  # log weights of mixed sizes: a plain sum rounds
    lay = mm._core.Layout([mm._core.FactorLayout(40, 1, [0], [0], [0])], 1)
    whole = mm._core.CrossProducts(lay)
    whole.add_rows(y, x, [codes], [z], w)
    parts = mm._core.CrossProducts(lay)
    for i in range(0, n, 777):
        parts.add_rows(y[i : i + 777], x[i : i + 777], [codes[i : i + 777]], [z[i : i + 777]], w[i : i + 777])
    assert parts.sum_log_weights == whole.sum_log_weights == math.fsum(math.log(v) for v in w)  # correctly rounded
    copy = pickle.loads(pickle.dumps(parts))
    copy.add_rows(y, x, [codes], [z], w)
    twice = mm._core.CrossProducts(lay)
    twice.add_rows(np.r_[y, y], np.r_[x, x], [np.r_[codes, codes]], [np.r_[z, z]], np.r_[w, w])
    assert copy.sum_log_weights == twice.sum_log_weights
    state = list(parts.__getstate__())
    for bad in (float("nan"), float("inf"), 1e10):  # a remainder must be below half an ulp of the sum
        state[6] = bad
        tampered = mm._core.CrossProducts.__new__(mm._core.CrossProducts)
        with pytest.raises(mm._core.InvalidInputError, match="log weights"):
            tampered.__setstate__(tuple(state))


def test_files_equal_in_memory(fits, tmp_path):
    pytest.importorskip("pyarrow")
    hsb = fits.data("hsb")
    mem = fits.fit("mAch ~ ses + (ses | school)", "hsb")
    for i in range(3):
        part = hsb.iloc[i * 2500 : (i + 1) * 2500]
        part.to_parquet(tmp_path / f"part{i}.parquet")
        part.to_csv(tmp_path / f"part{i}.csv", index=False)
    sp = mm.lmer("mAch ~ ses + (ses | school)", str(tmp_path / "part*.parquet"))
    _same(sp, mem)
    sc = mm.lmer("mAch ~ ses + (ses | school)", sorted(tmp_path.glob("part*.csv")))
    assert sc.objective == pytest.approx(mem.objective, rel=1e-10)
    # CSV reads school as numbers: levels are sorted numerically, not in R's order. The same model,
    # but sums in another order round differently, so the optimiser stops at a point that agrees
    # to its own precision (theta to ~1e-7), not bit for bit
    np.testing.assert_allclose(sc.fixef, mem.fixef, rtol=1e-6)


def test_missing_values_and_unused_levels(fits):
    df = fits.data("sleepstudy").copy()
    df.loc[[3, 50, 77], "Reaction"] = np.nan
    df["Subject"] = df["Subject"].cat.add_categories(["never"])
    mem = mm.lmer("Reaction ~ Days + (Days | Subject)", df)
    s = mm.lmer("Reaction ~ Days + (Days | Subject)", [df.iloc[:90], df.iloc[90:]])
    _same(s, mem)
    assert s.n_dropped == 3
    assert "3 observations deleted" in str(s.summary())


def test_streamed_results_say_what_needs_rows(fits):
    hsb = fits.data("hsb")
    s = mm.lmer("mAch ~ ses + (ses | school)", [hsb.iloc[:4000], hsb.iloc[4000:]])
    for call in (s.fitted, s.residuals, s.simulate, lambda: s.predict(), lambda: s.coef_table("kenward-roger")):
        with pytest.raises(mm.DataError, match="streamed"):
            call()
    p = s.predict(hsb.head(3))
    np.testing.assert_allclose(p, fits.fit("mAch ~ ses + (ses | school)", "hsb").predict(hsb.head(3)), rtol=1e-10)
    ct = s.coef_table()  # Satterthwaite works from the blocks
    assert (ct["df"] > 100).all()
    ci = s.confint("profile")
    assert ci.shape == (6, 2)


def test_progress_callbacks(fits):
    hsb = fits.data("hsb")
    rows, evals = [], []
    mm.lmer("mAch ~ ses + (ses | school)", [hsb.iloc[:4000], hsb.iloc[4000:]], progress=rows.append)
    assert rows[-1] == len(hsb)
    r = mm.lmer("mAch ~ ses + (ses | school)", hsb, progress=lambda n, best: evals.append((n, best)))
    assert [n for n, _ in evals] == list(range(1, r.n_evals + 1))
    assert evals[-1][1] == pytest.approx(46640.398, abs=1e-3)


def test_stream_errors(fits):
    hsb = fits.data("hsb")
    with pytest.raises(mm.DataError, match="one-shot iterator"):
        mm.lmer("mAch ~ ses + (ses | school)", (c for c in [hsb]))
    with pytest.raises(FileNotFoundError):
        mm.lmer("mAch ~ ses + (ses | school)", "/no/such/*.parquet")
    with pytest.raises(mm.FormulaError, match="no column"):
        mm.lmer("mAch ~ sess + (ses | school)", [hsb])
    with pytest.raises(mm.DataError, match="constant"):
        mm.lmer("mAch ~ ses + (ses | school)", [hsb.assign(mAch=1.0)])


def test_dask_frames_equal_in_memory(fits):
    dd = pytest.importorskip("dask.dataframe")
    hsb = fits.data("hsb")
    mem = fits.fit("mAch ~ ses + (ses | school)", "hsb")
    for nparts in (1, 3, 8):
        ddf = dd.from_pandas(hsb, npartitions=nparts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            s = mm.lmer("mAch ~ ses + (ses | school)", ddf)
        _same(s, mem)


def test_dask_local_cluster(fits):
    """LocalCluster with 2 workers, several partitionings, single-factor, crossed and nested."""
    dd = pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster),
        ):
            for formula, data in CASES[:3]:
                mem = fits.fit(formula, data)
                for nparts in (2, 5):
                    s = mm.lmer(formula, dd.from_pandas(fits.data(data), npartitions=nparts))
                    _same(s, mem)
                    assert s.objective == mem.objective


def test_first_chunk_without_complete_rows(fits):
    sleep = fits.data("sleepstudy")
    d = sleep.assign(Reaction=np.where(np.arange(len(sleep)) < 20, np.nan, sleep["Reaction"]))
    mem = mm.lmer("Reaction ~ Days + (1 | Subject)", d)
    for chunks in ([d.iloc[:20], d.iloc[20:]], [d.iloc[:0], d]):
        s = mm.lmer("Reaction ~ Days + (1 | Subject)", chunks)
        assert s.objective == mem.objective
        np.testing.assert_array_equal(s.theta, mem.theta)
        assert s.n_dropped == 20


def test_streamed_model_keeps_no_chunk(fits):
    """The model keeps the cross-products and at most 1,000 rows to replay the encoding on new data."""
    hsb = fits.data("hsb")
    s = mm.lmer("mAch ~ ses + (ses | school)", [hsb.iloc[:5000], hsb.iloc[5000:]])
    assert len(pickle.dumps(s)) < 300_000
    np.testing.assert_allclose(
        s.predict(hsb.head(5)), fits.fit("mAch ~ ses + (ses | school)", "hsb").predict(hsb.head(5))
    )


# ----------------------------------------------------------------------------- chunk edge cases


def _sleep_text(fits):
    """sleepstudy with Subject as text (not categorical), as files and generators give it."""
    return fits.data("sleepstudy").assign(Subject=lambda d: d["Subject"].astype(str))


def test_empty_chunks_are_skipped(fits):
    sleep = fits.data("sleepstudy")
    mem = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    for chunks in ([pd.DataFrame(), sleep.iloc[:90], sleep.iloc[:0], sleep.iloc[90:]], [sleep.iloc[:0], sleep]):
        s = mm.lmer("Reaction ~ Days + (Days | Subject)", chunks)
        assert s.objective == mem.objective
        np.testing.assert_array_equal(s.theta, mem.theta)


def test_first_chunk_all_missing(fits):
    """A first chunk with no value at all: its columns are all-NaN floats, the others' text."""
    sleep = _sleep_text(fits)
    blank = pd.DataFrame({"Reaction": [np.nan] * 4, "Days": [np.nan] * 4, "Subject": [np.nan] * 4})
    mem = mm.lmer("Reaction ~ Days + (Days | Subject)", pd.concat([blank, sleep], ignore_index=True))
    s = mm.lmer("Reaction ~ Days + (Days | Subject)", [blank, sleep.iloc[:100], sleep.iloc[100:]])
    assert s.objective == mem.objective
    assert s.n_dropped == mem.n_dropped == 4
    with pytest.raises(mm.DataError, match="every row has a missing value"):
        mm.lmer("Reaction ~ Days + (Days | Subject)", [blank, blank])


def test_grouping_column_text_in_one_parquet_file_numbers_in_the_next(fits, tmp_path):
    pytest.importorskip("pyarrow")
    sleep = _sleep_text(fits)
    sleep.iloc[:90].to_parquet(tmp_path / "a.parquet")
    sleep.iloc[90:].assign(Subject=lambda d: d["Subject"].astype(int)).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(mm.DataError, match=r"column 'Subject' holds text in chunk 0 and numbers in chunk 1") as info:
        mm.lmer("Reaction ~ Days + (Days | Subject)", str(tmp_path / "*.parquet"))
    assert "not supported" not in str(info.value)


def test_csv_batches_of_different_types(fits, tmp_path):
    """pandas infers each CSV batch's types: int then float in a covariate works (as the whole file
    read at once); numbers then text in a grouping column is an error that says what to do."""
    sleep = _sleep_text(fits)
    d = sleep.assign(Days=sleep["Days"].astype(float))
    d.loc[150:, "Days"] += 0.5  # the last batch's Days are floats, the first ones' integers
    d.to_csv(tmp_path / "days.csv", index=False)
    mem = mm.lmer("Reaction ~ Days + (Days | Subject)", pd.read_csv(tmp_path / "days.csv"))
    s = mm.lmer("Reaction ~ Days + (Days | Subject)", str(tmp_path / "days.csv"), batch_size=50)
    assert s.objective == pytest.approx(mem.objective, rel=1e-10)
    np.testing.assert_allclose(s.fixef, mem.fixef, rtol=1e-6)

    g = sleep.assign(Subject=sleep["Subject"].where(sleep.index < 100, "s" + sleep["Subject"]))
    g.to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(mm.DataError, match=r"column 'Subject' holds numbers in chunk 0 and text in chunk 2.*astype"):
        mm.lmer("Reaction ~ Days + (Days | Subject)", str(tmp_path / "mixed.csv"), batch_size=50)


def test_chunks_of_int_and_float_or_categorical_and_text(fits):
    sleep = _sleep_text(fits)
    ints = sleep.assign(Subject=sleep["Subject"].astype(int))
    chunks = [ints.iloc[:90], ints.iloc[90:].assign(Subject=lambda d: d["Subject"].astype(float))]
    mem = mm.lmer("Reaction ~ Days + (Days | Subject)", pd.concat(chunks))
    s = mm.lmer("Reaction ~ Days + (Days | Subject)", chunks)
    assert s.objective == mem.objective
    assert list(s.ranef["Subject"].index) == list(mem.ranef["Subject"].index)
    cat = sleep.assign(Subject=pd.Categorical(sleep["Subject"], categories=sorted(set(sleep["Subject"]), reverse=True)))
    s2 = mm.lmer("Reaction ~ Days + (Days | Subject)", [cat.iloc[:90], sleep.iloc[90:]])
    mem2 = mm.lmer("Reaction ~ Days + (Days | Subject)", sleep)  # categorical in one chunk only: sorted
    assert s2.objective == mem2.objective
    assert list(s2.ranef["Subject"].index) == list(mem2.ranef["Subject"].index)


def test_source_exhausted_after_the_first_pass(fits):
    sleep = fits.data("sleepstudy")
    once = (c for c in [sleep.iloc[:90], sleep.iloc[90:]])
    with pytest.raises(mm.DataError, match=r"reads the data twice.*function returning a new iterator"):
        mm.lmer("Reaction ~ Days + (Days | Subject)", lambda: once)

    calls = []

    def shrinking():  # gives fewer rows the second time
        calls.append(1)
        return iter([sleep] if len(calls) == 1 else [sleep.iloc[:100]])

    with pytest.raises(mm.DataError, match="180 complete rows in the first pass and 100 in the second"):
        mm.lmer("Reaction ~ Days + (Days | Subject)", shrinking)
    with pytest.raises(mm.DataError, match="chunk 1 of the data is a dict"):
        mm.lmer("Reaction ~ Days + (Days | Subject)", [sleep, dict(sleep)])


def test_merging_many_levels_is_linear():
    """200,000 levels arriving 1,000 per chunk (a categorical and a text column): each merge costs
    what the chunk brings, so this runs in well under a second (it was quadratic)."""
    from mixedmodels.formula import parse_formula
    from mixedmodels.stream import _level_lists, _Levels, _merge_levels

    st = _Levels()
    for k in range(200):
        part = _Levels(n=1000)
        names = [f"L{k * 1000 + j:06d}" for j in range(1000)]
        part.cats["g"] = dict.fromkeys(names)
        part.seen["g"] = set(names)
        part.seen["h"] = set(names)
        part.plain.add("h")
        part.kinds.update({"g": ("text", k), "h": ("text", k)})
        merged = _merge_levels([st, part])
        assert merged is st  # merged in place: nothing rebuilt per chunk
    levels = _level_lists(st, parse_formula("y ~ h + (1 | g)"))
    assert st.n == 200_000
    assert len(levels["g"]) == len(levels["h"]) == 200_000
    assert levels["g"][:2] == ["L000000", "L000001"]
    assert levels["g"] == levels["h"]


def test_numeric_column_as_covariate_and_grouping_factor(fits):
    """The levels imposed on a numeric grouping variable serve its grouping factor only: the fixed
    part keeps the numbers (it got one dummy column per level)."""
    sleep = fits.data("sleepstudy").assign(half=lambda d: (d["Days"] >= 5).astype(int))
    for formula in (
        "Reaction ~ Days + (1 | Subject) + (1 | Days)",
        "Reaction ~ Days + half + (Days | Subject) + (1 | Subject:half)",
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mm.SingularFitWarning)
            mem = mm.lmer(formula, sleep)
            s = mm.lmer(formula, [sleep.iloc[i : i + 50] for i in range(0, 180, 50)])
        assert list(s.fixef.index) == list(mem.fixef.index)
        assert s.objective == mem.objective
        np.testing.assert_array_equal(s.theta, mem.theta)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("garbage.csv", b"\x00\x01garbage", "cannot read .*garbage.csv as CSV"),
        ("bad.parquet", b"PAR1garbage", "cannot read .*bad.parquet as Parquet"),
    ],
)
def test_unreadable_files_are_data_errors(tmp_path, name, content, message):
    # the readers' own exceptions (EmptyDataError, ArrowInvalid, ValueError) before; the CLI already said so
    if name.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(mm.DataError, match=message):
        mm.lmer("y ~ x + (1 | g)", str(path))


def test_a_directory_is_a_data_error(tmp_path):
    with pytest.raises(mm.DataError, match="is a directory"):
        mm.lmer("y ~ x + (1 | g)", str(tmp_path))


def test_a_csv_line_with_more_fields_than_the_header_is_refused(tmp_path):
    # pandas' usecols skips the field count: the line had been read shifted (x = 1, g = "5": a decimal comma)
    rows = ["y,x,g"] + [f"{i % 7 + 0.1 * i},{i % 5},g{i % 4}" for i in range(40)]
    rows[11] = "3.5,1,5,g2"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(mm.DataError, match="Expected 3 fields in line 12, saw 4"):
        mm.lmer("y ~ x + (1 | g)", str(path))
    short = tmp_path / "short.csv"
    short.write_text("y,x,g\n1.0,2\n")  # fewer fields: missing values, as pandas.read_csv reads them
    with pytest.raises(mm.DataError, match="every row has a missing value"):
        mm.lmer("y ~ x + (1 | g)", str(short))


def test_a_csv_file_lacking_a_column_names_it(tmp_path):
    path = tmp_path / "d.csv"
    pd.DataFrame({"y": [1.0, 2.0], "g": ["a", "b"]}).to_csv(path, index=False)
    with pytest.raises(mm.DataError, match=r"has no column \['x'\] \(its header: 'y', 'g'\)"):
        mm.lmer("y ~ x + (1 | g)", str(path))


@pytest.mark.parametrize("call", ["factor", "ordered"])
def test_factor_of_numbers_has_numeric_levels_in_chunks(call):
    # levels 2..11, a chunk lacking some: they had been merged as text (10 < 11 < 2 ...), so the
    # reference level and every coefficient differed from the fit in memory without a word
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"k": np.sort(rng.integers(2, 12, 300)), "g": rng.integers(0, 12, 300)})
    d["y"] = d["k"] * 0.3 + rng.normal(size=300)
    f = f"y ~ {call}(k) + (1 | g)"
    mem = mm.lmer(f, d)
    chunked = mm.lmer(f, [d.iloc[i : i + 40] for i in range(0, 300, 40)])
    assert list(chunked.fixef.index) == list(mem.fixef.index)
    np.testing.assert_allclose(chunked.fixef.to_numpy(), mem.fixef.to_numpy(), rtol=1e-8, atol=1e-10)


def test_a_dask_series_is_refused_by_name():
    dd = pytest.importorskip("dask.dataframe")
    df = pd.DataFrame({"y": np.arange(20.0) % 7, "x": np.arange(20.0), "g": ["a", "b"] * 10})
    with pytest.raises(mm.DataError, match="got Dask's Series"):  # dask's own TypeError had been raised
        mm.lmer("y ~ x + (1 | g)", dd.from_pandas(df, npartitions=2)["y"])


def test_streamed_chunks_warn_as_in_memory():
    # numbers held as Python objects (read as a factor) and a column in two terms had warned in
    # memory only; the prototype's materialisation now warns once (the chunks' own calls are silent)
    rng = np.random.default_rng(8)
    x = np.round(rng.normal(size=60), 1)
    df = pd.DataFrame({"y": x + rng.normal(size=60), "x": pd.Series(x, dtype=object), "g": np.arange(60) % 6})
    with pytest.warns(mm.MixedModelsWarning, match="holds numbers as Python objects") as record:
        mm.lmer("y ~ x + (1 | g)", [df.iloc[:30], df.iloc[30:]])
    assert sum("Python objects" in str(w.message) for w in record) == 1
    d = mm.datasets.load("sleepstudy")
    with pytest.warns(mm.MixedModelsWarning, match="is in two random-effects terms"):
        mm.lmer("Reaction ~ Days + (1 | Subject) + (1 | Subject)", [d.iloc[:90], d.iloc[90:]])
