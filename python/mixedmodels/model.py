"""The linear mixed model: the one object that owns a model's structure, its data, its cross-products
A = [Z X y]'[Z X y], the engines that factor them, the working scale of the optimisation and the
criterion. Everything after a fit (tests, intervals, simulation, refits) reaches the criterion
through it.

A model is built from a data frame or arrays (`design`) or from chunks (`stream`), always the same
way: the rows' cross-products are summed in C++, the identifiability checks run once on them, and
the engine is formed from them. `LinearMixedModel.fit` minimises the profiled REML criterion (or
-2 log-likelihood) over theta and returns a `Fit`: the estimates there and how the optimiser got
there. A GLMM is this object with PIRLS around the engine (docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from math import sqrt
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from . import _core
from .arguments import MAX_EVALUATIONS, OPTIMIZER_OPTIONS, check_bool, check_count, check_optimizer, check_start
from .checks import check_random_effects, check_scales, identifiable_fixed
from .data import ArrayData, FrameData, ModelData, Rows
from .design import GroupTerm, from_arrays, materialise
from .exceptions import ArgumentError, ConvergenceWarning, CoreError, DataError, SingularFitWarning, warn
from .formula import ParsedFormula, parse_formula
from .layout import tril_pairs
from .optimize import (
    DIFFERENCED_NEWTON_MAX,
    SADDLE_ROUNDS,
    DifferencedHessian,
    EngineCriterion,
    Hessian,
    OptimResult,
    ValueAndGradient,
    choose_method,
    covariance_descent,
    directional_check,
    gradient_check,
    held_workspace,
    initial_step,
    lower_of_two,
    max_scaled_gradient,
    minimize_theta,
    newton_fallback,
    newton_polish,
    progress_reporter,
    second_fit_budget,
    settled,
    single_threaded_blas,
    subplex,
    values_hessian,
)
from .structure import ModelStructure

__all__ = [
    "CentredColumns",
    "Estimates",
    "Fit",
    "FormulaCall",
    "LinearMixedModel",
    "WorkingCopy",
    "WorkingScale",
    "column_divisors",
    "random_columns_far_from_zero",
    "START_HINT",
    "ridge_tolerance",
]

FloatArray = NDArray[np.float64]

SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance
# the diagonal entry of a column of T whose sign is restarted from the other side (`_verify`)
ZERO_COLUMN_STEP = 0.01
# y'y over the least-squares residual sum of squares above which the cross-products are formed again
# from y - X beta_ols (`_residual_cross_products`): the penalised RSS is then no longer a small
# difference of large sums (each factor of 10 above 1 in this ratio costs a digit of the criterion)
CANCELLATION_LIMIT = 1e3
# A random slope whose mean is more than this many standard deviations from zero, in a term with an
# intercept, is centred in the optimiser's copy of the columns (`CentredColumns`)
CENTRE_RATIO = 5.0


def _far_from_zero(crossprod: FloatArray, intercept: int, columns: Sequence[int]) -> dict[int, float]:
    """The columns whose mean is more than `CENTRE_RATIO` standard deviations from zero, with their
    means, read off a block of cross-products whose column ``intercept`` is all ones (its row holds
    the columns' sums, the diagonal their sums of squares)."""
    n = float(crossprod[intercept, intercept])
    out: dict[int, float] = {}
    if n <= 0:
        return out
    for j in columns:
        mean = float(crossprod[intercept, j]) / n
        var = float(crossprod[j, j]) / n - mean * mean  # rounding can only hide a tiny spread
        if mean != 0.0 and mean * mean > CENTRE_RATIO**2 * max(var, 0.0):
            out[j] = mean
    return out


def _proportional(crossprod: FloatArray, pivot: int, columns: Sequence[int]) -> dict[int, float]:
    """The columns nearly proportional to column ``pivot`` (their part orthogonal to it below
    1 / (1 + `CENTRE_RATIO`^2) of their sum of squares, as a column whose mean is `CENTRE_RATIO`
    standard deviations from zero is to the intercept), with their least-squares ratio to it, read
    off a block of cross-products."""
    pp = float(crossprod[pivot, pivot])
    out: dict[int, float] = {}
    if pp <= 0:
        return out
    for j in columns:
        jj, pj = float(crossprod[j, j]), float(crossprod[pivot, j])
        ratio = pj / pp
        if ratio != 0.0 and jj - ratio * pj < jj / (1.0 + CENTRE_RATIO**2):
            out[j] = ratio
    return out


def random_columns_far_from_zero(
    structure: ModelStructure, factor_crossprod: Callable[[int], FloatArray]
) -> tuple[dict[tuple[int, int], tuple[float, int]], bool]:
    """The random-effects columns far from zero (`_far_from_zero`), from each factor's block of
    cross-products (``factor_crossprod(f)``: Z_f'Z_f, as `_core.CrossProducts.factor_crossprod`): those in a term
    with an intercept, as (factor, column) -> (mean, the term's intercept column), which a centred
    copy can take; and whether one sits in a term without an intercept while its factor has one
    (``(x || g)``), which cannot be centred without changing the model.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> d = mm.datasets.load("sleepstudy").assign(day=lambda f: f.Days + 100)
    >>> model = LinearMixedModel.from_formula("Reaction ~ day + (day | Subject)", d)
    >>> far, uncentrable = random_columns_far_from_zero(model.structure, model.cross_products.factor_crossprod)
    >>> {k: (round(c, 1), i0) for k, (c, i0) in far.items()}, uncentrable
    ({(0, 1): (104.5, 0)}, False)
    """
    centrable: dict[tuple[int, int], tuple[float, int]] = {}
    uncentrable = False
    blocks: dict[int, FloatArray] = {}
    for t in structure.theta.terms:
        factor_columns = structure.factors[t.factor].columns
        if t.factor not in blocks:
            blocks[t.factor] = factor_crossprod(t.factor)
        cols = range(t.column_offset, t.column_offset + t.k)
        if "(Intercept)" not in t.columns and t.k > 1:
            # a correlated term without an intercept whose columns are nearly proportional
            # ((0 + z1 + z2 | g), both 1e4 from zero): each later column less its multiple of the first
            for j, ratio in _proportional(blocks[t.factor], t.column_offset, list(cols)[1:]).items():
                centrable[(t.factor, j)] = (ratio, t.column_offset)
        if "(Intercept)" not in factor_columns:
            continue
        if "(Intercept)" in t.columns:
            i0 = t.column_offset + t.columns.index("(Intercept)")
            for j, mean in _far_from_zero(blocks[t.factor], i0, [c for c in cols if c != i0]).items():
                centrable[(t.factor, j)] = (mean, i0)
        elif _far_from_zero(blocks[t.factor], factor_columns.index("(Intercept)"), list(cols)):
            uncentrable = True
    return centrable, uncentrable


WEIGHT_SPREAD = 1e3  # prior weights spanning more than this: every end verified by restarts


def ridge_tolerance(nobs: int) -> float:
    """The largest fall of -2 log L still to come (Newton decrement) at an end called converged:
    `DECREMENT_TOL` per observation, the scale of the criterion, whose value (not its differences)
    moves with the response's units.

    Examples
    --------
    >>> round(ridge_tolerance(16000), 12)
    0.0016
    """
    return DECREMENT_TOL * max(1, nobs)


def _ridge(opt: OptimResult, nobs: int) -> bool:
    """Whether the Newton decrement at an end says the criterion still falls by more than
    `ridge_tolerance` (a flat ridge; NaN: not known)."""
    return bool(opt.decrement > ridge_tolerance(nobs))


def _log_weights(data: ModelData, cross_products: _core.CrossProducts) -> float:
    """The sum of the log prior weights of the rows (0 without weights, summed with the rows'
    cross-products, so for streamed data too): lme4's -2 log-likelihood and REML criterion of a
    weighted model are those of the weighted least-squares system less it. Weights must be positive
    (a zero weight would make the row's residual variance infinite)."""
    total = float(cross_products.sum_log_weights)
    if total > -np.inf:
        return total
    where = "a row has weight 0"
    if data.has_rows:
        w = data.rows("the prior weights").weights
        if w is not None and (w <= 0).any():
            i = int(np.argmax(w <= 0))
            where = f"row {data.rows('').index[i]!r} has weight {w[i]}"
    raise DataError(f"the weights of a linear mixed model must be > 0: {where}")


def column_divisors(sumsq: Sequence[float], n: int) -> list[float]:
    """The working scale's rule, from the columns' sums of squares over ``n`` rows: a column whose
    root mean square is outside [1e-2, 1e2] is divided by it (lmer's `WorkingScale`, glmer's copy
    on unit-scale columns).

    Examples
    --------
    >>> column_divisors([4.0, 4e8, 0.0], 4)
    [1.0, 10000.0, 1.0]
    """
    return [r if r > 0 and (r < 1e-2 or r > 1e2) else 1.0 for r in (sqrt(v / n) for v in sumsq)]


@dataclass(frozen=True, eq=False)
class WorkingCopy:
    """How the rows of the optimiser's copy are made from the model's rows, one batch of rows at a
    time (so the same for rows held in memory and for streamed chunks): the response less
    X beta_shift (`Rows.minus_fixed`), each random-effects column z far from zero replaced by
    z - c z_0 (z_0 its term's intercept column), and each fixed-effects column x far from zero by
    x - c x_0. Formed row by row, never from the uncentred sums (that difference is the
    cancellation the copy avoids).

    Attributes
    ----------
    beta_shift : ndarray or None
        The shift of the response (None: y itself).
    z_centres : tuple of (int, int, float, int)
        (factor, column, centre, the term's intercept column) per random-effects column centred.
    x_centres : tuple of (int, float)
        (column, centre) per fixed-effects column centred against the column ``x_intercept``.
    x_intercept : int
        The fixed-effects intercept column (-1: none).

    Examples
    --------
    >>> x = np.array([[1.0, 1e5], [1.0, 1e5 + 1]])
    >>> r = Rows(np.array([1.0, 2.0]), x, (np.zeros(2, dtype=np.int32),), (x,), pd.RangeIndex(2))
    >>> w = WorkingCopy(None, ((0, 1, 1e5, 0),), ((1, 1e5),), 0)(r)
    >>> w.z[0][:, 1].tolist(), w.x[:, 1].tolist()
    ([0.0, 1.0], [0.0, 1.0])
    """

    beta_shift: FloatArray | None
    z_centres: tuple[tuple[int, int, float, int], ...] = ()
    x_centres: tuple[tuple[int, float], ...] = ()
    x_intercept: int = -1

    def __call__(self, rows: Rows) -> Rows:
        """The copy of these rows."""
        base = rows if self.beta_shift is None else rows.minus_fixed(self.beta_shift)
        if self.z_centres:
            zs = [np.array(z, copy=True) for z in rows.z]
            for f, j, mean, i0 in self.z_centres:
                zs[f][:, j] -= mean * zs[f][:, i0]
            base = base.with_random_columns(tuple(zs))
        if self.x_centres:
            xc = np.array(base.x, copy=True)
            for j, mean in self.x_centres:
                xc[:, j] -= mean * xc[:, self.x_intercept]
            base = base.with_fixed_columns(xc)
        return base


RowSums = Callable[[WorkingCopy], _core.CrossProducts]
"""A of the model's rows as a `WorkingCopy` makes them (streamed data: one more pass over the source)."""


@dataclass(frozen=True, eq=False)
class CentredColumns:
    """The optimiser's copy of a model whose random slopes sit far from zero (x + 100 next to an
    intercept): such a slope column z is replaced by z - c (c its mean) in the copy, then every
    column is put on the working scale. Per term, the copy's columns are Z A for an invertible A,
    so the model is the same (a term's covariance is any positive semi-definite matrix) and theta
    maps exactly (`ThetaLayout.transformed`); the criterion is unchanged but for the constant of
    the scaling, and its landscape is that of the centred covariate (without this, BOBYQA ends on
    a false boundary for Days + 100 in sleepstudy, as lme4 does).

    Attributes
    ----------
    centres : tuple of ndarray
        Per grouping factor (engine order), the centre subtracted from each column (0: none).
    to_model, to_working : tuple of (ndarray or None)
        Per term, A and A^-1 (None: the identity).
    cross_products : _core.CrossProducts
        The copy's cross-products (frozen).
    """

    centres: tuple[FloatArray, ...]
    to_model: tuple[FloatArray | None, ...]
    to_working: tuple[FloatArray | None, ...]
    cross_products: _core.CrossProducts
    factor_maps: tuple[FloatArray, ...]
    factor_nlev: tuple[int, ...]
    fixed_map: FloatArray
    beta_shift: FloatArray | None

    def estimates(self, est: _core.Estimates) -> Estimates:
        """The model's estimates from the copy's: b = A b_w per factor, beta = M beta_w (plus the
        response's shift), vcov = M vcov_w M', log|R_X|^2 less 2 log|det M|; log|L|^2 and the
        penalised RSS are the same."""
        m = self.fixed_map
        crit = est.criterion
        ldrx2 = crit.ldRX2 - 2.0 * float(np.linalg.slogdet(m)[1]) if m.size else crit.ldRX2
        criterion = _core.Criterion(crit.ldL2, ldrx2, crit.pwrss, crit.n, crit.p)
        beta = m @ np.asarray(est.beta)
        if self.beta_shift is not None:
            beta = beta + self.beta_shift
        bw = np.asarray(est.b)
        b = np.empty_like(bw)
        off = 0
        for a, nlev in zip(self.factor_maps, self.factor_nlev, strict=True):
            k = a.shape[0]
            b[off : off + nlev * k] = (bw[off : off + nlev * k].reshape(nlev, k) @ a.T).ravel()
            off += nlev * k
        vcov = m @ np.asarray(est.rx_inverse_crossprod) @ m.T
        return Estimates(criterion, beta, b, vcov)

    @staticmethod
    def of(
        structure: ModelStructure,
        data: ModelData,
        cross_products: _core.CrossProducts,
        beta_shift: FloatArray | None,
        far: dict[tuple[int, int], tuple[float, int]],
        sums: RowSums | None = None,
    ) -> CentredColumns | None:
        """The centred copy of a model's rows (``far``: the random-effects columns to centre, from
        `random_columns_far_from_zero`), or None when no slope needs centring (or the rows are
        neither held nor summed by ``sums``, a pass over streamed data)."""
        if not data.has_rows and sums is None:
            return None
        lay = structure.theta
        centres = [np.zeros(k) for k in lay.factor_k]
        against: dict[tuple[int, int], int] = {}  # (factor, column) -> its term's intercept column
        for (f, j), (mean, i0) in far.items():
            centres[f][j] = mean
            against[(f, j)] = i0
        fixed_map = np.eye(structure.p)
        xfar: dict[int, float] = {}
        x0 = -1
        if "(Intercept)" in structure.fixed_names:
            # the fixed-effects columns far from zero too: x - c for x is X B with B unit triangular,
            # which leaves the criterion as it is (the optimiser only needs the criterion); also
            # without a random slope to centre, as y ~ x + 1e6 + (1 | g), whose R_X had lost the
            # criterion's digits (0.024 off, unconverged; Satterthwaite's df 176 for 278)
            x0 = structure.fixed_names.index("(Intercept)")
            g = cross_products.fixed_crossprod()[:-1, :-1]
            xfar = _far_from_zero(g, x0, [j for j in range(structure.p) if j != x0])
            for j, mean in xfar.items():
                fixed_map[x0, j] = -mean
        if not against and not xfar:
            return None
        copy = WorkingCopy(
            beta_shift,
            tuple((f, j, float(centres[f][j]), i0) for (f, j), i0 in against.items()),
            tuple(xfar.items()),
            x0,
        )
        if data.has_rows:
            cp = copy(data.rows("the working copy")).cross_products(structure.core_layout)
        else:
            assert sums is not None
            cp = sums(copy)
        div = column_divisors(cp.column_sumsq().tolist(), int(cp.nobs))
        ends = np.cumsum(lay.factor_k)
        zdiv = np.split(np.array(div[: ends[-1]]), ends[:-1])
        scaled = cp.scaled([d.tolist() for d in zdiv], div[ends[-1] :])
        scaled.freeze()
        factor_maps = []
        for f, k in enumerate(lay.factor_k):
            a = np.eye(k)
            for (h, j), i0 in against.items():  # each centred column less c times its pivot (the intercept,
                if h == f:  # or the term's first column)
                    a[i0, j] = -centres[f][j]
            factor_maps.append(a / zdiv[f][None, :])  # then each column divided by its scale
        to_model, to_working = lay.term_maps(factor_maps)
        return CentredColumns(
            tuple(centres),
            to_model,
            to_working,
            scaled,
            tuple(factor_maps),
            tuple(f.nlev for f in structure.factors),
            fixed_map / np.array(div[ends[-1] :])[None, :],
            beta_shift,
        )


@dataclass(frozen=True)
class _Search:
    """How a fit searches (`LinearMixedModel.fit`'s arguments): its limit on evaluations, the
    optimiser and its options, and the progress reports."""

    maxeval: int
    optimizer: str
    options: dict[str, Any] | None
    progress: bool | Callable[[int, float], None] | None


GRADIENT_TOL = 2e-3  # lme4's check.conv.grad tolerance
# the disagreement between the analytic gradient and central differences of the criterion along one
# direction (`directional_check`) below which the analytic gradient and the polish's Hessian stand
# for lme4's finite-difference check: half of GRADIENT_TOL, on the same scale
DIRECTIONAL_TOL = GRADIENT_TOL / 2
# the largest Newton decrement (the fall of -2 log L a quadratic model still predicts) per observation
# at an end called converged (`ridge_tolerance`): a flat ridge hides from the gradient check (a small
# gradient along a direction of tiny curvature); per observation, not relative to the criterion,
# whose value moves with the response's units while its differences do not
DECREMENT_TOL = 1e-7
# what an error about a given start where the criterion cannot be evaluated advises (lmer and glmer)
START_HINT = "start from values on the scale of the estimates (relative SDs near 1)"


@dataclass(frozen=True)
class WorkingScale:
    """The columns the optimiser works on: a column whose root mean square is outside [1e-2, 1e2]
    is divided by it (random-effects columns of extreme scale make theta tiny or huge, fixed-effects
    columns make the factorisation imprecise); the REML criterion only shifts by a constant.

    Attributes
    ----------
    columns : ndarray
        Each column's divisor (1 where not rescaled): every factor's random-effects columns (engine
        order), then the fixed-effects columns.
    factor_k : tuple of int
        Number of random-effects columns of each factor.
    theta : ndarray
        theta_working / theta for each theta entry: the unit-scale coordinates in which the optimiser,
        Satterthwaite's derivatives and the profiles take their steps (ones where nothing is rescaled).
    identity : bool
        True when no column is rescaled.
    """

    columns: FloatArray
    factor_k: tuple[int, ...]
    theta: FloatArray
    identity: bool

    @property
    def z(self) -> list[FloatArray]:
        """Per grouping factor, its random-effects columns' divisors."""
        ends = np.cumsum(self.factor_k)
        return list(np.split(self.columns[: ends[-1]], ends[:-1]))

    @property
    def x(self) -> FloatArray:
        """The fixed-effects columns' divisors."""
        return self.columns[sum(self.factor_k) :]


@dataclass(frozen=True, eq=False)
class Estimates:
    """What one update of the factor at theta gives (`LinearMixedModel.estimates`).

    Attributes
    ----------
    criterion : _core.Criterion
        The criterion's parts (log-determinants, penalised RSS, n, p).
    beta : ndarray
        Fixed effects at theta (sigma profiled out).
    b : ndarray
        Conditional modes, all factors (engine order) concatenated, level-major.
    rx_inverse_crossprod : ndarray
        (R_X'R_X)^-1: vcov(beta) / sigma^2.
    """

    criterion: _core.Criterion
    beta: FloatArray
    b: FloatArray
    rx_inverse_crossprod: FloatArray


def _ols(g: FloatArray) -> tuple[FloatArray, float, float]:
    """From [X y]'[X y]: the least-squares coefficients, the residual sum of squares and y'y."""
    p = g.shape[0] - 1
    xx, xy, yy = g[:p, :p], g[:p, p], float(g[p, p])
    if p <= 4:  # numpy's solve costs ~10 us of overhead on a tiny system: Cholesky by hand
        m = g.tolist()
        ell = [[0.0] * p for _ in range(p)]
        for j in range(p):
            d = m[j][j] - sum(ell[j][k] ** 2 for k in range(j))
            if not d > 0:
                return np.zeros(p), yy, yy
            ell[j][j] = sqrt(d)
            for i in range(j + 1, p):
                ell[i][j] = (m[i][j] - sum(ell[i][k] * ell[j][k] for k in range(j))) / ell[j][j]
        z = [0.0] * p  # L z = X'y, then L' beta = z; RSS = y'y - z'z
        for i in range(p):
            z[i] = (m[i][p] - sum(ell[i][k] * z[k] for k in range(i))) / ell[i][i]
        b = [0.0] * p
        for i in reversed(range(p)):
            b[i] = (z[i] - sum(ell[k][i] * b[k] for k in range(i + 1, p))) / ell[i][i]
        return np.array(b), yy - sum(v * v for v in z), yy
    try:
        beta = np.asarray(np.linalg.solve(xx, xy), dtype=np.float64)
    except np.linalg.LinAlgError:
        return np.zeros(p), yy, yy
    return beta, yy - float(xy @ beta), yy


ShiftedSums = Callable[[FloatArray], _core.CrossProducts]
"""A of the model's rows with response y - X shift (streamed data: one more pass over the source)."""


def _residual_cross_products(
    data: ModelData, layout: _core.Layout, cross_products: _core.CrossProducts, shifted: ShiftedSums | None = None
) -> tuple[_core.CrossProducts, FloatArray | None, float]:
    """The cross-products the engines factor, and the shift of beta they need: those of the rows
    with y - X beta0 in place of y when y'y is more than `CANCELLATION_LIMIT` times the
    least-squares residual sum of squares (a response far from zero, or one the fixed effects
    explain almost exactly), else the model's own (shift None). The criterion, b and
    vcov(beta) do not change; beta is beta0 plus the shifted model's. Formed from the rows when
    they are held, else by ``shifted`` (streamed data: a pass over the source per step; without it,
    the model's own sums). Third: the least-squares residual sum of squares."""
    g = cross_products.fixed_crossprod()
    p = g.shape[0] - 1
    if p == 0:
        return cross_products, None, float(g[0, 0])
    beta0, rss, yy = _ols(g)
    if not (rss * CANCELLATION_LIMIT < yy):
        return cross_products, None, rss
    if data.has_rows:
        rows = data.rows("the cross-products")
        shifted = lambda shift: rows.minus_fixed(shift).cross_products(layout)  # noqa: E731
    elif shifted is None:
        return cross_products, None, rss
    shift = np.zeros(p)
    cp = cross_products
    for _ in range(3):  # beta0 from rounded sums is close, not exact: a second step when needed
        shift = shift + beta0
        cp = shifted(shift)
        beta0, rss, yy = _ols(cp.fixed_crossprod())
        if not (rss * CANCELLATION_LIMIT < yy):
            break
    cp.freeze()
    return cp, shift, rss


@dataclass(frozen=True, eq=False)
class FormulaCall:
    """What `LinearMixedModel.from_formula` was given: the formula (parsed, so its vetting and
    ``trusted`` flag are kept), the data frame (the caller's object, not a copy) and the
    ``weights`` and ``offset`` arguments. ``update`` builds the changed model from it."""

    formula: ParsedFormula
    data: pd.DataFrame
    weights: str | ArrayLike | None = None
    offset: str | ArrayLike | None = None


@dataclass(frozen=True, eq=False)
class Fit:
    """The estimates of a `LinearMixedModel` at theta, and how the optimiser reached theta.

    Attributes
    ----------
    model : LinearMixedModel
    theta : ndarray
        lme4's parameterisation of the covariance (see `layout`).
    sigma : float
        Residual standard deviation.
    beta : ndarray
        Fixed effects.
    vcov_array : ndarray
        Covariance of the fixed effects, sigma^2 (R_X'R_X)^-1.
    b : tuple of ndarray
        Conditional modes per grouping factor (engine order), levels x columns.
    objective : float
        The REML criterion (REML fits) or -2 log-likelihood at theta.
    deviance : float
        -2 log-likelihood at the estimates (ML), whatever the fit's criterion.
    ldl2, ldrx2, pwrss : float
        log|L_theta|^2, log|R_X|^2 and the penalised residual sum of squares.
    n_evals : int
        Evaluations of the criterion by the optimiser (0 when not optimised).
    converged : bool
        The derivative check passed and the evaluation limit was not hit.
    optimizer_message : str
    gradient : ndarray
        The gradient of the derivative check: the analytic gradient at the estimates where central
        differences of the criterion along one direction confirm it (where Newton on differences took
        its last step on the criterion alone, the gradient its quadratic model predicts there: 0 to
        rounding), else lme4's finite differences.
    is_singular : bool
        A variance is zero or a correlation is +-1 (lme4's isSingular).
    messages : tuple of str
        The warnings the fit issued.
    data_name : str or None
        Name of the data, for the summary.
    """

    model: LinearMixedModel
    theta: FloatArray
    sigma: float
    beta: FloatArray
    vcov_array: FloatArray
    b: tuple[FloatArray, ...]
    objective: float
    deviance: float
    ldl2: float
    ldrx2: float
    pwrss: float
    n_evals: int
    converged: bool
    optimizer_message: str
    gradient: FloatArray
    is_singular: bool
    messages: tuple[str, ...]
    data_name: str | None

    @property
    def reml(self) -> bool:
        """Fitted by REML (else maximum likelihood)."""
        return self.model.reml


class LinearMixedModel:
    """A linear mixed model: structure, data, cross-products, engines, working scale and criterion.

    Build one with `from_formula` (a data frame), `from_arrays` or `stream.model_from_source`
    (chunks); `fit` estimates it. The model does not change: its cross-products are frozen
    (`_core.CrossProducts.freeze`), and `with_reml` and `with_response` return new models that share
    what they can. Its engines are formed when first needed and are not pickled.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> model = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> round(model.objective(np.array([0.9667, 0.0152, 0.2309])), 3)
    1743.628
    >>> fit = model.fit()
    >>> np.round(fit.theta, 4).tolist(), fit.n_evals > 0
    ([0.9667, 0.0152, 0.2309], True)
    """

    threads: int | None = None  # the engines' threads (None: the CPUs it may run on); see `set_threads`

    def __init__(
        self,
        structure: ModelStructure,
        data: ModelData,
        cross_products: _core.CrossProducts,
        *,
        reml: bool = True,
        factored: tuple[_core.CrossProducts, FloatArray | None, float] | None = None,
        sums: RowSums | None = None,
    ) -> None:
        reml = check_bool(reml, "reml")
        cross_products.freeze()  # the model's sums are final (a GLMM's weighted ones will be its own)
        self.structure = structure
        self.data = data
        self.cross_products = cross_products
        self.reml = bool(reml)
        # streamed data: A of the rows' working copies, by a pass over the source (`WorkingCopy`)
        self._sums = sums
        shifted = None if sums is None else (lambda shift: sums(WorkingCopy(shift)))
        # what the engines factor: A itself, or A of y - X beta_shift (`_residual_cross_products`)
        self._factored, self._beta_shift, self._ols_rss = (
            factored
            if factored is not None
            else _residual_cross_products(data, structure.core_layout, cross_products, shifted)
        )
        self.log_weights = _log_weights(data, cross_products)
        self._lock = threading.Lock()
        # the arguments of `from_formula` (None for arrays and streamed data); not pickled
        self.call: FormulaCall | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        structure: ModelStructure,
        data: ModelData,
        cross_products: _core.CrossProducts,
        *,
        reml: bool = True,
        sums: Callable[[WorkingCopy, _core.Layout, NDArray[np.intp] | None], _core.CrossProducts] | None = None,
    ) -> LinearMixedModel:
        """The model of these cross-products after the identifiability checks (`checks`): fixed-effects
        columns aliased by earlier ones are dropped (with a warning); other problems raise `DataError`.

        ``sums(copy, layout, keep)``: for data whose rows are not held (streamed), A in that layout of
        the rows with the fixed-effects columns ``keep`` (None: every column) made by ``copy`` (a
        `WorkingCopy`: y - X shift, centred columns), which the model asks for when y is far from
        zero or explained almost exactly by X, and when a random slope sits far from zero."""
        if cross_products.sum_log_weights == -np.inf and not np.any(cross_products.fixed_crossprod()):
            # a zero weight somewhere, and every row's products zero: no weight is positive
            raise DataError(f"weights: no observation has a positive weight (all {cross_products.nobs} are 0)")
        offset = False
        if data.has_rows:  # the rows tell a fixed-effects column of zeros from one too small to square
            held = data.rows("the scale check")
            check_scales(structure, cross_products, held.column, held.weights)
            offset = held.offset is not None
        else:
            check_scales(structure, cross_products)
        keep = identifiable_fixed(structure, cross_products, offset)
        kept: NDArray[np.intp] | None = None
        if len(keep) < structure.p:
            structure = structure.select_fixed(keep)
            data = data.select_fixed(keep)
            cross_products = cross_products.select_fixed(keep.tolist())
            kept = keep
        check_random_effects(structure, cross_products)
        layout = structure.core_layout
        by_copy = None if sums is None else (lambda copy: sums(copy, layout, kept))
        return cls(structure, data, cross_products, reml=reml, sums=by_copy)

    @classmethod
    def from_data(
        cls, structure: ModelStructure, data: FrameData | ArrayData, *, reml: bool = True
    ) -> LinearMixedModel:
        """The model of rows held in memory: their cross-products formed in one pass, then `build`."""
        rows = data.rows("the cross-products")
        return cls.build(structure, data, rows.cross_products(structure.core_layout), reml=reml)

    @classmethod
    def from_formula(
        cls,
        formula: str | ParsedFormula,
        data: pd.DataFrame,
        *,
        reml: bool = True,
        weights: str | ArrayLike | None = None,
        offset: str | ArrayLike | None = None,
    ) -> LinearMixedModel:
        """The model of an lme4 formula on a data frame (see `mixedmodels.lmer`); it keeps the
        arguments as its `call` (a `FormulaCall`), which `update` reuses."""
        parsed = parse_formula(formula)
        structure, held = materialise(parsed, data, weights=weights, offset=offset)
        model = cls.from_data(structure, held, reml=reml)
        model.call = FormulaCall(parsed, data, weights, offset)
        return model

    @classmethod
    def from_arrays(
        cls,
        y: ArrayLike,
        x: ArrayLike,
        terms: Sequence[GroupTerm],
        *,
        fixed_names: Sequence[str] | None = None,
        reml: bool = True,
    ) -> LinearMixedModel:
        """The model of arrays (see `mixedmodels.fit_arrays`)."""
        structure, held = from_arrays(y, x, terms, fixed_names=fixed_names)
        return cls.from_data(structure, held, reml=reml)

    def with_reml(self, reml: bool) -> LinearMixedModel:
        """The same model estimated by REML (True) or maximum likelihood (False)."""
        if bool(reml) == self.reml:
            return self
        model = LinearMixedModel(
            self.structure,
            self.data,
            self.cross_products,
            reml=reml,
            factored=(self._factored, self._beta_shift, self._ols_rss),
            sums=self._sums,
        )
        model.call = self.call
        model.threads = self.threads
        return model

    def with_response(self, y: ArrayLike) -> LinearMixedModel:
        """The same model with another response (the rows' cross-products formed again; needs the rows)."""
        data = self.data.with_response(np.asarray(y, dtype=np.float64))
        rows = data.rows("refit")
        cp = rows.cross_products(self.structure.core_layout)
        model = LinearMixedModel(self.structure, data, cp, reml=self.reml)
        model.threads = self.threads
        return model

    def __getstate__(self) -> dict[str, Any]:
        # engines are formed again from the cross-products after unpickling
        # a streamed model's centred copy (once formed) goes with it: its rows do not
        keep: tuple[str, ...] = (
            "structure",
            "data",
            "cross_products",
            "reml",
            "_factored",
            "_beta_shift",
            "_ols_rss",
            "log_weights",
        )
        if self._sums is not None:
            keep += ("_centred",)
        return {k: v for k, v in self.__dict__.items() if k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._sums = None
        self.call = None  # the caller's data frame is not shipped with a pickled model
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ facts
    @property
    def nobs(self) -> int:
        """Number of observations."""
        return int(self.cross_products.nobs)

    @property
    def p(self) -> int:
        """Number of fixed-effects columns."""
        return self.structure.p

    @property
    def ntheta(self) -> int:
        """Number of covariance parameters."""
        return self.structure.ntheta

    # ------------------------------------------------------------------ engines and the working scale
    def new_engine(
        self, *, working: bool = False, dense_threshold: float = 0.1, like: _core.Engine | None = None
    ) -> _core.Engine:
        """A new engine of this model's cross-products (``working``: of the working scale's), on
        ``self.threads`` threads (`set_threads`); ``like``: another engine of this model, whose
        fill-reducing orders it takes (`_core.Engine`)."""
        single_threaded_blas()  # once per process: the core then factors with BLAS on one thread
        cp = self._working_cross_products if working else self._factored
        return _core.Engine(cp, dense_threshold, threads=self.threads, like=like)

    def set_threads(self, threads: int | None) -> None:
        """The threads the core may use for this model's evaluations (None: `arguments.available_cpus`);
        the results are bitwise the same for every count, but see `mixedmodels.lmer`'s ``threads`` on 1."""
        self.threads = threads
        for name in ("_engine", "_working_engine"):
            engine = self.__dict__.get(name)
            if engine is not None:
                engine.threads = threads

    @cached_property
    def _engine(self) -> _core.Engine:
        """The model's own engine on the data's scale, for the single calls below (each locks it)."""
        return self.new_engine()

    @cached_property
    def working_scale(self) -> WorkingScale:
        """The working scale of the optimisation (from A's diagonal: the same for rows and streamed data)."""
        divisors = column_divisors(self.cross_products.column_sumsq().tolist(), self.nobs)
        identity = all(d == 1.0 for d in divisors)
        ws = WorkingScale(np.array(divisors), self.structure.theta.factor_k, np.ones(self.ntheta), identity)
        return ws if identity else replace(ws, theta=self.structure.theta.row_scale(ws.z))

    @cached_property
    def _working_engine(self) -> _core.Engine:
        """The engine the optimiser works on: the model's own when no column is rescaled."""
        with self._lock:
            if self.working_scale.identity and self._centred is None:
                return self._engine
        return self.new_engine(working=True)

    @cached_property
    def _far_columns(self) -> tuple[dict[tuple[int, int], tuple[float, int]], bool]:
        """`random_columns_far_from_zero` of this model (none without the rows or a pass over them:
        nothing is centred)."""
        if not self.data.has_rows and self._sums is None:
            return {}, False
        return random_columns_far_from_zero(self.structure, self.cross_products.factor_crossprod)

    @property
    def _uncentred_far(self) -> bool:
        """Whether a random-effects column far from zero sits in a term without an intercept while
        its factor has one in another term (``(x || g)`` with x + 1e4): such a column cannot be
        centred without changing the model, and its criterion is nearly flat along the intercept's
        variance, so every end is checked by restarts."""
        return self._far_columns[1]

    def _far_start(self, scale: float = 1.0) -> FloatArray | None:
        """A start (optimiser's coordinates) for slopes far from zero in terms without an intercept
        (``(x || g)`` with x + 1e4), None for other models. Such a slope's variance carries a large
        variance of the intercept at x = 0 (the group lines must still meet the data near x's mean),
        so the optimum can be an intercept SD thousands of times sigma: far from every ordinary
        start, behind a ridge. Each far slope starts at ``scale`` sigmas per standard deviation of
        its column, and the intercept at the SD that those slopes imply at zero."""
        if not self._uncentred_far:
            return None
        s = self.structure
        theta = self._to_model(s.theta.default_start())
        for f, factor in enumerate(s.factors):
            if "(Intercept)" not in factor.columns:
                continue
            i0 = factor.columns.index("(Intercept)")
            block = self.cross_products.factor_crossprod(f)
            n = float(block[i0, i0])
            implied, intercept_entry = 0.0, -1
            for t in s.theta.terms:
                if t.factor != f:
                    continue
                pairs = tril_pairs(t.k)
                for c, name in enumerate(t.columns):
                    entry = t.offset + pairs.index((c, c))
                    if name == "(Intercept)":
                        intercept_entry = entry
                        continue
                    j = t.column_offset + c
                    if "(Intercept)" in t.columns or n <= 0 or j not in _far_from_zero(block, i0, [j]):
                        continue
                    mean = float(block[i0, j]) / n
                    sd = sqrt(max(float(block[j, j]) / n - mean * mean, 0.0))
                    if sd > 0:
                        theta[entry] = scale / sd
                        implied += (scale * mean / sd) ** 2
            if intercept_entry >= 0 and implied > 0:
                theta[intercept_entry] = sqrt(1.0 + implied)
        return self._to_working(theta)

    def _group_ols_start(self) -> FloatArray | None:
        """A start (optimiser's coordinates) from least squares within each level of a single
        grouping factor (lme4's ``lmList``): the levels' coefficients on the factor's random-effects
        columns, their covariance (per term) over sigma from the pooled residuals; None for several
        factors, streamed rows, too many levels (above 5,000: a loop per level) or too few levels
        with more rows than columns. Its scale comes from the data, so it reaches optima far from
        the unit starts (an intercept SD of 1e5 sigma for ``(x || g)`` with x + 1e4)."""
        s = self.structure
        if len(s.factors) != 1 or not self.data.has_rows or s.factors[0].nlev > 5000:
            return None
        rows = self.data.rows("a start")
        z, codes = rows.z[0], rows.codes[0]
        y = rows.y if rows.offset is None else rows.y - rows.offset
        k = z.shape[1]
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(s.factors[0].nlev + 1))
        coefs, rss, dof = [], 0.0, 0
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if hi - lo <= k:
                continue
            idx = order[lo:hi]
            b, res, rank, _ = np.linalg.lstsq(z[idx], y[idx], rcond=None)
            if rank < k or res.size == 0:
                continue
            coefs.append(b)
            rss += float(res[0])
            dof += hi - lo - k
        if len(coefs) <= k or dof == 0 or rss <= 0:
            return None
        sigma = sqrt(rss / dof)
        cov = np.cov(np.array(coefs), rowvar=False).reshape(k, k)
        theta = np.zeros(s.ntheta)
        for t in s.theta.terms:
            span = slice(t.column_offset, t.column_offset + t.k)
            block = cov[span, span]
            w, v = np.linalg.eigh(block)
            block = (v * np.maximum(w, 1e-12 * max(float(w.max()), 1e-300))) @ v.T
            low = np.linalg.cholesky(block) / sigma
            for e, (i, j) in enumerate(tril_pairs(t.k)):
                theta[t.offset + e] = low[i, j]
        if not np.all(np.isfinite(theta)):
            return None
        return self._to_working(theta)

    @cached_property
    def _centred(self) -> CentredColumns | None:
        far = self._far_columns[0]
        return CentredColumns.of(self.structure, self.data, self.cross_products, self._beta_shift, far, self._sums)

    @property
    def working_maps(self) -> tuple[tuple[FloatArray, ...], FloatArray]:
        """The optimiser's columns as maps of the model's: per grouping factor A_f (k x k), its
        random-effects columns being Z_f A_f, and M (p x p), the fixed-effects columns X M, so that
        theta's coordinates are `working_theta` and beta = M beta_working (slopes far from zero
        centred, columns of extreme scale rescaled: `CentredColumns`, `WorkingScale`). Kenward-Roger's
        sums run on those columns, where a slope on x + 1000 does not cancel away their digits.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> d = mm.datasets.load("sleepstudy").assign(day=lambda f: f.Days + 100)
        >>> maps, m = LinearMixedModel.from_formula("Reaction ~ day + (day | Subject)", d).working_maps
        >>> bool(maps[0][0, 1] < 0), bool(m[0, 1] < 0)  # day less its mean times the intercept
        (True, True)
        """
        c = self._centred
        if c is not None:
            return c.factor_maps, c.fixed_map
        ws = self.working_scale
        return tuple(np.diag(1.0 / z) for z in ws.z), np.diag(1.0 / ws.x)

    def theta_of_working(self, theta_working: FloatArray) -> FloatArray:
        """theta from the optimiser's coordinates: the unit-scale coordinates (slopes far from zero
        centred, columns of extreme scale rescaled: `CentredColumns`, `WorkingScale`) in which
        numerical derivatives in theta mean the same for every parameter (Satterthwaite's df).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> d = mm.datasets.load("sleepstudy").assign(day=lambda f: f.Days + 100)
        >>> model = LinearMixedModel.from_formula("Reaction ~ day + (day | Subject)", d)
        >>> theta = np.array([0.966748, 0.015169, 0.230903])  # sleepstudy's, with Days
        >>> back = model.theta_of_working(model.working_theta(theta))
        >>> bool(np.allclose(back, theta))
        True
        """
        return self._to_model(np.asarray(theta_working, dtype=np.float64))

    def working_theta(self, theta: FloatArray) -> FloatArray:
        """The optimiser's coordinates of theta (the inverse of `theta_of_working`).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> model = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> model.working_theta(np.array([1.0, 0.0, 0.25])).tolist()  # columns of ordinary scale: as they are
        [1.0, 0.0, 0.25]
        """
        return self._to_working(np.asarray(theta, dtype=np.float64))

    def _to_model(self, theta_working: FloatArray) -> FloatArray:
        """theta from the optimiser's coordinates (the working scale, and centred slopes)."""
        c = self._centred
        if c is None:
            return theta_working / self.theta_scale
        return self.structure.theta.transformed(theta_working, c.to_model)

    def _to_working(self, theta: FloatArray) -> FloatArray:
        """The optimiser's coordinates of theta (inverse of `_to_model`)."""
        c = self._centred
        if c is None:
            return theta * self.theta_scale
        return self.structure.theta.transformed(theta, c.to_working)

    @cached_property
    def _working_cross_products(self) -> _core.CrossProducts:
        if self._centred is not None:
            return self._centred.cross_products
        ws = self.working_scale
        if ws.identity:
            return self._factored
        scaled = self._factored.scaled([z.tolist() for z in ws.z], ws.x.tolist())
        scaled.freeze()
        return scaled

    @property
    def theta_scale(self) -> FloatArray:
        """theta_working / theta per entry (`WorkingScale.theta`): the unit-scale coordinates."""
        return self.working_scale.theta

    # ------------------------------------------------------------------ the criterion
    def criterion(self, theta: FloatArray) -> _core.Criterion:
        """The parts of the criterion at theta (the factor updated on the data's scale, or on the
        centred copy's: `CentredColumns`)."""
        if self._centred is not None:
            return self.estimates(theta).criterion
        with self._lock:
            engine = self._engine
        return engine.update(np.asarray(theta, dtype=np.float64))

    def objective(self, theta: FloatArray) -> float:
        """The REML criterion (REML models) or -2 log-likelihood at theta, sigma and beta profiled out."""
        return float(self.criterion(theta).profiled(self.reml)) - self.log_weights

    def objective_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """The criterion at theta (as `objective`) and its analytic gradient in theta, from one
        update of the factor on the data's scale (`_core.Engine.gradient`, docs/design.md section
        3a): log-determinant terms from a selected inversion of the factor's blocks, the penalised
        RSS by the envelope theorem. The gradient is the two-sided one, also at theta = 0 on a
        diagonal (the criterion is smooth there).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> model = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> f, g = model.objective_gradient(np.array([0.9667, 0.0152, 0.2309]))
        >>> round(f, 3), bool(np.abs(g).max() < 0.05)
        (1743.628, True)
        """
        theta = np.asarray(theta, dtype=np.float64)
        with self._lock:
            engine = self._engine
        value, grad = engine.gradient(theta, self.reml)
        return float(value) - self.log_weights, np.asarray(grad)

    def gradient_workspace(self) -> contextlib.AbstractContextManager[_core.Engine]:
        """A with-block within which `deviance_gradient` keeps its engine's workspace from call to
        call (`held_workspace`): for loops of gradients, such as the Hessian that Satterthwaite's
        degrees of freedom difference.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> model = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> with model.gradient_workspace():
        ...     d, g, gs = model.deviance_gradient(np.array([0.9667, 0.0152, 0.2309]), 25.59)
        >>> round(d, 3)
        1743.628
        """
        with self._lock:
            engine = self._engine
        return held_workspace(engine)

    def deviance_gradient(self, theta: FloatArray, sigma: float) -> tuple[float, FloatArray, float] | None:
        """lmerTest's deviance at (theta, sigma) -- the criterion with sigma given, not profiled,
        ``Criterion.at_sigma`` less the log prior weights -- and its analytic derivatives in theta
        and in sigma, from one update of the factor on the data's scale
        (`_core.Engine.gradient_parts`). None for a model whose criterion is taken from a centred
        copy of its random-effects columns (slopes far from zero), where the data-scale factor's
        derivatives are not accurate enough to difference.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> model = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
        >>> d, g, gs = model.deviance_gradient(np.array([0.9667, 0.0152, 0.2309]), 25.59)
        >>> round(d, 3), g.shape, bool(abs(gs) < 0.05)
        (1743.628, (3,), True)
        """
        if self._centred is not None:
            return None
        theta = np.asarray(theta, dtype=np.float64)
        with self._lock:
            engine = self._engine
        crit, dldl, dldrx, dpwrss = engine.gradient_parts(theta, self.reml)
        s2 = sigma * sigma
        dof = float(crit.n - crit.p if self.reml else crit.n)
        grad = np.asarray(dldl) + (np.asarray(dldrx) if self.reml else 0.0) + np.asarray(dpwrss) / s2
        dsigma = -2.0 * crit.pwrss / (s2 * sigma) + 2.0 * dof / sigma
        return float(crit.at_sigma(sigma, self.reml)) - self.log_weights, grad, float(dsigma)

    def estimates(self, theta: FloatArray) -> Estimates:
        """Criterion parts, beta, b and (R_X'R_X)^-1 at theta, from one update of the factor."""
        theta = np.asarray(theta, dtype=np.float64)
        centred = self._centred
        if centred is not None:
            return centred.estimates(self._working_engine.estimates(self._to_working(theta)))
        with self._lock:
            engine = self._engine
        est = engine.estimates(theta)
        beta = np.asarray(est.beta)
        if self._beta_shift is not None:
            beta = beta + self._beta_shift
        return Estimates(est.criterion, beta, np.asarray(est.b), np.asarray(est.rx_inverse_crossprod))

    def conditional_covariances(self, theta: FloatArray) -> list[FloatArray]:
        """Per factor (engine order), the (nlev, k, k) diagonal blocks of (L_ZZ L_ZZ')^-1 at theta:
        Cov(u | y) / sigma^2 (a fresh engine: with a dense fill-in block this costs more than a few
        evaluations of the criterion)."""
        theta = np.asarray(theta, dtype=np.float64)
        centred = self._centred
        if centred is None:
            engine = self.new_engine()
            engine.update(theta)
            return list(engine.condcov())
        # b = A b_w = A T_w u_w per term, and A T_w = T D Q' (QR of (A T_w)'), so u = D Q' u_w
        engine = self.new_engine(working=True)
        theta_w = self._to_working(theta)
        engine.update(theta_w)
        lay = self.structure.theta
        rot = [np.eye(k) for k in lay.factor_k]
        for t, a in zip(lay.terms, centred.to_model, strict=True):
            if a is not None:
                q, r = np.linalg.qr((a @ t.t_matrix(theta_w)).T)
                cols = slice(t.column_offset, t.column_offset + t.k)
                rot[t.factor][cols, cols] = np.where(np.diag(r) < 0, -1.0, 1.0)[:, None] * q.T
        return [m @ np.asarray(c) @ m.T for m, c in zip(rot, engine.condcov(), strict=True)]

    @cached_property
    def block_layout(self) -> list[list[_core.BlockInfo]]:
        """The block types of the Cholesky factor: per row of blocks, one `_core.BlockInfo` per block."""
        with self._lock:
            engine = self._engine
        return list(engine.describe())

    # ------------------------------------------------------------------ fitting
    def optimize(
        self,
        start: Sequence[float] | FloatArray | str | None = None,
        *,
        warm: bool = False,
        maxeval: int = 100_000,
        optimizer: str = "auto",
        optimizer_options: dict[str, Any] | None = None,
        progress: bool | Callable[[int, float], None] | None = None,
    ) -> OptimResult:
        """Minimise the criterion over theta on the working scale; theta in the result is on the
        data's scale, ``fun`` the working-scale criterion. ``start``: None (moment estimates from the
        OLS residuals, `_core.Engine.moment_start`), ``"lme4"`` (1 on the diagonals, 0 elsewhere) or
        a theta; ``warm``: a given start is near the optimum (a previous fit's theta), so BOBYQA
        takes the small initial step it takes from the moment estimates."""
        with contextlib.ExitStack() as hold:
            with self._blaming_start(start):
                opt, _, _, _, _, _, _, resume = self._minimize(
                    start, warm, _Search(maxeval, optimizer, optimizer_options, progress), hold
                )
            if opt.stalled:  # no polish here to settle it: L-BFGS-B goes on to its own stopping rules
                opt = resume(opt)
        return OptimResult(
            theta=self._to_model(opt.theta),
            fun=opt.fun,
            n_evals=opt.n_evals,
            message=opt.message,
            hit_maxeval=opt.hit_maxeval,
        )

    def _minimize(
        self,
        start: Sequence[float] | FloatArray | str | None,
        warm: bool,
        search: _Search,
        hold: contextlib.ExitStack,
    ) -> tuple[
        OptimResult,
        EngineCriterion,
        Callable[[FloatArray], float],
        ValueAndGradient,
        Hessian | None,
        str,
        dict[str, float],
        Callable[[OptimResult], OptimResult],
    ]:
        """Minimise on the working coordinates: (result, the criterion, the function the optimiser
        called (with progress reports), the same with its gradient, and with its Hessian (None
        without one grouping factor), the method and stopping
        rules for restarts that check a doubtful end (`_verify`): the user's, and a function that
        continues this first run's optimiser from an end, without its stall stop). The engine's
        gradient workspace is held (`held_workspace`) from when the arguments are checked until
        ``hold``, the caller's exit stack, closes: through the caller's polish and check. With ``"auto"``
        on an expensive evaluation, this first run is BOBYQA stopped at `POLISHED_BOBYQA`'s loose
        tolerances, and the restarts are COBYQA's at its own: where an end is doubtful (a flat
        ridge, a parameter at or near its bound) the polish may be unable to finish a loose end, and
        COBYQA reaches such ends in fewer evaluations than BOBYQA at its tight defaults. After a first
        run of Newton's method (`"auto"` with one grouping factor) they are those of the search "auto"
        took there before (`newton_fallback`), which also runs where Newton gives up. L-BFGS-B's
        first run stops where its evaluations stall at rounding (``stalled``), for `fit` to settle
        by the polish or continue."""
        optimizer, checked = check_optimizer(search.optimizer, search.options)
        maxeval = check_count(search.maxeval, "maxeval", maximum=MAX_EVALUATIONS)
        progress = search.progress
        s = self.structure
        if self.nobs - s.p < s.ntheta + 1:
            raise DataError(
                f"{self.nobs} observations leave {self.nobs - s.p} residual degrees of freedom after "
                f"{s.p} fixed effects, fewer than the {s.ntheta + 1} variance parameters to estimate "
                f"({', '.join(s.theta.names)} and the residual SD): they are not identifiable"
            )
        engine = hold.enter_context(held_workspace(self._working_engine))  # until the caller's work ends
        first_method, loose = optimizer, dict[str, float]()
        if optimizer == "auto":
            # a far uncentred slope makes the criterion a narrow ridge evaluated to ~8 digits: L-BFGS-B's
            # gradients and its restarts cost more there than BOBYQA and reach no better point
            far = self._uncentred_far
            chosen = choose_method(engine.update_flops(), len(s.factors), s.ntheta)
            first_method, loose = ("bobyqa", {}) if far else chosen
        first: dict[str, Any] = loose | {k: v for k, v in checked.items() if k in OPTIMIZER_OPTIONS[first_method]}
        # the restarts that check a doubtful end after a loose first run: COBYQA, which reaches such
        # ends (zero variances, flat ridges) in fewer evaluations than BOBYQA at its tight tolerances
        # (with several factors, BOBYQA at the loose tolerances: "auto"'s choice there before Newton's method)
        fallback = "bobyqa" if len(s.factors) > 1 else newton_fallback(engine.update_flops())
        method = "cobyqa" if loose else fallback if first_method == "newton" else first_method
        options: dict[str, Any] = {k: v for k, v in checked.items() if k in OPTIMIZER_OPTIONS[method]}
        lower = s.theta.lower
        x0, step = self._start(engine, start, warm)
        if start is not None and not isinstance(start, str) and not warm:  # (a previous fit's theta is sane)
            self._check_start_value(engine, x0)
        # (a second engine for Newton's differences on both cores: `EngineCriterion.gradient_and_values`)
        criterion = EngineCriterion(engine, self.reml, twin=lambda: self.new_engine(working=True, like=engine))
        f: Callable[[FloatArray], float] = criterion
        fg: ValueAndGradient = criterion.value_and_gradient
        hf = criterion.hessian
        alongside = criterion.alongside
        differenced = first_method == "newton" and hf is None
        if differenced and s.ntheta > DIFFERENCED_NEWTON_MAX:
            raise ArgumentError(
                "optimizer='newton' needs the analytic Hessian, which covers models with one grouping factor, or "
                f"at most {DIFFERENCED_NEWTON_MAX} covariance parameters (its Hessian then comes from differences of "
                f"the criterion); this model has {len(s.factors)} grouping factors and {s.ntheta} parameters"
            )
        report = progress_reporter(progress)
        if report is not None:

            def f(theta: FloatArray) -> float:
                v = engine.objective(np.asarray(theta, dtype=float), self.reml)
                report(v)
                return v

            def fg(theta: FloatArray) -> tuple[float, FloatArray]:
                v, g = criterion.value_and_gradient(theta)
                report(v)
                return v, g

            if alongside is not None:
                plain_alongside = alongside

                def alongside(
                    theta: FloatArray, points: Sequence[FloatArray], gradient_points: Sequence[FloatArray]
                ) -> tuple[float, FloatArray, list[float], list[tuple[float, FloatArray]]]:
                    v, g, values, gradients = plain_alongside(theta, points, gradient_points)
                    for u in (v, *(w for w, _ in gradients), *values):
                        report(u)
                    return v, g, values, gradients

            if hf is not None:
                plain_hf = hf

                def hf(theta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
                    v, g, h = plain_hf(theta)
                    report(v)
                    return v, g, h

        # Newton's Hessian: the engine's (one grouping factor), else from differences of the criterion
        newton_hessian = DifferencedHessian(fg, f, alongside) if differenced else hf
        opt = minimize_theta(
            f,
            x0,
            lower,
            method=first_method,
            maxeval=maxeval,
            step=step,
            gradient=fg,
            one_thread_blas=engine.single_threaded_blas,
            stall=first_method == "lbfgsb",
            hessian=newton_hessian,
            fallback=fallback,
            **first,
        )

        def resume(end: OptimResult) -> OptimResult:
            more = minimize_theta(
                f,
                end.theta,
                lower,
                method=first_method,
                maxeval=max(maxeval - end.n_evals, 1),
                step=initial_step(end.theta),  # (BOBYQA's, also where Newton gives up: NLopt's own can be far off)
                gradient=fg,
                one_thread_blas=engine.single_threaded_blas,
                hessian=newton_hessian,
                fallback=fallback,
                **first,
            )  # from end.theta, its first evaluation: its best point is no worse than the end
            return replace(more, n_evals=end.n_evals + more.n_evals)

        return opt, criterion, f, fg, hf, method, options, resume

    def _start(
        self, engine: _core.Engine, start: Sequence[float] | FloatArray | str | None, warm: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        """The optimiser's start on the working coordinates, and its initial step (None: NLopt's)."""
        s = self.structure
        if start is None:
            x0 = np.asarray(engine.moment_start(s.intercept_columns()), dtype=float)
            return x0, initial_step(x0)
        if isinstance(start, str) and start == "lme4":
            return s.theta.default_start(), None
        x0 = np.asarray(check_start(start, s.theta.names), dtype=np.float64)
        below = np.flatnonzero(x0 < s.theta.lower)
        if below.size:
            raise ArgumentError(
                "start must be at least 0 on the diagonal entries of theta (standard deviations relative to "
                f"sigma); it is negative at {', '.join(s.theta.names[i] for i in below)}"
            )
        x0 = self._to_working(x0)
        return x0, initial_step(x0) if warm else None

    @contextlib.contextmanager
    def _blaming_start(self, start: Sequence[float] | FloatArray | str | None) -> Iterator[None]:
        """A factorisation that fails in the first search from a given start (theta far off: the
        products with the data overflow or the factor loses every digit) as an `ArgumentError` naming
        the start; from the default starts the core's error stands."""
        try:
            yield
        except _core.NotPositiveDefiniteError as e:
            if start is None or isinstance(start, str):
                raise
            raise ArgumentError(
                f"start: the search from theta = {np.asarray(start, dtype=float).tolist()} met a point where the "
                f"criterion cannot be evaluated ({e}); {START_HINT}"
            ) from e

    def _check_start_value(self, engine: _core.Engine, x0: FloatArray) -> None:
        """An `ArgumentError` where the criterion cannot be evaluated at a given start, or is not
        finite there (theta far too large: the products with the data overflow, or the factor loses
        every digit), rather than an optimiser's end there reported as an exact fit or a rank-deficient
        fixed-effects matrix."""
        theta = self._to_model(x0).tolist()
        try:
            value = engine.objective(x0, self.reml)
        except _core.NotPositiveDefiniteError as e:
            raise ArgumentError(
                f"start: the criterion cannot be evaluated at theta = {theta} ({e}); {START_HINT}"
            ) from e
        if not np.isfinite(value):
            raise ArgumentError(f"start: the criterion at theta = {theta} is {value}; {START_HINT}")

    def fit(
        self,
        *,
        start: Sequence[float] | FloatArray | str | None = None,
        warm: bool = False,
        maxeval: int = 100_000,
        optimizer: str = "auto",
        optimizer_options: dict[str, Any] | None = None,
        progress: bool | Callable[[int, float], None] | None = None,
        data_name: str | None = None,
    ) -> Fit:
        """Estimate the model: minimise the criterion (`optimize`), check the derivatives at the
        optimum as lme4 does, and return the estimates there. A fit whose derivative check fails or
        that hits ``maxeval`` warns (`ConvergenceWarning`) and has ``converged == False``; a singular
        fit warns (`SingularFitWarning`). The engine keeps its gradients' workspace for the fit's
        length (`held_workspace`).

        Without ``start``, where a random slope far from zero made the fit run on centred columns
        (`CentredColumns`, whose start is another covariance than lme4's start on the data's columns)
        and the design is thin (`optimize.second_fit_budget`), a second fit starts from lme4's start on
        the data's columns, and the lower end is kept, converged or not (with its warnings; the
        evaluations of both count)."""
        search = _Search(maxeval, optimizer, optimizer_options, progress)
        again = start is None and not warm and optimizer == "auto" and self._slopes_centred
        if not again:
            return self._fit_once(start, warm, search, data_name)

        def lme4s(fit: Fit) -> tuple[Fit, int] | None:
            budget = second_fit_budget(self.nobs, fit.n_evals, maxeval)
            if budget is None:
                return None
            lme4_start = self.structure.theta.default_start()
            return self._fit_once(lme4_start, False, replace(search, maxeval=budget), data_name), 0

        return lower_of_two(lambda: self._fit_once(start, warm, search, data_name), lme4s)

    @property
    def _slopes_centred(self) -> bool:
        """Whether the fit runs on a copy whose random slopes are centred (`CentredColumns`)."""
        c = self._centred
        return c is not None and any(bool(np.any(centre != 0.0)) for centre in c.centres)

    def _fit_once(
        self, start: Sequence[float] | FloatArray | str | None, warm: bool, search: _Search, data_name: str | None
    ) -> Fit:
        """`fit` from one start."""
        with contextlib.ExitStack() as hold:
            with self._blaming_start(start):
                opt, criterion, f, fg, hf, method, options, resume = self._minimize(start, warm, search, hold)
            self._refuse_exact_fit(opt)
            opt = self._polish(opt, fg, hf, criterion, f)
            if opt.stalled and not settled(opt):  # a stall the polish did not finish: L-BFGS-B goes on
                opt = resume(opt)
                self._refuse_exact_fit(opt)
                opt = self._polish(opt, fg, hf, criterion, f)
            opt = self._escape_saddles(opt, f, resume, lambda o: self._polish(o, fg, hf, criterion, f))
            # the estimates before the derivative check moves the engine: at the end the optimiser
            # evaluated last, the engine's factor is already that one (`_core.Engine.update` keeps it);
            # where they fail, `_fit_at` meets the failure at the end the checks settle on
            at, est = opt.theta, self._estimates_or_none(self._to_model(opt.theta))
            grad, hdiag = self._derivatives(criterion, opt)
            if self._doubtful(opt, grad, hdiag) and not opt.hit_maxeval:
                verified, grad, hdiag = self._verify(
                    opt, criterion, (f, fg), start, method, int(search.maxeval), options
                )
                self._refuse_exact_fit(verified)
                if verified.theta is not opt.theta:
                    opt = self._polish(verified, fg, hf, criterion, f)
                    grad, hdiag = self._derivatives(criterion, opt)
                else:
                    opt = verified
            kept = est if opt.theta.tobytes() == at.tobytes() else None
            return self._fit_at(
                self._to_model(opt.theta), opt, grad, hdiag, data_name, check=True, unit=opt.theta, est=kept
            )

    def _estimates_or_none(self, theta: FloatArray) -> Estimates | None:
        """`estimates` at theta, or None where the core cannot form them there."""
        try:
            return self.estimates(theta)
        except CoreError:
            return None

    def _escape_saddles(
        self,
        opt: OptimResult,
        criterion: Callable[[FloatArray], float],
        resume: Callable[[OptimResult], OptimResult],
        polish: Callable[[OptimResult], OptimResult],
    ) -> OptimResult:
        """The end moved off a point that is a minimum in theta's coordinates but not over the
        covariances (`optimize.covariance_descent`: a term's covariance nearly singular, the
        criterion still falling at first order over it), the optimiser resumed from there and
        polished (at most `optimize.SADDLE_ROUNDS` times, while that lowers the criterion; the evaluations
        count in n_evals). A small random-slope design had ended 1.1e-3 above a better REML
        criterion, converged, with one relative SD at 6e-4. ``criterion`` is the criterion as the
        optimiser calls it (its evaluations reported to ``progress``)."""
        for _ in range(SADDLE_ROUNDS):
            if opt.hit_maxeval:
                break
            found, evals = covariance_descent(self.structure.theta, opt.theta, criterion, opt.fun)
            opt = replace(opt, n_evals=opt.n_evals + evals)
            if found is None:
                break
            more = resume(replace(opt, theta=found))
            self._refuse_exact_fit(more)
            if more.hit_maxeval or not more.fun < opt.fun - 1e-9 * max(1.0, abs(opt.fun)):
                # (a restart that ran out of evaluations leaves the end to the checks that follow)
                opt = replace(opt, n_evals=more.n_evals)
                break
            opt = polish(more)
        return opt

    def _polish(
        self,
        opt: OptimResult,
        fg: ValueAndGradient,
        hf: Hessian | None,
        criterion: EngineCriterion,
        f: Callable[[FloatArray], float],
    ) -> OptimResult:
        """The optimiser's end after Newton steps with the analytic gradient (`newton_polish`), its
        gradient calls counted in ``n_evals`` (L-BFGS-B's last gradient, at its end, is not
        computed again), with the analytic Hessian where the engine has it (one grouping factor:
        one call, counted as one evaluation, for the gradient differences over every parameter),
        else from differences of the criterion where a gradient costs several evaluations
        (`values_hessian`); unchanged at an evaluation limit."""
        if opt.hit_maxeval or settled(opt):  # unchanged too: Newton's converged end (`minimize_theta`)
            return opt
        known = criterion.known_gradient(opt.theta)
        cheap = hf is None and values_hessian(criterion.engine.update_flops(), len(self.structure.factors))
        p = newton_polish(
            fg,
            opt.theta,
            opt.fun,
            self.structure.theta.lower,
            known=known,
            hessian=hf,
            values=f if cheap else None,  # (the criterion as the optimiser calls it: with progress reports)
        )
        return replace(
            opt,
            theta=p.theta,
            fun=p.fun,
            n_evals=opt.n_evals + p.n_evals,
            decrement=p.decrement,
            gradient=p.gradient,
            hessian=p.hessian,
        )

    def _derivatives(self, criterion: EngineCriterion, opt: OptimResult) -> tuple[FloatArray, FloatArray]:
        """The gradient and the Hessian's diagonal at the end for the convergence check: the polish's
        analytic gradient and Hessian (from differences of the gradient) where, with two or more
        parameters, central differences of the criterion along one direction agree with them
        (`directional_check`: 2 evaluations); otherwise lme4's finite differences
        (`gradient_check`: 2 per parameter)."""
        lower = self.structure.theta.lower
        g, hess = opt.gradient, opt.hessian
        if (
            g is not None
            and hess is not None
            and g.size >= 2
            and directional_check(criterion, opt.theta, lower, opt.fun, g, hess, DIRECTIONAL_TOL)
        ):
            return np.array(g), np.diag(hess).copy()
        return gradient_check(criterion, opt.theta, lower, opt.fun)

    def _refuse_exact_fit(self, opt: OptimResult) -> None:
        """A criterion of -inf: the model reproduces the observations exactly."""
        if not np.isfinite(opt.fun):
            raise DataError(
                f"the model fits the {self.nobs} observations exactly (no residual variation is left), so its "
                "likelihood is unbounded: use fewer fixed or random effects, or more data"
            )

    def _doubtful(self, opt: OptimResult, grad: FloatArray, hdiag: FloatArray) -> bool:
        """Whether the optimiser's end needs restarts before it is called an optimum: on the
        boundary (a relative SD below lme4's singularity tolerance on the working scale, where
        BOBYQA can stop at a false boundary optimum), a failed derivative check, or a curvature
        that is not that of a minimum."""
        on_diag = self.structure.theta.on_diagonal
        if (on_diag & (opt.theta < SINGULAR_TOL)).any():
            return True
        free = ~(on_diag & (opt.theta <= 0.0))
        if max_scaled_gradient(grad, hdiag, free) >= GRADIENT_TOL or (hdiag[free] < 0).any():
            return True
        return self._uncentred_far or self._spread_weights or _ridge(opt, self.nobs)

    @cached_property
    def _spread_weights(self) -> bool:
        """Whether the prior weights span more than `WEIGHT_SPREAD` (largest over smallest): then a
        few rows carry the likelihood and its surface can have separate interior minima (weights
        10^U(-8, 8): two, 0.43 apart, both passing the derivative check), so every end is checked by
        restarts. Streamed data (no rows held) is not checked."""
        if not self.data.has_rows:
            return False
        w = self.data.rows("the prior weights").weights
        return w is not None and w.size > 0 and float(w.max()) > WEIGHT_SPREAD * float(w.min())

    def _verify(
        self,
        opt: OptimResult,
        criterion: EngineCriterion,
        functions: tuple[Callable[[FloatArray], float], ValueAndGradient],
        start: Sequence[float] | FloatArray | str | None,
        method: str,
        maxeval: int,
        options: dict[str, Any],
    ) -> tuple[OptimResult, FloatArray, FloatArray]:
        """Restarts from lme4's start, the moment start, a point inside the boundary and two seeded
        random points, then another
        kind of search (NLopt's Subplex after BOBYQA, BOBYQA after COBYQA) from the best end; the
        best end wins (its derivatives checked again). The evaluations of
        every run count in ``n_evals``."""
        s = self.structure
        lower = s.theta.lower
        on_diag = s.theta.on_diagonal
        engine = criterion.engine
        f, fg = functions
        runs: list[tuple[FloatArray, FloatArray | None]] = []
        for scale in (1.0, 10.0, 100.0):  # slopes' SDs of 1, 10 and 100 sigmas per SD of their column
            far = self._far_start(scale)
            if far is not None:
                runs.append((far, initial_step(far)))
        by_group = self._group_ols_start()
        if by_group is not None:
            runs.append((by_group, initial_step(by_group)))
        if not (isinstance(start, str) and start == "lme4"):
            runs.append((s.theta.default_start(), None))
        if start is not None:
            runs.append(self._start(engine, None, False))
        inside = np.where(on_diag, np.maximum(opt.theta, 0.5), opt.theta)
        runs.append((inside, initial_step(inside)))
        zero = on_diag & (opt.theta < SINGULAR_TOL)
        # a boundary end (or any end of a far uncentred slope, whose criterion is nearly flat): the
        # optimum may lie on another face, one SD zero instead of these
        if zero.any() or self._uncentred_far:
            for j in np.flatnonzero(on_diag & ~zero).tolist():
                face = inside.copy()
                face[j] = 0.0
                runs.append((face, initial_step(face)))
                flipped = np.where(on_diag, face, -face)  # the correlations' other sign on that face
                if (flipped != face).any():
                    runs.append((flipped, initial_step(flipped)))
        # a column of T whose diagonal ended at 0 with entries below it: its sign is free there, and
        # on the other sign the criterion can fall as the diagonal rises (an optimiser stops on
        # either side): the negated column, a step inside
        for col in s.theta.columns:
            if opt.theta[col[0]] <= 0.0 and np.any(opt.theta[list(col[1:])] != 0.0):
                negated = opt.theta.copy()
                negated[list(col[1:])] *= -1.0
                negated[col[0]] = ZERO_COLUMN_STEP
                runs.append((negated, initial_step(negated)))
        # two random points (seeded: fits stay deterministic), for optima on another face
        rng = np.random.default_rng(s.ntheta)
        for _ in range(2):
            x0 = np.where(on_diag, rng.uniform(0.1, 2.0, s.ntheta), rng.normal(0.0, 1.0, s.ntheta))
            runs.append((x0, None))
        best, total, unverified = opt, opt.n_evals, ""
        tol = 1e-9 * max(1.0, abs(opt.fun))
        seen = [np.inf, 0]  # the lowest criterion a restart has met, and its evaluations

        def f_seen(theta: FloatArray) -> float:
            v = f(theta)
            seen[0], seen[1] = min(seen[0], v), seen[1] + 1
            return v

        def fg_seen(theta: FloatArray) -> tuple[float, FloatArray]:
            v, g = fg(theta)
            seen[0], seen[1] = min(seen[0], v), seen[1] + 1
            return v, g

        def consider(run: Callable[[], OptimResult], capped: bool = False) -> None:
            """One restart: it replaces the best end when lower; one that reaches a criterion of -inf
            (sigma -> 0) says the likelihood is unbounded. One that meets a point where the
            factorisation fails (far in the parameter space of an ill-conditioned model) is dropped,
            unless it had met a lower criterion than the best end before: then that end is not verified."""
            nonlocal best, total, unverified
            seen[0], seen[1] = np.inf, 0
            try:
                r = run()
            except (_core.NotPositiveDefiniteError, _core.InvalidInputError) as e:
                total += int(seen[1])
                if seen[0] < best.fun - max(tol, ridge_tolerance(self.nobs)):
                    unverified = unverified or (
                        f"a search from another start met a lower criterion, then failed ({e}): the model is "
                        "numerically ill-conditioned there (centre or rescale covariates far from zero)"
                    )
                return
            total += r.n_evals
            if r.fun == -np.inf:
                unverified = (
                    "a search from another start drove the residual SD to zero (a criterion of -inf): the fixed "
                    "and random effects reproduce the response exactly there, so the likelihood has no maximum, "
                    "or the criterion has lost its precision there (centre or rescale covariates far from zero)"
                )
            elif r.fun < best.fun - tol:
                best = r
                if r.hit_maxeval and capped:  # stopped by its own cap while still going down
                    best = replace(r, hit_maxeval=False)
                    unverified = unverified or (
                        f"a search from the best end was still lowering the criterion when it stopped at its "
                        f"cap of {r.n_evals} evaluations"
                    )

        for x0, step in runs:
            if total >= maxeval:
                break
            consider(
                functools.partial(
                    minimize_theta,
                    f_seen,
                    x0,
                    lower,
                    method=method,
                    maxeval=maxeval - total,
                    step=step,
                    gradient=fg_seen,
                    one_thread_blas=engine.single_threaded_blas,
                    **options,
                )
            )
        # another method from the ordinary starts: a gradient search where the restarts were
        # derivative-free (it takes other paths across the flat regions and faces), BOBYQA otherwise
        other = "lbfgsb" if method != "lbfgsb" else "bobyqa"
        others = [self._start(engine, None, False), (s.theta.default_start(), None)]
        for x0, step in others:
            if total >= maxeval:
                break
            consider(
                functools.partial(
                    minimize_theta,
                    f_seen,
                    x0,
                    lower,
                    method=other,
                    maxeval=maxeval - total,
                    step=step,
                    gradient=fg_seen,
                    one_thread_blas=engine.single_threaded_blas,
                )
            )
        if total < maxeval:  # another kind of search, from the best end
            if method == "bobyqa":
                consider(
                    lambda: subplex(
                        f_seen, best.theta, lower, min(maxeval - total, 50 * s.ntheta), initial_step(best.theta)
                    ),
                    capped=maxeval - total > 50 * s.ntheta,
                )
            else:
                consider(
                    lambda: minimize_theta(
                        f_seen,
                        best.theta,
                        lower,
                        method="bobyqa",
                        maxeval=maxeval - total,
                        step=initial_step(best.theta),
                    )
                )
        message = f"{best.message} (checked by {len(runs) + len(others) + 1} restarts)"
        if total >= maxeval and not unverified:  # the check was cut short, not the optimisation
            unverified = (
                f"the restarts that check this end stopped at the limit of {maxeval} evaluations (maxeval) "
                "before they were done"
            )
        best = replace(best, n_evals=total, message=message, unverified=unverified)
        grad, hdiag = gradient_check(criterion, best.theta, lower, best.fun)
        return best, grad, hdiag

    def fit_at(self, theta: Sequence[float] | FloatArray, *, data_name: str | None = None) -> Fit:
        """The estimates at a given theta, without optimising (profiles; checking the estimates that
        follow from another program's theta). An `ArgumentError` where they cannot be computed: a
        factorisation that fails there, or a criterion that overflows (theta far too large)."""
        theta = np.asarray(theta, dtype=float)
        opt = OptimResult(theta=theta, fun=np.nan, n_evals=0, message="not optimised", hit_maxeval=False)
        zero = np.zeros_like(theta)
        try:
            fit = self._fit_at(theta, opt, zero, zero, data_name, check=False, unit=self._to_working(theta))
        except _core.NotPositiveDefiniteError as e:
            raise ArgumentError(f"the estimates at theta = {theta.tolist()} cannot be computed: {e}") from e
        if np.isnan(fit.objective) or fit.objective == np.inf:
            raise ArgumentError(
                f"the criterion at theta = {theta.tolist()} is {fit.objective}: the products of theta with the "
                "data overflow double precision there (theta too large)"
            )
        return fit

    def _fit_at(
        self,
        theta: FloatArray,
        opt: OptimResult,
        grad: FloatArray,
        hdiag: FloatArray,
        data_name: str | None,
        *,
        check: bool,
        unit: FloatArray,
        est: Estimates | None = None,
    ) -> Fit:
        """The fit at theta (the model's scale; ``unit`` on the working scale), from ``est`` where
        given (`estimates` at theta), with lme4's convergence check on ``grad`` and ``hdiag`` where
        ``check``."""
        est = self.estimates(theta) if est is None else est
        crit = est.criterion
        fx = crit.profiled(self.reml) - self.log_weights  # lme4: -2 log L gains -sum(log w) with prior weights
        sigma = crit.sigma(self.reml)
        bs = []
        off = 0
        b = est.b
        for f in self.structure.factors:
            bs.append(b[off : off + f.nlev * f.k].reshape(f.nlev, f.k))
            off += f.nlev * f.k
        layout = self.structure.theta
        on_diag = layout.on_diagonal
        # lme4's isSingular on theta, measured on unit-scale columns (so rescaling a covariate does
        # not make a fit singular); identical to lme4's for columns of ordinary scale
        singular_at = on_diag & (unit < SINGULAR_TOL)
        singular = bool(singular_at.any())
        messages: list[str] = []
        max_grad = max_scaled_gradient(grad, hdiag, ~(on_diag & (theta <= 0.0)))
        converged = check and not opt.hit_maxeval and max_grad < GRADIENT_TOL
        ridge = check and converged and _ridge(opt, self.nobs)
        converged = converged and not ridge
        vanishing = ""
        if check:
            ols_sd = sqrt(max(self._ols_rss, 0.0) / max(self.nobs - self.p, 1))
            if sigma < 1e-6 * ols_sd:  # the criterion is numerically meaningless this close to sigma = 0
                converged = False
                vanishing = (
                    f"the residual SD ({sigma:.3g}, against {ols_sd:.3g} for least squares) is heading to "
                    "zero: the fixed and random effects reproduce the response (almost) exactly, so the "
                    "likelihood has no maximum, or its maximum lies at a residual SD too small beside the "
                    "response for double precision"
                )
            elif opt.unverified:
                converged = False
                vanishing = opt.unverified
        if check:
            if vanishing:  # the more telling reason, also when the optimiser ran out of evaluations
                msg = f"model failed to converge: {vanishing}"
                messages.append(msg)
                warn(msg, ConvergenceWarning)
            elif opt.hit_maxeval:
                msg = f"optimizer stopped at its limit of {opt.n_evals} evaluations before converging"
                messages.append(msg)
                warn(msg, ConvergenceWarning)
            elif ridge:
                msg = (
                    "model failed to converge: the criterion is flat along a direction of theta (a nearly "
                    f"unidentifiable covariance) and still falls by about {opt.decrement:.3g} there (Newton "
                    "decrement), so the variance components are poorly determined; simplify the random effects"
                )
                messages.append(msg)
                warn(msg, ConvergenceWarning)
            elif not converged:
                msg = (
                    f"model failed to converge: max|grad| = {max_grad:.3g} (tol = {GRADIENT_TOL}); "
                    f"gradient {np.array2string(grad, precision=3)}"
                )
                messages.append(msg)
                warn(msg, ConvergenceWarning)
            if singular:
                where = [layout.names[i] for i in np.flatnonzero(singular_at)]
                msg = (
                    "boundary (singular) fit: a variance is zero or a correlation is +-1 at "
                    + ", ".join(where)
                    + " (see is_singular)"
                )
                messages.append(msg)
                warn(msg, SingularFitWarning)
        return Fit(
            model=self,
            theta=np.array(theta, dtype=float),
            sigma=float(sigma),
            beta=np.asarray(est.beta),
            vcov_array=sigma**2 * est.rx_inverse_crossprod,
            b=tuple(bs),
            objective=float(fx),
            deviance=float(fx if not self.reml else crit.profiled(False) - self.log_weights),
            ldl2=float(crit.ldL2),
            ldrx2=float(crit.ldRX2),
            pwrss=float(crit.pwrss),
            n_evals=opt.n_evals,
            converged=converged,
            optimizer_message=opt.message,
            gradient=grad,
            is_singular=singular,
            messages=tuple(messages),
            data_name=data_name,
        )
