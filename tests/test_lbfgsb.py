"""optimizer="lbfgsb": SciPy's L-BFGS-B on the analytic gradient of the criterion reaches the
optimum BOBYQA reaches, with the same derivative check and boundary verification."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.model import LinearMixedModel
from mixedmodels.optimize import EngineCriterion, minimize_theta
from tests.optimizer_helpers import fit_quietly, reaches_bobyqas_optimum

CASES = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
    ("strength ~ 1 + (1 | batch/cask)", "pastes"),
    ("mAch ~ ses * sector + (ses | school)", "hsb"),
]


@pytest.mark.parametrize(("formula", "data"), CASES)
@pytest.mark.parametrize("reml", [True, False])
def test_lbfgsb_reaches_bobyqas_optimum(fits, formula, data, reml):
    reaches_bobyqas_optimum(
        formula, fits.data(data), reml, "lbfgsb", objective_rel=1e-9, fixef_rtol=1e-5, theta_atol=2e-4
    )


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
    a = fit_quietly("noise ~ 1 + (1 | g)", frame, True, "bobyqa")
    b = fit_quietly("noise ~ 1 + (1 | g)", frame, True, "lbfgsb")
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


def _noisy_bowl(scale: float, noise: float):
    """A quadratic bowl at (1, -2) of size `scale` whose computed value carries deterministic
    noise of relative size `noise` (as a large criterion is computed to its rounding), with the
    exact gradient; the evaluations are counted."""
    calls = []

    def fg(x):
        x = np.asarray(x, dtype=float)
        q = (x[0] - 1.0) ** 2 + 4.0 * (x[1] + 2.0) ** 2 + 0.5 * (x[0] - 1.0) * (x[1] + 2.0)
        jitter = noise * scale * np.sin(1e7 * (x[0] + 3.0 * x[1]))
        calls.append(x.copy())
        grad = np.array([2.0 * (x[0] - 1.0) + 0.5 * (x[1] + 2.0), 8.0 * (x[1] + 2.0) + 0.5 * (x[0] - 1.0)])
        return scale + q + jitter, grad

    return fg, calls


def test_lbfgsb_with_stall_stops_where_its_evaluations_fall_no_further_than_rounding():
    """At the end, where the criterion's rounding hides the last falls, L-BFGS-B's line searches
    fail and it restarts; with stall=True it is stopped after `LBFGSB_STALL` evaluations without a
    fall beyond rounding, at its best point, and says so; the polish then settles the end."""
    from mixedmodels.optimize import LBFGSB_STALL, newton_polish, settled

    fg, calls = _noisy_bowl(3e6, 1e-12)
    lower = np.full(2, -np.inf)
    full = minimize_theta(
        lambda t: fg(t)[0], np.array([4.0, 3.0]), lower, method="lbfgsb", gradient=fg, ftol=1e-15, gtol=1e-12
    )
    n_full = len(calls)
    calls.clear()
    r = minimize_theta(
        lambda t: fg(t)[0],
        np.array([4.0, 3.0]),
        lower,
        method="lbfgsb",
        gradient=fg,
        ftol=1e-15,
        gtol=1e-12,
        stall=True,
    )
    assert r.stalled
    assert not full.stalled
    assert r.n_evals == len(calls) < n_full
    assert "rounding" in r.message
    assert str(LBFGSB_STALL) in r.message
    assert r.fun == min(fg(c)[0] for c in calls[: r.n_evals])
    p = newton_polish(fg, r.theta, r.fun, lower, known=fg(r.theta))
    assert settled(p)
    np.testing.assert_allclose(p.theta, [1.0, -2.0], atol=1e-9)


def test_lbfgsb_stall_rule_waits_for_the_end():
    """Evaluations that do not lower the criterion far from the optimum (here more than
    `LBFGSB_STALL` in a row: steps far too long on a flat shoulder) do not stop L-BFGS-B: the rule
    waits for a gain below `LBFGSB_NEAR` first."""
    from mixedmodels.optimize import LBFGSB_NOISE, LBFGSB_STALL

    values = []

    def fg(x):
        x = np.asarray(x, dtype=float)
        v = float(np.log1p(1e4 * (x[0] - 1.0) ** 2) + x[1] ** 2)
        values.append(v)
        return v, np.array([2e4 * (x[0] - 1.0) / (1.0 + 1e4 * (x[0] - 1.0) ** 2), 2.0 * x[1]])

    r = minimize_theta(
        lambda t: fg(t)[0],
        np.array([30.0, 1.0]),
        np.full(2, -np.inf),
        method="lbfgsb",
        gradient=fg,
        ftol=1e-15,
        gtol=1e-10,
        stall=True,
    )
    best, run, longest = np.inf, 0, 0
    for v in values:
        run = 0 if v < best - LBFGSB_NOISE * max(1.0, abs(v)) else run + 1
        best, longest = min(best, v), max(longest, run)
    assert longest > LBFGSB_STALL  # the case the rule must let pass
    assert not r.stalled
    np.testing.assert_allclose(r.theta, [1.0, 0.0], atol=1e-8)


def test_a_stalled_end_the_polish_cannot_settle_is_continued(monkeypatch):
    """fit() continues L-BFGS-B from a stalled end unless the polish settles it: with `settled`
    made to refuse every end, the fit continues, reaches the same optimum and counts the
    evaluations of both runs."""
    import mixedmodels.model as model_module
    from mixedmodels import optimize

    rng = np.random.default_rng(7)
    n, groups = 20_000, 400
    g = rng.integers(0, groups, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    u = rng.normal(size=(groups, 3)) * [1.0, 0.5, 0.3]
    y = 1 + x1 - x2 + u[g, 0] + u[g, 1] * x1 + u[g, 2] * x2 + rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": g.astype(str)})
    formula = "y ~ x1 + x2 + (1 + x1 + x2 | g)"
    stalls = []
    original = optimize._lbfgsb

    def stalling(*args, **kwargs):
        out = original(*args, **kwargs)
        stalls.append(out[-1])
        return out

    monkeypatch.setattr(optimize, "_lbfgsb", stalling)
    monkeypatch.setattr(optimize, "LBFGSB_NEAR", 1.0)  # stop early, at the first flat run
    monkeypatch.setattr(optimize, "LBFGSB_NOISE", 1e-6)
    # from lme4's start (the moment start is near this optimum: no stall)
    base = LinearMixedModel.from_formula(formula, frame).fit(optimizer="bobyqa", start="lme4")
    first = LinearMixedModel.from_formula(formula, frame).fit(optimizer="lbfgsb", start="lme4")
    assert stalls[0]
    monkeypatch.setattr(model_module, "settled", lambda opt: False)
    stalls.clear()
    again = LinearMixedModel.from_formula(formula, frame).fit(optimizer="lbfgsb", start="lme4")
    assert stalls[0]
    assert len(stalls) >= 2  # continued
    assert not stalls[1]
    assert again.converged
    assert first.converged
    assert again.n_evals > first.n_evals
    for f in (first, again):
        assert abs(f.objective - base.objective) <= 1e-9 * abs(base.objective)
