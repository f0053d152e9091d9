"""Degrees of freedom and tests for fixed effects: Satterthwaite (as lmerTest) and Kenward-Roger
(as pbkrtest), t tests per coefficient and F tests of contrasts (`contest`)."""

from __future__ import annotations

import threading
import weakref
from functools import cached_property

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from .exceptions import MixedModelsError
from .fitted import LmerFit
from .layout import tril_pairs
from .numderiv import hessian, jacobian

__all__ = [
    "F_COLUMNS",
    "Inference",
    "coef_table",
    "contest",
    "inference_for",
    "zapsmall",
]

FloatArray = NDArray[np.float64]

KR_MAX_NOBS = 6000  # Kenward-Roger builds n x n matrices; beyond this it refuses


_CACHE: weakref.WeakKeyDictionary[LmerFit, Inference] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def inference_for(m: LmerFit) -> Inference:
    """The `Inference` of a fit, built when first asked for and kept while the fit lives (it holds
    the fit only weakly, so the cache does not keep the fit alive)."""
    with _CACHE_LOCK:
        inf = _CACHE.get(m)
        if inf is None:
            inf = _CACHE[m] = Inference(m)
        return inf


class Inference:
    """Satterthwaite and Kenward-Roger machinery for one fitted model (built lazily, cached)."""

    def __init__(self, m: LmerFit) -> None:
        self._fit = weakref.ref(m)
        self.model = m.model
        self.beta = m.beta
        self.vcov = m.vcov_array
        # Derivatives are taken in unit-scale coordinates, where the numerical steps mean the same
        # for every parameter: the optimiser's theta (the model's working scale, and slopes far from
        # zero centred: `LinearMixedModel.working_theta`) and sigma over its estimate. On the data's
        # scale a covariate in millionths makes its theta ~1e-6, a response in billionths sigma
        # ~1e-8, and a slope on x + 1000 the intercept's SD a thousand times the slope's at a
        # correlation of -1: fixed-size steps are meaningless there (the slope's Satterthwaite df on
        # x + 1000 had been 286 where x gives 25).
        self._theta_scale = self.model.theta_scale
        self._sigma_scale = m.sigma if m.sigma > 0 else 1.0
        self.varpar = np.append(self.model.working_theta(m.theta), 1.0 if m.sigma > 0 else 0.0)

    def _theta_sigma(self, vp: FloatArray) -> tuple[FloatArray, float]:
        theta = np.ascontiguousarray(self.model.theta_of_working(vp[:-1]))
        return theta, float(vp[-1]) * self._sigma_scale

    # ---------------------------------------------------------------- (theta, sigma) functions
    def deviance_vp(self, vp: FloatArray) -> float:
        """(RE)ML deviance at unit-scale (theta, sigma), beta profiled (lmerTest's devfun_vp)."""
        theta, sigma = self._theta_sigma(vp)
        return float(self.model.criterion(theta).at_sigma(sigma, self.model.reml))

    def vcov_vp(self, vp: FloatArray) -> FloatArray:
        """vcov(beta) = sigma^2 (R_X' R_X)^{-1} at unit-scale (theta, sigma)."""
        theta, sigma = self._theta_sigma(vp)
        return sigma**2 * self.model.estimates(theta).rx_inverse_crossprod

    def gradient_vp(self, vp: FloatArray) -> FloatArray | None:
        """The analytic gradient of `deviance_vp` in unit-scale (theta, sigma)
        (`LinearMixedModel.deviance_gradient`), or None where the model has none."""
        theta, sigma = self._theta_sigma(vp)
        parts = self.model.deviance_gradient(theta, sigma)
        if parts is None:
            return None
        _, grad, dsigma = parts
        return np.append(grad / self._theta_scale, dsigma * self._sigma_scale)

    def _hessian_of_gradient(self) -> np.ndarray | None:
        """The Hessian of the deviance in unit-scale (theta, sigma) by central differences of its
        analytic gradient (relative step 1e-4: errors near 1e-8, where numDeriv's Richardson
        extrapolation of the criterion needs many more factorisations), or None without one."""
        vp = self.varpar
        if vp[-1] <= 0:
            return None
        cols = []
        with self.model.gradient_workspace():
            for j in range(vp.size):
                h = 1e-4 * max(abs(float(vp[j])), 1e-2)
                up, down = vp.copy(), vp.copy()
                up[j] += h
                down[j] -= h
                g_up, g_down = self.gradient_vp(up), self.gradient_vp(down)
                if g_up is None or g_down is None:
                    return None
                cols.append((g_up - g_down) / (2 * h))
        return np.column_stack(cols)

    @cached_property
    def vcov_varpar(self) -> np.ndarray:
        """Asymptotic covariance of unit-scale (theta, sigma): 2 H^{-1}, H the Hessian of the deviance
        (from the analytic gradient; numDeriv's Richardson differences of the deviance, as lmerTest's,
        for models without one)."""
        h = self._hessian_of_gradient()
        if h is None:
            h = hessian(self.deviance_vp, self.varpar, d=1e-1, eps=1e-4)
        h = (h + h.T) / 2
        try:
            return 2 * np.linalg.inv(h)
        except np.linalg.LinAlgError:
            return 2 * np.linalg.pinv(h)

    @cached_property
    def jac_vcov(self) -> np.ndarray:
        """d vcov(beta) / d unit-scale (theta, sigma): array (p, p, m)."""
        return jacobian(self.vcov_vp, self.varpar, d=1e-1, eps=1e-4)

    # ---------------------------------------------------------------- Satterthwaite
    def satterthwaite_1d(self, lvec: np.ndarray) -> tuple[float, float]:
        """(variance of L beta, Satterthwaite df) for one contrast row L."""
        c = self.vcov
        v = float(lvec @ c @ lvec)
        g = np.einsum("i,ijk,j->k", lvec, self.jac_vcov, lvec)
        denom = float(g @ self.vcov_varpar @ g)
        return v, (2 * v * v / denom if denom > 0 else np.inf)

    def satterthwaite_md(self, lmat: np.ndarray) -> tuple[float, int, float]:
        """(F, numerator df, denominator df) for a contrast matrix (lmerTest's contestMD)."""
        beta = self.beta
        c = self.vcov
        vl = lmat @ c @ lmat.T
        d, pvec = np.linalg.eigh(vl)
        order = np.argsort(d)[::-1]
        d, pvec = d[order], pvec[:, order]
        tol = max(np.finfo(float).eps ** 0.5 * d[0], 0.0)
        q = int((d > tol).sum())
        ptl = (pvec.T @ lmat)[:q]
        t2 = (ptl @ beta) ** 2 / d[:q]
        fval = float(t2.sum() / q)
        nus = np.array(
            [
                2 * d[i] ** 2 / float(g @ self.vcov_varpar @ g)
                for i in range(q)
                for g in [np.einsum("i,ijk,j->k", ptl[i], self.jac_vcov, ptl[i])]
            ]
        )
        if q == 1:
            ddf = float(nus[0])
        elif np.all(np.abs(np.diff(nus)) < 1e-8):
            ddf = float(nus.mean())
        elif np.any(nus <= 2):
            ddf = 2.0
        else:
            e = float((nus / (nus - 2)).sum())
            ddf = 2 * e / (e - q)
        return fval, q, ddf

    # ---------------------------------------------------------------- Kenward-Roger
    @cached_property
    def kenward_roger(self) -> KenwardRoger:
        """pbkrtest's adjusted covariance and df machinery (built when first asked for)."""
        m = self._fit()
        if m is None:  # pragma: no cover - the caller holds the fit
            raise MixedModelsError("the fit this inference belongs to no longer exists")
        return KenwardRoger(m)


