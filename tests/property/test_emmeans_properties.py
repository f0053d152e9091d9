"""Properties of emmeans (hypothesis; few examples, fast): with only factors the marginal means
are the cell means implied by the fixed effects, averaged with equal weights; adjusted p-values
keep the order of the unadjusted ones and never fall below them; the rows' order in the data
changes nothing."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mixedmodels as mm
from mixedmodels.multiplicity import adjust_p, pt_upper

FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _data(seed: int, na: int, nb: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(6):
        u = rng.normal()
        for a in range(na):
            for b in range(nb):
                for _ in range(2):
                    rows.append((f"g{g}", f"a{a}", f"b{b}", a - 0.5 * b + u + rng.normal()))
    d = pd.DataFrame(rows, columns=["g", "A", "B", "y"])
    for c in ("g", "A", "B"):
        d[c] = pd.Categorical(d[c])
    return d


def _fit(d: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        return mm.lmer("y ~ A * B + (1 | g)", d)


@FAST
@given(seed=st.integers(0, 10_000), na=st.integers(2, 4), nb=st.integers(2, 3))
def test_means_are_the_cell_means_of_the_fixed_effects(seed, na, nb):
    d = _data(seed, na, nb)
    m = _fit(d)
    cells = m.emmeans("~ A * B", ddf="asymptotic")
    new = cells.grid[["A", "B"]].copy()
    expected = m.predict(new, include_re=False).to_numpy()
    np.testing.assert_allclose(cells.estimate, expected, rtol=1e-10, atol=1e-10)
    a = m.emmeans("~ A", ddf="asymptotic")
    by_a = pd.Series(expected).groupby(new["A"].astype(str).to_numpy()).mean()
    np.testing.assert_allclose(a.estimate, by_a.loc[[str(x) for x in a.grid["A"]]].to_numpy(), rtol=1e-10, atol=1e-10)
    # a pair is the difference of its means
    p = a.pairs()
    assert np.isclose(p.estimate[0], a.estimate[0] - a.estimate[1], rtol=1e-12, atol=1e-12)


@FAST
@given(
    k=st.integers(3, 5),
    t=st.lists(st.floats(-6, 6, allow_nan=False), min_size=10, max_size=10),
    df=st.sampled_from([5.0, 17.3, 60.0, np.inf]),
    method=st.sampled_from(["holm", "bonferroni", "sidak", "tukey"]),
)
def test_adjusted_p_values_are_monotone_in_the_unadjusted(k, t, df, method):
    npairs = k * (k - 1) // 2
    tt = np.array(t[:npairs])
    dfs = np.full(npairs, df)
    res = adjust_p(tt, dfs, method, k, [np.arange(npairs)], True, np.eye(npairs))
    p0 = 2 * pt_upper(np.abs(tt), dfs)
    order = np.argsort(p0, kind="stable")
    assert np.all(np.diff(res.result[order]) >= -1e-9)
    assert np.all(res.result >= p0 - 1e-9)
    assert np.all(res.result <= 1 + 1e-12)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_row_order_changes_nothing(seed):
    d = _data(7, 3, 2)
    m1 = _fit(d)
    perm = np.random.default_rng(seed).permutation(len(d))
    m2 = _fit(d.iloc[perm].reset_index(drop=True))
    for ddf in ("kenward-roger", "satterthwaite"):
        s1 = m1.emmeans("~ A | B", ddf=ddf).pairs().summary()
        s2 = m2.emmeans("~ A | B", ddf=ddf).pairs().summary()
        assert s1["contrast"].tolist() == s2["contrast"].tolist()
        for c in ("estimate", "SE", "df", "lower.CL", "p.value"):
            np.testing.assert_allclose(s1[c].to_numpy(float), s2[c].to_numpy(float), rtol=1e-5, atol=1e-9)
