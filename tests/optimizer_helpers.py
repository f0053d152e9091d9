"""Fits by one optimiser compared with BOBYQA's on the same model, shared by the tests of the
gradient-based optimisers (test_lbfgsb.py, test_newton.py)."""

from __future__ import annotations

import warnings

import numpy as np

import mixedmodels as mm


def fit_quietly(formula: str, data, reml: bool, optimizer: str, **kwargs):
    """`mm.lmer` with ``optimizer`` (and ``kwargs``), singular-fit warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.SingularFitWarning)
        return mm.lmer(formula, data, reml=reml, optimizer=optimizer, **kwargs)


def reaches_bobyqas_optimum(
    formula: str, data, reml: bool, optimizer: str, *, objective_rel: float, fixef_rtol: float, theta_atol: float
):
    """Fit with BOBYQA and with ``optimizer``; assert the latter converged at a criterion no higher
    than BOBYQA's (within ``objective_rel`` of it), with the same singularity, fixed effects within
    ``fixef_rtol`` and theta within ``theta_atol``. Returns (BOBYQA's fit, the other)."""
    a = fit_quietly(formula, data, reml, "bobyqa")
    b = fit_quietly(formula, data, reml, optimizer)
    assert b.converged
    assert b.objective <= a.objective + objective_rel * abs(a.objective)
    assert b.is_singular == a.is_singular
    np.testing.assert_allclose(b.fixef, a.fixef, rtol=fixef_rtol, atol=1e-8)
    np.testing.assert_allclose(b.theta, a.theta, atol=theta_atol)
    return a, b
