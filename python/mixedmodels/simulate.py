"""Drawing from a fitted model: new responses (lme4's ``simulate``), new groups' coefficients, and
refits on new responses that reuse the model's structure (used by the parametric bootstrap)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .optimize import EngineCriterion, choose_method, initial_step, minimize_theta

__all__ = ["refit_parameters", "sample_groups", "simulate"]


def simulate(m, nsim: int = 1, seed=None, include_re: bool = True, use_u: bool = False) -> pd.DataFrame:
    """New responses from the fitted model, one column per simulation (rows = the fitted rows).

    ``include_re=True`` draws new group effects from N(0, Sigma) for every grouping factor (lme4's
    default); ``use_u=True`` uses the fitted conditional modes instead (lme4's ``use.u = TRUE``);
    ``include_re=False`` simulates at the population level (fixed part plus residual noise).
    """
    rng = np.random.default_rng(seed)
    d = m.design
    d.require_rows("simulate")
    n = d.nobs
    mu = d.x @ m.fixef.to_numpy()
    out = np.empty((n, nsim))
    for s in range(nsim):
        y = mu.copy()
        if include_re:
            for fi, f in enumerate(d.factors):
                if use_u:
                    b = m._b[fi]
                else:
                    u = rng.standard_normal((f.nlev, f.k))
                    b = m.sigma * u @ f.t_matrix(m.theta).T
                y += np.einsum("ij,ij->i", f.z, b[f.codes])
        y += m.sigma * rng.standard_normal(n)
        out[:, s] = y
    return pd.DataFrame(out, index=d.row_index, columns=[f"sim_{i + 1}" for i in range(nsim)])


def sample_groups(m, n: int, seed=None, group: str | None = None) -> pd.DataFrame:
    """Coefficients of n new groups drawn from the fitted random-effects distribution: fixed
    effects plus a draw from N(0, Sigma_group), in the columns of ``m.coef[group]``."""
    if group is None:
        group = next(iter(m.ranef))
    if group not in m.cov_re:
        raise KeyError(f"no grouping factor {group!r}; the model has {list(m.cov_re)}")
    rng = np.random.default_rng(seed)
    cov = m.cov_re[group]
    draws = rng.multivariate_normal(np.zeros(len(cov)), cov.to_numpy(), size=n, method="cholesky")
    out = pd.DataFrame(np.tile(m.fixef.to_numpy(), (n, 1)), columns=list(m.fixef.index))
    for j, c in enumerate(cov.columns):
        out[c] = (out[c] if c in out.columns else 0.0) + draws[:, j]
    out.index = pd.RangeIndex(n, name="new_group")
    return out


def refit_parameters(design, y: np.ndarray, reml: bool, theta0: np.ndarray):
    """Fit the same structure to a new response and return (theta, sigma, beta, n_evals) only,
    optimising on the same unit-scale columns as the fit (`fit.working_engines`)."""
    from .fit import working_engines

    engine, _, work_engine, scale = working_engines(dataclasses.replace(design, y=np.ascontiguousarray(y, dtype=float)))
    x0 = theta0 if scale is None else theta0 * scale
    f = EngineCriterion(work_engine, reml)
    opt = minimize_theta(
        f, x0, design.theta_lower, method=choose_method(work_engine.update_flops()), step=initial_step(x0)
    )
    theta = opt.theta if scale is None else opt.theta / scale
    _, _, pwrss, beta, _, _ = engine.estimates(theta)
    n, p = design.nobs, design.p
    sigma = float(np.sqrt(pwrss / (n - p if reml else n)))
    return theta, sigma, beta, opt.n_evals


def refit(m, new_y):
    """The same model fitted to a new response (structure reused, started at the current theta)."""
    from .fit import fit_design

    m.design.require_rows("refit")
    y = np.ascontiguousarray(np.asarray(new_y, dtype=float))
    if y.shape != m.design.y.shape:
        raise ValueError(f"new_y must have {m.design.y.shape[0]} values, got shape {y.shape}")
    return fit_design(dataclasses.replace(m.design, y=y), reml=m.reml, start=m.theta, data_name=m.data_name)
