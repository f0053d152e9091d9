"""The generalized linear mixed model: a family and link around the same structure, rows and engine
as the linear model (docs/design.md, section 3b; docs/architecture.md).

For given covariance parameters theta (and fixed effects beta), penalised iteratively re-weighted
least squares (PIRLS) finds the conditional modes u: each iteration forms the cross-products of
the rows with the working weights in C++ (`_core.CrossProducts.add_rows` with weights), hands
them to an engine whose block types were chosen once (`_core.Engine.refill`), factors
Lambda'Z'WZ Lambda + I and solves; step-halving keeps the penalised deviance decreasing. The
iteration is run to convergence (an increment below 1e-9), not stopped early as lme4's default
``tolPwrss`` does, so the Laplace deviance is the exact one of the model
(../reference/glmm/README.md, item 1).

The Laplace approximation of -2 log-likelihood is lme4's

    -2 l(theta, beta) = aic(y, mu) + |u|^2 + log |L|^2

with aic the family's -2 log-likelihood of y given mu (R's ``family$aic``), L the factor at the
working weights of the modes. For non-canonical links the working weights are the expected
(Fisher) information, as lme4's. With one scalar random-effects term, adaptive Gauss-Hermite
quadrature (``n_agq > 1``) replaces the Laplace approximation per level; as lme4, its value leaves
out the saturated model's log-likelihood.

`GeneralizedLinearMixedModel.fit` optimises as lme4 does in two stages: theta alone with beta from
PIRLS (the value of ``nAGQ = 0``), then (theta, beta) jointly (skipped with ``fast=True``).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from . import _core
from .arguments import check_positive_weights
from .checks import check_random_effects, check_scales, identifiable_fixed
from .data import FrameData, Rows
from .design import materialise
from .exceptions import (
    ArgumentError,
    ConvergenceWarning,
    CoreError,
    DataError,
    SingularFitWarning,
    warn,
)
from .families import Family
from .formula import ParsedFormula, parse_formula
from .layout import ThetaLayout
from .model import (
    CENTRE_RATIO,
    START_HINT,
    FormulaCall,
    column_divisors,
    random_columns_far_from_zero,
    ridge_tolerance,
)
from .optimize import (
    OptimResult,
    covariance_descent,
    initial_step,
    lower_of_two,
    minimize_theta,
    newton_decrement,
    second_fit_budget,
    single_threaded_blas,
)
from .structure import ModelStructure

__all__ = ["ColumnMap", "GeneralizedLinearMixedModel", "GlmmFit", "Pirls"]

FloatArray = NDArray[np.float64]

SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance
GRADIENT_TOL = 2e-3  # lme4's check.conv.grad tolerance
PIRLS_MAXIT = 100
PIRLS_STEP_TOL = 1e-9  # largest increment of u (or beta) at convergence
# Newton steps (canonical links): converged when a step is below this, or when the next one, predicted
# from two full steps shrinking quadratically, would be (the iteration that would only confirm it is
# saved: cbpp 248 -> 197 PIRLS iterations, grouseticks 962 -> 672, VerbAgg 182 -> 148, logit100k
# 210 -> 172, poisson1m 130 -> 112, the log-likelihoods the same to 5e-12 relative)
PIRLS_STEP_TOL_CANONICAL = 1e-7
MAX_AGQ = 25
# BOBYQA's absolute tolerances on theta and the criterion in stage 1 when it only starts stage 2
# with the exact gradient (`GeneralizedLinearMixedModel.has_laplace_gradient`); otherwise those of
# `minimize_theta` (1e-9 and 1e-10). Stage 1's evaluations are PIRLS over beta and u jointly, the
# dearer kind: 1e-3 against 1e-6 on the bench designs, the same optimum (log-likelihood within
# 3e-16 relative), logit100k 84 -> 67 evaluations (48 -> 32 joint PIRLS calls), poisson1m 46 -> 39
# (21 -> 17), VerbAgg 68 -> 60 (35 -> 25). Since stage 2 sees theta in units of the criterion's
# curvature (`_theta_scales`), 1e-2 saves more (evaluations, PIRLS iterations of the joint system):
# VerbAgg 40 -> 33 (63 -> 49), logit100k 44 -> 35 (85 -> 69), poisson1m 23 -> 22 (61 -> 61).
STAGE1_START_TOL = 1e-2
# and BOBYQA's initial step there when theta has one entry (in place of `initial_step`'s 0.2 from
# theta = 1): on 72 simulated random-intercept designs (binary and Poisson, 2,000 and 20,000 rows,
# group SDs 0-3) 2,829 -> 2,641 evaluations in all, the same log-likelihoods (within 1.4e-14
# relative); poisson1m 21 -> 16. (With several entries it costs more: logit100k 34 -> 42.)
STAGE1_STEP_1D = 0.5
# and its PIRLS' tolerance then (the criterion is then within ~tol^2 of its limit, far below 1e-2):
# PIRLS iterations of the joint system VerbAgg 49 -> 43, logit100k 69 -> 57, poisson1m 61 -> 52,
# the same evaluations and optimum (1e-4 saves 3 more each; kept at 1e-5 for the margin)
STAGE1_PIRLS_TOL = 1e-5
# fewer rows: BOBYQA's extra evaluations cost less than L-BFGS-B's Python per iteration and the
# gradient's NumPy calls (cbpp, 56 rows: 25 ms of CPU against 34; the simulated logistic design
# shrunk to 500 rows about even, to 2,000 rows 12 % faster with the gradient)
GRADIENT_MIN_ROWS = 1000
# Below that, the gradient still pays where BOBYQA needs many evaluations of some cost: several
# grouping factors or at least GRADIENT_MANY_PARAMETERS parameters (theta and beta), with rows and
# random effects together at least GRADIENT_MIN_SIZE. Minimum of 7 fits each, with the gradient /
# BOBYQA (evaluations): grouseticks (403 rows, 584 random effects, 3 nested factors, 7 parameters)
# 35.7 / 81.3 ms (34 / 264); simulated, Poisson 500 rows 40 x 10 crossed, 5 parameters 11.7 / 16.4;
# Poisson 200 rows nested 40 in 8, 7 parameters 8.5 / 11.9; binary 800 rows one factor, 8 parameters
# 11.9 / 14.8; binary 300 rows (1 + x | g) nested in 10, 8 parameters 13.2 / 22.5; and BOBYQA ahead:
# cbpp (56 rows, 5 parameters) 7.4 / 4.0; binary 500 rows (1 + x | g), 6 parameters 20.3 / 17.9;
# binary 60 rows 10 x 5 crossed 4.7 / 3.2; Poisson 150 rows 15 x 10 crossed 5.2 / 4.8; binary 120
# rows one factor, 8 parameters 6.1 / 5.6. Over 600 simulated designs of 250-900 rows with two or
# three factors (scalar and vector terms, binary and Poisson, variances 0-0.8) the gradient's optima
# were never lower than BOBYQA's (beyond 1e-7 relative) and higher in 43 (by up to 5.3), once stage
# 2 escapes variances left at 0 (`_zero_variance_start`); 30 % of BOBYQA's evaluations.
GRADIENT_MIN_SIZE = 240
GRADIENT_MANY_PARAMETERS = 7
# stage 2's L-BFGS-B cannot leave a variance at 0 by its gradient (0 there: the criterion is even in
# a scalar term's theta); each theta it leaves at 0 is tried here, and it restarts from those where
# the criterion is lower (`GeneralizedLinearMixedModel._escape`), up to this often
ESCAPE_THETA = 0.01
# (a column of T whose entries below the diagonal are all within this of 0 counts as 0 there)
ESCAPE_ZERO_COLUMN = 1e-4
ESCAPE_ROUNDS = 3
# The derivative check's one-sided curvature in a parameter at its bound below which the criterion
# falls into the feasible region (its gradient there 0): not a minimum (criterion units per unit of
# the parameter squared; the differences' rounding is ~1e-2)
BOUND_CURVATURE_TOL = -0.1


# warm starts of PIRLS extrapolate the modes along du/d(theta, beta) for parameter changes up to this
# much (relative, at least 0.1 absolute); larger jumps of the optimiser start from the previous modes
EXTRAPOLATE_MODES_REL = 0.01


@dataclass(frozen=True, eq=False)
class Pirls:
    """The conditional modes at (theta, beta) and the parts of the Laplace deviance there.

    Attributes
    ----------
    beta : ndarray
        The fixed effects (given, or from PIRLS for the joint iteration).
    u : ndarray
        Spherical conditional modes (engine order, level by level).
    eta, mu : ndarray
        Linear predictor (with the offset) and mean at the modes.
    dev_resid : float
        Sum of the deviance residuals (lme4's ``deviance()`` of a GLMM).
    ussq : float
        |u|^2.
    ldl2 : float
        log |L|^2 at the working weights of the modes.
    aic : float
        The family's -2 log-likelihood of y given mu (R's ``family$aic``).
    iterations : int
    converged : bool
    """

    beta: FloatArray
    u: FloatArray
    eta: FloatArray
    mu: FloatArray
    dev_resid: float
    ussq: float
    ldl2: float
    aic: float
    iterations: int
    converged: bool

    @property
    def laplace(self) -> float:
        """The Laplace approximation of -2 log-likelihood."""
        return self.aic + self.ussq + self.ldl2


def _start_error(theta: FloatArray) -> str:
    """The error of a start where the criterion is not finite and from which the search found no point where it is."""
    return (
        f"start: the criterion at theta = {theta.tolist()} is not finite (PIRLS finds no modes there), "
        f"and the search from it found none; {START_HINT}"
    )


@dataclass(frozen=True, eq=False)
class ColumnMap:
    """The random-effects columns a glmer fit optimises on (lmer's working copy, `model.CentredColumns`):
    per grouping factor, its columns Z_f A_f, with A_f taking each slope far from zero next to its
    term's intercept (`model.random_columns_far_from_zero`) to the slope less its mean and then each
    column whose root mean square is outside [1e-2, 1e2] to unit scale (`model.column_divisors`).
    Within each term the map is an invertible A, so the model is the same and theta maps exactly
    (`layout.ThetaLayout.transformed`).

    Attributes
    ----------
    factor_maps : tuple of ndarray
        Per grouping factor, A_f (k x k).
    to_model, to_working : tuple of (ndarray or None)
        Per term, A and A^-1 (None: the identity): theta = transformed(theta_working, to_model).
    scale : ndarray or None
        theta_working / theta per entry where the map only divides columns; None where it centres one.
    fixed_map : ndarray or None
        M (p x p) where fixed-effects columns far from zero are centred against the intercept (the
        copy's X is X M, so beta = M beta_working and vcov = M vcov_working M'); None: X as it is.

    Examples
    --------
    >>> from mixedmodels.layout import ThetaLayout
    >>> lay = ThetaLayout([("g", ("(Intercept)", "x"), 0, 0)], [2])
    >>> z = np.column_stack([np.ones(4), [1e4, 2e4, 3e4, 4e4]])
    >>> cm = ColumnMap.of(lay, [z.T @ z], 4, {})
    >>> cm.scale.round(1).tolist()
    [1.0, 27386.1, 27386.1]
    >>> np.allclose(lay.transformed(lay.transformed(np.array([1.0, 2e-5, 3e-5]), cm.to_working), cm.to_model),
    ...             [1.0, 2e-5, 3e-5])
    True
    """

    factor_maps: tuple[FloatArray, ...]
    to_model: tuple[FloatArray | None, ...]
    to_working: tuple[FloatArray | None, ...]
    scale: FloatArray | None
    fixed_map: FloatArray | None = None

    @classmethod
    def of(
        cls,
        layout: ThetaLayout,
        zz: Sequence[FloatArray],
        n: int,
        far: Mapping[tuple[int, int], tuple[float, int]],
        xx: FloatArray | None = None,
        x_intercept: int = -1,
    ) -> ColumnMap | None:
        """The map for the random-effects columns whose cross-products are ``zz`` (per factor,
        Z_f'Z_f over ``n`` rows) given the slopes to centre ``far`` ((factor, column) -> (its centre,
        the column it is centred against)), and for the fixed-effects columns (cross-products ``xx``)
        whose mean is more than `model.CENTRE_RATIO` standard deviations from zero, each less its mean
        times the intercept column ``x_intercept`` (-1: none); None where no column changes."""
        fixed_map = None
        if xx is not None and x_intercept >= 0:
            mean = xx[x_intercept] / n
            var = np.maximum(np.diag(xx) / n - mean * mean, 0.0)
            centred = (mean != 0.0) & (mean * mean > CENTRE_RATIO**2 * var)
            centred[x_intercept] = False
            if centred.any():
                fixed_map = np.eye(xx.shape[0])
                fixed_map[x_intercept, centred] = -mean[centred]
        maps, divisors = [], []
        for f, block in enumerate(zz):
            a = np.eye(block.shape[0])
            for (g, j), (centre, i0) in far.items():
                if g == f:
                    a[i0, j] = -centre
            d = np.array(column_divisors(np.diag(a.T @ block @ a).tolist(), n))
            divisors.append(d)
            maps.append(a / d[None, :])
        if fixed_map is None and all(np.array_equal(m, np.eye(m.shape[0])) for m in maps):
            return None
        to_model, to_working = layout.term_maps(maps)
        scale = None if far else layout.row_scale(divisors)
        return cls(tuple(maps), to_model, to_working, scale, fixed_map)


class _Optimum(NamedTuple):
    """Where `GeneralizedLinearMixedModel._optimise` ended, as `_finish` takes it: the estimates, the
    modes there, the criterion, the optimised parameters (theta, then beta in the joint stage), the
    criterion over them (and its exact gradient, or None), their lower bounds, the optimiser's last
    result, the evaluations in all, and the parameters' units for the derivative check."""

    theta: FloatArray
    beta: FloatArray
    res: Pirls
    objective: float
    params: FloatArray
    f_all: Callable[[FloatArray], float]
    lower_all: FloatArray
    opt: OptimResult
    n_evals: int
    fg_all: Callable[[FloatArray], tuple[float, FloatArray]] | None
    scale: FloatArray | None


