"""A GLMM stage's criterion in the core (`_core.LaplaceStage`, `GeneralizedLinearMixedModel._stage`):
the values `laplace` gives, BOBYQA from C++ reaching the optimum the Python-driven BOBYQA reaches,
its PIRLS calls counted, and bad shapes refused."""

from __future__ import annotations

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels import _core, optimize
from mixedmodels.glmm import GeneralizedLinearMixedModel

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
TICKS = "TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)"


def _model(formula: str = CBPP) -> GeneralizedLinearMixedModel:
    if formula == CBPP:
        return GeneralizedLinearMixedModel.from_formula(formula, mm.datasets.load("cbpp"), mm.families.Binomial())
    return GeneralizedLinearMixedModel.from_formula(formula, mm.datasets.load("grouseticks"), mm.families.Poisson())


@pytest.mark.parametrize("formula", [CBPP, TICKS])
def test_stage_one_is_laplace_without_beta(formula):
    theta = np.full(_model(formula).ntheta, 0.6)
    expected = _model(formula).laplace(theta)
    model = _model(formula)
    with model._stage(model.laplace) as f:
        assert isinstance(f, _core.LaplaceStage)
        assert f(theta) == expected  # the same PIRLS from the same start: the same bits
        again = f(theta)  # warm-started from the modes just found
    assert again == pytest.approx(expected, rel=1e-8)  # PIRLS stops within its tolerance
    assert model._warm_u is not None
    assert model._warm_beta is not None


def test_stage_two_is_laplace_at_shifted_and_scaled_parameters():
    model = _model()
    theta, beta = np.array([0.7]), np.array([-1.4, -1.0, -1.1, -1.6])
    shift = np.concatenate([theta, beta])
    scale = np.array([1.0, 0.2, 0.3, 0.3, 0.4])
    v = np.array([0.1, -0.5, 0.2, 0.0, 1.0])
    x = shift + scale * v
    expected = _model().laplace(x[:1], x[1:])
    with model._stage(lambda w: model.laplace(*np.split(shift + scale * w, [1])), shift=shift, scale=scale) as f:
        assert f(v) == pytest.approx(expected, rel=1e-12)  # X beta summed in another order
        assert f.nparams == 5


def test_native_and_python_bobyqa_reach_the_same_fit(monkeypatch):
    native = mm.glmer(CBPP, mm.datasets.load("cbpp"), family="binomial")
    monkeypatch.setattr(optimize, "native_bobyqa", lambda: False)
    driven = mm.glmer(CBPP, mm.datasets.load("cbpp"), family="binomial")
    assert native.converged
    assert driven.converged
    assert native.loglik == pytest.approx(driven.loglik, rel=1e-10)
    np.testing.assert_allclose(native.fixef, driven.fixef, rtol=1e-5)


def test_pirls_calls_are_counted_wherever_they_run():
    fit = _model().fit()
    calls, iterations = fit.model.pirls_counts
    assert fit.n_evals < calls <= iterations


def test_bad_shapes_are_refused():
    model = _model()
    wr, eng = model._working(True)
    fam = model.family
    n = model.nobs

    def stage(**changed):
        args = dict(
            y=np.zeros(n),
            prior=np.ones(n),
            offset=np.zeros(n),
            x=None,
            eta_start=np.zeros(n),
            ntheta=1,
            family_parameter=0.0,
            aic_less_deviance=0.0,
            tol=1e-7,
            maxit=30,
        )
        return _core.LaplaceStage(wr, eng, fam.name, fam.link.name, **{**args, **changed})

    with pytest.raises(_core.InvalidInputError, match="one value per row"):
        stage(y=np.zeros(n + 1))
    with pytest.raises(_core.InvalidInputError, match="eta_start"):
        stage(eta_start=None)
    with pytest.raises(_core.InvalidInputError, match="modes-only"):
        stage(x=np.zeros((n, 4)), eta_start=None, shift=np.zeros(5), scale=np.ones(5))


def test_stage_one_warm_starts_without_fixed_effects():
    """With no fixed effects beta is empty but held: the next evaluation still starts from the
    previous modes, as `laplace` does (not from the family's start)."""
    df = mm.datasets.load("grouseticks")
    formula = "TICKS ~ 0 + (1 | LOCATION)"
    python = GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Poisson())
    native = GeneralizedLinearMixedModel.from_formula(formula, df, mm.families.Poisson())
    with native._stage(native.laplace) as f:
        for t in (0.8, 0.9):
            assert f(np.array([t])) == python.laplace(np.array([t]))
        assert f.warm_beta is not None
        assert f.warm_beta.shape == (0,)
    assert native.pirls_counts == python.pirls_counts


def test_a_stage_called_from_two_threads_gives_each_its_own_value():
    import threading

    model = _model()
    with model._stage(model.laplace) as f:
        want = {t: _model().laplace(np.array([t])) for t in (0.3, 2.5)}
        wrong = []

        def run(t: float) -> None:
            for _ in range(300):
                v = f(np.array([t]))
                if v != pytest.approx(want[t], rel=1e-6):
                    wrong.append((t, v))

        threads = [threading.Thread(target=run, args=(t,)) for t in want]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert wrong == []
