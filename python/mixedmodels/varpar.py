"""The variance parameters on lme4's reporting scale: per term the standard deviations and
correlations (``.sig01``, ``.sig02``, ...) and the residual SD (``.sigma``), and back to theta."""

from __future__ import annotations

import numpy as np

__all__ = ["sd_corr", "sdcor_names", "sdcor_to_theta", "theta_to_sdcor"]


def sd_corr(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standard deviations and correlation matrix of a covariance matrix (NaN correlations where
    a standard deviation is zero)."""
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    corr[(sd[:, None] == 0) | (sd[None, :] == 0)] = np.nan
    return sd, corr


def _term_slices(design):
    """(theta offset, k) of each term in lme4's order."""
    out, o = [], 0
    for t in design.terms:
        out.append((o, t.k))
        o += t.ntheta
    return out


def theta_to_sdcor(design, theta: np.ndarray, sigma: float) -> np.ndarray:
    """theta and sigma -> (for each term, the column-wise lower triangle of its covariance on the
    sd/cor scale: sd on the diagonal, correlations below) followed by sigma (lme4's Cv_to_Sv)."""
    out = []
    for o, k in _term_slices(design):
        t = np.zeros((k, k))
        idx = 0
        for j in range(k):
            for i in range(j, k):
                t[i, j] = theta[o + idx]
                idx += 1
        sd, corr = sd_corr(sigma**2 * t @ t.T)
        for j in range(k):
            for i in range(j, k):
                out.append(sd[i] if i == j else (0.0 if np.isnan(corr[i, j]) else corr[i, j]))
    out.append(sigma)
    return np.array(out)


def _semidef_chol(c: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of a positive semi-definite matrix (zero columns where singular);
    None if the matrix is not positive semi-definite."""
    k = c.shape[0]
    ell = np.zeros_like(c)
    scale = max(float(np.max(np.abs(np.diag(c)))), 1e-300)
    for j in range(k):
        d = c[j, j] - ell[j, :j] @ ell[j, :j]
        if d < -1e-10 * scale:
            return None
        if d <= 1e-14 * scale:
            continue
        ell[j, j] = np.sqrt(d)
        for i in range(j + 1, k):
            ell[i, j] = (c[i, j] - ell[i, :j] @ ell[j, :j]) / ell[j, j]
    return ell


def sdcor_to_theta(design, v: np.ndarray) -> np.ndarray | None:
    """Inverse of `theta_to_sdcor` (lme4's Sv_to_Cv); None where the correlations are not a valid
    (positive semi-definite) correlation matrix."""
    sigma = v[-1]
    theta, pos = [], 0
    for _o, k in _term_slices(design):
        sd = np.zeros(k)
        corr = np.eye(k)
        for j in range(k):
            for i in range(j, k):
                if i == j:
                    sd[i] = v[pos]
                else:
                    corr[i, j] = corr[j, i] = v[pos]
                pos += 1
        cov = np.outer(sd, sd) * corr / sigma**2
        ell = _semidef_chol(cov)
        if ell is None:
            return None
        for j in range(k):
            for i in range(j, k):
                theta.append(ell[i, j])
    return np.array(theta)


def sdcor_names(design) -> list[str]:
    """lme4's ``oldNames``: .sig01, .sig02, ... then .sigma."""
    n = sum(t.ntheta for t in design.terms)
    return [f".sig{i + 1:02d}" for i in range(n)] + [".sigma"]


def sdcor_bounds(design) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds on the sd/cor scale: sd >= 0, -1 <= cor <= 1, sigma > 0."""
    lo, hi = [], []
    for _o, k in _term_slices(design):
        for j in range(k):
            for i in range(j, k):
                if i == j:
                    lo.append(0.0)
                    hi.append(np.inf)
                else:
                    lo.append(-1.0)
                    hi.append(1.0)
    lo.append(0.0)
    hi.append(np.inf)
    return np.array(lo), np.array(hi)