def zapsmall(x: FloatArray, digits: int = 7) -> FloatArray:
    """R's ``zapsmall`` (R 4.2): round to about ``digits`` significant digits of the largest
    absolute value.

    Examples
    --------
    >>> zapsmall(np.array([1 / 6, 1e-12, 1.0])).tolist()
    [0.1666667, 0.0, 1.0]
    >>> zapsmall(np.array([1 / 6, 20.0])).tolist(), zapsmall(np.array([1 / 6, 100.0])).tolist()
    ([0.166667, 20.0], [0.16667, 100.0])
    """
    x = np.asarray(x, dtype=np.float64)
    finite = np.abs(x[np.isfinite(x)])
    mx = float(finite.max()) if finite.size else 0.0
    # R 4.2: round(x, max(0, digits - log10(mx))), and round() takes the nearest integer of digits
    places = int(np.floor(max(0.0, digits - np.log10(mx)) + 0.5)) if mx > 0 else digits
    return np.round(x, places) + 0.0  # + 0.0: no negative zeros


def _components(codes: tuple[NDArray[np.int32], ...], nlev: list[int], n: int) -> list[NDArray[np.intp]]:
    """Row sets that share no level of any grouping factor: the marginal covariance is block
    diagonal over them (one block per group for a single grouping factor)."""
    parent = np.arange(n)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return int(a)

    for fc, nl in zip(codes, nlev, strict=True):
        first = np.full(nl, -1)
        for i, c in enumerate(fc):
            if first[c] < 0:
                first[c] = i
            else:
                ra, rb = find(i), find(first[c])
                if ra != rb:
                    parent[ra] = rb
    roots = np.array([find(i) for i in range(n)])
    order = np.argsort(roots, kind="stable")
    splits = np.flatnonzero(np.diff(roots[order])) + 1
    return np.split(order, splits)


