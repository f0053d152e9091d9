"""The optimisers: BOBYQA and COBYQA reach the same optimum; "auto" picks by the cost of an evaluation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.model import LinearMixedModel
from mixedmodels.optimize import (
    EXPENSIVE_FLOPS,
    POLISHED_BOBYQA,
    BobyqaSettings,
    choose_method,
    minimize_theta,
)

SLEEP = "Reaction ~ Days + (Days | Subject)"


def test_choose_method_by_work():
    assert choose_method(EXPENSIVE_FLOPS / 2, factors=2) == ("bobyqa", {})
    assert choose_method(EXPENSIVE_FLOPS * 2, factors=2) == ("bobyqa", POLISHED_BOBYQA)  # the polish ends it
    # few parameters: Newton's method on a Hessian from differences of the criterion
    assert choose_method(EXPENSIVE_FLOPS * 2, factors=3, ntheta=3) == ("newton", POLISHED_BOBYQA)
    assert choose_method(EXPENSIVE_FLOPS * 2, factors=2, ntheta=6) == ("newton", POLISHED_BOBYQA)
    assert choose_method(EXPENSIVE_FLOPS * 2, factors=2, ntheta=7) == ("bobyqa", POLISHED_BOBYQA)
    assert choose_method(EXPENSIVE_FLOPS / 2, factors=2, ntheta=2) == ("bobyqa", {})
    assert choose_method(2e5) == choose_method(10.0) == ("newton", {})  # one grouping factor


def test_update_flops_orders_designs(fits):
    """The work estimate is tiny for one grouping factor and large for InstEval's dense block."""
    small = LinearMixedModel.from_formula(SLEEP, fits.data("sleepstudy")).new_engine().update_flops()
    big = LinearMixedModel.from_formula(
        "y ~ service + (1 | s) + (1 | d) + (1 | dept)", fits.data("insteval")
    ).new_engine()
    assert 0 < small < EXPENSIVE_FLOPS < big.update_flops()
    assert big.update_flops() > 1128**3 / 3  # at least the dense lecturer block's Cholesky factor


@pytest.mark.parametrize("formula", [SLEEP, "Reaction ~ Days + (Days || Subject)"])
def test_cobyqa_reaches_bobyqa_optimum(fits, formula):
    d = fits.data("sleepstudy")
    a = mm.lmer(formula, d, optimizer="bobyqa")
    b = mm.lmer(formula, d, optimizer="cobyqa")
    assert a.optimizer_message.startswith("BOBYQA")
    assert b.optimizer_message.startswith("COBYQA")
    assert b.converged
    assert b.objective == pytest.approx(a.objective, rel=1e-10, abs=1e-8)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.beta, a.beta, rtol=1e-6)


INSTEVAL = "y ~ service + (1 | s) + (1 | d) + (1 | dept)"


@pytest.fixture(scope="module")
def insteval_cobyqa(fits):
    c = mm.lmer(INSTEVAL, fits.data("insteval"), optimizer="cobyqa")
    assert c.optimizer_message.startswith("COBYQA")
    assert c.converged
    return c


def test_auto_takes_newton_on_differences_for_insteval(fits, insteval_cobyqa):
    """An expensive evaluation and three parameters: Newton's method with the Hessian from
    differences of the criterion, from the moment start, reaches the optimum that COBYQA (and the
    polish) reaches, in fewer evaluations than BOBYQA and the polish took (41)."""
    m = fits.fit(INSTEVAL, "insteval")
    assert m.optimizer_message.startswith("Newton: the step is below")
    assert m.converged
    assert m.n_evals < 41
    c = insteval_cobyqa
    assert m.objective == pytest.approx(c.objective, rel=1e-12)
    np.testing.assert_allclose(m.theta, c.theta, rtol=1e-7)
    np.testing.assert_allclose(m.beta, c.beta, rtol=1e-9)
    assert fits.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin").optimizer_message.startswith("BOBYQA")
    assert fits.fit(SLEEP, "sleepstudy").optimizer_message.startswith("Newton")  # one grouping factor


def test_bobyqa_stopped_early_and_the_polish_end_insteval(fits, insteval_cobyqa, monkeypatch):
    """With more parameters than the differenced Hessian takes, "auto" runs BOBYQA at
    `POLISHED_BOBYQA`'s loose tolerances and the Newton polish ends it: on InstEval (that choice
    forced) it reaches COBYQA's optimum."""
    import mixedmodels.model as model_module

    monkeypatch.setattr(model_module, "choose_method", lambda *_: ("bobyqa", dict(POLISHED_BOBYQA)))
    m = mm.lmer(INSTEVAL, fits.data("insteval"))
    assert m.optimizer_message.startswith("BOBYQA")
    assert m.converged
    c = insteval_cobyqa
    assert m.objective == pytest.approx(c.objective, rel=1e-12)
    np.testing.assert_allclose(m.theta, c.theta, rtol=1e-7)
    np.testing.assert_allclose(m.beta, c.beta, rtol=1e-9)


