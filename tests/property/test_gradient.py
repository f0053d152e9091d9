"""The analytic gradient of the profiled REML criterion and -2 log-likelihood in theta
(docs/design.md, section 3a): the dense reference formulas against finite differences, then the
engine's blocked gradient against both, on random designs of every block type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedmodels import _core
from mixedmodels.inference import Inference
from mixedmodels.model import LinearMixedModel
from mixedmodels.numderiv import hessian
from mixedmodels.optimize import held_workspace
from tests.engine_helpers import engine_of, theta_map

from .dense_reference import central_differences, dense_criterion, dense_gradient

KINDS = (
    "scalar",
    "vector",
    "diagonal",
    "nested",
    "nested3",
    "crossed_sparse",
    "crossed_wide",
    "crossed_large",
    "crossed_dense",
    "three",
    "three_crossed",
    "four",
)


def _factor(rng, codes, nlev, k, diagonal, first):
    n = codes.size
    z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
    ti, tr, tc = theta_map(k, diagonal, first)
    return (codes.astype(np.int32), nlev, z, ti, tr, tc)


def random_design(kind: str, seed: int, near_singular: bool = False):
    """(y, x, factors, theta) of a small random design whose engine has the named block types;
    ``near_singular``: one diagonal entry of theta at 1e-6."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 90))
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    factors = []
    if kind in ("scalar", "vector", "diagonal"):
        nlev = int(rng.integers(5, 12))
        k = 1 if kind == "scalar" else int(rng.integers(2, 4))
        codes = np.concatenate([np.arange(nlev), rng.integers(0, nlev, n - nlev)])
        factors.append(_factor(rng, codes, nlev, k, kind == "diagonal", 0))
    elif kind == "nested3":  # a / b / c: three block-diagonal blocks, sparse blocks between them
        per, outer = 2, int(rng.integers(2, 4))
        inner = outer * per * per
        codes = np.concatenate([np.arange(inner), rng.integers(0, inner, n - inner)])
        factors.append(_factor(rng, codes, inner, 1, False, 0))
        factors.append(_factor(rng, codes // per, inner // per, 2, False, 1))
        factors.append(_factor(rng, codes // (per * per), outer, 1, False, 4))
    elif kind == "nested":
        outer = int(rng.integers(3, 6))
        per = int(rng.integers(2, 4))
        inner = outer * per
        codes = np.concatenate([np.arange(inner), rng.integers(0, inner, n - inner)])
        k0 = int(rng.integers(1, 3))
        factors.append(_factor(rng, codes, inner, k0, False, 0))
        factors.append(_factor(rng, codes // per, outer, 1, False, len(factors[0][3])))
    elif kind in ("three_crossed", "four"):
        # three large crossed scalar factors (sparse blocks from the first to the third, a dense
        # one from the second to the third); "four" puts a small factor third, before a large one
        n = 160
        x = np.column_stack([np.ones(n), rng.normal(size=n)])
        sizes = (60, 50, 40) if kind == "three_crossed" else (60, 50, 3, 40)
        for nlev in sizes:
            codes = np.concatenate([np.arange(nlev), rng.integers(0, nlev, n - nlev)])
            factors.append(_factor(rng, codes, nlev, 1, False, len(factors)))
    else:
        n0 = int(rng.integers(12, 20))
        n1 = int(rng.integers(4, 8)) if kind != "crossed_sparse" else int(rng.integers(30, 40))
        if kind in ("crossed_sparse", "three"):
            n0, n1 = 50, 40
            n = 160
            x = np.column_stack([np.ones(n), rng.normal(size=n)])
        if kind == "crossed_wide":  # few rows per level of the first factor, many levels of the second
            n0, n1 = 60, 200
            n = 300
            x = np.column_stack([np.ones(n), rng.normal(size=n)])
        if kind == "crossed_large":  # a dense block of odd order above 256: trtri's recursion two deep
            n0, n1 = 40, 301
            n = 700
            x = np.column_stack([np.ones(n), rng.normal(size=n)])
        c0 = np.concatenate([np.arange(n0), rng.integers(0, n0, n - n0)])
        c1 = np.concatenate([np.arange(n1), rng.integers(0, n1, n - n1)])
        k0 = int(rng.integers(1, 3))
        factors.append(_factor(rng, c0, n0, k0, False, 0))
        nt = len(factors[0][3])
        factors.append(_factor(rng, c1, n1, 2 if kind == "crossed_dense" else 1, False, nt))
        if kind == "three":
            n2 = 3
            c2 = np.concatenate([np.arange(n2), rng.integers(0, n2, n - n2)])
            factors.append(_factor(rng, c2, n2, 1, False, nt + len(factors[1][3])))
    ntheta = sum(len(f[3]) for f in factors)
    theta = np.zeros(ntheta)
    for f in factors:
        _c, _n, _z, ti, tr, tc = f
        theta[ti] = np.where(tr == tc, rng.uniform(0.2, 1.5, ti.size), rng.normal(0.0, 0.4, ti.size))
    if near_singular:
        diag = [int(i) for f in factors for i, r, c in zip(f[3], f[4], f[5], strict=True) if r == c]
        theta[diag[int(rng.integers(0, len(diag)))]] = 1e-6
    y = x @ np.array([1.0, 0.5]) + rng.normal(size=n)
    for codes, nlev, z, *_map in factors:
        b = rng.normal(size=(nlev, z.shape[1]))
        y += (z * b[codes]).sum(axis=1)
    return y, x, factors, theta


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reml", [True, False])
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), near_singular=st.booleans())
def test_dense_reference_gradient_matches_finite_differences(kind, reml, seed, near_singular):
    y, x, factors, theta = random_design(kind, seed, near_singular)
    f0, g = dense_gradient(factors, x, y, theta, reml)
    assert f0 == pytest.approx(dense_criterion(factors, x, y, theta, reml), rel=1e-12)
    fd = central_differences(lambda t: dense_criterion(factors, x, y, t, reml), theta)
    scale = max(1.0, float(np.abs(g).max()))
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6 * scale)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dense_threshold", [0.0, 0.1, 1.0])
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), near_singular=st.booleans(), reml=st.booleans())
def test_engine_gradient_matches_the_dense_reference(kind, dense_threshold, seed, near_singular, reml):
    """Every block type (dense_threshold 0 makes every block between factors dense, 1 keeps each
    that has no fill sparse): the engine's gradient equals the dense formulas to rounding."""
    y, x, factors, theta = random_design(kind, seed, near_singular)
    engine = engine_of(y, x, factors, dense_threshold)
    value, grad = engine.gradient(theta, reml)
    f0, g0 = dense_gradient(factors, x, y, theta, reml)
    assert value == pytest.approx(f0, rel=1e-10)
    assert value == engine.objective(theta, reml)  # the same factorisation, the same number
    np.testing.assert_allclose(grad, g0, rtol=1e-7, atol=1e-8 * max(1.0, float(np.abs(g0).max())))


def test_engine_gradient_is_deterministic_and_leaves_its_input():
    y, x, factors, theta = random_design("three", 7)
    engine = engine_of(y, x, factors)
    before = theta.copy()
    v1, g1 = engine.gradient(theta, True)
    engine.objective(theta * 1.5, False)
    v2, g2 = engine.gradient(theta, True)
    assert v1 == v2
    assert np.array_equal(g1, g2)
    assert np.array_equal(theta, before)


@pytest.mark.parametrize("kind", ["crossed_large", "three_crossed", "four", "nested3", "crossed_dense"])
def test_engine_gradient_reuses_its_workspace_bitwise(kind):
    """The selected inverse's blocks are kept by the engine from call to call (selected_inverse.hpp):
    a gradient after gradients and inverses at other thetas has the bits of a fresh engine's."""
    y, x, factors, theta = random_design(kind, 11)
    fresh = engine_of(y, x, factors, 0.1).gradient(theta, True)
    engine = engine_of(y, x, factors, 0.1)
    engine.gradient(theta * 0.3, False)
    engine.update(theta * 2.0)
    engine.inverse_at_rows(np.zeros((1, 1), dtype=np.int64))
    engine.gradient(theta * 1.7 + 0.1, True)
    again = engine.gradient(theta, True)
    assert again[0] == fresh[0]
    assert np.array_equal(again[1], fresh[1])


def _large_fill_in_engine():
    """Three crossed scalar factors: the second one's dense diagonal block (order 1,500) makes the
    selected inverse larger than the engine keeps unheld (2**21 values)."""
    rng = np.random.default_rng(5)
    n, n1, n2 = 6000, 200, 1500
    c1 = np.concatenate([np.arange(n1), rng.integers(0, n1, n - n1)]).astype(np.int32)
    c2 = np.concatenate([np.arange(n2), rng.integers(0, n2, n - n2)]).astype(np.int32)
    one = np.ones((n, 1))
    ti, tr, tc = np.array([0], np.int32), np.array([0], np.int32), np.array([0], np.int32)
    c3 = (np.arange(n) % 3).astype(np.int32)  # a small factor after it
    factors = [(c1, n1, one, ti, tr, tc), (c2, n2, one, ti + 1, tr, tc), (c3, 3, one, ti + 2, tr, tc)]
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n) + x[:, 1]
    return engine_of(y, x, factors, 0.1), np.array([0.6, 1.2, 0.4])


