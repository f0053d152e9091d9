"""Streamed fits of formulas with stateful transforms (poly, scale, center) and categoricals made
inside the formula (C(x)) against the in-memory fit.

The first pass learns each transform's state from all rows and the second replays it. With an
input whose sums are exact (the integer Days) the state, A and the whole fit are the in-memory ones
bit for bit however the rows are split; otherwise the state agrees to ~1e-15 relative, and the fit
to the optimiser's precision (theta to ~1e-6: the criterion's last bits steer BOBYQA's path)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from formulaic.transforms import poly

import mixedmodels as mm
from mixedmodels import stream


def _batches(df: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [df.iloc[i : i + size] for i in range(0, len(df), size)]


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    s = mm.datasets.load("sleepstudy")
    return s.assign(grp=np.where(s["Subject"].cat.codes % 2 == 0, "a", "b"))


def _close(s, mem) -> None:
    """The same fit to the optimiser's precision (the transform state agrees to ~1e-15, not bit for bit)."""
    assert list(s.fixef.index) == list(mem.fixef.index)
    assert s.nobs == mem.nobs
    assert s.objective == pytest.approx(mem.objective, rel=1e-10)
    np.testing.assert_allclose(s.fixef, mem.fixef, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(s.theta, mem.theta, atol=2e-5)
    assert s.sigma == pytest.approx(mem.sigma, rel=1e-6)


def _fit(formula: str, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        return mm.lmer(formula, data)


SLEEP_FORMULAS = [
    "Reaction ~ poly(Days, 2) + (Days | Subject)",
    "Reaction ~ scale(Days) + (1 | Subject)",
    "Reaction ~ center(Days) + (center(Days) | Subject)",
    "Reaction ~ poly(Days, 2) * grp + (Days | Subject)",  # interaction with a transform
    "Reaction ~ Days + (scale(Days) | Subject)",  # a transform in the random part only
    "Reaction ~ C(Days) + (1 | Subject)",  # categories made inside the formula
    "Reaction ~ ns(Days, df = 3) + (1 | Subject)",  # R's splines: knots at quantiles of all rows
    "Reaction ~ bs(Days, df = 5) + (bs(Days, degree = 1) | Subject)",
    "Reaction ~ bs(Days, knots = c(2.5, 6), degree = 2) + ns(Days, 2, intercept = TRUE):grp + (1 | Subject)",
]


@pytest.mark.parametrize(
    ("formula", "batch"),
    [(f, b) for f in SLEEP_FORMULAS for b in (7, 50, 180)] + [(f, 1) for f in SLEEP_FORMULAS[:2]],
)
def test_transforms_of_integers_equal_in_memory_bit_for_bit(sleep, formula, batch):
    mem = _fit(formula, sleep)
    s = _fit(formula, _batches(sleep, batch))
    assert list(s.fixef.index) == list(mem.fixef.index)
    assert s.objective == mem.objective
    np.testing.assert_array_equal(s.theta, mem.theta)
    np.testing.assert_array_equal(s.fixef, mem.fixef)
    assert s.sigma == mem.sigma
    assert s.nobs == mem.nobs


def test_streamed_transform_state_is_the_whole_datas(sleep):
    """The model keeps the state of all rows, so predictions on new data use it (the prototype of
    1,000 rows, or one chunk, would give another basis)."""
    big = pd.concat([sleep.assign(Days=sleep["Days"] * k) for k in (1, 2, 3, 4, 5, 6)], ignore_index=True)
    formula = "Reaction ~ poly(Days, 2) + scale(Days) + (1 | Subject)"
    mem = _fit(formula, big)
    s = _fit(formula, _batches(big, 100))
    proto = _fit(formula, big.head(1000)).model.structure.encoding.fixed.transform_state
    state = s.model.structure.encoding.fixed.transform_state
    _state_close(state, mem.model.structure.encoding.fixed.transform_state, rtol=1e-14)
    assert state["poly(Days, 2)"]["alpha"][0] != proto["poly(Days, 2)"]["alpha"][0]
    np.testing.assert_allclose(_columns(s, sleep), _columns(mem, sleep), rtol=1e-13, atol=1e-13)
    # the estimates agree to the optimiser's precision (the state is not bit for bit here)
    np.testing.assert_allclose(s.predict(sleep.head(20)), mem.predict(sleep.head(20)), rtol=1e-6)


def _columns(fit, newdata: pd.DataFrame) -> np.ndarray:
    """The fixed-effects columns the fit's encoding makes of new data."""
    return np.asarray(fit.model.structure.encoding.fixed.get_model_matrix(newdata, output="numpy"))


def _state_close(a: dict, b: dict, rtol: float) -> None:
    """a (streamed: every part gets the state of all calls) has b's state (in memory) to rtol."""
    assert a.keys() >= b.keys()
    for call in b:
        for key, value in a[call].items():
            if isinstance(value, dict):
                assert value.keys() == b[call][key].keys()
                np.testing.assert_allclose(
                    [value[k] for k in sorted(value)], [b[call][key][k] for k in sorted(value)], rtol=rtol
                )
            elif value is None or isinstance(value, int):
                assert b[call][key] == value
            else:
                np.testing.assert_allclose(value, b[call][key], rtol=rtol)


@pytest.fixture(scope="module")
def hsb_part() -> pd.DataFrame:
    hsb = mm.datasets.load("hsb")
    return hsb[hsb["school"].isin(hsb["school"].unique()[:40])].reset_index(drop=True)


@pytest.mark.parametrize("exact_points", [10_000, 5])  # 5: every chunk compressed to Gauss rules
@pytest.mark.parametrize("batch", [50, 500, None])
def test_transforms_of_continuous_values_equal_in_memory(hsb_part, monkeypatch, exact_points, batch):
    monkeypatch.setattr(stream, "_EXACT_POINTS", exact_points)
    formula = "mAch ~ poly(ses, 3) + scale(np.exp(ses)) * sector + (center(ses) | school)"
    mem = _fit(formula, hsb_part)
    s = _fit(formula, _batches(hsb_part, batch or len(hsb_part)))
    enc_s, enc_m = s.model.structure.encoding, mem.model.structure.encoding
    _state_close(enc_s.fixed.transform_state, enc_m.fixed.transform_state, rtol=1e-13)
    _state_close(enc_s.terms[0].transform_state, enc_m.terms[0].transform_state, rtol=1e-13)
    np.testing.assert_allclose(_columns(s, hsb_part), _columns(mem, hsb_part), rtol=1e-12, atol=1e-13)
    _close(s, mem)


@pytest.mark.parametrize("name", ["offset", "lognormal", "uniform", "ties"])
@pytest.mark.parametrize("degree", [1, 2, 5])
def test_measure_gives_formulaics_polynomial_basis(name, degree):
    """poly's coefficients from chunks equal formulaic's from all values: the basis to 1e-10."""
    rng = np.random.default_rng(3)
    x = {
        "offset": 1e6 + rng.normal(size=20_000),
        "lognormal": rng.lognormal(0, 2, 20_000),
        "uniform": rng.uniform(-5, 100, 20_000),
        "ties": rng.integers(0, 300, 20_000) / 10,
    }[name]
    state: dict = {}
    basis = np.asarray(poly(x, degree, _state=state))
    for batch in (1, 7, 3000):
        m = stream._Measure(degree)
        for i in range(0, len(x) if batch > 1 else 500, batch):  # batch 1: the first 500 values
            m.add(x[i : i + batch])
        if batch == 1:
            m.add(x[500:])
        alpha, norms = m.recurrence(degree)
        np.testing.assert_allclose(alpha, [state["alpha"][k] for k in range(degree)], rtol=1e-13)
        np.testing.assert_allclose(norms, [state["norms2"][k] for k in range(degree + 1)], rtol=1e-13)
        replayed = np.asarray(
            poly(x, degree, _state={"alpha": dict(enumerate(alpha)), "norms2": dict(enumerate(norms))})
        )
        np.testing.assert_allclose(replayed, basis, rtol=0, atol=1e-10)


def test_measure_merges_as_dask_partitions_do():
    rng = np.random.default_rng(4)
    x = rng.normal(3, 2, 30_000)
    parts = []
    for i in range(0, len(x), 7_000):
        m = stream._Measure(3)
        m.add(x[i : i + 7_000])
        parts.append(m)
    total = parts[0]
    for m in parts[1:]:
        total.merge(m)
    state: dict = {}
    poly(x, 3, _state=state)
    np.testing.assert_allclose(total.recurrence(3)[1], [state["norms2"][k] for k in range(4)], rtol=1e-13)
    assert total.n == len(x)
    assert total.mean() == pytest.approx(x.mean(), rel=1e-14)


def test_transform_of_the_response_and_of_an_expression(sleep):
    formula = "scale(Reaction) ~ scale(np.log(Days + 1)) + (1 | Subject)"
    mem = _fit(formula, sleep)
    for batch in (7, 50):
        _close(_fit(formula, _batches(sleep, batch)), mem)


def test_raw_polynomials_need_no_state(sleep):
    formula = "Reaction ~ poly(Days, 2, raw=True) + (1 | Subject)"
    mem = _fit(formula, sleep)
    s = _fit(formula, _batches(sleep, 7))
    assert s.objective == mem.objective
    np.testing.assert_array_equal(s.fixef, mem.fixef)


@pytest.mark.parametrize(
    "formula",
    [
        "Reaction ~ cr(Days, df=3) + (1 | Subject)",
        "Reaction ~ lag(Days) + (1 | Subject)",
        "Reaction ~ hashed(Subject, levels=4) + (1 | Subject)",
    ],
)
def test_transforms_outside_the_function_table_are_refused_before_reading(sleep, formula):
    """formulaic's splines (cr, cs, cc), lag and hashed are not in the formula's function table
    (`expressions`): refused by the vetting, streamed or not (the streamed pass keeps its own
    DataError for stateful transforms it cannot learn, for trusted formulas in memory only)."""
    for data in (sleep, _batches(sleep, 50)):
        with pytest.raises(mm.FormulaError):
            _fit(formula, data)


def test_nested_and_unknown_stateful_transforms(sleep):
    with pytest.raises(mm.DataError, match=r"scale\(poly\(Days, 2\)\) applies to poly\(Days, 2\)"):
        _fit("Reaction ~ scale(poly(Days, 2)) + (1 | Subject)", _batches(sleep, 50))
    with pytest.raises(mm.DataError, match=r"the transform knots\(x\) cannot be fitted from data read in chunks"):
        stream._learned_of("knots(x)", {"knots": [1, 2]})
    assert stream._learned_of("Q('x')", {}) is None  # a stateful transform that keeps nothing


def test_variables_inside_transforms_are_read_from_files_and_checked_for_missing_values(sleep, tmp_path):
    pytest.importorskip("pyarrow")
    d = sleep.drop(columns="grp").copy()
    d.loc[[5, 40, 41], "Days"] = np.nan
    for i in range(3):
        d.iloc[i * 60 : (i + 1) * 60].to_parquet(tmp_path / f"p{i}.parquet")
    formula = "Reaction ~ poly(Days, 2) + (1 | Subject)"
    mem = _fit(formula, d)
    s = _fit(formula, str(tmp_path / "p*.parquet"))
    assert s.n_dropped == mem.n_dropped == 3
    _close(s, mem)


def test_dask_partitions_learn_the_transform_state(sleep):
    dd = pytest.importorskip("dask.dataframe")
    formula = "Reaction ~ poly(Days, 2) + C(Days):grp + (scale(Days) | Subject)"
    mem = _fit(formula, sleep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = _fit(formula, dd.from_pandas(sleep, npartitions=4))
    assert s.objective == mem.objective
    np.testing.assert_array_equal(s.fixef, mem.fixef)


@pytest.mark.parametrize("batch", [7, 50, None])
def test_transform_state_comes_from_every_row_as_in_r(sleep, batch):
    """R evaluates scale(), poly(), ns() on every row before dropping those with a missing value
    elsewhere (model.frame, then na.omit): the centre, basis and knots are those of all the rows
    where the transform's own input has a value, in memory and streamed alike."""
    d = sleep.drop(columns="grp").copy()
    d.loc[[0, 1, 2, 3, 15, 16, 17, 18, 19, 170], "Reaction"] = np.nan  # some of the largest Days too
    d.loc[[4, 90], "Days"] = np.nan
    formula = "Reaction ~ ns(Days, df = 3) + (scale(Days) | Subject)"
    mem = _fit(formula, d)
    knots = mem.model.structure.encoding.fixed.spec.transform_state["ns(Days, df=3)"]
    scaling = mem.model.structure.encoding.terms[0].spec.transform_state["scale(Days)"]
    days = d["Days"].dropna()  # 178 values, 168 rows fitted
    assert knots == {"knots": list(np.quantile(days, [1 / 3, 2 / 3])), "boundary": [0.0, 9.0]}
    assert scaling["center"] == pytest.approx(days.mean(), rel=1e-15)
    assert scaling["scale"] == pytest.approx(days.std(), rel=1e-15)
    s = _fit(formula, _batches(d, batch) if batch else [d])
    assert s.n_dropped == mem.n_dropped == 12
    assert s.model.structure.encoding.fixed.spec.transform_state["ns(Days, df=3)"] == knots
    streamed = s.model.structure.encoding.terms[0].spec.transform_state["scale(Days)"]
    assert streamed["center"] == pytest.approx(scaling["center"], rel=1e-15)
    _close(s, mem)  # a mean that is not a whole number: ~1e-15, not bit for bit


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
@pytest.mark.parametrize("term", ["factor(h)", "(0 + factor(h) | g)"])
def test_a_factor_of_a_column_has_every_chunks_levels(term, tmp_path):
    # factor(h) of a column whose first chunk has one level: each chunk's own levels had given the
    # factor no column in any chunk, and the model lacked it without a word (REML 1.27 off)
    rng = np.random.default_rng(3)
    d = pd.DataFrame(
        {"y": rng.normal(size=120), "h": np.repeat(["b", "a", "c"], 40), "g": rng.integers(0, 8, 120).astype(str)}
    )
    formula = f"y ~ {term}" if term.startswith("(") else f"y ~ {term} + (1 | g)"
    whole = mm.lmer(formula, d)
    d.to_csv(tmp_path / "d.csv", index=False)
    for source in ([d.iloc[i : i + 40] for i in range(0, 120, 40)], str(tmp_path / "d.csv")):
        fit = mm.lmer(formula, source, **({} if isinstance(source, list) else {"batch_size": 40}))
        assert list(fit.fixef.index) == list(whole.fixef.index)
        assert fit.theta.size == whole.theta.size
        assert fit.objective == pytest.approx(whole.objective, rel=1e-10)


def test_a_factor_made_in_the_formula_of_one_level_in_all_chunks_is_refused():
    # R refuses it (contrasts can be applied only to factors with 2 or more levels); streamed, it had
    # been left out of the model without a word
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"y": rng.normal(size=200), "x": rng.normal(size=200), "k": 3, "g": rng.integers(0, 10, 200)})
    for formula in ("y ~ x + factor(k) + (1 | g)", "y ~ x + (0 + factor(k) | g)"):
        with pytest.raises(mm.DataError, match="the factor 'factor\\(k\\)' of .* has one level in the rows used"):
            mm.lmer(formula, [d.iloc[:100], d.iloc[100:]])


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_a_factor_of_a_text_column_has_all_rows_levels_when_every_chunk_has_the_same(tmp_path):
    # one chunk (a CSV at the default batch size) whose first rows, the prototype's, lack a level:
    # factor(h) had been refused ("encodes the model differently"); a comparison with one value in
    # every chunk, factor(h == "z"), had left the model without a word where in memory it is refused
    rng = np.random.default_rng(5)
    n = 3000
    h = np.where(np.arange(n) < 1500, rng.choice(["a", "b"], n), rng.choice(["a", "b", "c"], n))
    d = pd.DataFrame(
        {"y": rng.normal(size=n) + (h == "c"), "x": rng.normal(size=n), "h": h, "g": rng.integers(0, 10, n).astype(str)}
    )
    d.to_csv(tmp_path / "d.csv", index=False)
    for formula in ("y ~ x + factor(h) + (1 | g)", "y ~ x * factor(h) + (1 | g)", "y ~ x + (0 + factor(h) | g)"):
        whole = mm.lmer(formula, d)
        for source in (str(tmp_path / "d.csv"), [d]):
            fit = mm.lmer(formula, source)
            assert list(fit.fixef.index) == list(whole.fixef.index)
            assert fit.objective == pytest.approx(whole.objective, rel=1e-10)
    for formula in ("y ~ x + factor(h == 'z') + (1 | g)", "y ~ x + (0 + factor(h == 'z') | g)"):
        with pytest.raises(mm.DataError, match="has one level in the rows used \\('FALSE'\\)"):
            mm.lmer(formula, d)
        with pytest.raises(mm.DataError, match="has one level in the rows used \\('FALSE'\\)"):
            mm.lmer(formula, [d.iloc[:1000], d.iloc[1000:]])


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_two_text_columns_compared_in_the_formula_as_in_memory(tmp_path):
    # a text column only read in the formula's code stays text in a chunk, as in memory: made a
    # categorical of its imposed levels, h == h2 had been refused (categoricals of other levels)
    rng = np.random.default_rng(0)
    d = pd.DataFrame(
        {
            "y": rng.normal(size=120),
            "x": rng.normal(size=120),
            "g": rng.integers(0, 6, 120).astype(str),
            "h": rng.choice(list("abc"), 120),
            "h2": rng.choice(list("ab"), 120),
        }
    )
    d.to_csv(tmp_path / "d.csv", index=False)
    for formula in (
        "y ~ x + (h == h2) + (1 | g)",
        "y ~ x + h + factor(h == h2) + (1 | g)",
        "y ~ x + (1 + (h == h2) | g)",
    ):
        whole = mm.lmer(formula, d)
        for source in ([d.iloc[:60], d.iloc[60:]], str(tmp_path / "d.csv")):
            fit = mm.lmer(formula, source, **({} if isinstance(source, list) else {"batch_size": 50}))
            assert list(fit.fixef.index) == list(whole.fixef.index)
            assert fit.objective == pytest.approx(whole.objective, rel=1e-10)


def test_a_name_met_twice_in_a_transform_keeps_its_state(sleep):
    # formulaic aliases a backticked name met again with a random suffix from NumPy's global stream:
    # scale(x.a * x.a) had a new key for its state at every evaluation (streamed 0.11 off the
    # in-memory fit, predictions re-learning the centre), and a fit moved the user's random stream
    d = sleep.assign(**{"d.a": sleep["Days"]})
    formula = "Reaction ~ scale(d.a * d.a) + poly(d.a + d.a, 1) + (1 | Subject)"
    np.random.seed(1)  # noqa: NPY002 (the global stream formulaic had drawn from)
    whole = mm.lmer(formula, d)
    assert np.random.rand() == np.random.RandomState(1).rand()  # noqa: NPY002
    streamed = mm.lmer(formula, [d.iloc[:70], d.iloc[70:]])
    assert streamed.objective == pytest.approx(whole.objective, rel=1e-10)
    np.testing.assert_allclose(whole.predict(d.iloc[[0, 5]]), whole.predict(d).to_numpy()[[0, 5]], rtol=1e-12)
    # new data with a column named as formulaic's alias had been another alias, and the state learnt again
    clash = d.assign(d_a=0.0, d_a__0=0.0)
    np.testing.assert_allclose(whole.predict(clash.iloc[[0, 5]]), whole.predict(d).to_numpy()[[0, 5]], rtol=1e-12)
    plain = mm.lmer("Reaction ~ scale(Days * Days) + poly(Days + Days, 1) + (1 | Subject)", sleep)
    assert whole.objective == pytest.approx(plain.objective, rel=1e-12)


def test_a_first_chunk_without_a_complete_row_teaches_the_transforms(sleep, tmp_path):
    # scale(w) learns from every row where w has a value; the chunks before the first complete row
    # had taught it nothing (streamed REML 0.011 off the in-memory fit)
    rng = np.random.default_rng(4)
    d = sleep.assign(w=rng.normal(size=len(sleep)), x=sleep["Days"].astype(float))
    d.loc[d.index[:40], "x"] = np.nan
    formula = "Reaction ~ x + scale(w) + I(scale(w)^2) + (1 | Subject)"
    whole = mm.lmer(formula, d)
    d.to_csv(tmp_path / "d.csv", index=False)
    for source in ([d.iloc[:15], d.iloc[15:]], [d.iloc[:40], d.iloc[40:]], str(tmp_path / "d.csv")):
        fit = mm.lmer(formula, source, **({} if isinstance(source, list) else {"batch_size": 15}))
        assert fit.objective == pytest.approx(whole.objective, rel=1e-10)


def test_a_users_own_formulaic_call_keeps_its_columns():
    # the library's aliases are installed in formulaic for every caller: one must never take a
    # column the data has (x_a__0 beside x.a had been replaced by x.a's values)
    import formulaic

    df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5], "x.a": [1.0, 2, 3, 4, 6], "x_a__0": [10.0, 20, 30, 40, 50]})
    out = formulaic.model_matrix("y ~ I(`x.a` + x_a__0) + I(`x.a` * `x.a`)", df).rhs.to_numpy()
    np.testing.assert_allclose(out[:, 1], [11, 22, 33, 44, 56])
    np.testing.assert_allclose(out[:, 2], [1, 4, 9, 16, 36])
