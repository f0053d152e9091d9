"""Influence diagnostics against dense numpy on small random designs.

* hatvalues: the diagonal of H = W (W'W + diag(I_q, 0))^-1 W', W = diag(w)^(1/2) [Z Lambda, X] (the
  penalised least-squares hat matrix: fitted = H y), on nested, crossed and vector-valued terms,
  with and without prior weights; it also equals lme4's I - sigma^2 P with P = V^-1 - V^-1 X
  (X'V^-1 X)^-1 X'V^-1; its trace is the sum of the hat values.
* deletion by subtraction: the model whose cross-products are the full A less one group's rows has
  the criterion, estimates and covariance of a fresh fit on the data without that group.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import influence as infl

DESIGNS = {
    "vector": "y ~ x + (x | g)",
    "nested": "y ~ x + (1 | g) + (1 | g:h)",
    "crossed": "y ~ x + (1 | g) + (1 | c)",
    "crossed_vector": "y ~ x + (x | g) + (1 | c)",
    "uncorrelated": "y ~ x + (x || g) + (1 | c)",
}


def _data(seed: int, n: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 12, n)
    c = rng.integers(0, 5, n)
    h = rng.integers(0, 3, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(size=12)[g] + 0.7 * rng.normal(size=12)[g] * x + rng.normal(size=5)[c]
    y = y + 0.5 * rng.normal(size=(12, 3))[g, h] + rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": y,
            "x": x,
            "g": [f"g{v}" for v in g],
            "c": [f"c{v}" for v in c],
            "h": [f"h{v}" for v in h],
            "w": rng.uniform(0.5, 2.0, n),
        }
    )


def _fit(formula: str, data: pd.DataFrame, weights: str | None = None) -> mm.LmerResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        return mm.lmer(formula, data, weights=weights)


def _dense_w(m: mm.LmerResult) -> tuple[np.ndarray, int]:
    rows = m.model.data.rows("test")
    s = m.structure
    parts = []
    for f, fac in enumerate(s.factors):
        k = rows.z[f].shape[1]
        zf = np.zeros((rows.nobs, fac.nlev * k))
        for a in range(k):
            zf[np.arange(rows.nobs), rows.codes[f] * k + a] = rows.z[f][:, a]
        parts.append(zf @ np.kron(np.eye(fac.nlev), s.theta.factor_t(m.theta, f)))
    zl = np.hstack(parts)
    w = np.hstack([zl, rows.x])
    if rows.weights is not None:
        w = w * np.sqrt(rows.weights)[:, None]
    return w, zl.shape[1]


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("design", list(DESIGNS))
def test_hatvalues_against_dense(design, seed, weighted):
    m = _fit(DESIGNS[design], _data(seed), weights="w" if weighted else None)
    w, q = _dense_w(m)
    mat = w.T @ w
    mat[:q, :q] += np.eye(q)
    hat = w @ np.linalg.solve(mat, w.T)
    h = m.hatvalues().to_numpy()
    np.testing.assert_allclose(h, np.diag(hat), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(h.sum(), np.trace(hat), rtol=1e-10)
    # the fitted values are H y (of the weighted system)
    rows = m.model.data.rows("test")
    sw = np.ones(rows.nobs) if rows.weights is None else np.sqrt(rows.weights)
    np.testing.assert_allclose(hat @ (sw * rows.y), sw * m.fitted().to_numpy(), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("design", ["vector", "crossed"])
def test_hatvalues_are_lme4s_i_minus_sigma2_p(design):
    m = _fit(DESIGNS[design], _data(7))
    w, q = _dense_w(m)
    zl, x = w[:, :q], w[:, q:]
    v = np.eye(len(zl)) + zl @ zl.T  # V / sigma^2
    vi = np.linalg.inv(v)
    p = vi - vi @ x @ np.linalg.solve(x.T @ vi @ x, x.T @ vi)  # sigma^2 P
    np.testing.assert_allclose(m.hatvalues().to_numpy(), 1 - np.diag(p), rtol=1e-9, atol=1e-12)


def test_cooks_distance_formula():
    m = _fit(DESIGNS["crossed_vector"], _data(4), weights="w")
    h = m.hatvalues().to_numpy()
    r = m.residuals().to_numpy() * np.sqrt(m.model.data.rows("t").weights)
    want = (r / (1 - h)) ** 2 * h / (m.sigma**2 * m.structure.p)
    np.testing.assert_allclose(m.cooks_distance().to_numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("design", list(DESIGNS))
def test_deletion_by_subtraction_is_the_fit_without_the_group(design):
    data = _data(11)
    m = _fit(DESIGNS[design], data)
    drop = "g3"
    keep = (data["g"] != drop).to_numpy()
    rows = m.model.data.rows("test")
    take = np.flatnonzero(~keep)
    deleted = infl.deleted_model(m, infl._subset(rows, take))  # noqa: SLF001 - the module's own helper
    fresh = _fit(DESIGNS[design], data[keep].reset_index(drop=True))
    assert deleted.nobs == fresh.nobs == keep.sum()
    # same criterion at the same theta (the empty level contributes nothing)
    for theta in (fresh.theta, m.theta, fresh.theta * 1.3 + 0.05 * (fresh.theta != 0)):
        np.testing.assert_allclose(deleted.objective(theta), fresh.model.objective(theta), rtol=1e-11)
    est = deleted.estimates(fresh.theta)
    np.testing.assert_allclose(est.beta, fresh.beta, rtol=1e-9, atol=1e-11)
    sigma = est.criterion.sigma(True)
    np.testing.assert_allclose(sigma, fresh.sigma, rtol=1e-10)
    np.testing.assert_allclose(sigma**2 * est.rx_inverse_crossprod, fresh.vcov_array, rtol=1e-9)
    # and the influence refit reaches the fresh fit's optimum
    inf = m.influence(groups="g")
    np.testing.assert_allclose(inf.fixed_effects_deleted.loc[drop].to_numpy(), fresh.beta, rtol=1e-5, atol=1e-6)
    assert (inf.dfbeta.loc[drop] == inf.fixed_effects_deleted.loc[drop] - m.fixef).all()


def test_influence_threads_give_the_same_numbers():
    m = _fit(DESIGNS["vector"], _data(5))
    one = m.influence(groups="g")
    two = m.influence(groups="g", n_jobs=2)
    pd.testing.assert_frame_equal(one.fixed_effects_deleted, two.fixed_effects_deleted)
    pd.testing.assert_series_equal(one.cooks_distance, two.cooks_distance)


def test_influence_labels_as_array_and_bad_arguments():
    data = _data(6)
    m = _fit(DESIGNS["vector"], data)
    by_array = m.influence(groups=data["g"].to_numpy())
    by_name = m.influence(groups="g")
    assert by_array.groups == "case"
    np.testing.assert_array_equal(by_array.cooks_distance.to_numpy(), by_name.cooks_distance.to_numpy())
    with pytest.raises(mm.ArgumentError, match="groups"):
        m.influence(groups="nope")
    with pytest.raises(mm.ArgumentError, match="groups"):
        m.influence(groups=np.zeros(3))
    with pytest.raises(mm.ArgumentError, match="n_jobs"):
        m.influence(groups="g", n_jobs=0)


def test_glmer_fits_are_refused_per_observation():
    """hatvalues and per-row Cook's distances refuse glmer fits; deletion by group takes them
    (tests/test_glmer_influence.py, tests/reference/test_glmm_influence.py)."""
    data = _data(8)
    data["yb"] = (data["y"] > data["y"].median()).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = mm.glmer("yb ~ x + (1 | g)", data, family="binomial")
    # GlmerResult has no such methods; the functions themselves refuse it
    for call in (lambda: infl.hatvalues(m), lambda: infl.cooks_distance(m)):
        with pytest.raises(mm.MixedModelsError, match="glmer"):
            call()


def test_cross_products_subtract():
    """A of all rows less A of some rows is A of the others (C++ `CrossProducts.subtract`/`-`):
    sums, nobs and the sum of log weights; a frozen model's A can be the left side of `-`."""
    data = _data(9)
    m = _fit(DESIGNS["crossed_vector"], data, weights="w")
    rows = m.model.data.rows("test")
    part = np.flatnonzero(data["g"].to_numpy() == "g2")
    rest = np.setdiff1d(np.arange(rows.nobs), part)
    layout = m.model.cross_products.layout
    a_part = infl._subset(rows, part).cross_products(layout)  # noqa: SLF001
    a_rest = infl._subset(rows, rest).cross_products(layout)  # noqa: SLF001
    assert m.model.cross_products.frozen
    diff = m.model.cross_products - a_part
    assert diff.nobs == len(rest)
    np.testing.assert_allclose(diff.sum_log_weights, a_rest.sum_log_weights, rtol=1e-12)
    np.testing.assert_allclose(diff.fixed_crossprod(), a_rest.fixed_crossprod(), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(diff.column_sumsq(), a_rest.column_sumsq(), rtol=1e-13, atol=1e-12)
    for f in range(2):
        np.testing.assert_allclose(diff.factor_crossprod(f), a_rest.factor_crossprod(f), rtol=1e-13, atol=1e-12)
    in_place = mm._core.CrossProducts(layout)  # noqa: SLF001
    in_place.add(m.model.cross_products)
    in_place.subtract(a_part)
    np.testing.assert_array_equal(in_place.fixed_crossprod(), diff.fixed_crossprod())
    with pytest.raises(mm.MixedModelsError, match="cannot subtract"):
        a_part - m.model.cross_products
    with pytest.raises(mm.MixedModelsError, match="final"):
        m.model.cross_products.subtract(a_part)
