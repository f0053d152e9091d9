"""The whole random-effects language on simulated data: several terms per factor, ||, nesting,
crossing with slopes, categorical slopes, many factors and many correlated terms. Each fit is
checked against a dense computation of the criterion at its optimum and for being an optimum."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from tests.engine_helpers import factor_tuples
from tests.property.dense_reference import dense_criterion


def _sim(n=400, seed=0):
    rng = np.random.default_rng(seed)
    subj = rng.integers(0, 30, n)
    item = rng.integers(0, 20, n)
    school = rng.integers(0, 8, n)
    cls = school * 4 + rng.integers(0, 4, n)  # classes nested in schools, labels repeat
    cond = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=n)
    eff = {"a": 0.0, "b": 0.5, "c": -0.3}
    y = (
        1
        + 0.3 * x
        + np.array([eff[c] for c in cond])
        + rng.normal(0, 0.7, 30)[subj]
        + rng.normal(0, 0.5, 20)[item]
        + rng.normal(0, 0.3, 20)[item] * (cond == "b")
        + rng.normal(0, 0.4, 8)[school]
        + rng.normal(0, 0.3, 32)[cls]
        + rng.normal(size=n)
    )
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "cond": pd.Categorical(cond, categories=["a", "b", "c"]),
            "subj": [f"s{v}" for v in subj],
            "item": item,  # numeric grouping variable
            "school": [f"S{v}" for v in school],
            "cls": cls % 4,  # class label within school
        }
    )


def _check_optimum(m):
    rows = m.model.data.rows("test")
    crit = dense_criterion(factor_tuples(m.model), rows.x, rows.y, m.theta, m.reml)
    assert m.objective == pytest.approx(crit, rel=1e-9)
    rng = np.random.default_rng(1)
    e = m.model.new_engine()
    for _ in range(10):  # no nearby feasible point is better
        t = m.theta + rng.normal(0, 1e-3, m.theta.shape)
        t = np.maximum(t, m.model.structure.theta.lower)
        assert e.objective(t, m.reml) >= m.objective - 1e-7 * abs(m.objective)


@pytest.fixture(scope="module")
def sim():
    return _sim()


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x + (1 | subj) + (0 + x | subj)",
        "y ~ x + (x || subj)",
        "y ~ x + (1 | school/cls)",
        "y ~ x + (1 | school) + (1 | school:cls)",
        "y ~ x + cond + (1 | subj) + (1 + cond | item)",
        "y ~ x + cond + (0 + cond | item) + (1 | subj)",
        "y ~ x + (1 | subj) + (1 | item) + (1 | school)",
    ],
)
def test_fits_are_optima(sim, formula):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        m = mm.lmer(formula, sim)
    _check_optimum(m)
    for g in m.ranef:
        assert m.ranef[g].shape == m.ranef_condvar[g].shape
        assert set(m.coef[g].columns) >= set(m.ranef[g].columns)
    assert list(m.var_corr["grp"])[-1] == "Residual"


def test_double_bar_equals_explicit_terms(sim):
    m1 = mm.lmer("y ~ x + (x || subj)", sim)
    m2 = mm.lmer("y ~ x + (1 | subj) + (0 + x | subj)", sim)
    assert m1.objective == pytest.approx(m2.objective, rel=1e-12)
    assert m1.theta_names == m2.theta_names
    assert list(m1.var_corr["grp"]) == ["subj", "subj.1", "Residual"]


def test_nesting_equals_explicit_interaction(sim):
    m1 = mm.lmer("y ~ x + (1 | school/cls)", sim)
    m2 = mm.lmer("y ~ x + (1 | cls:school) + (1 | school)", sim)
    assert m1.objective == pytest.approx(m2.objective, rel=1e-12)
    assert list(m1.ranef) == ["cls:school", "school"]
    assert m1.ranef["cls:school"].index[0] == "0:S0"
    assert "Diagonal(8)" in m1.block_description()  # nested: no fill-in


def test_double_bar_with_factor_keeps_factor_block(sim):
    # lme4 1.1: (1 + cond || item) = (1 | item) + (0 + cond | item), the factor's columns correlated
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        m = mm.lmer("y ~ cond + (1 + cond || item)", sim)
    assert list(m.var_corr["grp"].unique()) == ["item", "item.1", "Residual"]
    assert m.theta_names[1:4] == ("item.conda", "item.condb.conda", "item.condc.conda")


def test_many_factors_and_many_correlated_terms():
    rng = np.random.default_rng(5)
    n = 3000
    cols = {f"x{j}": rng.normal(size=n) for j in range(9)}
    g = {f"g{j}": rng.integers(0, lv, n) for j, lv in enumerate([40, 25, 12, 7, 5])}
    b = rng.normal(0, 0.5, (40, 10))
    y = sum(cols.values()) * 0.1 + b[g["g0"], 0]
    for j in range(9):
        y = y + b[g["g0"], j + 1] * cols[f"x{j}"]
    for j in range(1, 5):
        y = y + rng.normal(0, 0.5, 100)[g[f"g{j}"]]
    y = y + rng.normal(size=n)
    df = pd.DataFrame({"y": y, **cols, **g})
    xs = " + ".join(cols)
    formula = f"y ~ {xs} + (1 + {xs} | g0) + (1 | g1) + (1 | g2) + (1 | g3) + (1 | g4)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        m = mm.lmer(formula, df)
    assert len(m.theta) == 55 + 4
    assert m.ngroups == {"g0": 40, "g1": 25, "g2": 12, "g3": 7, "g4": 5}
    rows = m.model.data.rows("test")
    assert m.objective == pytest.approx(
        dense_criterion(factor_tuples(m.model), rows.x, rows.y, m.theta, True), rel=1e-9
    )
    assert m.cov_re["g0"].shape == (10, 10)
    assert m.ranef_condcov["g0"].shape == (40, 10, 10)