def test_engine_holds_its_workspace_only_while_held():
    """A large selected inverse is freed after each gradient unless a caller holds it
    (hold_workspace, as a fit does); holds nest, and a held workspace gives the same bits."""
    engine, theta = _large_fill_in_engine()
    assert engine.workspace_values == 0
    plain = engine.gradient(theta, True)
    assert engine.workspace_values == 0  # freed: larger than 2**21 values
    engine.hold_workspace()
    engine.hold_workspace()
    engine.gradient(theta * 1.3, False)
    held = engine.gradient(theta, True)
    assert engine.workspace_values > 2**21
    assert held[0] == plain[0]
    assert np.array_equal(held[1], plain[1])
    engine.release_workspace()
    assert engine.workspace_values > 2**21  # one hold left
    engine.release_workspace()
    assert engine.workspace_values == 0
    engine.release_workspace()  # without a hold: only the trim
    assert engine.workspace_values == 0


def test_gradient_below_a_large_dense_block_matches_finite_differences():
    """The dense path of the selected inverse with a factor below it (G(c, j) and W_c from the
    triangular inverse before lauum overwrites it, the lower triangle updated by panels of columns),
    at an order of many panels and recursion levels, against central differences of the criterion."""
    engine, theta = _large_fill_in_engine()
    for reml in (True, False):
        _, grad = engine.gradient(theta, reml)
        fd = central_differences(lambda t, r=reml: engine.objective(np.asarray(t, dtype=float), r), theta)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * max(1.0, float(np.abs(fd).max())))