def _scaled_inverse(a: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric information matrix, taken on its correlation scale so that the test
    for (near) singularity does not depend on the parameters' units (a covariate in hundred-
    thousandths scales one variance's information by 1e-20); a pseudo-inverse when singular."""
    dg = np.diag(a)
    if not np.all(dg > 0):
        return np.linalg.pinv(a)
    dsc = np.outer(1 / np.sqrt(dg), 1 / np.sqrt(dg))
    a_s = a * dsc
    ev = np.linalg.eigvalsh(a_s)
    return (np.linalg.inv(a_s) if np.min(np.abs(ev)) > 1e-10 else np.linalg.pinv(a_s)) * dsc


class KenwardRoger:
    """pbkrtest's adjusted covariance of beta and the quantities for its df. The marginal
    covariance Sigma = sum_i gamma_i G_i is block diagonal over independent row sets, so every
    trace and product is a sum over blocks; each block is handled densely."""

    def __init__(self, m: LmerFit) -> None:
        rows = m.model.data.rows("Kenward-Roger")
        if not m.reml:
            raise MixedModelsError("Kenward-Roger applies to REML fits; refit with reml=True")
        factors = m.structure.factors
        comps = _components(rows.codes, [f.nlev for f in factors], rows.nobs)
        largest = max(len(c) for c in comps)
        if largest > KR_MAX_NOBS:
            raise MixedModelsError(
                f"Kenward-Roger needs dense {largest} x {largest} blocks of the marginal covariance (the rows "
                f"linked by shared grouping levels); that exceeds the {KR_MAX_NOBS} it handles. "
                "Use ddf='satterthwaite'."
            )
        # on the optimiser's columns (`LinearMixedModel.working_maps`): Z_f A_f and X M, beta = M
        # beta_w; the adjusted covariance maps back as M Phi_A M' and the df of L is that of L M
        # there (both exactly: KR is the same under such linear maps of the parameters). On the
        # data's columns a random slope on x + 1000 made the sums cancel: the slope's KR SE 0.194
        # where x gives 0.043, and NaN on x + 1e4
        maps, fixed_map = m.model.working_maps
        self.fixed_map = fixed_map
        xw = rows.x @ fixed_map
        zw = [z @ a for z, a in zip(rows.z, maps, strict=True)]
        theta_w = m.model.working_theta(m.theta)
        # (factor, column a, column b, value) of each variance parameter, then sigma^2
        params = [
            (term.factor, term.column_offset + a, term.column_offset + b, cov[a, b])
            for term, cov in m.structure.theta.covariances(theta_w, m.sigma)
            for a, b in tril_pairs(term.k)
        ]
        ng = len(params) + 1
        p = m.structure.p
        pp = [np.zeros((p, p)) for _ in range(ng)]
        qq = {(r, s): np.zeros((p, p)) for r in range(ng) for s in range(r, ng)}
        ktr = np.zeros((ng, ng))
        for comp in comps:
            x = xw[comp]
            gs = []
            for fi, a, b, _v in params:
                codes = rows.codes[fi][comp]
                za = np.zeros((len(comp), factors[fi].nlev))
                za[np.arange(len(comp)), codes] = zw[fi][comp, a]
                if a == b:
                    g = za @ za.T
                else:
                    zb = np.zeros_like(za)
                    zb[np.arange(len(comp)), codes] = zw[fi][comp, b]
                    g = za @ zb.T
                    g = g + g.T
                gs.append(g)
            gs.append(np.eye(len(comp)))
            vals = [v for *_x, v in params] + [m.sigma**2]
            sigma = sum(g * v for g, v in zip(gs, vals, strict=True))
            sinv = np.linalg.inv(sigma)
            sinv = (sinv + sinv.T) / 2
            tt = sinv @ x
            hh = [g @ sinv for g in gs]
            oo = [h @ x for h in hh]
            for r in range(ng):
                pp[r] -= oo[r].T @ tt
                so = sinv @ oo[r]
                for s in range(r, ng):
                    qq[r, s] += so.T @ oo[s]
                    ktr[r, s] += float(np.sum(hh[r].T * hh[s]))
        for r in range(ng):
            for s in range(r):
                ktr[r, s] = ktr[s, r]
        pp = [(q + q.T) / 2 for q in pp]
        # pbkrtest's Phi is vcov(m), not (X' Sigma^-1 X)^-1: the two agree without prior weights, and
        # with them Sigma (built as sigma^2 I + Z G Z', pbkrtest's get_SigmaG) leaves the weights out
        vcov = np.asarray(m.vcov_array, dtype=np.float64)
        phi = np.linalg.solve(fixed_map, np.linalg.solve(fixed_map, vcov).T).T  # M^-1 vcov M^-T
        phi = (phi + phi.T) / 2
        ie2 = np.zeros((ng, ng))
        for i in range(ng):
            phi_pi = phi @ pp[i]
            for j in range(i, ng):
                ie2[i, j] = ie2[j, i] = (
                    ktr[i, j] - 2 * float(np.sum(phi * qq[i, j])) + float(np.sum(phi_pi * (pp[j] @ phi)))
                )
        ww = 2 * _scaled_inverse(ie2)
        uu = np.zeros_like(phi)
        for i in range(ng - 1):
            for j in range(i + 1, ng):
                uu += ww[i, j] * (qq[i, j] - pp[i] @ phi @ pp[j])
        uu = uu + uu.T
        for i in range(ng):
            uu += ww[i, i] * (qq[i, i] - pp[i] @ phi @ pp[i])
        self.phi = phi  # on the optimiser's columns, as pp and ww
        phi_adj = phi + 2 * phi @ uu @ phi
        self.phi_adj = fixed_map @ phi_adj @ fixed_map.T  # the model's
        self.pp, self.ww = pp, ww

    def ddf(self, lmat: np.ndarray) -> float:
        """pbkrtest's Lb_ddf: denominator df for the contrast matrix L (q x p)."""
        return self._ddf_scaling(np.atleast_2d(lmat))[0]

    def f_test(self, lmat: np.ndarray, beta: FloatArray) -> tuple[float, float, int, float]:
        """pbkrtest's ``KRmodcomp(m, L)``: (unscaled F, F scaling, numerator df q, denominator df).

        L is first reduced to full row rank as pbkrtest's ``force_full_rank`` does (the rows of
        Q' of a QR of L'); the unscaled F is (Lb)' (L Phi_adj L')^-1 (Lb) / q and the F test pbkrtest
        reports (and car's ``Anova(test.statistic = "F")``) is the scaled one, scaling * F.
        """
        lmat = np.atleast_2d(np.asarray(lmat, dtype=np.float64))
        rank = int(np.linalg.matrix_rank(lmat))
        if rank < lmat.shape[0]:
            qmat, _ = np.linalg.qr(lmat.T)
            lmat = qmat[:, :rank].T
        ddf, scaling = self._ddf_scaling(lmat)
        lb = lmat @ beta
        wald = float(lb @ np.linalg.solve(lmat @ self.phi_adj @ lmat.T, lb))
        return wald / rank, scaling, rank, ddf

    def _ddf_scaling(self, lmat: np.ndarray) -> tuple[float, float]:
        """(denominator df, F scaling) of pbkrtest's .KR_adjust for a full-rank L (of the model's
        beta: L M on the optimiser's columns)."""
        lmat = lmat @ self.fixed_map
        v0 = self.phi
        theta = lmat.T @ np.linalg.solve(lmat @ v0 @ lmat.T, lmat)
        tp = theta @ v0
        a1 = a2 = 0.0
        ng = len(self.pp)
        us = [tp @ self.pp[i] @ v0 for i in range(ng)]
        for i in range(ng):
            for j in range(i, ng):
                e = 1.0 if i == j else 2.0
                a1 += e * self.ww[i, j] * np.trace(us[i]) * np.trace(us[j])
                a2 += e * self.ww[i, j] * float(np.sum(us[i] * us[j].T))
        q = np.linalg.matrix_rank(lmat)
        b = (a1 + 6 * a2) / (2 * q)
        g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
        c1 = g / (3 * q + 2 * (1 - g))
        c2 = (q - g) / (3 * q + 2 * (1 - g))
        c3 = (q + 2 - g) / (3 * q + 2 * (1 - g))
        v0_ = 1 + c1 * b
        v1 = 1 - c2 * b
        v2 = 1 - c3 * b
        v0_ = 0.0 if abs(v0_) < 1e-10 else v0_
        ratio = (1 - a2 / q) / v1 if v1 != 0 else 0.0
        rho = ratio**2 * v0_ / v2 / q
        df2 = float(4 + (q + 2) / (q * rho - 1))
        scaling = 1.0 if abs(df2 - 2) < 0.01 else df2 * (1 - a2 / q) / (df2 - 2)
        return df2, float(scaling)


def coef_table(m: LmerFit, ddf: str | None = "satterthwaite") -> pd.DataFrame:
    """Estimates, SEs, df, t and two-sided p for each fixed effect."""
    est = m.fixef.to_numpy()
    p = est.shape[0]
    key = (ddf or "none").lower().replace("_", "-")
    if key in ("none",):
        se = m.fixef_se.to_numpy()
        return pd.DataFrame({"Estimate": est, "Std. Error": se, "t value": est / se}, index=m.fixef.index)
    if key == "satterthwaite":
        inf = inference_for(m)
        rows = [inf.satterthwaite_1d(np.eye(p)[j]) for j in range(p)]
        se = np.sqrt([r[0] for r in rows])
        df = np.array([r[1] for r in rows])
    elif key in ("kenward-roger", "kr"):
        kr = inference_for(m).kenward_roger
        se = np.sqrt(np.diag(kr.phi_adj))
        df = np.array([kr.ddf(np.eye(p)[j][None, :]) for j in range(p)])
    else:
        raise ValueError(f"ddf must be 'satterthwaite', 'kenward-roger' or None, not {ddf!r}")
    t = est / se
    pval = 2 * special.stdtr(df, -np.abs(t))
    return pd.DataFrame(
        {"Estimate": est, "Std. Error": se, "df": df, "t value": t, "Pr(>|t|)": pval}, index=m.fixef.index
    )


F_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]


