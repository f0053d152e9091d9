"""The exact gradient of the Laplace criterion (one grouping factor, canonical link) and the fit
that uses it: the gradient against central differences of the criterion, and the optimum against
the derivative-free path (BOBYQA over theta and beta, which the gradient replaces)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import glmm
from mixedmodels.glmm import GeneralizedLinearMixedModel


def _slope_data(family: str, seed: int, n: int = 3000, ng: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, ng, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    b = rng.multivariate_normal([0.0, 0.0], [[0.6, 0.15], [0.15, 0.3]], size=ng)
    eta = 0.2 + 0.5 * x1 - 0.3 * x2 + b[g, 0] + b[g, 1] * x1
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": pd.Categorical(g)})


CASES = [
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial"),
    ("y ~ x1 + x2 + (1 + x1 | g)", "logit", "binomial"),
    ("y ~ x1 + x2 + (1 + x1 | g)", "counts", "poisson"),
    ("y ~ x1 + x2 + (1 | g) ", "counts", "poisson"),
    ("y ~ x1 + x2 + (1 + x1 || g)", "logit", "binomial"),
    ("y ~ Anger + btype + (1 | id) + (1 | item)", "verbagg", "binomial"),  # crossed: dense blocks of L
    # nested, L's blocks sparse and block-diagonal (its selected inverse on that pattern)
    ("TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", "grouse", "poisson"),
    ("y ~ x1 + x2 + (1 + x1 | g) + (1 | h)", "nested", "binomial"),  # a vector term on a nested factor
    ("y ~ x1 + x2 + (1 | g) + (0 + x1 | h)", "crossed", "poisson"),  # crossed, a slope on the second factor
]


def _two_factor_data(family: str, nested: bool, seed: int = 8, n: int = 2400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 120, n)
    h = g // 6 if nested else rng.integers(0, 15, n)  # g within h, or crossed with it
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    eta = 0.1 + 0.4 * x1 - 0.3 * x2 + rng.normal(0, 0.6, 120)[g] + rng.normal(0, 0.5, 20)[h]
    eta += rng.normal(0, 0.3, 120)[g] * x1
    if family == "binomial":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": pd.Categorical(g), "h": pd.Categorical(h)})


def _model(formula: str, data: str, family: str) -> GeneralizedLinearMixedModel:
    if data == "verbagg":
        verb = mm.datasets.load("verbagg")
        df = verb.assign(y=(verb["r2"] == verb["r2"].cat.categories[1]).astype(float))
    elif data == "grouse":
        df = mm.datasets.load("grouseticks")
        df = df.assign(HEIGHT=(df["HEIGHT"] - df["HEIGHT"].mean()) / df["HEIGHT"].std())
    elif data in ("nested", "crossed"):
        df = _two_factor_data(family, data == "nested")
    else:
        df = mm.datasets.load("cbpp") if data == "cbpp" else _slope_data(family, 5 if data == "logit" else 6)
    fam = mm.families.Binomial() if family == "binomial" else mm.families.Poisson()
    return GeneralizedLinearMixedModel.from_formula(formula, df, fam)


@pytest.mark.parametrize(("formula", "data", "family"), CASES)
def test_gradient_matches_central_differences(formula: str, data: str, family: str) -> None:
    model = _model(formula, data, family)
    assert model.has_laplace_gradient
    nt = model.ntheta
    theta = 0.7 * model.structure.theta.default_start()
    theta[~model.structure.theta.on_diagonal] = 0.2
    beta = model.pirls(theta, None).beta + 0.05
    value, grad = model.laplace_and_gradient(theta, beta)
    x0 = np.concatenate([theta, beta])
    h = 1e-5
    fd = np.empty_like(x0)
    for i in range(x0.size):
        e = np.zeros_like(x0)
        e[i] = h
        fd[i] = (model.laplace((x0 + e)[:nt], (x0 + e)[nt:]) - model.laplace((x0 - e)[:nt], (x0 - e)[nt:])) / (2 * h)
    assert value == pytest.approx(model.laplace(theta, beta), rel=1e-12)
    # central differences of a criterion of size ~1e3 with h = 1e-5: accurate to ~1e-6 relative
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(fd).max())))


def test_gradient_applies_only_where_it_is_exact() -> None:
    cbpp = mm.datasets.load("cbpp")
    probit = GeneralizedLinearMixedModel.from_formula(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, mm.families.Binomial(link="probit")
    )
    assert not probit.has_laplace_gradient
    with pytest.raises(mm.ArgumentError, match="canonical link"):
        probit.laplace_gradient(np.array([1.0]), np.zeros(4), probit.pirls(np.array([1.0]), None))
    # three nested factors (584 random effects for 403 rows): the selected inversion on the blocks of L
    grouse = mm.datasets.load("grouseticks")
    nested = GeneralizedLinearMixedModel.from_formula(
        "TICKS ~ YEAR + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", grouse, mm.families.Poisson()
    )
    assert nested.has_laplace_gradient


@pytest.mark.parametrize(("formula", "data", "family"), [*CASES[:3], CASES[5], CASES[6], CASES[7]])
def test_gradient_fit_reaches_the_derivative_free_optimum(
    formula: str, data: str, family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(glmm, "GRADIENT_MIN_ROWS", 0)  # cbpp has 56 rows
    with_gradient = _model(formula, data, family).fit()
    model = _model(formula, data, family)
    monkeypatch.setattr(GeneralizedLinearMixedModel, "has_laplace_gradient", property(lambda self: False))
    without = model.fit()
    assert with_gradient.converged
    assert without.converged
    # the same optimum: no higher than BOBYQA's beyond rounding, estimates alike
    assert with_gradient.objective <= without.objective + 1e-9 * abs(without.objective)
    np.testing.assert_allclose(with_gradient.beta, without.beta, rtol=1e-4, atol=1e-5)
    # theta to the 1e-3: BOBYQA's stopping rule leaves theta that far on flat designs
    np.testing.assert_allclose(with_gradient.theta, without.theta, rtol=1e-3, atol=1e-4)
    # the Hessian from differences of the exact gradient against differences of the criterion
    # (whose rounding error is ~1e-10 / h^2 = 1e-4 of the Hessian): alike to 1e-3 of the variances
    scale = float(np.abs(np.diag(without.vcov_array)).max())
    np.testing.assert_allclose(with_gradient.vcov_array, without.vcov_array, rtol=1e-3, atol=1e-3 * scale)
    assert with_gradient.n_evals < without.n_evals


def test_gradient_derivatives_of_a_quadratic() -> None:
    a = np.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    x_opt = np.array([0.0, 1.0, -2.0])

    def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
        d = x - x_opt
        return float(d @ a @ d), 2 * a @ d

    g, h = glmm._gradient_derivatives(fg, x_opt, np.array([0.0, -np.inf, -np.inf]))
    np.testing.assert_allclose(g, 0.0, atol=1e-12)
    expect = 2 * a
    expect[0, 1:] = expect[1:, 0] = 0.0  # the parameter at its bound: no cross terms, as _derivatives
    np.testing.assert_allclose(h, expect, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("formula", "data", "family"), [CASES[1], CASES[3], CASES[5], CASES[6], CASES[8]])
def test_modes_jacobian_matches_central_differences(formula: str, data: str, family: str) -> None:
    # du/d(theta, beta), which the warm starts extrapolate along, against differences of the modes
    model = _model(formula, data, family)
    nt = model.ntheta
    theta = 0.7 * model.structure.theta.default_start()
    beta = model.pirls(theta, None).beta
    _, jac = model._gradient_parts(theta, beta, model.pirls(theta, beta))
    x0 = np.concatenate([theta, beta])
    h = 1e-5
    for i in range(x0.size):
        e = np.zeros_like(x0)
        e[i] = h
        up = model.pirls((x0 + e)[:nt], (x0 + e)[nt:]).u
        down = model.pirls((x0 - e)[:nt], (x0 - e)[nt:]).u
        np.testing.assert_allclose(jac[:, i], (up - down) / (2 * h), rtol=1e-4, atol=1e-6)


def test_stage_two_takes_the_gradient_where_it_pays() -> None:
    # cbpp (56 rows, one factor, 5 parameters): BOBYQA's cheap evaluations; grouseticks (403 rows,
    # three nested factors): L-BFGS-B on the gradient, a fraction of BOBYQA's 264 evaluations
    assert not _model(*CASES[0]).fit().model._gradient_pays
    grouse = _model(*CASES[6])
    assert grouse._gradient_pays
    fit = grouse.fit()
    assert fit.converged
    assert fit.n_evals < 100


def test_selected_inverse_at_rows_and_solves_match_the_dense_inverse() -> None:
    # (LL')^-1 at each row's columns and in solves, from the factor PIRLS leaves, against the dense
    # inverse of L L' (nested sparse blocks, dense crossed blocks, a vector term)
    for case in (CASES[6], CASES[7], CASES[8], CASES[5]):
        model = _model(*case)
        theta = np.full(model.ntheta, 0.7)
        theta[~model.structure.theta.on_diagonal] = 0.1
        beta = model.pirls(theta, None).beta
        model.pirls(theta, beta)
        engine = model._working(False)[1]
        idx, _ = model._re_columns
        q = model.q
        low = np.tril(engine.dense(True))[:q, :q]
        dense = np.linalg.inv(low @ low.T)
        np.testing.assert_allclose(
            engine.inverse_at_rows(idx), dense[idx[:, :, None], idx[:, None, :]], rtol=1e-10, atol=1e-12
        )
        rhs = np.random.default_rng(3).normal(size=(q, 3))
        np.testing.assert_allclose(engine.solve_zz(rhs), dense @ rhs, rtol=1e-10, atol=1e-12)


def _reviewer_design(seed: int) -> pd.DataFrame:
    # a reviewer's crossed binary designs (300 rows for seeds 13 and 38) where a loose first stage
    # ends with theta at 0, a stationary point of the criterion (even in each column of T) that is
    # not a minimum
    r = np.random.default_rng(5000 + seed)
    n = int(r.choice([300, 500, 800]))
    na, nh, nk = int(r.choice([15, 40])), int(r.choice([5, 10])), int(r.choice([3, 6]))
    sds = r.choice([0.0, 0.1, 0.5], 4)
    binary = r.random() < 0.5
    a, h, k = r.integers(0, na, n), r.integers(0, nh, n), r.integers(0, nk, n)
    x = r.normal(size=n)
    eta = -0.4 + 0.4 * x + r.normal(0, sds[0], na)[a] + r.normal(0, sds[1], nh)[h]
    eta = eta + r.normal(0, sds[2], nh)[h] * x + r.normal(0, sds[3], nk)[k]
    y = (r.random(n) < 1 / (1 + np.exp(-eta))).astype(float) if binary else r.poisson(np.exp(eta)).astype(float)
    return pd.DataFrame({"y": y, "x": x, "a": pd.Categorical(a), "h": pd.Categorical(h), "k": pd.Categorical(k)})


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_gradient_fit_leaves_a_variance_stuck_at_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    formula, df = "y ~ x + (1 | a) + (1 | h) + (1 | k)", _reviewer_design(38)
    bobyqa = GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Binomial())
    monkeypatch.setattr(GeneralizedLinearMixedModel, "has_laplace_gradient", property(lambda self: False))
    best = bobyqa.fit()
    monkeypatch.undo()
    assert best.converged
    assert best.theta[2] > 0.1
    assert GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Binomial())._gradient_pays
    # the loose first stage ends at theta = 0 here; L-BFGS-B cannot leave it by the gradient (0
    # there), the escape does, to the derivative-free optimum
    model = GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Binomial())
    fit = model.fit()
    assert fit.converged
    assert fit.objective <= best.objective + 1e-9 * abs(best.objective)
    np.testing.assert_allclose(fit.theta, best.theta, atol=1e-3)
    # without the escape: the stationary point is not reported converged
    monkeypatch.setattr(glmm, "ESCAPE_ROUNDS", 0)
    with pytest.warns(mm.ConvergenceWarning, match="rises from its bound"):
        stuck = GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Binomial()).fit()
    assert not stuck.converged
    assert stuck.objective > best.objective + 0.1


def test_gradient_uses_the_factor_of_its_own_modes_only() -> None:
    # a res of another theta: the gradient is computed at (theta, beta), not from the engine's
    # factor at the other modes
    model = _model(*CASES[6])
    theta1, theta2 = np.array([0.7, 0.5, 0.3]), np.array([0.4, 0.8, 0.6])
    beta = model.pirls(theta1, None).beta
    res1 = model.pirls(theta1, beta)
    expect = model.laplace_gradient(theta2, beta, model.pirls(theta2, beta))
    model.pirls(theta1, beta)  # the engine at theta1's modes again
    np.testing.assert_allclose(model.laplace_gradient(theta2, beta, res1), expect, rtol=1e-6, atol=1e-8)


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_gradient_fit_turns_a_zero_column_of_t_into_its_descent_direction() -> None:
    # two vector terms with T = 0 after stage 1 (another reviewer's design, 300 rows): each column
    # of T alone raises the criterion, but a combination of a column's entries lowers it (the
    # column's Hessian has a negative eigenvalue); BOBYQA's optimum has a's T[:, 0] = (0.236, 0.203)
    df = _reviewer_design(13)
    model = GeneralizedLinearMixedModel.from_formula("y ~ x + (1 + x | a) + (1 + x | h)", df, mm.families.Binomial())
    fit = model.fit()
    assert fit.converged
    np.testing.assert_allclose(fit.theta[:2], [0.236, 0.2026], atol=2e-3)
    assert fit.objective < 398.93 - 0.5


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_derivative_free_fit_frees_a_zero_variance_from_the_column_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    # BOBYQA (no gradient) ended with h's T = [[0, 0], [-0.062, 0.053]] here, 1.3 in deviance above the
    # optimum, and called it converged: with T[0, 0] = 0 the sign of T[1, 0] is free, and on the
    # other sign the criterion falls as T[0, 0] rises
    formula, df = "y ~ x + (1 | a) + (1 + x | h) + (1 | k)", _reviewer_design(93)
    with_gradient = GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Poisson()).fit()
    monkeypatch.setattr(GeneralizedLinearMixedModel, "has_laplace_gradient", property(lambda self: False))
    fit = GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Poisson()).fit()
    assert fit.converged
    assert fit.objective <= with_gradient.objective + 1e-7 * abs(with_gradient.objective)
    monkeypatch.setattr(glmm, "ESCAPE_ROUNDS", 0)
    stuck = GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Poisson()).fit()
    assert stuck.objective > with_gradient.objective + 1.0
