"""Drawing from a fitted model: new responses (lme4's ``simulate``), new groups' coefficients, and
refits on new responses that reuse the model's structure (used by the parametric bootstrap)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .fitted import LmerFit
from .model import LinearMixedModel

__all__ = ["linear_predictor_draw", "refit_parameters", "sample_groups", "simulate"]

FloatArray = NDArray[np.float64]
Seed: TypeAlias = int | np.random.Generator | None  # noqa: UP040 (Python 3.10 has no `type` statement)


def simulate(
    m: LmerFit, nsim: int = 1, seed: Seed = None, include_re: bool = True, use_u: bool = False
) -> pd.DataFrame:
    """New responses from the fitted model, one column per simulation (rows = the fitted rows).

    ``include_re=True`` draws new group effects from N(0, Sigma) for every grouping factor (lme4's
    default); ``use_u=True`` uses the fitted conditional modes instead (lme4's ``use.u = TRUE``);
    ``include_re=False`` simulates at the population level (fixed part plus residual noise).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> simulate(m, nsim=3, seed=1).shape
    (180, 3)
    """
    rng = np.random.default_rng(seed)
    rows = m.model.data.rows("simulate")
    n = rows.nobs
    noise_sd = m.sigma if rows.weights is None else m.sigma / np.sqrt(rows.weights)  # sigma^2 / w per row
    out = np.empty((n, nsim))
    for s in range(nsim):
        out[:, s] = linear_predictor_draw(m, rng, include_re, use_u) + noise_sd * rng.standard_normal(n)
    return pd.DataFrame(out, index=rows.index, columns=[f"sim_{i + 1}" for i in range(nsim)])


def linear_predictor_draw(m: LmerFit, rng: np.random.Generator, include_re: bool, use_u: bool) -> FloatArray:
    """X beta + offset plus, with ``include_re``, Z b for new group effects b ~ N(0, Sigma) (or the
    conditional modes with ``use_u``): one draw of the linear predictor of the fitted rows.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> linear_predictor_draw(m, np.random.default_rng(1), False, False)[:2].round(3).tolist()
    [251.405, 261.872]
    """
    rows = m.model.data.rows("simulate")
    layout = m.structure.theta
    y = rows.x @ m.beta
    if rows.offset is not None:
        y = y + rows.offset
    if include_re:
        for fi, f in enumerate(m.structure.factors):
            if use_u:
                b = m.b[fi]
            else:
                u = rng.standard_normal((f.nlev, f.k))
                b = m.sigma * u @ layout.factor_t(m.theta, fi).T
            y = y + np.einsum("ij,ij->i", rows.z[fi], b[rows.codes[fi]])
    out: FloatArray = y
    return out


def sample_groups(m: LmerFit, n: int, seed: Seed = None, group: str | None = None) -> pd.DataFrame:
    """Coefficients of n new groups drawn from the fitted random-effects distribution: fixed
    effects plus a draw from N(0, Sigma_group), in the columns of ``m.coef[group]``. A singular
    Sigma (a zero variance, a correlation of +-1) draws on its support.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> list(sample_groups(m, 4, seed=1).columns)
    ['(Intercept)', 'Days']
    """
    if group is None:
        group = next(iter(m.ranef))
    if group not in m.cov_re:
        raise KeyError(f"no grouping factor {group!r}; the model has {list(m.cov_re)}")
    rng = np.random.default_rng(seed)
    cov = m.cov_re[group]
    try:
        draws = rng.multivariate_normal(np.zeros(len(cov)), cov.to_numpy(), size=n, method="cholesky")
    except np.linalg.LinAlgError:  # a singular fit: a zero variance or a correlation of +-1
        w, v = np.linalg.eigh(cov.to_numpy())
        draws = rng.standard_normal((n, len(cov))) @ (v * np.sqrt(np.clip(w, 0.0, None))).T
    out = pd.DataFrame(np.tile(m.fixef.to_numpy(), (n, 1)), columns=list(m.fixef.index))
    for j, c in enumerate(cov.columns):
        out[c] = (out[c] if c in out.columns else 0.0) + draws[:, j]
    out.index = pd.RangeIndex(n, name="new_group")
    return out


def refit_parameters(
    model: LinearMixedModel, y: FloatArray, theta0: FloatArray
) -> tuple[FloatArray, float, FloatArray, int]:
    """Fit the same model to a new response from a previous fit's theta and return (theta, sigma,
    beta, n_evals) only: no derivative check, no result object (the parametric bootstrap's refits).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> theta, sigma, beta, n = refit_parameters(m.model, m.fitted().to_numpy() + m.residuals().to_numpy(), m.theta)
    >>> bool(np.allclose(theta, m.theta, rtol=1e-4))
    True
    """
    refitted = model.with_response(y)
    opt = refitted.optimize(start=theta0, warm=True)
    est = refitted.estimates(opt.theta)  # on the data's scale
    return opt.theta, float(est.criterion.sigma(model.reml)), np.asarray(est.beta), opt.n_evals