def test_small_workspace_is_kept_without_a_hold():
    y, x, factors, theta = random_design("three", 7)
    engine = engine_of(y, x, factors)
    engine.gradient(theta, True)
    kept = engine.workspace_values
    assert 0 < kept <= 2**21
    engine.release_workspace()
    assert engine.workspace_values == kept


def test_held_workspace_releases_however_the_block_is_left():
    engine, theta = _large_fill_in_engine()
    with held_workspace(engine):
        engine.gradient(theta, True)
        assert engine.workspace_values > 2**21
    assert engine.workspace_values == 0
    with pytest.raises(RuntimeError, match="left early"), held_workspace(engine):
        engine.gradient(theta, True)
        raise RuntimeError("left early")
    assert engine.workspace_values == 0


def test_fit_holds_the_workspace_and_releases_it(monkeypatch):
    """A fit holds its engine's workspace while it runs and releases it at its end, also when it
    fails, so that a model's engine does not keep a large inverse for the model's life."""
    import mixedmodels.model as model_module

    entered = []
    real = model_module.held_workspace

    class Counting:
        def __init__(self, engine):
            self.inner = real(engine)

        def __enter__(self):
            entered.append(1)
            return self.inner.__enter__()

        def __exit__(self, *exc):
            entered.append(-1)
            return self.inner.__exit__(*exc)

    monkeypatch.setattr(model_module, "held_workspace", Counting)
    data = pd.DataFrame({"y": np.arange(12.0) % 5, "g": list("aabbccddeeff")})
    LinearMixedModel.from_formula("y ~ 1 + (1 | g)", data).fit()
    assert entered == [1, -1]

    def broken_polish(*_args, **_kwargs):
        raise RuntimeError("polish failed")

    monkeypatch.setattr(LinearMixedModel, "_polish", broken_polish)  # an error after the optimiser
    with pytest.raises(RuntimeError, match="polish failed"):
        LinearMixedModel.from_formula("y ~ 1 + (1 | g)", data).fit()
    assert entered == [1, -1, 1, -1]


def test_engine_gradient_rejects_bad_theta():
    y, x, factors, theta = random_design("scalar", 3)
    engine = engine_of(y, x, factors)
    with pytest.raises(_core.InvalidInputError, match="theta must have length"):
        engine.gradient(np.ones(theta.size + 1), True)
    with pytest.raises(_core.InvalidInputError, match="not finite"):
        engine.gradient(np.array([np.nan]), True)