def contest(m: LmerFit, lmat: np.ndarray, ddf: str = "satterthwaite") -> tuple[float, float, int, float, float, float]:
    """lmerTest's ``contestMD(m, L, ddf)``: (Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)) of the
    F test of L beta = 0.

    Satterthwaite: F = sum of the squared t of the eigen-contrasts of L vcov L' over q, its df from
    lmerTest's ``get_Fstat_ddf``. Kenward-Roger: pbkrtest's ``KRmodcomp`` (the scaled F; the mean
    square is the unscaled F times sigma^2, as lmerTest reports it). A contrast with no rows gives NaN.
    """
    lmat = np.atleast_2d(np.asarray(lmat, dtype=np.float64))
    if lmat.shape[0] == 0 or not np.any(lmat):
        nan = float("nan")
        return nan, nan, 0, nan, nan, nan
    key = ddf.lower().replace("_", "-")
    if key == "satterthwaite":
        fval, q, den = inference_for(m).satterthwaite_md(lmat)
        ms = fval * m.sigma**2
    elif key in ("kenward-roger", "kr"):
        fu, scaling, q, den = inference_for(m).kenward_roger.f_test(lmat, m.beta)
        ms = fu * m.sigma**2
        fval = fu * scaling
    else:
        raise ValueError(f"ddf must be 'satterthwaite' or 'kenward-roger', not {ddf!r}")
    return ms * q, ms, q, den, fval, float(special.fdtrc(q, den, fval))
