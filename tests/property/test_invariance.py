"""A fit does not depend on the order of the rows, the labels of the groups or the order in which
random-effects terms are written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mixedmodels as mm
from mixedmodels.model import LinearMixedModel


def _frame(seed: int, n: int, n1: int, n2: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g1 = rng.integers(0, n1, n)
    g2 = rng.integers(0, n2, n)
    g1[:n1] = np.arange(n1)
    g2[:n2] = np.arange(n2)
    x = rng.normal(size=n)
    y = (
        1
        + 0.5 * x
        + rng.normal(size=n1)[g1]
        + rng.normal(size=n1)[g1] * x
        + rng.normal(size=n2)[g2]
        + rng.normal(size=n)
    )
    return pd.DataFrame({"y": y, "x": x, "g1": [f"a{v}" for v in g1], "g2": [f"b{v}" for v in g2]})


FORMULA = "y ~ x + (1 + x | g1) + (1 | g2)"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_row_order_does_not_matter(seed, perm_seed):
    df = _frame(seed, 80, 7, 5)
    perm = np.random.default_rng(perm_seed).permutation(len(df))
    e1 = LinearMixedModel.from_formula(FORMULA, df).new_engine()
    e2 = LinearMixedModel.from_formula(FORMULA, df.iloc[perm]).new_engine()
    theta = np.array([0.8, 0.2, 0.5, 0.7])
    for reml in (True, False):
        assert e1.objective(theta, reml) == pytest.approx(e2.objective(theta, reml), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_group_labels_do_not_matter(seed, relabel_seed):
    df = _frame(seed, 80, 7, 5)
    rng = np.random.default_rng(relabel_seed)
    labels = {f"a{i}": f"z{j}" for i, j in enumerate(rng.permutation(7))}
    df2 = df.assign(g1=df["g1"].map(labels))
    e1 = LinearMixedModel.from_formula(FORMULA, df).new_engine()
    e2 = LinearMixedModel.from_formula(FORMULA, df2).new_engine()
    theta = np.array([0.8, -0.2, 0.5, 0.7])
    assert e1.objective(theta, True) == pytest.approx(e2.objective(theta, True), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_term_order_does_not_matter(seed):
    df = _frame(seed, 80, 7, 5)
    m1 = LinearMixedModel.from_formula("y ~ x + (1 | g1) + (1 | g2)", df)
    m2 = LinearMixedModel.from_formula("y ~ x + (1 | g2) + (1 | g1)", df)
    e1, e2 = m1.new_engine(), m2.new_engine()
    # theta follows lme4's term order, which puts g1 (7 levels) first in both
    assert m1.structure.theta.names == m2.structure.theta.names
    theta = np.array([0.9, 0.4])
    assert e1.objective(theta, True) == pytest.approx(e2.objective(theta, True), rel=1e-12)


def test_fits_equal_after_permutation():
    """A is summed in double-double and rounded once, so permuting the rows changes no bit of it,
    and the whole fit is identical."""
    df = _frame(3, 120, 9, 6)
    perm = np.random.default_rng(0).permutation(len(df))
    m1 = mm.lmer(FORMULA, df)
    m2 = mm.lmer(FORMULA, df.iloc[perm])
    assert m1.objective == m2.objective
    np.testing.assert_array_equal(m1.theta, m2.theta)
    np.testing.assert_array_equal(m1.fixef, m2.fixef)
    np.testing.assert_allclose(m1.ranef["g1"].sort_index(), m2.ranef["g1"].sort_index(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(m1.fitted().sort_index(), m2.fitted().sort_index(), rtol=1e-12)
