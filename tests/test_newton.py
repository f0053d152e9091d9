"""optimizer="newton" (the "auto" choice for one grouping factor of some size): Newton's method on
the analytic Hessian reaches the optimum BOBYQA reaches, ends polished (the polish makes no call),
falls back to BOBYQA where it gives up, and counts and reports every evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.model import LinearMixedModel
from mixedmodels.optimize import EngineCriterion, choose_method, minimize_theta, settled
from tests.optimizer_helpers import fit_quietly, reaches_bobyqas_optimum

CASES = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy"),
    ("Reaction ~ 0 + (1 | Subject)", "sleepstudy"),
    ("mAch ~ ses * sector + (ses | school)", "hsb"),
]


@pytest.mark.parametrize(("formula", "data"), CASES)
@pytest.mark.parametrize("reml", [True, False])
def test_newton_reaches_bobyqas_optimum(fits, formula, data, reml):
    a, b = reaches_bobyqas_optimum(
        formula, fits.data(data), reml, "newton", objective_rel=1e-10, fixef_rtol=1e-6, theta_atol=1e-5
    )
    if not a.is_singular:  # a singular end is checked by the same restarts either way
        assert b.n_evals < a.n_evals


def test_auto_takes_newton_for_one_factor():
    assert choose_method(2e6, factors=1) == choose_method(100.0, factors=1) == ("newton", {})
    assert choose_method(2e6, factors=2)[0] == "bobyqa"


def test_newton_refuses_several_factors_and_options(fits):
    with pytest.raises(mm.ArgumentError, match="one grouping factor; this model has 2"):
        mm.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", fits.data("penicillin"), optimizer="newton")
    with pytest.raises(mm.ArgumentError, match="unknown key 'gtol' for optimizer 'newton'; it takes none"):
        mm.lmer(CASES[0][0], fits.data("sleepstudy"), optimizer="newton", optimizer_options={"gtol": 1e-5})


@pytest.mark.parametrize("optimizer", ["auto", "newton", "lbfgsb", "bobyqa"])
def test_progress_reports_every_evaluation_of_a_fit(fits, optimizer):
    # the polish's and the optimiser's Hessian calls are evaluations too
    seen: list[int] = []
    r = mm.lmer(CASES[0][0], fits.data("sleepstudy"), optimizer=optimizer, progress=lambda n, best: seen.append(n))
    assert seen == list(range(1, r.n_evals + 1))


def test_newton_ends_settled_and_unpolished(fits):
    model = LinearMixedModel.from_formula(CASES[0][0], fits.data("sleepstudy"))
    opt = model.optimize(optimizer="newton")
    assert opt.message.startswith("Newton")
    f = EngineCriterion(model.new_engine(), reml=True)
    r = minimize_theta(f, np.array([1.0, 0.0, 1.0]), model.structure.theta.lower, method="newton")
    assert settled(r)
    assert r.gradient is not None
    assert r.hessian is not None
    b = minimize_theta(f, np.array([1.0, 0.0, 1.0]), model.structure.theta.lower, method="bobyqa")
    assert r.fun <= b.fun + 1e-9
    assert r.n_evals < b.n_evals


def test_newton_needs_a_hessian():
    with pytest.raises(ValueError, match="needs the gradient"):
        minimize_theta(lambda t: float(t[0] ** 2), np.array([1.0]), np.array([0.0]), method="newton")
    fg = lambda t: (float(t[0] ** 2), 2 * t)  # noqa: E731
    with pytest.raises(ValueError, match="needs the Hessian"):
        minimize_theta(lambda t: fg(t)[0], np.array([1.0]), np.array([0.0]), method="newton", gradient=fg)


def test_newton_gives_up_to_bobyqa():
    # a Hessian that is not finite: Newton stops at once and BOBYQA runs from the start
    def f(t):
        return float((t[0] - 1) ** 2 + 3 * (t[1] + 2) ** 2)

    def fg(t):
        return f(t), np.array([2 * (t[0] - 1), 6 * (t[1] + 2)])

    def hf(t):
        return (*fg(t), np.full((2, 2), np.nan))

    r = minimize_theta(f, np.array([0.5, 0.0]), np.array([0.0, -np.inf]), method="newton", gradient=fg, hessian=hf)
    np.testing.assert_allclose(r.theta, [1.0, -2.0], atol=1e-6)
    assert "not finite" in r.message
    assert "BOBYQA from the start" in r.message
    assert r.hessian is None


def test_newton_holds_a_parameter_at_its_bound():
    # the minimum of the unconstrained quadratic lies at t0 = -1: the bounded one at t0 = 0
    def f(t):
        return float((t[0] + 1) ** 2 + (t[1] - 2) ** 2 + 0.5 * t[0] * t[1])

    def hf(t):
        g = np.array([2 * (t[0] + 1) + 0.5 * t[1], 2 * (t[1] - 2) + 0.5 * t[0]])
        return f(t), g, np.array([[2.0, 0.5], [0.5, 2.0]])

    r = minimize_theta(f, np.array([1.0, 0.0]), np.array([0.0, -np.inf]), method="newton",
                       gradient=lambda t: hf(t)[:2], hessian=hf)  # fmt: skip
    np.testing.assert_allclose(r.theta, [0.0, 2.0], atol=1e-12)
    assert r.hessian is None  # not over every parameter: the polish and the check see the bound


def test_newton_fit_of_many_levels_matches_lbfgsb():
    rng = np.random.default_rng(5)
    n, groups = 30_000, 5_000
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    b = rng.normal(size=(groups, 2)) * [1.0, 0.4]
    y = 1 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})
    a = fit_quietly("y ~ x + (1 + x | g)", frame, True, "lbfgsb")
    c = fit_quietly("y ~ x + (1 + x | g)", frame, True, "auto")
    assert c.optimizer_message.startswith("Newton")
    assert c.converged
    assert c.objective <= a.objective + 1e-10 * abs(a.objective)
    np.testing.assert_allclose(c.theta, a.theta, rtol=1e-6)
