"""Names that print alike never mix up columns or levels (issue 15, item 3): the fixed-effects
columns are replayed on new data by an internal key, not by their printed names (which are made
unique with a warning when two coincide), and a grouping factor's levels are its variables' codes
(an interaction is a combination of codes, never a joined string), with unique labels."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.stream import model_from_source


def _fit(formula, data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.SingularFitWarning)
        return mm.lmer(formula, data, **kwargs)


@pytest.fixture(scope="module")
def collide() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 240
    d = pd.DataFrame(
        {
            "g": np.repeat([f"s{i}" for i in range(24)], 10),
            "grp": pd.Categorical(rng.choice(["0", "1"], n)),
            "grp1": rng.normal(size=n),
            "Intercept": rng.normal(size=n),
        }
    )
    d["(Intercept)"] = rng.normal(size=n)
    d["y"] = (
        300 + 2 * (d.grp == "1") + 3 * d.grp1 - d.Intercept + rng.normal(size=n) + np.repeat(rng.normal(size=24), 10)
    )
    return d


def test_a_level_and_a_column_that_print_alike_predict_by_key(collide):
    """grp's level '1' and the column grp1 both print grp1 in R: the second is named grp1.1 (with
    a warning), and predict() on the fit's own rows gives fitted() (it used the wrong column)."""
    with pytest.warns(mm.MixedModelsWarning, match=r"print alike: 'grp1' \(grp\[T\.1\]\), 'grp1' \(grp1\)"):
        m = mm.lmer("y ~ grp + grp1 + (1 | g)", collide)
    assert list(m.fixef.index) == ["(Intercept)", "grp1", "grp1.1"]
    assert m.fixef["grp1"] == pytest.approx(2, abs=0.5)  # the level's effect
    assert m.fixef["grp1.1"] == pytest.approx(3, abs=0.2)  # the column's slope
    np.testing.assert_allclose(m.predict(collide), m.fitted(), rtol=1e-12)
    rows = collide.iloc[[3, 50, 101]]
    np.testing.assert_allclose(m.predict(rows), m.fitted().iloc[[3, 50, 101]], rtol=1e-12)
    np.testing.assert_allclose(m.predict(rows, include_re=False), m.model.data.rows("").x[[3, 50, 101]] @ m.beta)