def test_newton_on_differences_by_request_and_its_limit(fits):
    """optimizer="newton" with several grouping factors takes the Hessian from differences of the
    criterion (penicillin: BOBYQA's optimum); beyond `DIFFERENCED_NEWTON_MAX` parameters it is
    refused with the counts."""
    d = fits.data("penicillin")
    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    m = mm.lmer(formula, d, optimizer="newton")
    b = fits.fit(formula, "penicillin")
    assert m.optimizer_message.startswith("Newton")
    assert m.converged
    assert m.objective == pytest.approx(b.objective, rel=1e-12)
    np.testing.assert_allclose(m.theta, b.theta, rtol=1e-6)
    sleep = fits.data("sleepstudy").assign(g2=lambda t: t["Days"] % 3, g3=lambda t: t["Days"] % 2)
    with pytest.raises(mm.ArgumentError, match="3 grouping factors and 7 parameters"):
        mm.lmer("Reaction ~ Days + (Days | Subject) + (Days | g2) + (1 | g3)", sleep, optimizer="newton")


def test_restarts_of_a_doubtful_end_drop_the_loose_tolerances(monkeypatch):
    """A first run at `POLISHED_BOBYQA`'s tolerances whose end is doubtful (here a zero variance) is
    checked by restarts at tight tolerances (COBYQA's, then BOBYQA's defaults from the best end): the
    polish cannot finish a loose end on a flat ridge or at a bound, and the restarts certify it."""
    import mixedmodels.model as model_module

    rng = np.random.default_rng(5)
    f1, f2 = rng.integers(0, 30, 300), rng.integers(0, 8, 300)
    x = rng.normal(size=300)
    d = pd.DataFrame({"y": 1 + x + rng.normal(0, 0.8, 30)[f1] + rng.normal(size=300), "x": x, "f1": f1, "f2": f2})
    formula = "y ~ x + (1 | f1) + (1 | f2)"
    with pytest.warns(mm.SingularFitWarning):
        tight = mm.lmer(formula, d)  # cheap: "auto" takes BOBYQA at its tight defaults
    calls: list[dict[str, object]] = []
    real = model_module.minimize_theta

    def recorded(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(model_module, "choose_method", lambda *_: ("bobyqa", dict(POLISHED_BOBYQA)))
    monkeypatch.setattr(model_module, "minimize_theta", recorded)
    with pytest.warns(mm.SingularFitWarning):
        m = mm.lmer(formula, d)
    assert calls[0]["method"] == "bobyqa"
    assert calls[0]["xtol_abs"] == POLISHED_BOBYQA["xtol_abs"]
    assert len(calls) > 1
    assert all("xtol_abs" not in c for c in calls[1:])
    assert any(c["method"] == "cobyqa" for c in calls[1:])
    assert m.converged
    assert m.is_singular
    assert m.objective == pytest.approx(tight.objective, rel=1e-10)


def test_cobyqa_evaluation_limit_warns(fits):
    with pytest.warns(mm.ConvergenceWarning, match="limit of 3 evaluations"):
        m = mm.lmer(SLEEP, fits.data("sleepstudy"), optimizer="cobyqa", maxeval=3)
    assert not m.converged
    assert m.n_evals == 3


def test_unknown_optimizer_is_refused(fits):
    with pytest.raises(ValueError, match="optimizer must be 'auto'"):
        mm.lmer(SLEEP, fits.data("sleepstudy"), optimizer="nelder-mead")


def test_cobyqa_goes_to_the_boundary():
    """A minimum on the bound theta_0 = 0 is found exactly, as with BOBYQA."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = minimize_theta(
            lambda t: (t[0] + 0.5) ** 2 + (t[1] - 1) ** 2,
            np.array([1.0, 0.0]),
            np.array([0.0, -np.inf]),
            method="cobyqa",
        )
    assert r.theta[0] == 0.0
    assert r.theta[1] == pytest.approx(1.0, abs=1e-5)


def _engine_and_lower(fits, formula=SLEEP, dataset="sleepstudy"):
    model = LinearMixedModel.from_formula(formula, fits.data(dataset))
    return model.new_engine(), model.structure.theta.lower


@pytest.mark.parametrize(
    ("formula", "dataset"),
    [
        (SLEEP, "sleepstudy"),
        ("Reaction ~ Days + (Days || Subject)", "sleepstudy"),
        ("mAch ~ ses + (ses | school)", "hsb"),
    ],
)
def test_native_bobyqa_equals_python_driven(fits, formula, dataset):
    """BOBYQA run from C++ (NLopt's C API) and through NLopt's Python binding: the same points,
    hence bit for bit the same optimum and number of evaluations."""
    from mixedmodels.optimize import EngineCriterion, bobyqa, native_bobyqa

    assert native_bobyqa()  # the nlopt wheel on this platform exports its C API
    e, lower = _engine_and_lower(fits, formula, dataset)
    x0 = np.where(lower == 0.0, 1.0, 0.0)
    f = EngineCriterion(e, True)
    settings = BobyqaSettings(1e-9, 1e-10, 100_000)
    native = bobyqa(f, x0, lower, settings)
    python = bobyqa(lambda t: e.objective(t, True), x0, lower, settings)
    np.testing.assert_array_equal(native[0], python[0])
    assert native[1:] == python[1:]


def test_native_bobyqa_limit_and_errors(fits):
    import nlopt

    from mixedmodels.optimize import native_bobyqa

    native_bobyqa()
    e, lower = _engine_and_lower(fits)
    x0 = np.array([1.0, 0.0, 1.0])
    opts = {"algorithm": nlopt.LN_BOBYQA, "xtol_abs": 1e-9, "ftol_abs": 1e-10}
    x, fx, n, code = _core.bobyqa(e, x0, lower, True, maxeval=7, **opts)
    assert n == 7
    assert code == nlopt.MAXEVAL_REACHED
    assert fx == e.objective(x, True)  # the best point returned is the one its value belongs to
    with pytest.raises(mm.exceptions.CoreError, match="length 3"):
        _core.bobyqa(e, x0[:2], lower[:2], True, maxeval=7, **opts)
    # an evaluation that throws (a non-finite theta) stops the optimiser and arrives as the core's error
    with pytest.raises(mm.exceptions.CoreError, match="not finite"):
        _core.bobyqa(e, np.array([np.inf, 0.0, 1.0]), lower, True, maxeval=100, **opts)


def test_derivative_check_equals_finite_differences(fits):
    """The engine's derivative check is lme4's: central differences, one-sided at a bound."""
    from mixedmodels.optimize import EngineCriterion, gradient_check

    e, lower = _engine_and_lower(fits)
    f = EngineCriterion(e, True)
    theta = np.array([0.9667, 0.0152, 0.0])  # last at its bound: one-sided there
    fx, h = f(theta), 1e-4
    g, hd = gradient_check(f, theta, lower, fx)
    for i in range(2):
        up, dn = theta.copy(), theta.copy()
        up[i] += h
        dn[i] -= h
        assert g[i] == (f(up) - f(dn)) / (2 * h)
        assert hd[i] == (f(up) - 2 * fx + f(dn)) / (h * h)
    up = theta.copy()
    up[2] += h
    assert g[2] == min((f(up) - fx) / h, 0.0)
    assert np.isnan(hd[2])


def test_fit_checks_the_analytic_gradient_along_one_direction(monkeypatch):
    """With the polish's gradient and Hessian, the convergence check costs 2 evaluations (central
    differences along one direction) in place of lme4's 2 per parameter, and reports the analytic
    gradient; the finite-difference check is not called."""
    import mixedmodels.model as model_module

    calls = []
    monkeypatch.setattr(model_module, "gradient_check", lambda *a, **k: calls.append(a) or pytest.fail("called"))
    sleep = mm.datasets.load("sleepstudy")
    model = LinearMixedModel.from_formula(SLEEP, sleep)
    fit = model.fit()
    assert fit.converged
    assert not calls
    assert np.max(np.abs(fit.gradient)) < 1e-6  # exact at the polished optimum, where differences give ~1e-5
    assert fit.objective == pytest.approx(1743.628, abs=1e-3)


def test_a_wrong_gradient_fails_the_directional_check(fits):
    """A gradient that disagrees with the criterion (here: one entry off by 1) fails the directional
    check (the fit then falls back to lme4's finite differences), as does a step out of the bounds."""
    from mixedmodels import optimize
    from mixedmodels.optimize import directional_check

    e, lower = _engine_and_lower(fits)
    f = optimize.EngineCriterion(e, True)
    theta = np.array([0.96674, 0.01516, 0.23090])  # near lme4's optimum
    fx, g = f.value_and_gradient(theta)
    hess = np.empty((3, 3))
    for i in range(3):
        t = theta.copy()
        t[i] += 1e-6
        hess[:, i] = (f.value_and_gradient(t)[1] - g) / 1e-6
    hess = (hess + hess.T) / 2
    assert directional_check(f, theta, lower, fx, g, hess, 1e-3)
    wrong = g.copy()
    wrong[1] += 1.0
    assert not directional_check(f, theta, lower, fx, wrong, hess, 1e-3)
    at_bound = theta.copy()
    at_bound[2] = 0.0  # a step would leave the bounds
    assert not directional_check(f, at_bound, lower, f(at_bound), g, hess, 1e-3)
