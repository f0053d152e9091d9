"""Influence diagnostics of a linear mixed model, as lme4 1.1-31 defines them: the diagonal of the
hat matrix (``hatvalues.merMod``), Cook's distance of each observation (``cooks.distance.merMod``)
and case deletion by group (``influence.merMod`` with its ``cooks.distance``, ``dfbeta`` and
``dfbetas`` methods).

The hat matrix. With W = diag(w)^(1/2) [Z Lambda, X] (w the prior weights) and M = W'W + diag(I_q, 0),
the fitted values are W M^-1 W' y, so h_i = w_i' M^-1 w_i for row i of W (what lme4 computes from
its factor L). Nothing n x n or n x q is formed: the random effects of the first grouping factor
(engine order: most levels) make a block-diagonal C_00 = Lambda_0'Z_0'Z_0 Lambda_0 + I, one k x k
block per level, and with W = [W_0, W_1] (W_1: the other factors' columns and X) the Schur
complement S = W_1'W_1 + diag(I, 0) - W_1'W_0 C_00^-1 W_0'W_1 gives

    h_i = w0_i' C_00^-1 w0_i + r_i' S^-1 r_i,    r_i = w1_i - W_1'W_0 C_00^-1 w0_i,

exactly. r_i is sparse in the other factors' columns; with one grouping factor S is p x p, and the
cost is O(n k (k + p) + n p^2) with scipy's sparse products (row chunks bound the memory).

Deletion by group. A = [Z X y]'[Z X y] is a sum over rows, so the cross-products without group g
are A less those of g's rows (`_core.CrossProducts.__sub__`, in double-double): no pass over the other
rows. A level left without rows has zero blocks in A: its block of L is I and its mode 0, so the
criterion, the estimates and their covariance are those of the model fitted to the data without g
(where the level does not exist). Each deletion is optimised from the full fit's theta (as lme4's
``influence.merMod``); deletions run on threads with ``n_jobs`` (the core releases the GIL).

Deletion by group of a glmer fit: as lme4's ``influence.merMod`` for a ``glmerMod``, the model is
refitted by glmer (both of lme4's stages, at the fit's ``nAGQ``) to the rows without the group,
starting from the full fit's theta; a level left without rows contributes nothing to the Laplace
criterion (its mode is 0 and its block of L is 1), so this is the fit to the data without it.
Each refit's `vcov` is the default one of a glmer fit (from the Hessian of the deviance, as lme4's
``vcov``), and so is the full fit's in Cook's distance; ``var.cov.comps`` begin with sigma^2 (1 for
binomial and Poisson, as lme4's). The per-observation `hatvalues` and `cooks_distance` of GLMM fits
are refused: lme4 mixes the prior weights with the working weights of the final PIRLS step there,
and warns that its hat matrix "may not make sense for GLMMs".
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.linalg import cho_factor, solve_triangular

from .arguments import available_cpus, check_count
from .checks import identifiable_fixed
from .data import FrameData, Rows, StreamedData
from .exceptions import ArgumentError, DataError, MixedModelsError
from .fitted import LmerFit
from .glmm import GeneralizedLinearMixedModel
from .model import LinearMixedModel

__all__ = ["GroupInfluence", "cooks_distance", "group_influence", "hatvalues"]

FloatArray = NDArray[np.float64]

CHUNK_ENTRIES = 1 << 22  # dense entries of r_i formed at once (rows x columns of W_1)
DELETION_MAXEVAL = 1000  # lme4's influence.merMod: maxfun = 1000
# each refit's BOBYQA tolerances: a group's dfbeta is a small difference of fixed effects, so the
# refits stop much closer to their optimum than a fit needs to (~1e-9 relative in the fixed effects)
DELETION_OPTIONS = {"xtol_abs": 1e-11, "ftol_abs": 1e-13}


def _refuse_glmm(m: LmerFit, what: str) -> None:
    if isinstance(m.model, GeneralizedLinearMixedModel):
        raise MixedModelsError(
            f"{what} is not supported for glmer fits: lme4's version mixes the prior weights with the "
            "working weights of the last PIRLS step (and warns that it 'may not make sense for GLMMs'); "
            "only lmer fits have it here (glmer fits have influence(groups=...), deletion by group)"
        )


def _factor_columns(codes: NDArray[np.int32], z: FloatArray, nlev: int) -> sparse.csr_matrix:
    """The n x (nlev k) sparse matrix of one factor's columns (level-major, as the engine orders them)."""
    n, k = z.shape
    indices = (codes.astype(np.int64)[:, None] * k + np.arange(k)[None, :]).ravel()
    indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    return sparse.csr_matrix((z.ravel(), indices, indptr), shape=(n, nlev * k))


