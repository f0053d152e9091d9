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


def dense_gradient(factors, x, y, theta, reml):
    """The criterion and its exact gradient in theta (docs/design.md, section 3a), from dense
    matrices: with M = Lambda'Z'ZLambda + I, Lambda_k = dLambda/dtheta_k and the PLS solution
    (beta, u), r = y - X beta - Z Lambda u,

    - d log|M| = 2 tr(M^-1 Lambda'Z'Z Lambda_k),
    - d r^2 = -2 (Z'r)' Lambda_k u (the envelope theorem),
    - d log|R_X'R_X| = -2 tr(Lambda_k V S^-1 Q'), S = R_X'R_X = X'X - X'Z Lambda V,
      V = M^-1 Lambda'Z'X, Q = Z'X - Z'Z Lambda V,

    and the criterion's gradient is d log|M| [+ d log|R_X'R_X|] + (n or n - p) d r^2 / r^2."""
    theta = np.asarray(theta, dtype=float)
    z, lam = dense_z_lambda(factors, theta)
    n, p = x.shape
    q = z.shape[1]
    zl = z @ lam
    m = zl.T @ zl + np.eye(q)
    minv = np.linalg.inv(m)
    v = minv @ zl.T @ x
    s = x.T @ x - x.T @ zl @ v
    sinv = np.linalg.inv(s)
    beta = np.linalg.solve(s, x.T @ y - x.T @ zl @ minv @ zl.T @ y)
    u = minv @ zl.T @ (y - x @ beta)
    r = y - x @ beta - zl @ u
    pwrss = r @ r + u @ u
    ztr = z.T @ r
    qx = z.T @ x - z.T @ zl @ v
    grad = np.zeros(theta.size)
    for kk in range(theta.size):
        dth = np.zeros(theta.size)
        dth[kk] = 1.0
        _, lam_k = dense_z_lambda(factors, dth)  # Lambda is linear in theta
        dldl = 2.0 * np.trace(minv @ zl.T @ z @ lam_k)
        dr2 = -2.0 * ztr @ lam_k @ u
        g = dldl + (n - p if reml else n) * dr2 / pwrss
        if reml:
            g += -2.0 * np.trace(lam_k @ v @ sinv @ qx.T)
        grad[kk] = g
    return dense_criterion(factors, x, y, theta, reml), grad


def central_differences(f, theta, h=1e-5):
    """Central finite differences of f at theta (step h relative to max(1, |theta_k|))."""
    theta = np.asarray(theta, dtype=float)
    out = np.zeros(theta.size)
    for kk in range(theta.size):
        step = h * max(1.0, abs(theta[kk]))
        up, dn = theta.copy(), theta.copy()
        up[kk] += step
        dn[kk] -= step
        out[kk] = (f(up) - f(dn)) / (2 * step)
    return out
