"""optimizer="lbfgsb": SciPy's L-BFGS-B on the analytic gradient of the criterion reaches the
optimum BOBYQA reaches, with the same derivative check and boundary verification."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels.model import LinearMixedModel
from mixedmodels.optimize import EngineCriterion, minimize_theta

CASES = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "pastes"),
    ("mAch ~ ses * sector + (ses | school)", "hsb"),
]


def _fit(formula, data, reml, optimizer):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.SingularFitWarning)
        return mm.lmer(formula, data, reml=reml, optimizer=optimizer)


@pytest.mark.parametrize(("formula", "data"), CASES)
@pytest.mark.parametrize("reml", [True, False])
def test_lbfgsb_reaches_bobyqas_optimum(fits, formula, data, reml):
    frame = fits.data(data)
    a = _fit(formula, frame, reml, "bobyqa")
    b = _fit(formula, frame, reml, "lbfgsb")
    assert b.converged
    assert b.objective <= a.objective + 1e-9 * abs(a.objective)
    assert b.is_singular == a.is_singular
    np.testing.assert_allclose(b.fixef, a.fixef, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(b.theta, a.theta, atol=2e-4)


def test_lbfgsb_takes_its_options_and_refuses_others(fits):
    frame = fits.data("sleepstudy")
    m = mm.lmer(CASES[0][0], frame, optimizer="lbfgsb", optimizer_options={"ftol": 1e-12, "gtol": 1e-5})
    assert m.converged
    with pytest.raises(mm.ArgumentError, match="unknown key 'xtol_abs' for optimizer 'lbfgsb'"):
        mm.lmer(CASES[0][0], frame, optimizer="lbfgsb", optimizer_options={"xtol_abs": 1e-9})


def test_lbfgsb_reports_progress_and_counts_evaluations(fits):
    model = LinearMixedModel.from_formula(CASES[0][0], fits.data("sleepstudy"))
    seen: list[tuple[int, float]] = []
    opt = model.optimize(optimizer="lbfgsb", progress=lambda n, best: seen.append((n, best)))
    assert len(seen) == opt.n_evals > 0
    assert seen[-1][1] == pytest.approx(opt.fun, abs=1e-12)
    assert opt.message.startswith("L-BFGS-B")


def test_lbfgsb_needs_a_gradient():
    with pytest.raises(ValueError, match="needs the gradient"):
        minimize_theta(lambda t: float(t[0] ** 2), np.array([1.0]), np.array([0.0]), method="lbfgsb")


def test_lbfgsb_uses_an_engine_criterions_gradient(fits):
    model = LinearMixedModel.from_formula(CASES[0][0], fits.data("sleepstudy"))
    f = EngineCriterion(model.new_engine(), reml=True)
    lower = model.structure.theta.lower
    r = minimize_theta(f, np.array([1.0, 0.0, 1.0]), lower, method="lbfgsb")
    b = minimize_theta(f, np.array([1.0, 0.0, 1.0]), lower, method="bobyqa")
    assert r.fun <= b.fun + 1e-8
    assert r.n_evals < b.n_evals


def test_lbfgsb_finds_a_boundary_optimum(fits):
    """A variance at zero: the bound is active, the fit is singular as with BOBYQA."""
    rng = np.random.default_rng(1)
    frame = fits.data("sleepstudy").copy()
    frame["noise"] = rng.normal(size=len(frame))
    frame["g"] = np.repeat(np.arange(30), 6).astype(str)
    a = _fit("noise ~ 1 + (1 | g)", frame, True, "bobyqa")
    b = _fit("noise ~ 1 + (1 | g)", frame, True, "lbfgsb")
    assert b.objective <= a.objective + 1e-9 * abs(a.objective)
    assert b.is_singular == a.is_singular


def test_the_polish_reuses_lbfgsbs_last_gradient(fits):
    """The polish does not compute again the gradient L-BFGS-B ended on: the evaluation count is
    that of distinct gradient calls."""
    frame = fits.data("sleepstudy")
    model = LinearMixedModel.from_formula(CASES[0][0], frame)
    seen = []
    original = EngineCriterion.value_and_gradient

    def counting(self, theta):
        seen.append(np.array(theta, copy=True))
        return original(self, theta)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(EngineCriterion, "value_and_gradient", counting)
        fit = model.fit(optimizer="lbfgsb")
    assert fit.converged
    repeats = sum(np.array_equal(a, b) for a, b in zip(seen[:-1], seen[1:], strict=True))
    assert repeats == 0
