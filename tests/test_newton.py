"""optimizer="newton" (the "auto" choice for one grouping factor of some size): Newton's method on
the analytic Hessian reaches the optimum BOBYQA reaches, ends polished (the polish makes no call),
falls back to BOBYQA where it gives up, and counts and reports every evaluation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.model import LinearMixedModel
from mixedmodels.optimize import (
    LAST_STEP_MESSAGE,
    DifferencedHessian,
    EngineCriterion,
    _last_step,
    choose_method,
    gradient_columns,
    minimize_theta,
    settled,
)
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


def test_newton_refuses_many_parameters_and_options(fits):
    sleep = fits.data("sleepstudy").assign(g2=lambda t: t["Subject"].astype(str).str[-1])
    with pytest.raises(mm.ArgumentError, match="one grouping factor, or at most 6 covariance parameters"):
        mm.lmer("Reaction ~ Days + (Days | Subject) + (Days | g2) + (1 | Days)", sleep, optimizer="newton")
    with pytest.raises(mm.ArgumentError, match="unknown key 'gtol' for optimizer 'newton'; it takes none"):
        mm.lmer(CASES[0][0], fits.data("sleepstudy"), optimizer="newton", optimizer_options={"gtol": 1e-5})


@pytest.mark.parametrize("optimizer", ["auto", "newton", "lbfgsb", "bobyqa"])
def test_progress_reports_every_evaluation_of_a_fit(fits, optimizer):
    # the polish's and the optimiser's Hessian calls are evaluations too
    seen: list[int] = []
    r = mm.lmer(CASES[0][0], fits.data("sleepstudy"), optimizer=optimizer, progress=lambda n, best: seen.append(n))
    assert seen == list(range(1, r.n_evals + 1))


def test_progress_reports_every_evaluation_of_newton_on_differences(fits):
    # several grouping factors: the Hessian's differences of the criterion are evaluations too
    seen: list[int] = []
    r = mm.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", fits.data("penicillin"), optimizer="newton",
                progress=lambda n, best: seen.append(n))  # fmt: skip
    assert r.optimizer_message.startswith("Newton")
    assert seen == list(range(1, r.n_evals + 1))


def test_newton_on_differences_gives_up_to_bobyqa_from_its_lowest_point():
    # the minimum lies on the bound t0 = 0, which Newton's steps over log t0 cannot reach: it gives
    # up once t0 falls below LOG_FLOOR, and BOBYQA runs from there to the bound
    def f(t):
        return float((t[0] + 0.5) ** 2 + (t[1] - 2) ** 2)

    def fg(t):
        return f(t), np.array([2 * (t[0] + 0.5), 2 * (t[1] - 2)])

    r = minimize_theta(f, np.array([1.0, 1.0]), np.array([0.0, -np.inf]), method="newton", gradient=fg,
                       hessian=DifferencedHessian(fg, f))  # fmt: skip
    assert "a relative SD heading to its bound of 0" in r.message
    assert "BOBYQA from Newton's lowest point" in r.message
    assert r.theta[0] == 0.0
    assert r.theta[1] == pytest.approx(2.0, abs=1e-5)
    # a start at the bound: BOBYQA from the start
    r = minimize_theta(f, np.array([0.0, 1.0]), np.array([0.0, -np.inf]), method="newton", gradient=fg,
                       hessian=DifferencedHessian(fg, f))  # fmt: skip
    assert r.message.startswith("Newton: a relative SD at its bound at the start; BOBYQA from the start")
    assert r.theta[0] == 0.0


def test_newton_on_differences_converges_and_keeps_its_derivatives():
    # the Hessian from differences of the criterion, formed again after long steps: quadratic
    # convergence to a stop where the step is below 1e-8 of the parameters' size
    def f(t):
        return float(np.exp(t[0]) - 2 * t[0] + (t[1] - 1) ** 4 + (t[1] - 1) ** 2 + 0.3 * t[0] * t[1])

    def fg(t):
        return f(t), np.array([np.exp(t[0]) - 2 + 0.3 * t[1], 4 * (t[1] - 1) ** 3 + 2 * (t[1] - 1) + 0.3 * t[0]])

    r = minimize_theta(f, np.array([1.5, 2.0]), np.zeros(2), method="newton", gradient=fg,
                       hessian=DifferencedHessian(fg, f))  # fmt: skip
    assert r.message.startswith("Newton: the step is below")
    assert settled(r)
    assert r.gradient is not None
    assert float(np.max(np.abs(r.gradient))) < 1e-8
    t0, t1 = r.theta
    exact = np.array([[np.exp(t0), 0.3], [0.3, 12 * (t1 - 1) ** 2 + 2]])
    assert r.hessian is not None
    np.testing.assert_allclose(r.hessian, exact, rtol=2e-3)  # theta's, from the Hessian over the logs
    b = minimize_theta(f, np.array([1.5, 2.0]), np.zeros(2), method="bobyqa")
    assert r.fun <= b.fun + 1e-12
    np.testing.assert_allclose(r.theta, b.theta, atol=1e-6)


def test_newton_on_differences_of_many_parameters_forms_one_hessian():
    # above HESSIAN_REFRESH_MAX parameters the Hessian from differences is formed at the start only,
    # then updated by BFGS from the gradients: its evaluations of f are made once (for four
    # parameters one column from a gradient's differences, the other (3 + 1) 3 / 2 entries from f's)
    c = np.array([1.0, 2.0, 0.5, 1.5])

    def fg(t):
        r = t - c
        return float(np.sum(r**2) + 0.5 * np.sum(r**4) + 0.3 * r[0] * r[1]), 2 * r + 2 * r**3 + 0.3 * r[
            [1, 0, 2, 3]
        ] * [1, 1, 0, 0]

    calls = []

    def f(t):
        calls.append(t)
        return fg(t)[0]

    r = minimize_theta(f, np.full(4, 0.7), np.zeros(4), method="newton", gradient=fg,
                       hessian=DifferencedHessian(fg, f))  # fmt: skip
    assert r.message.startswith("Newton: the step is below")
    assert gradient_columns(4) == 1
    assert len(calls) == 7  # 6 for the Hessian, then the last step's criterion (`_last_step`)
    assert r.gradient is not None
    assert float(np.max(np.abs(r.gradient))) < 1e-8
    b = minimize_theta(lambda t: fg(t)[0], np.full(4, 0.7), np.zeros(4), method="bobyqa")
    assert r.fun <= b.fun
    np.testing.assert_allclose(r.theta, c, atol=1e-8)


def test_newton_with_bfgs_tells_slow_steps_to_an_interior_optimum_from_a_bound():
    # BFGS's steps down a log shrink towards an interior optimum too (here theta0 from 3 to 1): a
    # fresh Hessian's Newton step tells it from a variance heading to 0, and the search converges
    # (a review's reproducer: it had given up to BOBYQA with that SD at 0, 105 evaluations)
    c = np.ones(4)

    def fg(t):
        r = t - c
        return float(r @ r + np.sum(r**4)), 2 * r + 4 * r**3

    def f(t):
        return fg(t)[0]

    r = minimize_theta(f, np.array([3.0, 1.2, 0.8, 1.1]), np.zeros(4), method="newton", gradient=fg,
                       hessian=DifferencedHessian(fg, f))  # fmt: skip
    assert r.message.startswith("Newton: the step is below")
    np.testing.assert_allclose(r.theta, c, atol=1e-8)
    assert r.n_evals < 60


@pytest.mark.parametrize("optimizer", ["bobyqa", "newton"])
def test_progress_reports_the_evaluations_of_a_singular_fits_checks(fits, optimizer):
    # the restarts and the covariance descent that check a singular end report their evaluations too
    seen: list[int] = []
    r = fit_quietly(
        "normexam ~ standLRT + (standLRT | school) + (standLRT | intake)",
        fits.data("exam"),
        True,
        optimizer,
        progress=lambda n, best: seen.append(n),
    )
    assert r.is_singular
    assert seen == list(range(1, r.n_evals + 1))


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize(
    ("formula", "singular"),
    [
        ("normexam ~ standLRT + (standLRT | school) + (1 | intake) + (1 | vr)", False),
        ("normexam ~ standLRT + (standLRT | school) + (standLRT | intake)", True),
    ],
)
def test_newton_on_differences_with_bfgs_reaches_bobyqas_optimum(fits, formula, singular, reml):
    # five and six parameters (BFGS after the first Hessian); towards a variance of 0 it gives up to
    # BOBYQA, which reaches the boundary optimum
    a, b = reaches_bobyqas_optimum(
        formula, fits.data("exam"), reml, "newton", objective_rel=1e-12, fixef_rtol=1e-7, theta_atol=1e-6
    )
    assert a.is_singular == singular
    if singular:
        assert "heading to its bound" in b.optimizer_message
    else:
        assert b.optimizer_message.startswith("Newton: the step is below")
        assert b.n_evals < a.n_evals / 2


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


def _quartic():
    # a smooth convex criterion with its minimum at (1, 2), off its quadratic model
    def fg(t):
        r = t - np.array([1.0, 2.0])
        return float(r @ r + r[0] ** 4 + 0.5 * r[0] * r[1] + r[1] ** 4), 2 * r + 4 * r**3 + 0.5 * r[[1, 0]]

    return (lambda t: fg(t)[0]), fg


def test_newton_on_differences_takes_its_last_step_on_the_criterion_alone():
    # a step below LAST_STEP_OF_OWN of every parameter's size, after steps that shrink quadratically,
    # is taken with one evaluation of the criterion, not of its gradient; the end carries the
    # gradient the quadratic model predicts there and is where the optimum is, to its rounding
    f, fg = _quartic()
    gradients = []

    def counted_fg(t):
        gradients.append(t)
        return fg(t)

    r = minimize_theta(f, np.array([1.5, 2.5]), np.zeros(2), method="newton", gradient=counted_fg,
                       hessian=DifferencedHessian(counted_fg, f))  # fmt: skip
    assert r.message == LAST_STEP_MESSAGE
    assert settled(r)
    np.testing.assert_allclose(r.theta, [1.0, 2.0], rtol=0, atol=1e-9)
    assert not any(np.array_equal(t, r.theta) for t in gradients)  # the end: the criterion alone
    assert r.gradient is not None
    assert float(np.max(np.abs(r.gradient))) < 1e-12
    assert r.fun == f(r.theta)
    # the evaluation limit holds: one fewer, and the last step is not taken
    short = minimize_theta(f, np.array([1.5, 2.5]), np.zeros(2), method="newton", gradient=fg,
                           hessian=DifferencedHessian(fg, f), maxeval=r.n_evals - 1)  # fmt: skip
    assert short.hit_maxeval
    assert short.n_evals <= r.n_evals - 1


def test_the_last_step_is_refused_where_the_criterion_rises_or_is_not_finite():
    f, fg = _quartic()
    x = np.array([1.0 + 1e-7, 2.0 - 1e-7])
    g = fg(x)[1]
    h = np.array([[2.0, 0.5], [0.5, 2.0]])
    d = -np.linalg.solve(h, g)
    assert _last_step(f, x + d, f(x), g, h, d) is not None
    assert _last_step(lambda t: f(t) + 1e-12, x + d, f(x + d), g, h, d) is None  # any rise
    assert _last_step(lambda t: math.nan, x + d, f(x), g, h, d) is None


def test_newton_on_differences_ends_at_the_optimum_of_an_ill_conditioned_design():
    # a review's cheap crossed design forced onto Newton on differences: its Hessian from differences
    # (condition number 4e4) converges linearly there, each step a fraction of the distance left; the
    # last step is taken on the criterion alone only after steps that shrink quadratically (a step
    # below a tenth of the one before it): the end stays within 1e-9 of the optimum, not 4e-8
    rng = np.random.default_rng(6)
    n, n1, n2 = int(rng.integers(300, 1500)), int(rng.integers(10, 80)), int(rng.integers(5, 40))
    f1, f2 = rng.integers(0, n1, n), rng.integers(0, n2, n)
    x = rng.normal(size=n) + rng.uniform(-1, 2)
    s = rng.choice([0.02, 0.3, 1.0, 3.0], size=4)
    y = (1 + 0.4 * x + rng.normal(0, s[0], n1)[f1] + rng.normal(0, s[1], n2)[f2]
         + rng.normal(0, s[2], n2)[f2] * x + rng.normal(size=n) * s[3])  # fmt: skip
    d = pd.DataFrame({"y": y, "x": x, "f1": f1.astype(str), "f2": f2.astype(str)})
    m = fit_quietly("y ~ x + (1 | f1) + (1 | f2) + (0 + x | f2)", d, reml=True, optimizer="newton")
    e = m.model.new_engine()

    def grad(th):
        return e.gradient(m.model._to_working(th), True)[1]

    xo = m.theta.copy()  # the optimum: Newton's steps on central differences of the analytic gradient
    for _ in range(4):
        h = np.empty((3, 3))
        for j in range(3):
            step = np.zeros(3)
            step[j] = 1e-5 * abs(xo[j])
            h[:, j] = (grad(xo + step) - grad(xo - step)) / (2 * step[j])
        xo = xo - np.linalg.solve((h + h.T) / 2, grad(xo))
    assert float(np.max(np.abs(m.theta - xo))) <= 1e-9 * float(np.max(np.abs(xo)))


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


def test_gradient_and_values_are_those_in_turn(fits):
    # the second engine's values and this one's gradient, on both cores, are the bits of the calls in turn
    model = LinearMixedModel.from_formula("diameter ~ 1 + (1 | plate) + (1 | sample)", fits.data("penicillin"))
    f = EngineCriterion(model.new_engine(), reml=True, twin=model.new_engine)
    t = np.array([1.2, 2.9])
    points = [t + [1e-4, 0.0], t + [0.0, 1e-4], t + [1e-4, 1e-4]]
    value, grad, values, grads = f.gradient_and_values(t, points)
    assert grads == []
    plain = EngineCriterion(model.new_engine(), reml=True)
    v0, g0 = plain.value_and_gradient(t)
    assert value == v0
    np.testing.assert_array_equal(grad, g0)
    assert values == [plain(p) for p in points]
    assert f.values(points) == values


@pytest.mark.parametrize("threads", [1, 2])
def test_newton_on_differences_on_one_thread_and_two(fits, monkeypatch, threads):
    # "auto" on an expensive crossed design (forced here: EXPENSIVE_FLOPS = 0) reaches BOBYQA's optimum
    # with its differences in turn (one thread) or beside the gradient (two)
    import mixedmodels.optimize as optimize_module

    formula = "diameter ~ 1 + (1 | plate) + (1 | sample)"
    b = fits.fit(formula, "penicillin")
    monkeypatch.setattr(optimize_module, "EXPENSIVE_FLOPS", 0.0)
    m = mm.lmer(formula, fits.data("penicillin"), threads=threads)
    assert m.optimizer_message.startswith("Newton: the step is below")
    assert m.converged
    assert m.objective == pytest.approx(b.objective, rel=1e-12)
    np.testing.assert_allclose(m.theta, b.theta, rtol=1e-7)


@pytest.mark.parametrize("columns", range(6))
def test_differenced_hessian_takes_columns_from_gradients(columns):
    # the Hessian's first `columns` columns from differences of the gradient, the rest from the
    # criterion's: each agrees with the exact Hessian of a quartic to the differences' truncation
    from mixedmodels.optimize import _differenced_hessian, _differenced_points

    a = np.array([[3.0, 0.4, 0.1, 0.0, 0.2], [0.4, 2.0, 0.3, 0.1, 0.0], [0.1, 0.3, 1.5, 0.2, 0.1],
                  [0.0, 0.1, 0.2, 1.0, 0.3], [0.2, 0.0, 0.1, 0.3, 2.5]])  # fmt: skip

    def f(t):
        return float(0.5 * t @ a @ t + 0.1 * np.sum(t**4))

    def g(t):
        return a @ t + 0.4 * t**3

    x = np.array([0.3, -0.5, 0.8, 1.2, -0.2])
    free = np.arange(5)
    points, gradient_points, h = _differenced_points(x, free, columns)
    assert len(gradient_points) == columns
    assert len(points) == (6 - columns) * (5 - columns) // 2
    grads = [(f(p), g(p)) for p in gradient_points]
    hess = _differenced_hessian(f(x), g(x), free, h, columns, [f(p) for p in points], grads)
    np.testing.assert_array_equal(hess, hess.T)
    np.testing.assert_allclose(hess, a + np.diag(1.2 * x**2), atol=2e-4)


def test_differenced_hessian_alongside_is_the_hessian_in_turn():
    # the first Hessian of four parameters on both engines (a gradient's column beside the
    # criterion's differences) has the bits of the same differences taken in turn
    rng = np.random.default_rng(3)
    n = 600
    g1, g2 = rng.integers(0, 30, n), rng.integers(0, 12, n)
    x = rng.normal(size=n)
    b1, b2 = rng.normal(size=(30, 2)), rng.normal(size=12)
    y = 1 + x + b1[g1, 0] + 0.5 * b1[g1, 1] * x + b2[g2] + rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "x": x, "g1": g1.astype(str), "g2": g2.astype(str)})
    model = LinearMixedModel.from_formula("y ~ x + (1 + x | g1) + (1 | g2)", frame)
    crit = EngineCriterion(model.new_engine(), reml=True, twin=model.new_engine)
    crit.engine.threads = 2
    assert crit.alongside is not None
    t = np.array([0.9, 0.1, 0.4, 0.8])
    dh = DifferencedHessian(crit.value_and_gradient, crit, crit.alongside)
    f0, g0, hess, used = dh.at(t, True)
    assert hess is not None
    assert used == 1 + 1 + 6
    plain = EngineCriterion(model.new_engine(), reml=True)
    turn = DifferencedHessian(plain.value_and_gradient, plain)
    v, g = plain.value_and_gradient(t)
    assert v == f0
    np.testing.assert_array_equal(g, g0)
    h2, used2 = turn.hessian(t, v, g)
    assert used2 == 7
    np.testing.assert_array_equal(hess, h2)
