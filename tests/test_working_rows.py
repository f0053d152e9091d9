"""A GLMM's rows in the core (`_core.WorkingRows`): the modes-only rows share the joint rows'
columns and PIRLS' workspace, and PIRLS with beta held forms offset + X beta itself."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.glmm import GeneralizedLinearMixedModel

TICKS = "TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | LOCATION)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _model(formula: str) -> GeneralizedLinearMixedModel:
    if formula == CBPP:
        return GeneralizedLinearMixedModel.from_formula(formula, mm.datasets.load("cbpp"), mm.families.Binomial())
    df = mm.datasets.load("grouseticks")
    return GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Poisson())


def _pirls(model, wr, eng, theta, offset, x=None, beta=None):
    fam = model.family
    return wr.pirls(
        eng,
        fam.name,
        fam.link.name,
        theta,
        model.y,
        model.prior_weights,
        offset,
        None,
        None,
        None,
        1e-10,
        100,
        0.0,
        x,
        beta,
    )


@pytest.mark.parametrize("formula", [TICKS, CBPP])
def test_held_beta_is_the_offset_plus_x_beta(formula):
    """PIRLS given x and beta_fixed is PIRLS given the offset offset + X beta (summed in the same
    order: the same bits here; X beta is formed in the core's workspace, not by the caller)."""
    model = _model(formula)
    wr, eng = model._working(False)
    theta = np.full(model.ntheta, 0.7)
    x = np.ascontiguousarray(model.rows.x, dtype=np.float64)
    beta = np.linspace(-0.5, 0.4, model.p) / np.maximum(1.0, np.abs(x).max(axis=0))
    held = _pirls(model, wr, eng, theta, model.offset, x, beta)
    given = _pirls(model, wr, eng, theta, np.ascontiguousarray(model.offset + x @ beta))
    for a, b in zip(held[:4], given[:4], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)
    assert held[-1]  # converged
    assert held[4:] == pytest.approx(given[4:], rel=1e-13)


def test_joint_and_modes_only_pirls_share_a_workspace_without_mixing():
    """Joint and modes-only PIRLS take turns on the one workspace: each gives what it gives on a
    model of its own, bitwise."""
    shared = _model(TICKS)
    theta, beta = np.array([0.6, 0.9]), np.array([-1.0, 0.5, -0.5, -0.01])
    turns = []
    for _ in range(2):
        turns.append(shared.pirls(theta))
        turns.append(shared.pirls(theta, beta))
    alone_joint = _model(TICKS).pirls(theta)
    alone_modes = _model(TICKS).pirls(theta, beta)
    for got, want in zip(turns, [alone_joint, alone_modes] * 2, strict=True):
        for name in ("beta", "u", "eta", "mu"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        assert (got.dev_resid, got.ldl2, got.ussq) == (want.dev_resid, want.ldl2, want.ussq)


def test_modes_only_rows_outlive_the_joint_rows():
    model = _model(CBPP)
    wr, _ = model._working(True)
    modes = wr.modes_only(model._layout_u)
    expected = model.pirls(np.array([0.6]), np.array([-1.4, -1.0, -1.1, -1.6]))
    del wr
    model._engines.clear()
    gc.collect()
    eng = _core.Engine(modes.pattern())
    x = np.ascontiguousarray(model.rows.x, dtype=np.float64)
    got = _pirls(model, modes, eng, np.array([0.6]), model.offset, x, np.array([-1.4, -1.0, -1.1, -1.6]))
    np.testing.assert_allclose(got[1], expected.u, rtol=1e-8, atol=1e-10)


def test_bad_layouts_and_arguments_are_refused():
    model = _model(TICKS)
    wr, eng = model._working(True)
    with pytest.raises(_core.InvalidInputError, match="no fixed effects"):
        wr.modes_only(model.structure.core_layout)  # has X
    other = _model("TICKS ~ YEAR + (1 | LOCATION)")
    with pytest.raises(_core.InvalidInputError, match="grouping factors"):
        wr.modes_only(other._layout_u)
    theta, n = np.array([0.6, 0.9]), model.nobs
    x = np.ascontiguousarray(model.rows.x, dtype=np.float64)
    with pytest.raises(_core.InvalidInputError, match="go together"):
        _pirls(model, wr, eng, theta, model.offset, x, None)
    with pytest.raises(_core.InvalidInputError, match="modes-only"):
        _pirls(model, wr, eng, theta, model.offset, x, np.zeros(model.p))
    mwr, meng = model._working(False)
    with pytest.raises(_core.InvalidInputError, match="shape"):
        _pirls(model, mwr, meng, theta, model.offset, np.zeros((n + 1, model.p)), np.zeros(model.p))
    with pytest.raises(_core.InvalidInputError, match="beta_fixed"):
        _pirls(model, mwr, meng, theta, model.offset, x, np.zeros(model.p + 1))


def test_a_fit_releases_its_working_rows_and_they_come_back_on_demand():
    """A result does not keep PIRLS' rows and workspace (`release_working`); the model forms them
    again when post-estimation runs PIRLS."""
    result = mm.glmer(CBPP, mm.datasets.load("cbpp"), family="binomial")
    model = result.glmm_fit.model
    assert model._engines == {}
    again = model.pirls(result.glmm_fit.theta, result.glmm_fit.beta)
    np.testing.assert_allclose(again.u, result.glmm_fit.pirls.u, rtol=1e-6, atol=1e-8)
    assert set(model._engines) == {"joint", "modes"}


@pytest.mark.parametrize("formula", [TICKS, CBPP])
def test_fill_working_is_fill_with_the_working_weights_and_response(formula):
    """`fill_working` forms in the core what the family's functions give in NumPy (the weights
    and working response at eta), to rounding: the same (R_X'R_X)^-1 (to 1e-10 where X is ill-conditioned)."""
    model = _model(formula)
    fam = model.family
    theta = np.full(model.ntheta, 0.7)
    res = model.pirls(theta)
    wr, eng = model._working(True)
    assert wr.fill_working(eng, fam.name, fam.link.name, 0.0, res.eta, model.y, model.prior_weights, model.offset)
    eng.update(theta)
    core = np.asarray(eng.rx_inverse_crossprod())
    mu, w, r = model._weighted(res.eta)
    wr.fill(eng, np.ascontiguousarray(res.eta - model.offset + r), np.ascontiguousarray(w))
    eng.update(theta)
    np.testing.assert_allclose(core, np.asarray(eng.rx_inverse_crossprod()), rtol=1e-10)  # (X ill-conditioned)
    bad = res.eta.copy()
    bad[3] = np.nan
    assert not wr.fill_working(eng, fam.name, fam.link.name, 0.0, bad, model.y, model.prior_weights, model.offset)
    with pytest.raises(_core.InvalidInputError, match="one value per row"):
        wr.fill_working(eng, fam.name, fam.link.name, 0.0, res.eta[:-1], model.y, model.prior_weights, model.offset)
