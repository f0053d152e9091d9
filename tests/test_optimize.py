"""The optimisers: BOBYQA and COBYQA reach the same optimum; "auto" picks by the cost of an evaluation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels.design import build_design
from mixedmodels.optimize import COBYQA_FLOPS, choose_method, minimize_theta

SLEEP = "Reaction ~ Days + (Days | Subject)"


def test_choose_method_by_work():
    assert choose_method(COBYQA_FLOPS / 2) == "bobyqa"
    assert choose_method(COBYQA_FLOPS * 2) == "cobyqa"


def test_update_flops_orders_designs(fits):
    """The work estimate is tiny for one grouping factor and large for InstEval's dense block."""
    small = build_design(SLEEP, fits.data("sleepstudy")).make_engine().update_flops()
    big = build_design("y ~ service + (1 | s) + (1 | d) + (1 | dept)", fits.data("insteval")).make_engine()
    assert 0 < small < COBYQA_FLOPS < big.update_flops()
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


def test_auto_takes_cobyqa_for_insteval(fits):
    m = fits.fit("y ~ service + (1 | s) + (1 | d) + (1 | dept)", "insteval")
    assert m.optimizer_message.startswith("COBYQA")
    assert fits.fit(SLEEP, "sleepstudy").optimizer_message.startswith("BOBYQA")


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