@dataclass(frozen=True, eq=False)
class GlmmFit:
    """The estimates of a `GeneralizedLinearMixedModel` and how the optimiser reached them.

    Attributes
    ----------
    model : GeneralizedLinearMixedModel
    theta, beta : ndarray
    sigma : float
        1 for the binomial and Poisson families; lme4's estimate otherwise.
    vcov_array : ndarray
        Covariance of the fixed effects (lme4's default: from the Hessian of the deviance over
        theta and beta; `vcov_rx` is sigma^2 (R_X'R_X)^-1 at the modes).
    vcov_rx : ndarray
    b : tuple of ndarray
        Conditional modes per grouping factor (engine order), levels x columns.
    condcov_u : list of ndarray
        Per factor (engine order), the (nlev, k, k) blocks of (L L')^-1 at the modes.
    pirls : Pirls
        The modes and the deviance's parts at the estimates.
    objective : float
        The optimised criterion: -2 log-likelihood by Laplace (n_agq = 0 or 1) or by quadrature
        without the saturated model's term (n_agq > 1), as lme4.
    n_agq : int
    n_evals : int
    converged : bool
    optimizer_message : str
    gradient : ndarray
        The derivative check's gradient at the estimates, over the parameters the fit optimised
        (on a copy of the columns, `ColumnMap`, where the fit ran on one).
    is_singular : bool
    messages : tuple of str
    data_name : str or None
    """

    model: GeneralizedLinearMixedModel
    theta: FloatArray
    beta: FloatArray
    sigma: float
    vcov_array: FloatArray
    vcov_rx: FloatArray
    b: tuple[FloatArray, ...]
    condcov_u: list[FloatArray]
    pirls: Pirls
    objective: float
    n_agq: int
    n_evals: int
    converged: bool
    optimizer_message: str
    gradient: FloatArray
    is_singular: bool
    messages: tuple[str, ...]
    data_name: str | None


