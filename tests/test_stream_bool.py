"""Logical predictors: R's coding (a factor with levels FALSE < TRUE, the column ``bTRUE``) in
memory and streamed alike, and errors about a row that name the row in the user's data.

The R numbers come from tests/reference/logical (make_logical.R with R 4.2 and lme4 1.1; the tests
read its JSON and never run R).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

HERE = Path(__file__).parent / "reference" / "logical"
REFERENCE = json.loads((HERE / "logical.json").read_text())
CASES = {c["formula"]: c for c in REFERENCE["cases"]}
FORMULAS = sorted(CASES)


@pytest.fixture(scope="module")
def logical_data() -> pd.DataFrame:
    d = pd.read_csv(HERE / "logical.csv")
    assert d["b"].dtype == bool  # read_csv reads R's TRUE/FALSE as numpy booleans
    return d


@pytest.fixture(scope="module")
def in_memory(logical_data):
    cache: dict[str, mm.LmerResult] = {}

    def fit(formula: str) -> mm.LmerResult:
        if formula not in cache:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "the term b:c lacks a main effect", mm.MixedModelsWarning)
                cache[formula] = mm.lmer(formula, logical_data)
        return cache[formula]

    return fit


def _chunks(d: pd.DataFrame, size: int = 97) -> list[pd.DataFrame]:
    return [d.iloc[i : i + size] for i in range(0, len(d), size)]


def _same_fit(s, m) -> None:
    """A streamed fit equals the in-memory one: names, criterion, estimates (as tests/test_stream.py)."""
    assert list(s.fixef.index) == list(m.fixef.index)
    assert s.structure.theta.names == m.structure.theta.names
    assert s.objective == pytest.approx(m.objective, rel=1e-10)
    np.testing.assert_allclose(s.fixef, m.fixef, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(s.theta, m.theta, rtol=1e-8, atol=1e-6)


# ----------------------------------------------------------------------------- R's names and fits


@pytest.mark.parametrize("formula", FORMULAS)
def test_in_memory_fit_matches_lme4(in_memory, formula):
    """The criterion (to lme4's optimum: 1e-6 absolute, lme4 stops there) and the names R gives."""
    case = CASES[formula]
    m = in_memory(formula)
    assert m.objective == pytest.approx(case["reml_criterion"], abs=1e-6)
    if formula == "y ~ b:c + (1 | g)":
        # a factor:factor interaction without main effects: R codes the full b x c indicators and
        # drops an aliased one (bFALSE:ca, bTRUE:ca, bFALSE:cb, bTRUE:cb, bFALSE:cc); this package
        # takes formulaic's basis of the same column space (as for any two factors, e.g. text
        # columns), so the names differ but the model is the same: same criterion, same ML deviance
        assert list(m.fixef.index) == ["(Intercept)", "cb", "cc", "bTRUE:ca", "bTRUE:cb", "bTRUE:cc"]
        with pytest.warns(mm.MixedModelsWarning, match="the term b:c lacks a main effect"):
            ml = mm.lmer(formula, m.model.data.frame("test"), reml=False)
        assert ml.objective == pytest.approx(case["ml_deviance"], abs=1e-6)
    else:
        assert list(m.fixef.index) == case["fixef_names"]
        np.testing.assert_allclose(m.fixef, case["fixef"], rtol=1e-5, atol=1e-7)
    ranef = m.ranef
    assert [r["group"] for r in case["random"]] == list(ranef)
    for r in case["random"]:
        columns = [r["columns"]] if isinstance(r["columns"], str) else r["columns"]  # R's JSON: scalars
        assert list(ranef[r["group"]].columns) == columns
        assert list(ranef[r["group"]].index[: len(r["levels"])]) == r["levels"]


def test_r_names_as_literals(in_memory):
    """R 4.2 / lme4 1.1 (make_logical.R) prints, for a logical b:
    y ~ b: (Intercept) bTRUE; y ~ x:b: (Intercept) x:bFALSE x:bTRUE; y ~ b * x: (Intercept) bTRUE x
    bTRUE:x; (b | g): columns (Intercept) bTRUE; (1 | b): levels FALSE TRUE."""
    assert list(in_memory("y ~ b + (1 | g)").fixef.index) == ["(Intercept)", "bTRUE"]
    assert list(in_memory("y ~ x:b + (1 | g)").fixef.index) == ["(Intercept)", "x:bFALSE", "x:bTRUE"]
    assert list(in_memory("y ~ b * x + (1 | g)").fixef.index) == ["(Intercept)", "bTRUE", "x", "bTRUE:x"]
    assert in_memory("y ~ x + (b | g)").structure.terms[0].columns == ("(Intercept)", "bTRUE")
    assert list(in_memory("y ~ x + (1 | b)").ranef["b"].index) == ["FALSE", "TRUE"]


# ----------------------------------------------------------------------------- streamed == in memory


@pytest.mark.parametrize("formula", FORMULAS)
def test_dataframe_chunks_equal_in_memory(logical_data, in_memory, formula):
    _same_fit(mm.lmer(formula, _chunks(logical_data)), in_memory(formula))


@pytest.mark.parametrize("formula", FORMULAS)
def test_parquet_equals_in_memory(logical_data, in_memory, formula, tmp_path):
    """Parquet files give Arrow record batches with a boolean column."""
    pytest.importorskip("pyarrow")
    for i, part in enumerate(_chunks(logical_data, 250)):
        part.to_parquet(tmp_path / f"part{i}.parquet", index=False)
    _same_fit(mm.lmer(formula, str(tmp_path / "part*.parquet"), batch_size=64), in_memory(formula))


def test_the_adversarial_case():
    """adv/r_stream_bool.py: b:c streamed gave criterion 8825.47, in memory 9146.05 (b as 0/1)."""
    r = np.random.default_rng(11)
    n = 3000
    d = pd.DataFrame({"g": r.integers(0, 60, n), "b": r.random(n) < 0.4, "c": r.choice(["a", "b", "c"], n)})
    d["y"] = r.normal(size=60)[d.g] + d.b + (d.c == "b") + r.normal(size=n)
    for f in ("y ~ b:c + (1 | g)", "y ~ c:b + (1 | g)"):
        with pytest.warns(mm.MixedModelsWarning, match="lacks a main effect of a factor"):  # formulaic's basis
            m = mm.lmer(f, d)
        _same_fit(mm.lmer(f, [d.iloc[i : i + 997] for i in range(0, n, 997)]), m)
        assert m.objective == pytest.approx(8825.465809917332, rel=1e-9)


@pytest.mark.parametrize("kind", ["boolean", "object", "arrow"])
def test_other_logical_dtypes_code_alike(logical_data, in_memory, kind):
    """pandas' nullable boolean, objects (a logical column with missing values) and Arrow booleans
    are logicals too: the same model in memory and streamed, with the rows where b is missing dropped."""
    d = logical_data.copy()
    if kind == "arrow":
        pa = pytest.importorskip("pyarrow")
        d["b"] = d["b"].astype(pd.ArrowDtype(pa.bool_()))
    else:
        d["b"] = d["b"].astype(kind)
    formula = "y ~ b * x + (1 | g)"
    m = mm.lmer(formula, d)
    ref = mm.lmer(formula, logical_data)
    assert m.objective == pytest.approx(ref.objective, rel=1e-12)
    assert list(m.fixef.index) == ["(Intercept)", "bTRUE", "x", "bTRUE:x"]
    _same_fit(mm.lmer(formula, _chunks(d)), m)
    if kind != "arrow":  # with a missing value: the row is dropped, as R's na.omit
        d.loc[5, "b"] = None
        kept = mm.lmer(formula, d)
        dropped = mm.lmer(formula, logical_data.drop(index=5))
        assert kept.nobs == len(d) - 1
        assert kept.objective == pytest.approx(dropped.objective, rel=1e-12)
        assert list(kept.fixef.index) == list(dropped.fixef.index)
        _same_fit(mm.lmer(formula, _chunks(d)), kept)


def test_record_batches_equal_in_memory(logical_data, in_memory):
    pa = pytest.importorskip("pyarrow")
    table = pa.Table.from_pandas(logical_data, preserve_index=False)
    batches = table.to_batches(max_chunksize=128)
    formula = "y ~ b * x + (1 | g)"
    _same_fit(mm.lmer(formula, batches), in_memory(formula))


# ----------------------------------------------------------------------------- new data, analyses


def test_predict_on_new_booleans(logical_data, in_memory):
    """New data's logicals are coded as the fit's (numpy, nullable and Arrow booleans alike)."""
    rows = [0, 3, 17, 40]
    new = logical_data.iloc[rows].reset_index(drop=True)
    for formula in ("y ~ x + (b | g)", "y ~ b * x + (1 | g)", "y ~ x:b + (1 | g)", "y ~ x + (1 | b)"):
        m = mm.lmer(formula, logical_data) if formula not in CASES else in_memory(formula)
        expected = np.asarray(m.predict())[rows]
        np.testing.assert_allclose(m.predict(new), expected, rtol=1e-10)
        np.testing.assert_allclose(m.predict(new.assign(b=new["b"].astype("boolean"))), expected, rtol=1e-10)
        np.testing.assert_allclose(m.predict(new.assign(b=new["b"].astype(object))), expected, rtol=1e-10)
    streamed = mm.lmer("y ~ x + (b | g)", _chunks(logical_data))
    in_mem = in_memory("y ~ x + (b | g)")
    np.testing.assert_allclose(streamed.predict(new), in_mem.predict(new), rtol=1e-8)


def test_one_level_in_new_data(in_memory, logical_data):
    """New rows that all hold TRUE (a one-level factor there) are still coded with both levels."""
    m = in_memory("y ~ b + (1 | g)")
    new = logical_data[logical_data["b"]].head(3)
    pos = np.flatnonzero(logical_data["b"].to_numpy())[:3]
    np.testing.assert_allclose(m.predict(new), np.asarray(m.predict())[pos], rtol=1e-10)


def test_emmeans_and_type3_treat_b_as_a_factor(in_memory, logical_data):
    """emmeans' grid has b = FALSE, TRUE (x at its mean, as emmeans); lmerTest's table has b's term."""
    m = in_memory("y ~ b * x + (1 | g)")
    table = m.emmeans("b").summary()
    assert [str(v) for v in table["b"]] == ["FALSE", "TRUE"]
    beta = m.fixef
    xbar = logical_data["x"].mean()
    expected = [beta["(Intercept)"] + beta["x"] * xbar, beta.sum() - beta["x"] - beta["bTRUE:x"]]
    expected[1] += (beta["x"] + beta["bTRUE:x"]) * xbar
    np.testing.assert_allclose(table["emmean"], expected, rtol=1e-10)
    assert list(m.anova().index) == ["b", "x", "b:x"]


def test_glmer_boolean_response_stays_zero_one(logical_data):
    """A logical response is glmer's 0/1 success; a logical predictor beside it is a factor."""
    d = logical_data.assign(hit=logical_data["y"] > 0.5)
    m = mm.glmer("hit ~ b + x + (1 | g)", d, family="binomial")
    mnum = mm.glmer("hit ~ b + x + (1 | g)", d.assign(hit=d["hit"].astype(float)), family="binomial")
    assert list(m.fixef.index) == ["(Intercept)", "bTRUE", "x"]
    assert m.objective == pytest.approx(mnum.objective, rel=1e-12)


def test_trusted_formulas_code_alike(logical_data, in_memory):
    m = mm.lmer("y ~ b * x + (1 | g)", logical_data, trusted=True)
    assert list(m.fixef.index) == ["(Intercept)", "bTRUE", "x", "bTRUE:x"]
    assert m.objective == pytest.approx(in_memory("y ~ b * x + (1 | g)").objective, rel=1e-12)
    numeric = mm.lmer("y ~ I(b * x) + (1 | g)", logical_data, trusted=True)  # arithmetic: 0/1
    assert list(numeric.fixef.index) == ["(Intercept)", "I(b * x)"]


def test_arithmetic_reads_zero_one(logical_data):
    """As in R, arithmetic and numeric functions read a logical as 0/1 (I(b * x), exp(b))."""
    m = mm.lmer("y ~ I(b * x) + exp(b) + (1 | g)", logical_data)
    by_hand = logical_data.assign(bx=logical_data["b"] * logical_data["x"], eb=np.exp(logical_data["b"] * 1.0))
    ref = mm.lmer("y ~ bx + eb + (1 | g)", by_hand)
    assert m.objective == pytest.approx(ref.objective, rel=1e-12)
    _same_fit(mm.lmer("y ~ I(b * x) + exp(b) + (1 | g)", _chunks(logical_data)), m)


def test_bare_and_arithmetic_use_is_an_error(logical_data):
    """R codes b as bTRUE and I(b * x) as 0/1; one frame column cannot be both here: refused."""
    with pytest.raises(mm.FormulaError, match=r"logical column 'b'.*numeric copy"):
        mm.lmer("y ~ b + I(b * x) + (1 | g)", logical_data)
    d = logical_data.assign(b01=logical_data["b"].astype(float))  # the suggested way
    m = mm.lmer("y ~ b + I(b01 * x) + (1 | g)", d)
    assert list(m.fixef.index) == ["(Intercept)", "bTRUE", "I(b01 * x)"]


# ----------------------------------------------------------------------------- rows named in errors


def _with_bad_rows(n: int = 1000) -> pd.DataFrame:
    r = np.random.default_rng(3)
    d = pd.DataFrame({"g": r.integers(0, 40, n), "x": r.normal(size=n)})
    d["y"] = r.normal(size=40)[d.g] + d.x + r.normal(size=n)
    d.loc[702, "y"] = np.inf
    d.loc[701, "x"] = np.nan  # dropped: positions after it shift by one among the rows used
    return d


def test_in_memory_error_names_the_row_as_given():
    d = _with_bad_rows()
    with pytest.raises(
        mm.DataError, match=r"'y' has 1 non-finite values \(first at row position 702 \(0-based\): inf\)"
    ):
        mm.lmer("y ~ x + (1 | g)", d)
    labelled = d.set_index(pd.Index([f"r{i}" for i in range(len(d))]))
    with pytest.raises(mm.DataError, match=r"row position 702 \(0-based; index label 'r702'\): inf"):
        mm.lmer("y ~ x + (1 | g)", labelled)
    with pytest.raises(mm.DataError, match=r"row position 702 \(0-based; index label 1404\)"):
        mm.lmer("y ~ x + (1 | g)", d.set_index(d.index * 2))


def test_in_memory_errors_in_columns_and_weights():
    d = _with_bad_rows()
    d.loc[702, "y"] = 0.0
    d.loc[900, "x"] = -np.inf
    with pytest.raises(mm.DataError, match=r"'x' has 1 non-finite values \(first at row position 900 \(0-based\)"):
        mm.lmer("y ~ x + (1 | g)", d)
    d.loc[900, "x"] = 0.0
    w = np.ones(len(d))
    w[950] = -1.0
    with pytest.raises(mm.DataError, match=r"weights must be >= 0 .*: row position 950 \(0-based\) has weight -1"):
        mm.lmer("y ~ x + (1 | g)", d, weights=w)


@pytest.mark.parametrize("batch_size", [150, 1000])
def test_streamed_error_counts_rows_across_chunks(batch_size, tmp_path):
    d = _with_bad_rows()
    message = (
        r"'y' has at least 1 non-finite values \(first at row position 702 of the data "
        r"\(0-based, counted across all chunks\)"
    )
    with pytest.raises(mm.DataError, match=message):
        mm.lmer("y ~ x + (1 | g)", _chunks(d, 250), batch_size=batch_size)
    with pytest.raises(mm.DataError, match=message):  # the native pass hands the chunk to formulaic's
        mm.lmer("y ~ x + (1 | g)", [c.set_index(c.index + 10_000) for c in _chunks(d, 250)])
    pytest.importorskip("pyarrow")
    for i, part in enumerate(_chunks(d, 250)):
        part.to_parquet(tmp_path / f"p{i}.parquet", index=False)
    with pytest.raises(mm.DataError, match=message):
        mm.lmer("y ~ x + (1 | g)", str(tmp_path / "p*.parquet"), batch_size=batch_size)


def test_streamed_error_in_the_prototype_and_in_a_transform():
    """The prototype (the first chunk's complete rows) and an expression's values name rows too."""
    d = _with_bad_rows()
    d.loc[702, "y"] = 0.0
    d.loc[3, "y"] = np.nan
    d.loc[7, "x"] = np.inf  # the prototype's 7th row, the data's 8th
    with pytest.raises(mm.DataError, match=r"'x' has at least 1 non-finite .*row position 7 of the data \(0-based"):
        mm.lmer("y ~ x + (1 | g)", _chunks(d, 250))
    d.loc[7, "x"] = 0.0
    d.loc[612, "x"] = -10.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log of a negative number
        message = r"'log\(x \+ 10\)' has at least 1 non-finite .*row position 612 of the data"
        with pytest.raises(mm.DataError, match=message):
            mm.lmer("y ~ log(x + 10) + (1 | g)", _chunks(d, 250))
        with pytest.raises(mm.DataError, match=r"'log\(x \+ 10\)' has 1 non-finite .*row position 612 \(0-based\)"):
            mm.lmer("y ~ log(x + 10) + (1 | g)", d)


def test_dask_error_counts_rows_across_partitions():
    """Past the prototype (the first 1000 complete rows) the partitions' sizes give the position; in
    the prototype, which Dask's head() gives without positions, the row's index label."""
    dd = pytest.importorskip("dask.dataframe")
    d = _with_bad_rows(3000)
    d.loc[2702, "y"] = -np.inf
    d.loc[702, "y"] = 0.0
    with pytest.raises(mm.DataError, match=r"row position 2702 of the data \(0-based, counted across all chunks\)"):
        mm.lmer("y ~ x + (1 | g)", dd.from_pandas(d, npartitions=4))
    d.loc[2702, "y"] = 0.0
    d.loc[702, "y"] = np.inf
    with pytest.raises(mm.DataError, match=r"the row with index label 702 of the data"):
        mm.lmer("y ~ x + (1 | g)", dd.from_pandas(d, npartitions=4))


@pytest.mark.parametrize("formula", ["y ~ b * x + (1 | g)", "y ~ x:b + (1 | g)", "y ~ x + (1 | b)"])
def test_native_pass_encodes_logicals(logical_data, in_memory, formula, tmp_path, monkeypatch):
    """The native streamed pass (`stream_encode.NativePlan`) reads numpy, nullable and Arrow
    booleans as R's labels: every chunk is encoded natively, and the fit is the in-memory one."""
    pytest.importorskip("pyarrow")
    from mixedmodels.stream_encode import NativePlan

    calls = {"native": 0, "declined": 0}
    rows = NativePlan.rows

    def counting(self, chunk):
        out = rows(self, chunk)
        calls["native" if out is not None else "declined"] += 1
        return out

    monkeypatch.setattr(NativePlan, "rows", counting)
    for i, part in enumerate(_chunks(logical_data, 200)):
        part.to_parquet(tmp_path / f"n{i}.parquet", index=False)
    nullable = logical_data.assign(b=logical_data["b"].astype("boolean"))
    for source in (_chunks(logical_data), _chunks(nullable), str(tmp_path / "n*.parquet")):
        calls.update(native=0, declined=0)
        s = mm.lmer(formula, source, batch_size=64)
        assert calls["declined"] == 0
        assert calls["native"] >= 7
        _same_fit(s, in_memory(formula))


def test_cbind_negative_counts_name_the_row():
    d = _with_bad_rows()
    d.loc[702, "y"] = 0.0
    d["k"] = 3
    d["n"] = 5
    d.loc[800, "k"] = -1
    with pytest.raises(mm.DataError, match=r"negative successes \(-1.0\) at row position 800 \(0-based\)"):
        mm.glmer("cbind(k, n - k) ~ x + (1 | g)", d, family="binomial")