def _frame(kind: str, seed: int) -> tuple[pd.DataFrame, str]:
    """A random design as a data frame and the formula of its random terms."""
    y, x, factors, _theta = random_design(kind, seed)
    cols = {"y": y, "x": x[:, 1]}
    terms = []
    for f, (codes, _nlev, z, _ti, tr, _tc) in enumerate(factors):
        cols[f"g{f}"] = np.char.add("L", codes.astype(str))
        slopes = []
        for m in range(1, z.shape[1]):
            cols[f"z{f}_{m}"] = z[:, m]
            slopes.append(f"z{f}_{m}")
        bar = "||" if z.shape[1] > 1 and tr.size == z.shape[1] else "|"
        terms.append(f"({' + '.join(['1', *slopes])} {bar} g{f})")
    return pd.DataFrame(cols), "y ~ x + " + " + ".join(terms)


def _model_at_random_theta(
    kind: str, seed: int, reml: bool, weighted: bool
) -> tuple[LinearMixedModel, np.ndarray, np.random.Generator]:
    """A random design of ``kind`` as a model (prior weights if ``weighted``), a random theta inside
    its bounds, and the generator for further draws."""
    frame, formula = _frame(kind, seed)
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 2.0, len(frame)) if weighted else None
    model = LinearMixedModel.from_formula(formula, frame, reml=reml, weights=weights)
    lower = model.structure.theta.lower
    theta = np.where(lower == 0, rng.uniform(0.2, 1.5, lower.size), rng.normal(0.0, 0.4, lower.size))
    return model, theta, rng


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), near_singular=st.booleans(), reml=st.booleans(), weighted=st.booleans())
def test_model_gradient_matches_finite_differences_of_the_objective(kind, seed, near_singular, reml, weighted):
    model, theta, rng = _model_at_random_theta(kind, seed, reml, weighted)
    lower = model.structure.theta.lower
    if near_singular:
        theta[int(rng.choice(np.flatnonzero(lower == 0)))] = 1e-6
    value, grad = model.objective_gradient(theta)
    assert value == pytest.approx(model.objective(theta), rel=1e-12)
    fd = central_differences(model.objective, theta)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(grad).max())))


@pytest.mark.parametrize(
    ("formula", "data"),
    [
        ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
        ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
        ("strength ~ 1 + (1 | batch/cask)", "pastes"),
        ("angle ~ recipe * temperature + (1 | recipe:replicate)", "cake"),
    ],
)
@pytest.mark.parametrize("reml", [True, False])
def test_model_gradient_on_the_bundled_data(fits, formula, data, reml):
    model = LinearMixedModel.from_formula(formula, fits.data(data), reml=reml)
    lower = model.structure.theta.lower
    for theta in (np.where(lower == 0, 0.8, 0.1), np.where(lower == 0, 1e-6, 0.0)):
        _value, grad = model.objective_gradient(theta)
        fd = central_differences(model.objective, theta)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(grad).max())))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), reml=st.booleans(), weighted=st.booleans())
def test_deviance_gradient_at_a_given_sigma_matches_finite_differences(kind, seed, reml, weighted):
    """lmerTest's deviance of (theta, sigma), used for Satterthwaite's Hessian: its analytic derivatives
    in theta and sigma against central differences of `Criterion.at_sigma`."""
    model, theta, rng = _model_at_random_theta(kind, seed, reml, weighted)
    sigma = float(rng.uniform(0.5, 2.0))
    parts = model.deviance_gradient(theta, sigma)
    assert parts is not None
    value, grad, dsigma = parts

    def deviance(v: np.ndarray) -> float:
        return float(model.criterion(v[:-1]).at_sigma(float(v[-1]), reml)) - model.log_weights

    point = np.append(theta, sigma)
    assert value == pytest.approx(deviance(point), rel=1e-12)
    fd = central_differences(deviance, point)
    got = np.append(grad, dsigma)
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(got).max())))


def test_satterthwaite_hessian_from_the_gradient_matches_numderiv(fits):
    """The Hessian of the deviance in (theta, sigma) from the analytic gradient agrees with
    numDeriv's Richardson extrapolation of the deviance (lmerTest's) to 1e-5 relative: the precision
    of the extrapolation itself here (moving the point by 1e-12 relative moves its entry [1, 1],
    ~418.9, by up to 2e-3, from rounding in the deviance), while the gradient's central differences at
    steps 1e-5 and 1e-4 agree to 5e-8 relative."""
    m = fits.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy")
    inf = Inference(m)
    numeric = hessian(inf.deviance_vp, inf.varpar, d=1e-1, eps=1e-4)
    grad = np.column_stack(
        [
            (inf.gradient_vp(inf.varpar + h) - inf.gradient_vp(inf.varpar - h)) / 2e-5
            for h in 1e-5 * np.eye(inf.varpar.size)
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6 * np.abs(numeric).max())