class GeneralizedLinearMixedModel:
    """A generalized linear mixed model: structure, rows, family, and PIRLS on the model's engines.

    Build one with `from_formula`; `fit` estimates it.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> cbpp = mm.datasets.load("cbpp")
    >>> model = GeneralizedLinearMixedModel.from_formula(
    ...     "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, mm.families.Binomial())
    >>> fit = model.fit()
    >>> round(fit.objective, 3)
    184.053
    """

    # the row-length conversions cached for the core: not pickled, and dropped by release_working
    _ROW_CACHES = ("_gradient_rows", "_x_rows", "_re_columns")

    def __init__(self, structure: ModelStructure, data: FrameData, family: Family) -> None:
        self.structure = structure
        self.data = data
        self.family = family
        rows = data.rows("a generalized linear mixed model")
        self.rows = rows
        n = rows.nobs
        self.y = rows.y
        self.prior_weights = np.ones(n) if rows.weights is None else rows.weights
        self.offset = np.zeros(n) if rows.offset is None else rows.offset
        family.check_response(self.y, self.prior_weights, rows.index)
        check_positive_weights(rows.weights)
        self._layout_u = _core.Layout(structure.theta.core_factors([f.nlev for f in structure.factors]), 0)
        self._lock = threading.Lock()
        self._engines: dict[str, tuple[_core.WorkingRows, _core.Engine]] = {}
        self.threads: int | None = None  # the core's threads for PIRLS (`set_threads`)
        self._warm_u: FloatArray | None = None
        self._warm_beta: FloatArray | None = None
        self.call: FormulaCall | None = None  # what from_formula was given (`update` rebuilds from it)
        # (parameters, modes there, du/d(theta, beta) there) of the latest gradient (laplace_and_gradient)
        self._warm_jacobian: tuple[FloatArray, FloatArray, FloatArray] | None = None
        # the modes (`_pirls`, beta given) and theta at whose working weights the modes engine was
        # last factored
        self._modes_factored: tuple[Pirls, FloatArray] | None = None
        self._pirls_counts = [0, 0]  # PIRLS calls and iterations (pirls_counts)
        # -2 log p(y | mu) less the deviance does not depend on mu when the family has no dispersion
        # (it is -2 times the saturated model's log-likelihood): the Laplace criterion then needs
        # only the deviance residuals at each evaluation
        self._aic_minus_deviance: float | None = None
        # R's family$aic takes the binomial trials as n (cbind responses), else 1
        self.trials = np.ones(n) if rows.trials is None else rows.trials
        if family.dispersion_free:
            self._aic_minus_deviance = family.aic_less_deviance(self.y, self.trials, self.prior_weights)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, structure: ModelStructure, data: FrameData, family: Family) -> GeneralizedLinearMixedModel:
        """The model after the identifiability checks of the linear model (`checks`) on the rows'
        unweighted cross-products: aliased fixed-effects columns are dropped with a warning."""
        rows = data.rows("a generalized linear mixed model")
        cp = Rows(rows.y, rows.x, rows.codes, rows.z, rows.index).cross_products(structure.core_layout)
        check_scales(structure, cp, rows.column)  # unweighted sums: every row counts
        keep = identifiable_fixed(structure, cp)
        if len(keep) < structure.p:
            structure = structure.select_fixed(keep)
            data = data.select_fixed(keep)
            cp = cp.select_fixed(keep.tolist())
        check_random_effects(structure, cp, allow_n=family.dispersion_free)
        held = data if isinstance(data, FrameData) else None
        if held is None:
            raise DataError("a generalized linear mixed model needs its rows in memory")
        return cls(structure, held, family)

    @classmethod
    def from_formula(
        cls,
        formula: str | ParsedFormula,
        data: pd.DataFrame,
        family: Family,
        *,
        weights: str | ArrayLike | None = None,
        offset: str | ArrayLike | None = None,
    ) -> GeneralizedLinearMixedModel:
        """The model of an lme4 formula on a data frame (see `mixedmodels.glmer`)."""
        parsed = parse_formula(formula)
        structure, held = materialise(parsed, data, weights=weights, offset=offset)
        model = cls.build(structure, held, family)
        model.call = FormulaCall(parsed, data, weights, offset)
        return model

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        transient = ("_lock", "_engines", "_warm_u", "_warm_beta", "_warm_jacobian", "call", "_modes_factored")
        for k in (*transient, *self._ROW_CACHES):
            state.pop(k, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("threads", None)  # pickled before threads= existed
        state.setdefault("_pirls_counts", [0, 0])
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._engines = {}
        self._modes_factored = None
        self._warm_u = None
        self._warm_beta = None
        self.call = None  # the caller's data frame is not shipped with a pickled model
        self._warm_jacobian = None

    # ------------------------------------------------------------------ facts
    @property
    def nobs(self) -> int:
        """Number of observations."""
        return self.rows.nobs

    @property
    def p(self) -> int:
        """Number of fixed-effects columns."""
        return self.structure.p

    @property
    def ntheta(self) -> int:
        """Number of covariance parameters."""
        return self.structure.ntheta

    @property
    def reml(self) -> bool:
        """Always False: a GLMM is fitted by maximum likelihood."""
        return False

    # ------------------------------------------------------------------ the linear predictor
    def random_part(self, theta: FloatArray, u: FloatArray) -> FloatArray:
        """Z Lambda(theta) u for the model's rows."""
        out = np.zeros(self.nobs)
        for fi, b in enumerate(self.b_of(theta, u)):
            out += np.einsum("ij,ij->i", self.rows.z[fi], b[self.rows.codes[fi]])
        return out

    def b_of(self, theta: FloatArray, u: FloatArray) -> tuple[FloatArray, ...]:
        """Lambda(theta) u per grouping factor (engine order), levels x columns."""
        out = []
        off = 0
        for fi, f in enumerate(self.structure.factors):
            t = self.structure.theta.factor_t(theta, fi)
            uf = u[off : off + f.nlev * f.k].reshape(f.nlev, f.k)
            out.append(uf @ t.T)
            off += f.nlev * f.k
        return tuple(out)

    @property
    def q(self) -> int:
        """Number of random effects."""
        return sum(f.nlev * f.k for f in self.structure.factors)

    # ------------------------------------------------------------------ PIRLS
    def _working(self, joint: bool) -> tuple[_core.WorkingRows, _core.Engine]:
        """The rows held in the core and the engine of the joint (beta and u) or modes-only system."""
        key = "joint" if joint else "modes"
        held = self._engines.get(key)
        if held is None:
            single_threaded_blas()
            if joint:
                rows = self.rows
                wr = _core.WorkingRows(self.structure.core_layout, rows.x, list(rows.codes), list(rows.z))
            else:  # the joint rows without X: their columns and PIRLS' workspace shared, not copied
                wr = self._working(True)[0].modes_only(self._layout_u)
            held = (wr, _core.Engine(wr.pattern(), threads=self.threads))
            self._engines[key] = held
        return held

    def release_working(self) -> None:
        """Drop the rows held in the core for PIRLS, its engines and row-length workspace, and the
        row-length arrays cached for the gradient; the next PIRLS call forms them again. A fit calls
        it when it is done, so that its result (which holds the model) does not keep them: the
        result of a 1,000,000-row Poisson fit with three fixed effects held 224 MB, now 97 MB.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> cbpp = mm.datasets.load("cbpp")
        >>> model = GeneralizedLinearMixedModel.from_formula(
        ...     "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, mm.families.Binomial())
        >>> theta, beta = np.array([0.6]), np.array([-1.4, -1.0, -1.1, -1.6])
        >>> before = model.laplace(theta, beta)
        >>> model.release_working()
        >>> bool(abs(model.laplace(theta, beta) - before) < 1e-8)  # warm-started: within PIRLS' tolerance
        True
        """
        with self._lock:
            self._engines.clear()
            self._modes_factored = None  # the modes engine's factor went with it
            for name in self._ROW_CACHES:
                self.__dict__.pop(name, None)

    def with_family(self, family: Family) -> GeneralizedLinearMixedModel:
        """The same structure and rows with another family (glmer_nb's fits over theta), on the
        same threads.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> model = GeneralizedLinearMixedModel.from_formula(
        ...     "TICKS ~ YEAR + (1 | LOCATION)", mm.datasets.load("grouseticks"), mm.families.Poisson())
        >>> model.with_family(mm.families.NegativeBinomial(2.0)).family.name
        'negative.binomial'
        """
        other = GeneralizedLinearMixedModel(self.structure, self.data, family)
        other.set_threads(self.threads)
        return other

    def set_threads(self, threads: int | None) -> None:
        """The threads the core may use for PIRLS' passes over the rows and its factorisations (None:
        `arguments.available_cpus`); the results are bitwise the same for every count, but see
        `mixedmodels.lmer`'s ``threads`` on 1 (`mixedmodels.glmer`'s ``threads``).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> model = GeneralizedLinearMixedModel.from_formula(
        ...     "cbind(incidence, size - incidence) ~ period + (1 | herd)", mm.datasets.load("cbpp"),
        ...     mm.families.Binomial())
        >>> model.set_threads(1)
        >>> model.threads
        1
        """
        self.threads = threads
        for _, engine in self._engines.values():
            engine.threads = threads

    def _weighted(self, eta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """mu, the working weights and the working residuals (y - mu) / (dmu/deta) at eta."""
        link = self.family.link
        mu = link.linkinv(eta)
        d = link.mu_eta(eta)
        w = self.prior_weights * d * d / self.family.variance(mu)
        return mu, w, (self.y - mu) / d

    def pirls(
        self,
        theta: FloatArray,
        beta: FloatArray | None = None,
        *,
        u0: FloatArray | None = None,
        beta0: FloatArray | None = None,
        tol: float | None = None,
    ) -> Pirls:
        """The conditional modes at theta and beta (``beta=None``: beta and u jointly, the
        ``nAGQ = 0`` iteration), by PIRLS with step-halving, to convergence (``tol``: the largest
        step at convergence, relative to 1 + max |u|, |beta|; default `PIRLS_STEP_TOL_CANONICAL`
        for a canonical link, else `PIRLS_STEP_TOL`)."""
        theta = np.asarray(theta, dtype=np.float64)
        joint = beta is None
        with self._lock:
            return self._pirls(theta, beta, joint, u0, beta0, tol)

    def _pirls(
        self,
        theta: FloatArray,
        beta_fixed: FloatArray | None,
        joint: bool,
        u0: FloatArray | None,
        beta0: FloatArray | None,
        tol: float | None = None,
    ) -> Pirls:
        fam = self.family
        wr, eng = self._working(joint)
        eta0 = None
        x = held = None
        if joint:
            if beta0 is None:  # R's glm start: the family's mustart, beta = u = 0
                eta0 = self._eta_start
                u0 = None
        else:
            assert beta_fixed is not None
            # the core adds X beta to the offset (in its workspace: no row-length arrays here)
            x, held = self._x_rows, np.ascontiguousarray(beta_fixed, dtype=np.float64)
            beta0 = None
        # positional: the binding's keyword matching costs a few microseconds a call, as much as a
        # PIRLS iteration on a small design (cbpp)
        beta, u, eta, mu, devsum, ussq, ldl2, iterations, converged = wr.pirls(
            eng,
            fam.name,
            fam.link.name,
            theta,
            self.y,
            self.prior_weights,
            self.offset,
            eta0,
            beta0,
            u0,
            tol if tol is not None else self._pirls_tol,
            PIRLS_MAXIT,
            fam.core_parameter,  # the negative binomial's theta
            x,
            held,
        )
        self._pirls_counts[0] += 1
        self._pirls_counts[1] += int(iterations)
        if not math.isfinite(devsum):  # no valid modes (a failure, not merely the iteration limit)
            aic = math.nan
        elif self._aic_minus_deviance is not None:
            aic = devsum + self._aic_minus_deviance
        else:
            aic = float(fam.aic(self.y, self.trials, mu, self.prior_weights, devsum))
        out = Pirls(
            beta=np.asarray(beta) if joint else np.array(beta_fixed, dtype=np.float64),
            u=np.asarray(u),
            eta=np.asarray(eta),
            mu=np.asarray(mu),
            dev_resid=float(devsum),
            ussq=float(ussq),
            ldl2=float(ldl2),
            aic=aic,
            iterations=int(iterations),
            converged=bool(converged),
        )
        if not joint:
            self._modes_factored = (out, theta.copy())
        return out

    @cached_property
    def _pirls_tol(self) -> float:
        """PIRLS' default tolerance for this family (`PIRLS_STEP_TOL_CANONICAL` for a canonical link)."""
        return PIRLS_STEP_TOL_CANONICAL if self.family.canonical else PIRLS_STEP_TOL

    @cached_property
    def _eta_start(self) -> FloatArray:
        """The linear predictor of the family's start (R's ``mustart``)."""
        fam = self.family
        out: FloatArray = np.ascontiguousarray(fam.link.linkfun(fam.mustart(self.y, self.prior_weights)))
        return out

    # ------------------------------------------------------------------ criteria
    def laplace(self, theta: FloatArray, beta: FloatArray | None = None, *, tol: float | None = None) -> float:
        """The Laplace approximation of -2 log-likelihood at theta and beta (``beta=None``: at the
        beta of the joint PIRLS iteration, lme4's ``nAGQ = 0`` criterion). Warm-started from the
        previous call's modes; ``tol`` as for `pirls`."""
        res = self.pirls(theta, beta, u0=self._warm_u, beta0=self._warm_beta if beta is None else None, tol=tol)
        if not res.converged and (self._warm_u is not None or self._warm_beta is not None):
            res = self.pirls(theta, beta, tol=tol)  # the previous modes can be a poor start here: from scratch
        if not math.isfinite(res.laplace):
            return math.inf
        # (a PIRLS that stalls, as under separation, still gives its value; the fit is flagged at the end)
        self._warm_u = res.u
        if beta is None:
            self._warm_beta = res.beta
        return res.laplace

    @contextlib.contextmanager
    def _stage(
        self,
        fallback: Callable[[FloatArray], float],
        tol: float | None = None,
        *,
        shift: FloatArray | None = None,
        scale: FloatArray | None = None,
        native: bool = True,
    ) -> Iterator[Callable[[FloatArray], float]]:
        """The criterion of a stage of the fit, ``fallback`` (the same criterion in Python, from
        `laplace`): stage 1 (theta, beta from the joint PIRLS), or stage 2 over v with (theta, beta)
        = shift + scale v. Where the family's aic less its deviance is a constant (every family but
        Gamma's and the inverse Gaussian's) and ``native``, a `_core.LaplaceStage` instead, which
        BOBYQA evaluates from C++ with no Python between evaluations (`optimize.bobyqa`), holding the
        model's lock and its warm start, which it hands back at the end; ``tol`` as for `pirls`."""
        if not native or self._aic_minus_deviance is None:
            yield fallback
            return
        joint = shift is None
        wr, eng = self._working(joint)
        fam = self.family
        stage = _core.LaplaceStage(
            wr,
            eng,
            fam.name,
            fam.link.name,
            fam.core_parameter,
            self.y,
            self.prior_weights,
            self.offset,
            None if joint else self._x_rows,
            self._eta_start if joint else None,
            self.ntheta,
            self._aic_minus_deviance,
            tol if tol is not None else self._pirls_tol,
            PIRLS_MAXIT,
            shift,
            scale,
        )
        with self._lock:
            if not joint:
                self._modes_factored = None  # the stage's PIRLS moves the modes engine's factor
            stage.warm_u = self._warm_u
            if joint:
                stage.warm_beta = self._warm_beta
            try:
                yield stage
            finally:
                self._warm_u = stage.warm_u
                if joint:
                    self._warm_beta = stage.warm_beta
                self._pirls_counts[0] += stage.pirls_calls
                self._pirls_counts[1] += stage.pirls_iterations

    @property
    def pirls_counts(self) -> tuple[int, int]:
        """PIRLS calls and their iterations over the model's life (fits, profiles, every
        evaluation), for benchmarks.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> model = GeneralizedLinearMixedModel.from_formula(
        ...     "cbind(incidence, size - incidence) ~ period + (1 | herd)", mm.datasets.load("cbpp"),
        ...     mm.families.Binomial())
        >>> calls, iterations = model.fit().model.pirls_counts
        >>> 0 < calls <= iterations
        True
        """
        return self._pirls_counts[0], self._pirls_counts[1]

    @property
    def has_laplace_gradient(self) -> bool:
        """Whether `laplace_gradient` applies: the canonical link of the binomial or Poisson family
        (the working weights are then the observed information, so the modes' derivatives follow
        from the factor), with any grouping factors and terms: with several factors it takes
        (LL')^-1 at each row's columns from the selected inversion of the blocked factor.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> cbpp = mm.datasets.load("cbpp")
        >>> f = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
        >>> GeneralizedLinearMixedModel.from_formula(f, cbpp, mm.families.Binomial()).has_laplace_gradient
        True
        >>> GeneralizedLinearMixedModel.from_formula(f, cbpp, mm.families.Binomial(link="probit")).has_laplace_gradient
        False
        """
        fam = self.family
        if not (fam.canonical and fam.name in ("binomial", "poisson")):
            return False
        return True

    def laplace_and_gradient(self, theta: FloatArray, beta: FloatArray) -> tuple[float, FloatArray]:
        """The Laplace criterion at (theta, beta) (as `laplace`, warm-started) and its exact
        gradient over (theta, beta) (`laplace_gradient`); ``(inf, zeros)`` where PIRLS finds no
        valid modes.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> cbpp = mm.datasets.load("cbpp")
        >>> model = GeneralizedLinearMixedModel.from_formula(
        ...     "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, mm.families.Binomial())
        >>> value, grad = model.laplace_and_gradient(np.array([0.642]), np.array([-1.399, -0.992, -1.129, -1.580]))
        >>> round(value, 2), bool(np.abs(grad).max() < 0.1)
        (184.05, True)
        """
        theta = np.asarray(theta, dtype=np.float64)
        beta = np.asarray(beta, dtype=np.float64)
        x = np.concatenate([theta, beta])
        u0 = self._warm_u
        held = self._warm_jacobian
        if held is not None and u0 is not None and held[1] is u0 and held[0].shape == x.shape:
            # the previous modes moved to first order along a small change of the parameters (the
            # Hessian's differences, the optimiser's last steps): fewer PIRLS iterations
            x_prev, _, jac = held
            dx = x - x_prev
            if np.all(np.abs(dx) <= EXTRAPOLATE_MODES_REL * np.maximum(np.abs(x_prev), 0.1)):
                u0 = u0 + np.einsum("qm,m->q", jac, dx)
        res = self.pirls(theta, beta, u0=u0)
        if not res.converged and self._warm_u is not None:
            res = self.pirls(theta, beta)
        if not math.isfinite(res.laplace):
            return math.inf, np.zeros(self.ntheta + self.p)
        self._warm_u = res.u
        try:
            grad, jac = self._gradient_parts(theta, beta, res)
        except CoreError:  # no factor at these modes: PIRLS stalled (separation) where L was singular
            return math.inf, np.zeros(self.ntheta + self.p)
        self._warm_jacobian = (x, res.u, jac)
        return res.laplace, grad

    def laplace_gradient(self, theta: FloatArray, beta: FloatArray, res: Pirls) -> FloatArray:
        """The gradient over (theta, beta) of the Laplace criterion ``aic + |u|^2 + log|L|^2`` at
        the modes ``res`` of (theta, beta), exact for a canonical link (`has_laplace_gradient`);
        below, the one-factor case (several factors: `_laplace_gradient_crossed`).

        With T the factor's relative covariance factor, per level j the k x k matrices
        C_j = sum w_i z_i z_i' (working weights w), M_j = I + T'C_j T (the diagonal block of LL'),
        S_j = M_j^-1 and A_j = T S_j T', and per row h_i = z_i'A_j z_i, the derivative along a
        parameter is the partial derivative of the penalised deviance at fixed u (the modes
        minimise it), plus that of sum log det M_j, whose weights move with eta: through the
        parameter directly and through the modes, du_j = -S_j (T'C_j dT u_j + dT'g_j / 2) for theta
        and -S_j T' sum w_i z_i x_i' for beta (the derivative of the modes' equation
        T'g_j + 2 u_j = 0, g_j = sum d_i' z_i, d_i' = -2 prior_i (y_i - mu_i), using d_i'' = 2 w_i:
        the canonical link). dw_i/deta = prior_i V'(mu_i) V(mu_i).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> cbpp = mm.datasets.load("cbpp")
        >>> model = GeneralizedLinearMixedModel.from_formula(
        ...     "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, mm.families.Binomial())
        >>> theta, beta = np.array([0.6]), np.array([-1.4, -1.0, -1.1, -1.6])
        >>> g = model.laplace_gradient(theta, beta, model.pirls(theta, beta))
        >>> h = 1e-6
        >>> fd = (model.laplace(theta + h, beta) - model.laplace(theta - h, beta)) / (2 * h)
        >>> bool(abs(g[0] - fd) < 1e-5)
        True
        """
        return self._gradient_parts(theta, beta, res)[0]

    def _gradient_parts(self, theta: FloatArray, beta: FloatArray, res: Pirls) -> tuple[FloatArray, FloatArray]:
        """`laplace_gradient` and the modes' Jacobian du/d(theta, beta) (q x m) it computes on the way."""
        if not self.has_laplace_gradient:
            raise ArgumentError("the exact Laplace gradient needs a canonical link (binomial logit or Poisson log)")
        mu = res.mu
        if len(self.structure.factors) > 1:
            return self._laplace_gradient_crossed(theta, beta, res)
        f = self.structure.factors[0]
        nlev, k = f.nlev, f.k
        # the sums over rows in the core, two passes (w = prior V(mu), w1 = dw/deta, d1 =
        # d(deviance)/deta per row): g_j = sum d1 z, C_j = sum w z z', G_j = sum w z x'; then with
        # h = z'A_j z, qv_j = sum w1 h z and sum x (d1 + w1 h)
        rows = (*self._gradient_rows, np.ascontiguousarray(mu), self.y, self.prior_weights, self.family.name)
        g, c, gmat = _core.laplace_level_sums(*rows, nlev, self.threads)
        layout = self.structure.theta
        t = layout.factor_t(theta, 0)
        u = res.u.reshape(nlev, k)
        m = np.einsum("ba,jbc,cd->jad", t, c, t) + np.eye(k)
        s = np.linalg.inv(m)
        amat = np.ascontiguousarray(np.einsum("ab,jbc,dc->jad", t, s, t))
        qv, xsum = _core.laplace_row_terms(*rows, amat, self.threads)
        grad_beta = xsum - np.einsum("jam,jab,jb->m", gmat, amat, qv)
        grad_theta = np.empty(self.ntheta)
        jac = np.empty((nlev * k, self.ntheta + self.p))
        jac[:, self.ntheta :] = -np.einsum("jab,cb,jcm->jam", s, t, gmat).reshape(nlev * k, self.p)
        for i in range(self.ntheta):
            e = np.zeros(self.ntheta)
            e[i] = 1.0
            dt = layout.factor_t(e, 0)
            dtu = np.einsum("jb,ab->ja", u, dt)  # (dT u_j) per level
            term1 = float(np.einsum("ja,ja->", g, dtu))
            tcdt = np.einsum("ca,jcd,db->jab", t, c, dt)  # T'C_j dT
            term2 = 2.0 * float(np.einsum("jab,jba->", s, tcdt))
            du = -np.einsum("jab,jb->ja", s, np.einsum("jab,jb->ja", tcdt, u) + 0.5 * np.einsum("jb,ba->ja", g, dt))
            v = dtu + np.einsum("jb,ab->ja", du, t)
            grad_theta[i] = term1 + term2 + float(np.einsum("ja,ja->", v, qv))
            jac[:, i] = du.ravel()
        out: FloatArray = np.concatenate([grad_theta, grad_beta])
        return out, jac

    @cached_property
    def _x_rows(self) -> FloatArray:
        """X, C-contiguous float64, for the core (converted once, not on every call)."""
        out: FloatArray = np.ascontiguousarray(self.rows.x, dtype=np.float64)
        return out

    @cached_property
    def _gradient_rows(self) -> tuple[NDArray[np.int32], FloatArray, FloatArray]:
        """The one grouping factor's codes (int32), its columns z and X, C-contiguous, for the core's
        Laplace-gradient sums (converted once, not on every call)."""
        return (
            np.ascontiguousarray(self.rows.codes[0], dtype=np.int32),
            np.ascontiguousarray(self.rows.z[0], dtype=np.float64),
            self._x_rows,
        )

    @cached_property
    def _re_columns(self) -> tuple[NDArray[np.int64], FloatArray]:
        """The random-effects columns (engine order) each row touches, (n, r) with r the sum of
        the factors' column counts, and for each theta entry k the values of Z dLambda/dtheta_k
        at them, (ntheta, n, r): Lambda is linear in theta, so row i of Z Lambda(theta) has the
        values sum_k theta_k parts[k, i] at columns idx[i]. Both C-contiguous, for the core."""
        lay = self.structure.theta
        cols = []
        off = 0
        for fi, f in enumerate(self.structure.factors):
            cols.append(off + self.rows.codes[fi][:, None].astype(np.int64) * f.k + np.arange(f.k)[None, :])
            off += f.nlev * f.k
        idx = np.ascontiguousarray(np.concatenate(cols, axis=1))
        parts = []
        for i in range(self.ntheta):
            e = np.zeros(self.ntheta)
            e[i] = 1.0
            parts.append(np.concatenate([self.rows.z[fi] @ lay.factor_t(e, fi) for fi in range(len(cols))], axis=1))
        return idx, np.ascontiguousarray(np.stack(parts), dtype=np.float64)

    def _laplace_gradient_crossed(
        self, theta: FloatArray, beta: FloatArray, res: Pirls
    ) -> tuple[FloatArray, FloatArray]:
        """`laplace_gradient` for several grouping factors, with S = (LL')^-1 (q x q) of
        LL' = I + A'WA, A = Z Lambda, from the factor PIRLS leaves at the modes' working weights:
        S at each row's columns by the selected inversion of its blocks
        (`_core.Engine.inverse_at_rows`), and solves with it (`_core.Engine.solve_zz`). The same
        terms as for one factor, with h_i = a_i'S a_i (a_i row i of A, a few entries),
        tr(S A'W dA) = sum_i w_i a_i'S da_i, du = -S (A'W dA u + dA'd' / 2) for theta and -S A'W X
        for beta. The sums over rows come from the core in one pass (`_core.laplace_crossed_rows`),
        and the solves with S in one call: the term w1 h' A du of d eta is (A'w1 h)'du."""
        idx, parts = self._re_columns
        vals = np.ascontiguousarray(np.tensordot(theta, parts, axes=1))
        with self._lock:
            held = self._modes_factored
            if (
                held is None
                or held[0] is not res
                or not np.array_equal(held[1], theta)
                or not np.array_equal(res.beta, beta)
            ):
                # the engine's factor is not at these modes: PIRLS at (theta, beta) from them
                res = self._pirls(theta, beta, False, res.u, None)
            eng = self._working(False)[1]
            s_rows = eng.inverse_at_rows(idx)  # (n, r, r): S at each row's columns
            w, w1, d1 = self._gradient_weights(res.mu)
            atq, awx, xsum, scal, rhs = _core.laplace_crossed_rows(
                idx, vals, parts, s_rows, w, w1, d1, self._x_rows, np.ascontiguousarray(res.u)
            )
            solved = eng.solve_zz(np.column_stack([atq, awx, rhs]))  # S [A'w1h, A'WX, rhs]
        nt, p = self.ntheta, self.p
        grad_beta = xsum - awx.T @ solved[:, 0]
        jac = np.empty((self.q, nt + p))
        jac[:, nt:] = -solved[:, 1 : 1 + p]
        du = -solved[:, 1 + p :]
        jac[:, :nt] = du
        grad_theta = scal + atq @ du
        out: FloatArray = np.concatenate([grad_theta, grad_beta])
        return out, jac

    def _gradient_weights(self, mu: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per row at the means mu (a canonical link): the working weights w = prior V(mu), their
        derivative in eta w1 = prior V'(mu) V(mu), and the deviance's derivative in eta
        d1 = -2 prior (y - mu)."""
        prior = self.prior_weights
        if self.family.name == "poisson":
            var, dvar = mu, np.ones_like(mu)
        else:
            var, dvar = mu * (1.0 - mu), 1.0 - 2.0 * mu
        w = np.ascontiguousarray(prior * var)
        return w, np.ascontiguousarray(w * dvar), np.ascontiguousarray(-2.0 * prior * (self.y - mu))

    def agq(self, theta: FloatArray, beta: FloatArray, n_agq: int) -> float:
        """-2 log-likelihood by adaptive Gauss-Hermite quadrature with ``n_agq`` nodes per level of
        the one scalar random-effects term, without the saturated model's term (as lme4)."""
        res = self.pirls(theta, beta, u0=self._warm_u)
        if not res.converged and self._warm_u is not None:
            res = self.pirls(theta, beta)
        if not res.converged:
            return math.inf
        self._warm_u = res.u
        return self._agq_value(theta, beta, res, n_agq)

    def _agq_value(self, theta: FloatArray, beta: FloatArray, res: Pirls, n_agq: int) -> float:
        rows = self.rows
        codes = rows.codes[0]
        zcol = rows.z[0][:, 0]
        nlev = self.structure.factors[0].nlev
        lam = float(theta[0])
        fixed_eta = rows.x @ beta + self.offset
        fam = self.family
        # per level: the conditional SD of u from the factor's diagonal (L is diagonal here)
        mu, w, _ = self._weighted(res.eta)
        lw = np.bincount(codes, weights=w * (lam * zcol) ** 2, minlength=nlev) + 1.0
        sd = 1.0 / np.sqrt(lw)
        nodes, weights = np.polynomial.hermite_e.hermegauss(n_agq)
        log_w = np.log(weights / math.sqrt(2 * math.pi))
        uhat = res.u
        dev_at_mode = np.bincount(codes, weights=fam.dev_resids(self.y, mu, self.prior_weights), minlength=nlev)
        terms = np.empty((n_agq, nlev))
        for k, z in enumerate(nodes.tolist()):
            uk = uhat + z * sd
            eta = fixed_eta + zcol * lam * uk[codes]
            devk = np.bincount(
                codes, weights=fam.dev_resids(self.y, fam.link.linkinv(eta), self.prior_weights), minlength=nlev
            )
            terms[k] = -0.5 * (devk - dev_at_mode + uk * uk - uhat * uhat) + 0.5 * z * z + log_w[k]
        top = terms.max(axis=0)
        log_int = top + np.log(np.exp(terms - top).sum(axis=0))
        per_level = dev_at_mode + uhat * uhat - 2.0 * log_int - 2.0 * np.log(sd)
        return float(per_level.sum())

    def _separation(self, beta: FloatArray, res: Pirls, rx: FloatArray) -> str:
        """A warning when fitted means are numerically 0 or 1 (binomial) or 0 (Poisson), as R's glm
        warns: (quasi-)complete separation, whose estimates head to infinity. Names the fixed
        effects whose effect over one SD of their column (or, for the intercept, itself) exceeds
        15 on the link scale. Empty when there is nothing to say."""
        fam = self.family
        if fam.name not in ("binomial", "poisson"):
            return ""
        tiny = 10 * np.finfo(float).eps
        held = self.prior_weights > 0
        mu = res.mu if held.all() else res.mu[held]  # (no copy of a million means for nothing)
        extreme = (mu < tiny) | ((mu > 1 - tiny) if fam.name == "binomial" else False)
        vanished = not np.isfinite(rx).all()  # X'WX not factorable at the modes: weights that vanished
        if not extreme.any() and not vanished:
            return ""
        x = self.rows.x
        spread = np.where(np.ptp(x, axis=0) == 0, 1.0, x.std(axis=0))
        large = [n for n, b, s in zip(self.structure.fixed_names, beta, spread, strict=True) if abs(b) * s > 15]
        what = "probabilities numerically 0 or 1" if fam.name == "binomial" else "means numerically 0"
        if extreme.any():
            out = f"fitted {what} occurred for {int(extreme.sum())} rows: complete or quasi-complete separation"
        else:
            out = (
                "the working weights of some fixed effects vanished (their fitted probabilities head to 0 or 1): "
                "complete or quasi-complete separation"
            )
        if large:
            out += f"; the estimates of {', '.join(large)} are heading to infinity (their SEs are meaningless)"
        return out

    def sigma(self, res: Pirls) -> float:
        """1 for the binomial and Poisson families; otherwise lme4's estimate sqrt(pwrss / n), with
        the penalised weighted residual sum of squares pwrss = sum w (y - mu)^2 / V(mu) + |u|^2 at
        the modes (theta is then relative to it, as lme4's)."""
        if self.family.dispersion_free:
            return 1.0
        mu = res.mu
        wrss = float(np.sum(self.prior_weights * (self.y - mu) ** 2 / self.family.variance(mu)))
        return math.sqrt((wrss + res.ussq) / self.nobs)

    def conditional_covariances(self, theta: FloatArray, beta: FloatArray) -> list[FloatArray]:
        """Per factor (engine order), (nlev, k, k) blocks of (L L')^-1 at the modes at theta, beta."""
        with self._lock:
            res = self._pirls(np.asarray(theta, dtype=np.float64), beta, False, self._warm_u, None)
            if not math.isfinite(res.ldl2):  # no modes at these estimates
                return [np.full((f.nlev, f.k, f.k), np.nan) for f in self.structure.factors]
            return [np.asarray(c) for c in self._working(False)[1].condcov()]

    def rx_vcov(self, theta: FloatArray, res: Pirls) -> FloatArray:
        """(R_X'R_X)^-1 at the working weights of the modes (lme4's ``vcov(use.hessian = FALSE)``
        for sigma = 1)."""
        fam = self.family
        with self._lock:
            wr, eng = self._working(True)
            # the joint system at PIRLS' working weights and response at eta (formed in the core)
            args = (fam.name, fam.link.name, fam.core_parameter, res.eta, self.y, self.prior_weights, self.offset)
            if not wr.fill_working(eng, *args):  # means at the edge of the range
                return np.full((self.p, self.p), np.nan)
            try:
                eng.update(theta)
            except CoreError:  # X'WX not factorable: the weights of some columns vanished (separation)
                return np.full((self.p, self.p), np.nan)
            return np.asarray(eng.rx_inverse_crossprod())

    # ------------------------------------------------------------------ profiles
    def profile_interval(self, fit: GlmmFit, index: int, level: float) -> tuple[float, float]:
        """The profile-likelihood interval of parameter ``index`` of (theta, beta) at ``level``, as
        lme4's ``confint(method = "profile")``: where the criterion, minimised over the other
        parameters, rises by the chi-square(1) quantile above the optimum. The signed square root
        of the rise is close to linear in the parameter, so each end is found by a few secant steps
        on it. A variance parameter whose profile stays below the cutoff down to 0 gets 0.

        Where `fit` worked on a copy of the columns (`_unit_scale`) and the parameter is one of the
        copy's times a positive number (a theta entry of rescaled columns; a fixed effect other than
        an intercept that centred columns move), the profile runs on the copy, over the same models,
        and its ends are mapped back; other parameters (the intercept next to a centred covariate,
        theta of a centred slope) are profiled on the data's columns."""
        work = self._unit_scale
        nt = self.ntheta
        m = np.eye(self.p) if work is None or work.fixed_map is None else work.fixed_map
        if index < nt:
            unit = None if work is None or work.scale is None else float(work.scale[index])
        else:
            unit = 1.0 if np.array_equal(m[index - nt], np.eye(self.p)[index - nt]) else None
        if work is None or unit is None:
            return self._profile_interval(fit, index, level)
        theta_w = self.structure.theta.transformed(fit.theta, work.to_working)
        beta_w: FloatArray = np.asarray(np.linalg.solve(m, fit.beta), dtype=np.float64)
        vcov_w = np.linalg.solve(m, np.linalg.solve(m, fit.vcov_array).T).T
        model = self._on_unit_scale(work)
        try:
            lo, hi = model.profile_interval(replace(fit, theta=theta_w, beta=beta_w, vcov_array=vcov_w), index, level)
        finally:
            model.release_working()
        return lo / unit, hi / unit

    def _profile_interval(self, fit: GlmmFit, index: int, level: float) -> tuple[float, float]:
        """`profile_interval` on this model's columns."""
        from scipy import stats

        nt = self.ntheta
        x_hat = np.concatenate([fit.theta, fit.beta])
        m = x_hat.shape[0]
        lower = np.concatenate([self.structure.theta.lower, np.full(self.p, -np.inf)])
        z = math.sqrt(float(stats.chi2.ppf(level, 1)))
        base = fit.objective
        n_agq = fit.n_agq

        def criterion(x: FloatArray) -> float:
            if n_agq > 1:
                return self.agq(x[:nt], x[nt:], n_agq)
            return self.laplace(x[:nt], x[nt:])

        others = [j for j in range(m) if j != index]
        warm = {+1: x_hat[others].copy(), -1: x_hat[others].copy()}

        def zeta(value: float, side: int) -> float:
            def f(v: FloatArray) -> float:
                x = x_hat.copy()
                x[index] = value
                x[others] = v
                return criterion(x)

            if not others:  # the only parameter: nothing left to optimise
                fun = f(warm[side])
            else:
                opt = minimize_theta(f, warm[side], lower[others], step=initial_step(warm[side]))
                warm[side], fun = opt.theta, opt.fun
            return float(np.sign(value - x_hat[index]) * math.sqrt(max(fun - base, 0.0)))

        if index < nt:
            scale = float(max(abs(x_hat[index]), 0.05)) * 0.5
        else:
            scale = float(math.sqrt(max(fit.vcov_array[index - nt, index - nt], 1e-16))) * z
        ends = []
        for side in (-1, +1):
            t_prev, z_prev = 0.0, 0.0
            t = side * scale
            end = math.nan
            for _ in range(12):
                value = x_hat[index] + t
                if value < lower[index]:  # a variance parameter: try its bound
                    zb = zeta(float(lower[index]), side)
                    if abs(zb) <= z:
                        end = float(lower[index])
                        break
                    t = lower[index] - x_hat[index] + 0.5 * (t_prev - (lower[index] - x_hat[index]))
                    continue
                zt = zeta(float(value), side)
                if abs(abs(zt) - z) < 1e-5:
                    end = float(value)
                    break
                if zt == z_prev:
                    break
                t_next = t + (side * z - zt) * (t - t_prev) / (zt - z_prev)  # secant on zeta
                t_prev, z_prev = t, zt
                t = t_next if math.isfinite(t_next) and t_next * side > 0 else t * 2
                end = float(x_hat[index] + t)
            ends.append(end)
        return ends[0], ends[1]

    # ------------------------------------------------------------------ the fit
    def _check_agq(self, n_agq: int) -> None:
        if n_agq > 1:
            s = self.structure
            if len(s.factors) != 1 or s.factors[0].k != 1:
                raise ArgumentError(
                    f"nAGQ = {n_agq} (adaptive Gauss-Hermite quadrature) needs a single scalar random-effects "
                    "term such as (1 | g), as in lme4; use nAGQ = 1 (Laplace) for this model"
                )
            if n_agq > MAX_AGQ:
                raise ArgumentError(f"nAGQ must be at most {MAX_AGQ}, got {n_agq}")

    def fit(
        self,
        *,
        n_agq: int = 1,
        fast: bool = False,
        start: FloatArray | None = None,
        maxeval: int = 100_000,
        data_name: str | None = None,
    ) -> GlmmFit:
        """Estimate theta and beta by lme4's two stages (see the module's docstring).

        Parameters
        ----------
        n_agq : int
            0: theta only, beta from PIRLS (lme4's ``nAGQ = 0``); 1: Laplace; > 1: adaptive
            Gauss-Hermite quadrature (one scalar random-effects term).
        fast : bool
            Stop after the first stage (beta from PIRLS), as MixedModels.jl's ``fast = true``.
        start : ndarray, optional
            Starting theta, on the data's columns (default: lme4's, 1 on the diagonals and 0
            elsewhere, on the columns the fit runs on: `_unit_scale`).
        maxeval : int
            Limit on evaluations per stage.

        Where a random-effects column is of extreme scale (its root mean square outside [1e-2,
        1e2]: a covariate in other units) or a random slope or fixed-effects column sits far from
        zero (x + 1000, a year), the whole fit, its derivative check included, runs on a copy of
        the columns that is the same model (`ColumnMap`), and theta, beta and vcov are mapped back.
        Without ``start``, on a thin design (`optimize.second_fit_budget`), a second fit on the copy
        starts where lme4's path leads (`_fit_both_paths`), and the lower end is kept.
        """
        self._check_agq(n_agq)
        work = self._unit_scale
        if work is None:
            return self._finish(self._optimise(n_agq, fast, start, maxeval), n_agq, fast, data_name)
        layout = self.structure.theta
        model = self._on_unit_scale(work)
        start_w = None if start is None else layout.transformed(np.asarray(start, dtype=np.float64), work.to_working)
        try:
            if start is None:
                fw = self._fit_both_paths(model, work, n_agq, fast, maxeval, data_name)
            else:
                fw = model.fit(n_agq=n_agq, fast=fast, start=start_w, maxeval=maxeval, data_name=data_name)
        except ArgumentError as e:
            if start is not None and str(e).startswith("start:"):  # named as given, not on the copy's columns
                raise ArgumentError(_start_error(np.asarray(start, dtype=np.float64))) from e
            raise
        finally:
            model.release_working()
        # the same fit on this model's columns: theta and beta mapped back (beta = M beta_w, vcov
        # M V M'), the criterion, the derivative check's verdict and its gradient (on the copy's
        # coordinates, as lmer reports the optimiser's) as they are (the same model); the modes here
        theta = layout.transformed(fw.theta, work.to_model)
        m = np.eye(self.p) if work.fixed_map is None else work.fixed_map
        beta = m @ fw.beta
        res = self.pirls(theta, beta)
        if not res.converged:  # (at the copy's converged modes, mapped: a failure here is not expected)
            warn("PIRLS (the conditional modes) did not converge at the estimates", ConvergenceWarning)
        fit = replace(
            fw,
            model=self,
            theta=theta,
            beta=beta,
            vcov_array=m @ fw.vcov_array @ m.T,
            vcov_rx=m @ fw.vcov_rx @ m.T,
            b=self.b_of(theta, res.u),
            condcov_u=self.conditional_covariances(theta, beta),
            pirls=res,
            converged=fw.converged and res.converged,
        )
        self.release_working()
        return fit

    def _fit_both_paths(
        self,
        model: GeneralizedLinearMixedModel,
        work: ColumnMap,
        n_agq: int,
        fast: bool,
        maxeval: int,
        data_name: str | None,
    ) -> GlmmFit:
        """The fit on ``model``, the copy ``work`` of this model's columns, from lme4's start there; and,
        on a thin design (`optimize.second_fit_budget`), the fit on the copy from where lme4's own path
        leads (its first stage on this model's columns from its start), if that ends lower, whether or
        not its derivative check passes (a converged fit above a point found is not the optimum). The
        evaluations of both count; the warnings are those of the fit kept."""

        def lme4s(fit: GlmmFit) -> tuple[GlmmFit, int] | None:
            budget = second_fit_budget(self.nobs, fit.n_evals, maxeval)
            if budget is None:
                return None
            path = self._optimise(0, True, None, budget)
            start = self.structure.theta.transformed(path.theta, work.to_working)
            other = model.fit(n_agq=n_agq, fast=fast, start=start, maxeval=budget, data_name=data_name)
            return other, path.n_evals

        return lower_of_two(lambda: model.fit(n_agq=n_agq, fast=fast, maxeval=maxeval, data_name=data_name), lme4s)

    @cached_property
    def _unit_scale(self) -> ColumnMap | None:
        """The columns `fit` optimises on (`ColumnMap`), as lmer's working copy: each random slope
        far from zero next to its term's intercept (more than 5 standard deviations: years, x + 1000)
        less its mean, then each random-effects column whose root mean square is outside [1e-2, 1e2]
        divided by it; None where no column changes. On the data's columns a slope on a covariate in
        1e4 units has theta near 1e-5, where stage 1's steps (0.05 and more), the boundary tries below
        1e-3 and the derivative check's steps (1e-4) are all out of scale, and a slope far from zero
        makes the intercept's variance and the correlation nearly unidentifiable: Poisson and binary
        random slopes on x * 1e3 or 1e4 had ended unconverged (x * 1e4 0.32 below the fit of x), on
        x * 1e-4 at a lower log-likelihood, and on x + 1000 3.3 below."""
        rows = self.data.rows("a generalized linear mixed model")
        # (from the columns' cross-products: a fraction of a fit's time on a million rows)
        zz = [np.asarray(z.T @ z) for z in rows.z]
        far, _ = random_columns_far_from_zero(self.structure, zz.__getitem__)
        names = self.structure.fixed_names
        x0 = names.index("(Intercept)") if "(Intercept)" in names else -1
        return ColumnMap.of(self.structure.theta, zz, rows.nobs, far, rows.x.T @ rows.x, x0)

    def _on_unit_scale(self, work: ColumnMap) -> GeneralizedLinearMixedModel:
        """This model on the columns of ``work`` (`_unit_scale`)."""
        rows = self.data.rows("a generalized linear mixed model")
        z = tuple(np.ascontiguousarray(a @ m) for a, m in zip(rows.z, work.factor_maps, strict=True))
        held = rows.with_random_columns(z)
        if work.fixed_map is not None:
            held = held.with_fixed_columns(rows.x @ work.fixed_map)
        data = replace(self.data, held=held)
        model = GeneralizedLinearMixedModel(self.structure, data, self.family)
        model.threads = self.threads
        return model

    def _singular_at(self, theta: FloatArray) -> NDArray[np.bool_]:
        """The diagonal entries of theta below lme4's isSingular tolerance, measured on the columns
        `fit` optimises on (`_unit_scale`), as lmer measures them: rescaling or shifting a covariate
        does not make a fit singular; identical to lme4's for columns of ordinary scale."""
        work = self._unit_scale
        unit = theta if work is None else self.structure.theta.transformed(theta, work.to_working)
        return self.structure.theta.on_diagonal & (unit < SINGULAR_TOL)

    def _criteria(
        self, n_agq: int, joint: bool, gradient: bool
    ) -> tuple[Callable[[FloatArray], float], Callable[[FloatArray], tuple[float, FloatArray]] | None]:
        """The criterion `_finish` checks the derivatives of (over theta, with beta when ``joint``), and
        its exact gradient (None without ``gradient``)."""
        nt = self.ntheta
        if not joint:
            return self.laplace, None

        def f_all(v: FloatArray) -> float:
            if n_agq > 1:
                return self.agq(v[:nt], v[nt:], n_agq)
            return self.laplace(v[:nt], v[nt:])

        if not gradient:
            return f_all, None

        def fg_all(x: FloatArray) -> tuple[float, FloatArray]:
            return self.laplace_and_gradient(x[:nt], x[nt:])

        return f_all, fg_all

    def _optimise(self, n_agq: int, fast: bool, start: FloatArray | None, maxeval: int) -> _Optimum:
        """`fit`'s two stages on this model's columns, to where its derivative check takes over."""
        layout = self.structure.theta
        theta0 = layout.default_start() if start is None else np.asarray(start, dtype=np.float64)
        lower_t = layout.lower
        gradient = n_agq == 1 and not fast and self.has_laplace_gradient and self._gradient_pays
        if gradient:
            # stage 1 only starts stage 2, whose exact gradient takes the rest of the way (and the
            # derivative check verifies the optimum): its last digits in theta are not needed
            with self._stage(lambda t: self.laplace(t, tol=STAGE1_PIRLS_TOL), STAGE1_PIRLS_TOL) as f1:
                stage1 = minimize_theta(
                    f1,
                    theta0,
                    lower_t,
                    maxeval=maxeval,
                    step=initial_step(theta0) if self.ntheta > 1 else np.array([STAGE1_STEP_1D]),
                    xtol_abs=STAGE1_START_TOL,
                    ftol_abs=STAGE1_START_TOL,
                )
        else:
            with self._stage(self.laplace) as f1:
                stage1 = minimize_theta(f1, theta0, lower_t, maxeval=maxeval, step=initial_step(theta0))
        n_evals = stage1.n_evals
        theta = stage1.theta
        scale = np.ones(self.ntheta)
        first = self.pirls(theta, None, beta0=self._warm_beta, u0=self._warm_u)
        if not first.converged:
            first = self.pirls(theta, None)
        if not math.isfinite(first.laplace):  # no valid modes at all (separation ends at the limit instead)
            if start is not None and not math.isfinite(self.laplace(theta0)):
                raise ArgumentError(_start_error(theta0))
            separation = (
                ", or the predictors separate the outcomes (complete separation)"
                if self.family.name == "binomial"
                else ""
            )
            raise DataError(
                "PIRLS found no valid conditional modes for this model: the fitted means left the family's "
                f"range (such as a negative Poisson mean with the identity link){separation}; try another link, "
                "or check the response against the predictors"
            )
        beta = first.beta
        opt: OptimResult = stage1
        f_all = self._criteria(n_agq, not (n_agq == 0 or fast), False)[0]
        if n_agq == 0 or fast:
            objective = first.laplace
            params = theta
            lower_all = lower_t
        else:
            # (floored far below any real standard error: a covariate in 1e12 units has one near 1e-13)
            se0 = np.nan_to_num(np.sqrt(np.clip(np.diag(self.rx_vcov(theta, first)), 1e-300, None)), nan=1.0)
            lower_all = np.concatenate([lower_t, np.full(self.p, -np.inf)])
            nt = self.ntheta

            self._warm_u = first.u
            # the optimiser sees beta in units of its standard error from the first stage, around
            # the first stage's beta: every direction has the same natural scale, whatever the data size
            shift = np.concatenate([np.zeros(nt), beta])
            scale = np.concatenate([np.ones(nt), se0])

            def f_scaled(v: FloatArray) -> float:
                return f_all(shift + scale * v)

            if gradient:
                # the exact gradient: L-BFGS-B takes a fraction of BOBYQA's evaluations over (theta, beta),
                # with theta too in units of the criterion's curvature (`_theta_scales`)
                theta_units, at_start = self._theta_scales(theta, beta)
                units = np.concatenate([theta_units, se0])
                v0 = np.concatenate([theta / theta_units, np.zeros(self.p)])

                def fg_scaled(v: FloatArray) -> tuple[float, FloatArray]:
                    if at_start is not None and np.array_equal(v, v0):  # L-BFGS-B's first call
                        value, grad = at_start
                    else:
                        x = shift + units * v
                        value, grad = self.laplace_and_gradient(x[:nt], x[nt:])
                    return value, units * grad

                def f_v(v: FloatArray) -> float:
                    return f_all(shift + units * v)

                opt = minimize_theta(f_v, v0, lower_all, maxeval=maxeval, method="lbfgsb", gradient=fg_scaled)
                n_evals += nt  # the curvatures' gradients

                def restart(v: FloatArray) -> OptimResult:
                    return minimize_theta(f_v, v, lower_all, maxeval=maxeval, method="lbfgsb", gradient=fg_scaled)

                opt = self._escape(opt, lambda o: self._zero_variance_start(o, f_v, fg_scaled, theta_units), restart)
                opt = self._escape(opt, lambda o: self._saddle_start(o, f_v, theta_units), restart)
            else:
                units = scale
                step = np.concatenate([initial_step(theta), np.full(self.p, 0.2)])
                with self._stage(f_scaled, shift=shift, scale=scale, native=n_agq == 1) as f2:
                    opt = minimize_theta(
                        f2, np.concatenate([theta, np.zeros(self.p)]), lower_all, maxeval=maxeval, step=step
                    )

                    def again(v: FloatArray) -> OptimResult:
                        return minimize_theta(
                            f2, v, lower_all, maxeval=maxeval, step=np.concatenate([initial_step(v[:nt]), step[nt:]])
                        )

                    ones = np.ones(nt)
                    opt = self._escape(opt, lambda o: self._zero_variance_start(o, f2, None, ones), again)
                    opt = self._escape(opt, lambda o: self._saddle_start(o, f2, ones), again)
            n_evals += opt.n_evals
            params = shift + units * opt.theta
            theta, beta = params[:nt], params[nt:]
            objective = float(opt.fun)
        res = self.pirls(theta, beta if (n_agq != 0 and not fast) else None, u0=self._warm_u, beta0=beta)
        if not res.converged:
            res = self.pirls(theta, beta if (n_agq != 0 and not fast) else None)
        if n_agq == 0 or fast:
            beta = res.beta
        if not (n_agq == 0 or fast):
            objective = res.laplace if n_agq <= 1 else self._agq_value(theta, beta, res, n_agq)
        fg_all = self._criteria(n_agq, True, True)[1] if gradient else None
        return _Optimum(theta, beta, res, objective, params, f_all, lower_all, opt, n_evals, fg_all, scale)

    def _escape(
        self,
        opt: OptimResult,
        propose: Callable[[OptimResult], tuple[FloatArray | None, int]],
        restart: Callable[[FloatArray], OptimResult],
    ) -> OptimResult:
        """Stage 2's end moved to where ``propose`` (a start from which the criterion still falls, or
        None, and the evaluations it spent) says, and ``restart`` from there, while the restart ends
        lower (at most `ESCAPE_ROUNDS` times; the evaluations count in n_evals): with
        `_zero_variance_start` and `_saddle_start`."""
        for _ in range(ESCAPE_ROUNDS):
            tol = 1e-9 * max(1.0, abs(opt.fun))
            start, evals = propose(opt)
            if start is None:
                return replace(opt, n_evals=opt.n_evals + evals)
            again = restart(start)
            total = opt.n_evals + evals + again.n_evals
            if not again.fun < opt.fun - tol:
                return replace(opt, n_evals=total)
            opt = replace(again, n_evals=total)
        return opt

    def _zero_variance_start(
        self,
        opt: OptimResult,
        f_v: Callable[[FloatArray], float],
        fg_v: Callable[[FloatArray], tuple[float, FloatArray]] | None,
        theta_units: FloatArray,
    ) -> tuple[FloatArray | None, int]:
        """Where to restart stage 2's end (in the optimiser's units v: theta = theta_units v) off a
        diagonal entry of some T that it left at its bound of 0 where the criterion still falls
        (`_escape`), or None; and the evaluations spent.

        The criterion depends on each term's T only through T T', where a column of T enters as
        t t' for its column t. With the column's diagonal entry at 0:

        - and entries below it not all 0: negating them leaves T T' and the criterion as they
          are but negates the criterion's slope in the diagonal entry. An optimiser stops there
          when that slope points out of the region (the column's sign is free), so where the
          negated column's slope points in (the exact gradient ``fg_v``, else the criterion a step
          `ESCAPE_THETA` inside), it restarts from the negated column (and that step);
        - and the whole column 0: the criterion is even in the column, its gradient there 0 (a
          stationary point the gradient cannot leave, and a flat start for BOBYQA's model) and
          its change second order, t'Ht / 2. With the exact gradient, H by its differences, and a
          step `ESCAPE_THETA` along an eigenvector of a negative eigenvalue; without it, steps
          `ESCAPE_THETA` along the diagonal entry alone and with each entry below it of either
          sign. It restarts from a step where the criterion is lower.
        """
        columns = [list(c) for c in self.structure.theta.columns]  # diagonal entry first
        x = opt.theta
        stuck = [c for c in columns if x[c[0]] <= 0.0]
        if not stuck:
            return None, 0
        tol = 1e-9 * max(1.0, abs(opt.fun))
        start = x.copy()
        evals = 0
        g0: FloatArray | None = None
        for col in stuck:
            d, below = col[0], col[1:]
            steps = ESCAPE_THETA / theta_units[col]
            if np.any(np.abs(x[below] * theta_units[below]) > ESCAPE_ZERO_COLUMN):
                trial = x.copy()
                trial[below] = -trial[below]
                if fg_v is not None:
                    slope = fg_v(trial)[1][d]
                else:
                    trial[d] = steps[0]
                    slope = f_v(trial) - opt.fun + tol
                evals += 1
                if slope < 0.0:
                    start[col] = trial[col]
                continue
            if fg_v is None:
                best_value, best_step = opt.fun - tol, None
                for b in [None, *below]:
                    for sign in (1.0, -1.0) if b is not None else (1.0,):
                        trial = x.copy()
                        trial[d] = steps[0]
                        if b is not None:
                            trial[b] = sign * ESCAPE_THETA / theta_units[b]
                        value = f_v(trial)
                        evals += 1
                        if value < best_value:
                            best_value, best_step = value, trial[col]
                if best_step is not None:
                    start[col] = best_step
                continue
            if g0 is None:
                g0 = fg_v(x)[1]
                evals += 1
            hess = np.empty((len(col), len(col)))
            for a, e in enumerate(col):
                probe = x.copy()
                probe[e] += steps[a]
                _, g = fg_v(probe)
                evals += 1
                hess[:, a] = (g[col] - g0[col]) / steps[a]
            w, vecs = np.linalg.eigh(0.5 * (hess + hess.T))
            if w[0] >= 0.0:
                continue
            direction = vecs[:, 0] * (1.0 if vecs[0, 0] >= 0.0 else -1.0)
            trial = x.copy()
            trial[col] += direction * float(np.min(steps))
            evals += 1
            if f_v(trial) < opt.fun - tol:
                start[col] = trial[col]
        return (None if np.array_equal(start, x) else start), evals

    def _saddle_start(
        self, opt: OptimResult, f_v: Callable[[FloatArray], float], theta_units: FloatArray
    ) -> tuple[FloatArray | None, int]:
        """Where to restart stage 2's end (in the optimiser's units v: theta = theta_units v, then
        beta) off a point that is a minimum in theta's coordinates but not over the covariances
        (`optimize.covariance_descent`, beta held; `_escape`), or None; and the evaluations spent."""
        nt = self.ntheta
        x = opt.theta

        def f_theta(theta: FloatArray) -> float:
            return f_v(np.concatenate([theta / theta_units, x[nt:]]))

        found, evals = covariance_descent(self.structure.theta, theta_units * x[:nt], f_theta, opt.fun)
        return (None if found is None else np.concatenate([found / theta_units, x[nt:]])), evals

    @property
    def _gradient_pays(self) -> bool:
        """Whether stage 2 takes L-BFGS-B on the exact gradient rather than BOBYQA, by size
        (`GRADIENT_MIN_ROWS`, `GRADIENT_MIN_SIZE`, `GRADIENT_MANY_PARAMETERS`)."""
        if self.nobs >= GRADIENT_MIN_ROWS:
            return True
        many = len(self.structure.factors) > 1 or self.ntheta + self.p >= GRADIENT_MANY_PARAMETERS
        return many and self.nobs + self.q >= GRADIENT_MIN_SIZE

    def _theta_scales(self, theta: FloatArray, beta: FloatArray) -> tuple[FloatArray, tuple[float, FloatArray] | None]:
        """Per theta entry, the step over which the Laplace criterion rises by about 1 (sqrt(2 /
        its second derivative), by a difference of the exact gradient; at most 1): the units in
        which stage 2's L-BFGS-B sees theta, as it sees beta in its standard errors. Unscaled, a
        first step of 1 in theta overshoots on a large design (poisson1m: theta 0.50 -> 0.35 and
        back, four PIRLS iterations each way). One gradient per theta entry, then the criterion and
        gradient at the start (last, so that the kept modes are the start's), which L-BFGS-B's
        first call takes instead of computing them again (None if not finite)."""
        stepped = []
        for i in range(self.ntheta):
            h = 1e-3 * max(abs(float(theta[i])), 0.1)
            step = theta.copy()
            step[i] += h
            stepped.append((h, *self.laplace_and_gradient(step, beta)))
        value0, g0 = self.laplace_and_gradient(theta, beta)
        out = np.ones(self.ntheta)
        for i, (h, value, g1) in enumerate(stepped):
            curvature = (g1[i] - g0[i]) / h
            if math.isfinite(value) and math.isfinite(curvature) and curvature > 2.0:
                out[i] = max(math.sqrt(2.0 / curvature), 1e-4)
        return out, ((value0, g0) if math.isfinite(value0) else None)

    def fit_at(self, theta: ArrayLike, beta: ArrayLike, *, n_agq: int = 1, data_name: str | None = None) -> GlmmFit:
        """The estimates at given theta and beta, without optimising (checking another program's
        estimates; profiles): the modes by PIRLS, vcov from the factor (R_X). An `ArgumentError` where
        the criterion is not finite there."""
        self._check_agq(n_agq)
        theta = np.asarray(theta, dtype=np.float64)
        beta = np.asarray(beta, dtype=np.float64)
        res = self.pirls(theta, beta)
        objective = res.laplace if n_agq <= 1 else self._agq_value(theta, beta, res, n_agq)
        if not np.isfinite(objective):
            raise ArgumentError(
                f"the criterion at theta = {theta.tolist()}, beta = {beta.tolist()} is {objective}: theta or beta "
                "too large for double precision there"
            )
        opt = OptimResult(
            theta=np.concatenate([theta, beta]), fun=objective, n_evals=0, message="not optimised", hit_maxeval=False
        )
        found = _Optimum(theta, beta, res, objective, opt.theta, self.laplace, np.zeros(0), opt, 0, None, None)
        return self._finish(found, n_agq, False, data_name, check=False)

    def _finish(self, found: _Optimum, n_agq: int, fast: bool, data_name: str | None, *, check: bool = True) -> GlmmFit:
        """The result at the estimates: the derivative check (its steps on ``found.scale``, the
        optimiser's units of each parameter: beta's standard errors, so that a covariate on a large
        scale is not stepped off the family's range), vcov, and the warnings."""
        theta, beta, res, objective, params, f_all, lower_all, opt, n_evals, fg_all, scale = found
        nt = self.ntheta
        rx = self.rx_vcov(theta, res)
        joint = not (n_agq == 0 or fast)
        messages: list[str] = []
        if not check:
            return self._result(
                theta, beta, res, objective, rx, rx, opt, n_evals, n_agq, False, np.zeros(0), (), data_name
            )
        # the Hessian of the criterion over the optimised parameters: convergence check and, for
        # the joint stage, lme4's default vcov (inverse of half the Hessian, beta block)
        # (with the exact gradient: the gradient there, and the Hessian by differences of it)
        s = np.ones_like(params) if scale is None else scale
        # the differences are taken over v, (theta, beta) = c + s v with beta at the estimates (c): each
        # beta stepped by 1e-3 of its standard error, however far from 0 (steps relative to beta / se
        # had been standard errors long where a constant offset of 300 moved the intercept to -300,
        # and the check failed at the optimum)
        c = np.zeros_like(params)
        floor = np.full(params.shape, 0.1)
        if joint:
            c[nt:] = params[nt:]
            floor[nt:] = 1.0
        v0, lower_v = (params - c) / s, (lower_all - c) / s
        if fg_all is None:
            # f_all(c + s v), as the stage's criterion (evaluated in the core) where f_all is the
            # Laplace criterion of that stage
            shift0, scale0 = (c, s) if joint else (None, None)
            native = n_agq <= 1 and (joint or bool(np.all(s == 1.0)))
            with self._stage(lambda v: f_all(c + s * v), shift=shift0, scale=scale0, native=native) as f_s:
                g, h = _derivatives(f_s, v0, lower_v, floor=floor)
        else:
            fg = fg_all

            def fg_s(v: FloatArray) -> tuple[float, FloatArray]:
                value, grad = fg(c + s * v)
                return value, s * grad

            g, h = _gradient_derivatives(fg_s, v0, lower_v, floor=floor)
        g, h = g / s, h / np.outer(s, s)
        free = ~((lower_all == 0.0) & (params <= 0.0))
        hd = np.diag(h)
        worst = 0.0
        for gi, hi, fi in zip(g.tolist(), hd.tolist(), free.tolist(), strict=True):
            if fi:
                worst = max(worst, min(abs(gi) / math.sqrt(hi), abs(gi)) if hi > 0 else abs(gi))
        # a parameter at its bound whose gradient is 0 there (a scalar term's theta at 0: the
        # criterion is even in it) is a minimum only if the criterion rises into the feasible region
        falls_inward = [i for i in np.flatnonzero(~free).tolist() if hd[i] < BOUND_CURVATURE_TOL and g[i] == 0.0]
        converged = (not opt.hit_maxeval) and worst < GRADIENT_TOL and res.converged and not falls_inward
        # the fall a quadratic model of the criterion still predicts over the free parameters: a
        # flat ridge (a nearly unidentifiable covariance) hides from the gradient check
        decrement = newton_decrement(g[free], h[np.ix_(free, free)]) if free.any() else 0.0
        ridge = converged and decrement > ridge_tolerance(self.nobs)
        converged = converged and not ridge
        vcov = rx
        if joint:
            hb = h[nt:, nt:] if not free[:nt].all() else h
            try:
                inv = np.linalg.inv(hb / 2.0)
                vb = inv[hb.shape[0] - self.p :, hb.shape[0] - self.p :]
                if np.all(np.isfinite(vb)) and np.all(np.diag(vb) > 0):
                    vcov = np.asarray(vb, dtype=np.float64)
                else:
                    raise np.linalg.LinAlgError
            except np.linalg.LinAlgError:
                msg = "the Hessian of the deviance is not positive definite: vcov from the factor (R_X) instead"
                messages.append(msg)
                warn(msg, ConvergenceWarning)
        if not res.converged:
            msg = "PIRLS (the conditional modes) did not converge at the estimates"
            messages.append(msg)
            warn(msg, ConvergenceWarning)
        elif opt.hit_maxeval:
            msg = f"optimizer stopped at its limit of {opt.n_evals} evaluations before converging"
            messages.append(msg)
            warn(msg, ConvergenceWarning)
        elif ridge:
            msg = (
                "model failed to converge: the criterion is flat along a direction of the parameters and "
                f"still falls by about {decrement:.3g} there (Newton decrement), so the estimates are poorly "
                "determined; simplify the random effects"
            )
            messages.append(msg)
            warn(msg, ConvergenceWarning)
        elif falls_inward:
            names = ", ".join(f"theta[{i}]" for i in falls_inward)
            msg = (
                f"model failed to converge: the criterion falls as {names} rises from its bound of 0 (a "
                "stationary point, not a minimum); try another start"
            )
            messages.append(msg)
            warn(msg, ConvergenceWarning)
        elif not converged:
            msg = f"model failed to converge: max|grad| = {worst:.3g} (tol = {GRADIENT_TOL})"
            messages.append(msg)
            warn(msg, ConvergenceWarning)
        separation = self._separation(beta, res, rx)
        if separation:  # the likelihood has no maximum: not converged, whatever the optimiser says
            converged = False
            messages.append(separation)
            warn(separation, ConvergenceWarning)
        singular_at = self._singular_at(theta)
        singular = bool(singular_at.any())
        if singular:
            where = [self.structure.theta.names[i] for i in np.flatnonzero(singular_at)]
            msg = "boundary (singular) fit: a variance is zero or a correlation is +-1 at " + ", ".join(where)
            messages.append(msg)
            warn(msg, SingularFitWarning)
        return self._result(
            theta, beta, res, objective, vcov, rx, opt, n_evals, n_agq, converged, g, tuple(messages), data_name
        )

    def _result(
        self,
        theta: FloatArray,
        beta: FloatArray,
        res: Pirls,
        objective: float,
        vcov: FloatArray,
        rx: FloatArray,
        opt: OptimResult,
        n_evals: int,
        n_agq: int,
        converged: bool,
        g: FloatArray,
        messages: tuple[str, ...],
        data_name: str | None,
    ) -> GlmmFit:
        singular = bool(self._singular_at(theta).any())
        condcov = self.conditional_covariances(theta, beta)
        sigma = self.sigma(res)
        if vcov is rx:  # lme4: sigma^2 (R_X'R_X)^-1; the Hessian's inverse is not scaled
            vcov = sigma**2 * rx
        # the fit is done: its scratch memory need not live as long as its result
        self.release_working()
        return GlmmFit(
            model=self,
            theta=np.array(theta, dtype=np.float64),
            beta=np.array(beta, dtype=np.float64),
            sigma=sigma,
            vcov_array=vcov,
            vcov_rx=rx,
            b=self.b_of(theta, res.u),
            condcov_u=condcov,
            pirls=res,
            objective=float(objective),
            n_agq=n_agq,
            n_evals=n_evals,
            converged=converged,
            optimizer_message=opt.message,
            gradient=g,
            is_singular=singular,
            messages=messages,
            data_name=data_name,
        )


def _derivatives(
    f: Callable[[FloatArray], float],
    x: FloatArray,
    lower: FloatArray,
    rel: float = 1e-3,
    floor: FloatArray | float = 0.1,
) -> tuple[FloatArray, FloatArray]:
    """Gradient and Hessian of f at x by central differences in m(m + 1) evaluations: f(x +- h_i e_i)
    for each i, and f(x + h_i e_i + h_j e_j), f(x - h_i e_i - h_j e_j) for each pair (both with
    O(h^2) error); steps h_i = rel * max(|x_i|, floor_i). A parameter within a step of its lower bound
    gets one-sided differences (forward: f(x), f(x + h), f(x + 2h)), a gradient of 0 when f increases
    into the feasible region (the optimality condition at a bound), and no cross terms.
    """
    m = x.shape[0]
    h = rel * np.maximum(np.abs(x), floor)
    f0 = f(x)
    g = np.zeros(m)
    hess = np.zeros((m, m))
    up = np.empty(m)
    down = np.empty(m)
    bounded = x - h < lower
    for i in range(m):
        e = np.zeros(m)
        e[i] = h[i]
        up[i] = f(x + e)
        if bounded[i]:
            up2 = f(x + 2 * e)
            g[i] = (up[i] - f0) / h[i]
            if x[i] <= lower[i]:
                g[i] = min(g[i], 0.0) if g[i] < 0 else 0.0
            hess[i, i] = (up2 - 2 * up[i] + f0) / (h[i] * h[i])
            down[i] = np.nan
        else:
            down[i] = f(x - e)
            g[i] = (up[i] - down[i]) / (2 * h[i])
            hess[i, i] = (up[i] - 2 * f0 + down[i]) / (h[i] * h[i])
    for i in range(m):
        for j in range(i):
            if bounded[i] or bounded[j]:
                continue
            e = np.zeros(m)
            e[i], e[j] = h[i], h[j]
            pp, mm_ = f(x + e), f(x - e)
            hess[i, j] = hess[j, i] = (pp + mm_ - up[i] - down[i] - up[j] - down[j] + 2 * f0) / (2 * h[i] * h[j])
    return g, hess


def _gradient_derivatives(
    fg: Callable[[FloatArray], tuple[float, FloatArray]],
    x: FloatArray,
    lower: FloatArray,
    rel: float = 1e-3,
    floor: FloatArray | float = 0.1,
) -> tuple[FloatArray, FloatArray]:
    """`_derivatives` for a function with its exact gradient, in 2m + 1 evaluations instead of
    m(m + 1) + 1: the gradient at x, and the Hessian by central differences of the gradient (O(h^2)
    error, the steps of `_derivatives`), symmetrised. A parameter within a step of its lower bound
    gets a forward difference, no cross terms, and a gradient of 0 when f increases into the
    feasible region, as in `_derivatives`."""
    m = x.shape[0]
    h = rel * np.maximum(np.abs(x), floor)
    _, g0 = fg(x)
    g = np.array(g0, dtype=np.float64)
    cols = np.zeros((m, m))
    bounded = x - h < lower
    for i in range(m):
        e = np.zeros(m)
        e[i] = h[i]
        _, gp = fg(x + e)
        if bounded[i]:
            cols[:, i] = (gp - g0) / h[i]
            if x[i] <= lower[i] and g[i] >= 0:
                g[i] = 0.0
        else:
            _, gm = fg(x - e)
            cols[:, i] = (gp - gm) / (2 * h[i])
    hess = 0.5 * (cols + cols.T)
    for i in np.flatnonzero(bounded).tolist():
        d = hess[i, i]
        hess[i, :] = 0.0
        hess[:, i] = 0.0
        hess[i, i] = d
    return g, hess