def hat_diagonal(m: LmerFit) -> FloatArray:
    """The diagonal of lme4's hat matrix of an lmer fit (see the module's docstring for the formula),
    in the order of the rows used in the fit."""
    rows = m.model.data.rows("hatvalues")
    s = m.structure
    n = rows.nobs
    sw = None if rows.weights is None else np.sqrt(rows.weights)
    zl: list[FloatArray] = []
    for f in range(len(s.factors)):
        z = rows.z[f] @ s.theta.factor_t(m.theta, f)
        zl.append(z if sw is None else z * sw[:, None])
    x = rows.x if sw is None else rows.x * sw[:, None]
    # the first factor: C_00 block diagonal, one k0 x k0 block per level
    nlev0, k0 = s.factors[0].nlev, zl[0].shape[1]
    codes0 = np.asarray(rows.codes[0], dtype=np.int64)
    ind = sparse.csr_matrix((np.ones(n), (codes0, np.arange(n))), shape=(nlev0, n))
    z0 = zl[0]
    c00 = np.asarray(ind @ (z0[:, :, None] * z0[:, None, :]).reshape(n, k0 * k0)).reshape(nlev0, k0, k0)
    e0 = np.linalg.inv(c00 + np.eye(k0))
    a = np.einsum("iab,ib->ia", e0[codes0], z0)
    h = np.einsum("ia,ia->i", z0, a)
    # W_1: the other factors' columns, then X
    w1_parts = [_factor_columns(rows.codes[f], zl[f], s.factors[f].nlev) for f in range(1, len(s.factors))]
    q1 = sum(part.shape[1] for part in w1_parts)
    w1 = sparse.hstack([*w1_parts, sparse.csr_matrix(x)], format="csr")
    m1 = w1.shape[1]
    if m1 == 0:
        return np.asarray(h)
    w0 = _factor_columns(rows.codes[0], z0, nlev0)
    e0_blocks = sparse.bsr_matrix((e0, np.arange(nlev0), np.arange(nlev0 + 1)), shape=(nlev0 * k0, nlev0 * k0)).tocsr()
    d = (w1.T @ w0).tocsr()  # W_1'W_0, m1 x q0
    fmat = (d @ e0_blocks).tocsr()  # W_1'W_0 C_00^-1
    schur = (w1.T @ w1).toarray() - (fmat @ d.T).toarray()
    schur[np.arange(q1), np.arange(q1)] += 1.0
    chol, _ = cho_factor(schur, lower=True, check_finite=False)
    ft = fmat.T.tocsr()
    step = max(1, CHUNK_ENTRIES // m1)
    for start in range(0, n, step):
        stop = min(n, start + step)
        r = (w1[start:stop] - w0[start:stop] @ ft).toarray()
        v = solve_triangular(chol, r.T, lower=True, check_finite=False)
        h[start:stop] += np.einsum("ji,ji->i", v, v)
    return np.asarray(h)


def hatvalues(m: LmerFit) -> pd.Series:
    """lme4's ``hatvalues(m)``: the diagonal of the hat matrix H of the penalised least-squares fit
    (fitted = H y), one value per row used in the fit; they sum to the model's effective number of
    parameters. With prior weights, H is that of the weighted system (as lme4's).

    Parameters
    ----------
    m : LmerFit
        An lmer fit whose rows are held (not streamed data). glmer fits raise `MixedModelsError`.

    Returns
    -------
    pandas.Series
        Indexed like the rows of the fit, named ``hatvalues``.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> h = hatvalues(m)
    >>> round(float(h.sum()), 3), round(float(h.iloc[0]), 4)
    (29.022, 0.2293)
    """
    _refuse_glmm(m, "hatvalues")
    index = m.model.data.rows("hatvalues").index
    return pd.Series(hat_diagonal(m), index=index, name="hatvalues")


def cooks_distance(m: LmerFit) -> pd.Series:
    """lme4 1.1-31's ``cooks.distance(m)`` for each observation: (r_i / (1 - h_i))^2 h_i / (sigma^2 p),
    with r the Pearson residuals (response residuals times the square root of the prior weight), h the
    `hatvalues` and p the rank of X (a value that is infinite becomes NaN, as lme4's).

    Parameters
    ----------
    m : LmerFit
        An lmer fit whose rows are held. glmer fits raise `MixedModelsError`.

    Returns
    -------
    pandas.Series
        Indexed like the rows of the fit, named ``cooks_distance``.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> d = cooks_distance(m)
    >>> int(d.to_numpy().argmax()), round(float(d.max()), 4)
    (59, 4.3322)
    """
    _refuse_glmm(m, "cooks_distance")
    rows = m.model.data.rows("cooks_distance")
    h = hat_diagonal(m)
    r = m.residuals().to_numpy()
    if rows.weights is not None:
        r = r * np.sqrt(rows.weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (r / (1.0 - h)) ** 2 * h / (m.sigma**2 * m.structure.p)
    d[np.isinf(d)] = np.nan
    return pd.Series(d, index=rows.index, name="cooks_distance")


# ---------------------------------------------------------------------------------------- by group
def _var_cov_names(m: LmerFit) -> list[str]:
    """lme4's names of ``var.cov.comps``: ``sigma^2``, then per term the lower triangle (column by
    column) as ``v[a]`` and ``C[b,a]``, prefixed ``term:`` when the model has several terms."""
    terms = [t for t, _ in m.term_covariances()]
    prefix = len(terms) > 1
    names = ["sigma^2"]
    for t in terms:
        for j in range(t.k):
            for i in range(j, t.k):
                e = f"v[{t.columns[i]}]" if i == j else f"C[{t.columns[i]},{t.columns[j]}]"
                names.append(f"{t.name}:{e}" if prefix else e)
    return names


def _var_cov_values(m: LmerFit, theta: FloatArray, sigma: float) -> FloatArray:
    out = [sigma**2]
    for t, cov in m.structure.theta.covariances(theta, sigma):
        for j in range(t.k):
            out.extend(cov[i, j] for i in range(j, t.k))
    return np.array(out)


@dataclass(frozen=True)
class _Deletion:
    beta: FloatArray
    var_cov: FloatArray
    vcov: FloatArray
    converged: bool
    n_evals: int


def _group_labels(m: LmerFit, groups: str | ArrayLike) -> tuple[str, NDArray[np.intp], pd.Index]:
    """(the groups' name, each row's group code, the groups in order of first appearance)."""
    n = m.nobs
    if isinstance(groups, str):
        frame = m.model.data.frame("influence by group")
        if groups not in frame.columns:
            raise ArgumentError(
                f"groups={groups!r} is not a column of the model's data ({', '.join(map(str, frame.columns))}); "
                "give a column used by the model, or an array of one label per row used in the fit"
            )
        name, values = groups, frame[groups].to_numpy()
    else:
        values = np.asarray(groups)
        if values.ndim != 1 or values.shape[0] != n:
            raise ArgumentError(
                f"groups must be a column name or one label per row used in the fit ({n}), got shape {values.shape}"
            )
        name = "case"
    codes, uniques = pd.factorize(values, sort=False)
    if (codes < 0).any():
        raise ArgumentError(f"groups={name!r} has missing labels in the rows used by the fit")
    if len(uniques) < 2:
        raise ArgumentError(f"groups={name!r} has a single group: deleting it leaves no data")
    return name, np.asarray(codes, dtype=np.intp), pd.Index(uniques, name=name)


def _subset(rows: Rows, take: NDArray[np.intp]) -> Rows:
    return Rows(
        y=np.ascontiguousarray(rows.y[take]),
        x=np.ascontiguousarray(rows.x[take]),
        codes=tuple(np.ascontiguousarray(c[take]) for c in rows.codes),
        z=tuple(np.ascontiguousarray(z[take]) for z in rows.z),
        index=rows.index[take],
        weights=None if rows.weights is None else np.ascontiguousarray(rows.weights[take]),
        offset=None if rows.offset is None else np.ascontiguousarray(rows.offset[take]),
        trials=None if rows.trials is None else np.ascontiguousarray(rows.trials[take]),
    )


def deleted_glmm(m: LmerFit, take: NDArray[np.intp]) -> GeneralizedLinearMixedModel:
    """The generalized linear mixed model of a glmer fit's rows ``take`` (those left when a group is
    deleted), with the fit's structure (levels without rows included: they add nothing to the
    criterion). Raises `DataError` when the fixed effects are not identifiable on these rows."""
    model = m.model
    assert isinstance(model, GeneralizedLinearMixedModel)
    rest = _subset(model.rows, take)
    cp = Rows(rest.y, rest.x, rest.codes, rest.z, rest.index).cross_products(m.structure.core_layout)
    keep = identifiable_fixed(m.structure, cp)
    if len(keep) < m.structure.p:
        lost = [m.structure.fixed_names[j] for j in range(m.structure.p) if j not in set(keep.tolist())]
        raise DataError(f"without these rows the fixed effects {', '.join(lost)} are not identifiable")
    frame = model.data.frame("influence by group").iloc[take]
    return GeneralizedLinearMixedModel(m.structure, FrameData(held=rest, data_frame=frame, dropped=0), model.family)


def _delete_glmm(m: LmerFit, take: NDArray[np.intp], maxeval: int) -> _Deletion:
    model = deleted_glmm(m, take)
    fit = model.fit(n_agq=int(getattr(m, "n_agq", 1)), start=m.theta, maxeval=maxeval)
    return _Deletion(
        beta=np.asarray(fit.beta),
        var_cov=_var_cov_values(m, fit.theta, fit.sigma),
        vcov=np.asarray(fit.vcov_array),
        converged=bool(fit.converged),
        n_evals=fit.n_evals,
    )


def deleted_model(m: LmerFit, group_rows: Rows) -> LinearMixedModel:
    """The model of the fit's data without ``group_rows``: its cross-products are the full model's
    less those of the group's rows (no pass over the other rows). Raises `DataError` when the fixed
    effects are not identifiable without the group."""
    full = m.model.cross_products
    cp = full - group_rows.cross_products(full.layout)
    keep = identifiable_fixed(m.structure, cp)
    if len(keep) < m.structure.p:
        lost = [m.structure.fixed_names[j] for j in range(m.structure.p) if j not in set(keep.tolist())]
        raise DataError(f"without these rows the fixed effects {', '.join(lost)} are not identifiable")
    return LinearMixedModel(m.structure, StreamedData(0), cp, reml=m.model.reml)


def _delete(m: LmerFit, group_rows: Rows, maxeval: int) -> _Deletion:
    model = deleted_model(m, group_rows)
    opt = model.optimize(
        start=m.theta, warm=True, maxeval=maxeval, optimizer="bobyqa", optimizer_options=DELETION_OPTIONS
    )
    est = model.estimates(opt.theta)
    sigma = float(est.criterion.sigma(model.reml))
    return _Deletion(
        beta=np.asarray(est.beta),
        var_cov=_var_cov_values(m, opt.theta, sigma),
        vcov=sigma**2 * np.asarray(est.rx_inverse_crossprod),
        converged=not opt.hit_maxeval,
        n_evals=opt.n_evals,
    )


@dataclass(frozen=True, eq=False)
class GroupInfluence:
    """Case deletion by group (lme4's ``influence.merMod``): for each group, the model refitted
    without its rows from the full fit's theta. Names follow lme4's (``fixed.effects[-groups]`` is
    `fixed_effects_deleted`, ``var.cov.comps`` is `var_cov_comps`, ...).

    Attributes
    ----------
    groups : str
        The grouping variable (``"case"`` for labels given as an array).
    deleted : pandas.Index
        The groups, in order of first appearance in the data (the rows of every table).
    fixed_effects : pandas.Series
        The full fit's fixed effects.
    fixed_effects_deleted : pandas.DataFrame
        Fixed effects of each refit (groups x fixed effects).
    var_cov_comps : pandas.Series
        The full fit's ``sigma^2`` and each term's variances ``v[a]`` and covariances ``C[b,a]``.
    var_cov_comps_deleted : pandas.DataFrame
        The same of each refit (groups x components).
    vcov : pandas.DataFrame
        The full fit's covariance of the fixed effects.
    vcov_deleted : ndarray (groups, p, p)
        Each refit's covariance of the fixed effects, in the order of `deleted` (`vcov_without`
        gives one as a table).
    converged : pandas.Series
        Whether each refit's optimiser stopped by its tolerance (not at the evaluation limit; the
        derivative check of a full fit is not run). For a glmer fit: the refit's full verdict
        (PIRLS converged, no evaluation limit, the gradient check passed).
    function_evals : pandas.Series
        Evaluations of the criterion in each refit.
    """

    groups: str
    deleted: pd.Index
    fixed_effects: pd.Series
    fixed_effects_deleted: pd.DataFrame
    var_cov_comps: pd.Series
    var_cov_comps_deleted: pd.DataFrame
    vcov: pd.DataFrame
    vcov_deleted: FloatArray
    converged: pd.Series
    function_evals: pd.Series

    @cached_property
    def dfbeta(self) -> pd.DataFrame:
        """Fixed effects without each group less the full fit's (lme4's sign: deleted - full, the
        opposite of ``stats::dfbeta`` for ``lm``).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(group_influence(m, "Subject").dfbeta.loc["308", "Days"]), 3)
        -0.665
        """
        return self.fixed_effects_deleted - self.fixed_effects

    @cached_property
    def dfbetas(self) -> pd.DataFrame:
        """`dfbeta` divided by the standard errors of the refit without each group (lme4's).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> round(float(group_influence(m, "Subject").dfbetas.loc["308", "Days"]), 3)
        -0.449
        """
        se = np.sqrt(np.diagonal(self.vcov_deleted, axis1=1, axis2=2))
        return pd.DataFrame(self.dfbeta.to_numpy() / se, index=self.deleted, columns=self.dfbeta.columns)

    def vcov_without(self, group: object) -> pd.DataFrame:
        """The covariance of the fixed effects of the refit without ``group`` (lme4's ``vcov[-groups]``).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> group_influence(m, "Subject").vcov_without("308").shape
        (2, 2)
        """
        if group not in self.deleted:
            raise ArgumentError(f"group={group!r} is not one of the deleted groups of {self.groups!r}")
        names = self.vcov.index
        return pd.DataFrame(self.vcov_deleted[self.deleted.get_loc(group)], index=names, columns=names)

    @cached_property
    def cooks_distance(self) -> pd.Series:
        """Cook's distance of each group (lme4's ``cooks.distance.influence.merMod``):
        D_g = dfbeta_g' [(G - p) / (G p) vcov^-1] dfbeta_g, with G the number of groups, p of fixed
        effects and vcov the full fit's.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> d = group_influence(m, "Subject").cooks_distance
        >>> d.idxmax(), round(float(d.max()), 3)
        ('309', 0.132)
        """
        db = self.dfbeta.to_numpy()
        g, p = db.shape
        vinv = (g - p) / (g * p) * np.linalg.inv(self.vcov.to_numpy())
        d = np.einsum("ga,ab,gb->g", db, vinv, db)
        return pd.Series(d, index=self.deleted, name="cooks_distance")


def group_influence(
    m: LmerFit, groups: str | ArrayLike, n_jobs: int = 1, maxeval: int = DELETION_MAXEVAL
) -> GroupInfluence:
    """Case deletion by group, as lme4's ``influence(m, groups = ...)``: for each group, the model is
    refitted without its rows, starting from the full fit's theta. The refit's cross-products are
    the full model's less the group's rows' (a pass over the group's rows only), so a deletion costs
    an optimisation over theta and nothing that grows with the other rows.

    Parameters
    ----------
    m : LmerFit
        An lmer fit whose rows are held, or a glmer fit (refitted by glmer without each group, both
        stages from the full fit's theta, at its ``nAGQ``; see the module's docstring).
    groups : str or array-like
        A column of the model's data (``"school"``), or one label per row used in the fit.
    n_jobs : int, default 1
        Threads running the refits (-1: one per CPU); the core releases the GIL while it optimises.
    maxeval : int, default 1000
        Evaluation limit of each refit (lme4's ``maxfun``; for a glmer fit, of each stage).

    Returns
    -------
    GroupInfluence
        Refit estimates and lme4's ``cooks.distance``, ``dfbeta`` and ``dfbetas`` of each group.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> m = mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> inf = group_influence(m, "Subject")
    >>> len(inf.deleted), list(inf.var_cov_comps.index)
    (18, ['sigma^2', 'v[(Intercept)]', 'C[Days,(Intercept)]', 'v[Days]'])
    """
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ArgumentError(f"n_jobs must be a positive integer or -1 (one thread per CPU), got {n_jobs!r}")
    maxeval = check_count(maxeval, "maxeval")
    jobs = available_cpus() if n_jobs == -1 else int(n_jobs)
    name, codes, deleted = _group_labels(m, groups)
    rows = m.model.data.rows("influence by group")
    if isinstance(m.model, GeneralizedLinearMixedModel):
        rests = [np.flatnonzero(codes != g) for g in range(len(deleted))]
        with warnings.catch_warnings():
            # as lme4's suppressWarnings(update(...)): each refit's verdict is in `converged`
            warnings.simplefilter("ignore")
            if jobs == 1:
                results = [_delete_glmm(m, rest, maxeval) for rest in rests]
            else:
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    results = list(pool.map(lambda rest: _delete_glmm(m, rest, maxeval), rests))
    else:
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(deleted) + 1))
        parts = [_subset(rows, order[bounds[g] : bounds[g + 1]]) for g in range(len(deleted))]
        if jobs == 1:
            results = [_delete(m, part, maxeval) for part in parts]
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(lambda part: _delete(m, part, maxeval), parts))
    fixed_names = list(m.structure.fixed_names)
    vc_names = _var_cov_names(m)
    return GroupInfluence(
        groups=name,
        deleted=deleted,
        fixed_effects=pd.Series(m.beta, index=fixed_names, name="fixed.effects"),
        fixed_effects_deleted=pd.DataFrame([r.beta for r in results], index=deleted, columns=fixed_names),
        var_cov_comps=pd.Series(_var_cov_values(m, m.theta, m.sigma), index=vc_names, name="var.cov.comps"),
        var_cov_comps_deleted=pd.DataFrame([r.var_cov for r in results], index=deleted, columns=vc_names),
        vcov=pd.DataFrame(m.vcov_array, index=fixed_names, columns=fixed_names),
        vcov_deleted=np.array([r.vcov for r in results]),
        converged=pd.Series([r.converged for r in results], index=deleted, name="converged"),
        function_evals=pd.Series([r.n_evals for r in results], index=deleted, name="function_evals"),
    )