def test_type_iii_tests_follow_the_keys(collide):
    """Each one-column term's F is its coefficient's t squared (the mix-up would swap them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        m = mm.lmer("y ~ grp + grp1 + (1 | g)", collide)
    a = m.anova()
    t = m.coef_table()["t value"]
    assert a.loc["grp", "F value"] == pytest.approx(t["grp1"] ** 2, rel=1e-8)
    assert a.loc["grp1", "F value"] == pytest.approx(t["grp1.1"] ** 2, rel=1e-8)


@pytest.mark.parametrize(
    ("formula", "names"),
    [
        ("y ~ Intercept + (1 | g)", ["(Intercept)", "Intercept"]),
        ("y ~ `(Intercept)` + (1 | g)", ["(Intercept)", "`(Intercept)`"]),  # R's name
        ("y ~ Intercept + grp + (1 | g)", ["(Intercept)", "Intercept", "grp1"]),  # formulaic's path
        ("y ~ 0 + Intercept + (1 | g)", ["Intercept"]),
    ],
)
def test_a_column_named_intercept(collide, formula, names):
    m = _fit(formula, collide)
    assert list(m.fixef.index) == names
    np.testing.assert_allclose(m.predict(collide), m.fitted(), rtol=1e-12)


def test_random_columns_that_print_alike_are_named_apart(collide):
    with pytest.warns(mm.MixedModelsWarning, match="the columns of"):
        m = _fit("y ~ 1 + (0 + grp + grp1 | g)", collide)
    assert m.structure.factor("g").columns == ("grp0", "grp1", "grp1.1")
    np.testing.assert_allclose(m.predict(collide), m.fitted(), rtol=1e-12)


@pytest.fixture(scope="module")
def colons() -> pd.DataFrame:
    """Six groups of an interaction a:b; two of them print x:y:z (a = 'x:y', b = 'z' and a = 'x',
    b = 'y:z'), each with its own effect (+3 and -3)."""
    rng = np.random.default_rng(2)
    a = ["x:y", "x", "x:y", "x", "p", "p"]
    b = ["z", "y:z", "q", "q", "z", "y:z"]
    d = pd.DataFrame({"a": np.repeat(a, 15), "b": np.repeat(b, 15)})
    d["x"] = rng.normal(size=len(d))
    d["y"] = np.repeat([3.0, -3.0, 1.0, -1.0, 2.0, -2.0], 15) + d.x + rng.normal(scale=0.5, size=len(d))
    return d


def test_interaction_levels_are_combinations_of_codes(colons):
    with pytest.warns(mm.MixedModelsWarning, match="print alike \\('x:y:z'\\)"):
        m = mm.lmer("y ~ x + (1 | a:b)", colons)
    re = m.ranef["a:b"]["(Intercept)"]
    assert m.ngroups == {"a:b": 6}
    assert re.index.is_unique
    assert list(re.index) == ["p:y:z", "p:z", "x:q", "x:y:z", "x:y:q", "x:y:z.1"]  # R's order: a, then b
    assert re["x:y:z"] < -2  # a = 'x', b = 'y:z'
    assert re["x:y:z.1"] > 2  # a = 'x:y', b = 'z'
    np.testing.assert_allclose(m.predict(colons), m.fitted(), rtol=1e-12)
    new = pd.DataFrame({"a": ["x:y", "x", "x:y", "p"], "b": ["z", "y:z", "y:z", "q"], "x": 0.0})
    pred = m.predict(new)
    fixed = m.fixef["(Intercept)"]
    np.testing.assert_allclose(pred[:2], [fixed + re["x:y:z.1"], fixed + re["x:y:z"]], rtol=1e-12)
    np.testing.assert_allclose(pred[2:], fixed, rtol=1e-12)  # combinations not in the fit
    with pytest.raises(mm.DataError, match="was not in the fit"):
        m.predict(new, allow_new_levels=False)


def test_nested_grouping_is_built_from_codes(colons):
    m = _fit("y ~ x + (1 | a/b)", colons)
    assert m.ngroups == {"b:a": 6, "a": 3}
    assert m.ranef["b:a"].index.is_unique
    np.testing.assert_allclose(m.predict(colons), m.fitted(), rtol=1e-12)


def test_streamed_interaction_levels_are_the_same(colons):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        m = mm.lmer("y ~ x + (1 | a:b)", colons)
        model = model_from_source("y ~ x + (1 | a:b)", [colons.iloc[:40], colons.iloc[40:]])
        fit = model.fit()
    assert list(model.structure.factors[0].levels) == list(m.ranef["a:b"].index)
    assert fit.objective == pytest.approx(m.objective, rel=1e-10)


def test_float_levels_that_print_alike_stay_apart():
    """0.1 + 0.2 and 0.3 both print 0.3 (R merges them): two levels, labelled apart."""
    rng = np.random.default_rng(5)
    f = np.repeat([0.1 + 0.2, 0.3, 0.5, 0.7, 0.9, 1.1], 12)
    d = pd.DataFrame({"f": f, "x": rng.normal(size=f.size)})
    d["y"] = np.repeat([4.0, -4.0, 0, 1, -1, 0], 12) + rng.normal(scale=0.3, size=f.size)
    m = _fit("y ~ x + (1 | f)", d)
    re = m.ranef["f"]["(Intercept)"]
    assert list(re.index) == ["0.3", "0.30000000000000004", "0.5", "0.7", "0.9", "1.1"]
    assert re["0.30000000000000004"] > 2
    assert re["0.3"] < -2
    np.testing.assert_allclose(m.predict(d), m.fitted(), rtol=1e-12)
    new = pd.DataFrame({"f": [0.3, 0.1 + 0.2], "x": 0.0})
    np.testing.assert_allclose(m.predict(new), m.fixef["(Intercept)"] + re[["0.3", "0.30000000000000004"]].to_numpy())


def test_new_data_may_give_a_grouping_column_another_type():
    """Levels are matched by value, then by R's label: integer subject ids in new data find the
    fit's text levels."""
    sleep = mm.datasets.load("sleepstudy")
    m = _fit("Reaction ~ Days + (Days | Subject)", sleep)
    new = sleep.head(3).assign(Subject=lambda d: d["Subject"].astype(int))
    np.testing.assert_allclose(m.predict(new), m.fitted().iloc[:3], rtol=1e-12)


def test_columns_named_as_functions_are_columns(collide):
    """R reads a bare name as a column even where a function has that name (``C``, ``log``, ``id``),
    as in ``A * B * C``. (Inside a call, a function's name is still refused.)"""
    d = collide.assign(C=collide["grp1"] * 2, log=collide["Intercept"], id=collide["grp"])
    m = _fit("y ~ C + log + id + exp(grp1) + (1 | g)", d)
    assert list(m.fixef.index) == ["(Intercept)", "C", "log", "id1", "exp(grp1)"]
    np.testing.assert_allclose(m.predict(d), m.fitted(), rtol=1e-12)
    with pytest.raises(mm.FormulaError, match=r"no column 'log' \('log' is a function: call it, e.g. log\(x\)\)"):
        mm.lmer("y ~ log + (1 | g)", collide)
