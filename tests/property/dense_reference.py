"""Dense numpy versions of the penalised least-squares formulas of docs/design.md, section 1."""

from __future__ import annotations

import numpy as np


def dense_z_lambda(factors, theta):
    """Z (n x q) and Lambda (q x q) in the engine's order: factor by factor, level-major."""
    zs, lams = [], []
    for codes, nlev, z, ti, tr, tc in factors:
        n, k = z.shape
        zf = np.zeros((n, nlev * k))
        for m in range(k):
            zf[np.arange(n), codes * k + m] = z[:, m]
        t = np.zeros((k, k))
        t[tr, tc] = theta[ti]
        zs.append(zf)
        lams.append(np.kron(np.eye(nlev), t))
    z = np.hstack(zs)
    lam = np.zeros((z.shape[1], z.shape[1]))
    o = 0
    for blk in lams:
        s = blk.shape[0]
        lam[o : o + s, o : o + s] = blk
        o += s
    return z, lam


def dense_system(factors, x, y, theta):
    """The (q+p+1)-square matrix of docs/design.md, section 1 and its lower Cholesky factor."""
    z, lam = dense_z_lambda(factors, theta)
    zl = z @ lam
    w = np.hstack([zl, x, y[:, None]])
    m = w.T @ w
    q = zl.shape[1]
    m[:q, :q] += np.eye(q)
    return m, np.linalg.cholesky(m)


def dense_criterion(factors, x, y, theta, reml):
    """REML criterion or -2 log-likelihood from a dense Cholesky factor."""
    _, chol = dense_system(factors, x, y, theta)
    n, p = x.shape
    q = chol.shape[0] - p - 1
    d = np.diag(chol)
    ldl2 = 2 * np.log(d[:q]).sum()
    ldrx2 = 2 * np.log(d[q : q + p]).sum()
    pwrss = d[-1] ** 2
    if reml:
        return ldl2 + ldrx2 + (n - p) * (1 + np.log(2 * np.pi * pwrss / (n - p)))
    return ldl2 + n * (1 + np.log(2 * np.pi * pwrss / n))
