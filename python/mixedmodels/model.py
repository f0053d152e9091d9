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

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from math import sqrt
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from . import _core
from .checks import check_random_effects, identifiable_fixed
from .data import ArrayData, FrameData, ModelData
from .design import GroupTerm, from_arrays, materialise
from .exceptions import ConvergenceWarning, DataError, SingularFitWarning, warn
from .formula import ParsedFormula
from .optimize import (
    METHODS,
    EngineCriterion,
    OptimResult,
    choose_method,
    gradient_check,
    initial_step,
    max_scaled_gradient,
    minimize_theta,
    progress_reporter,
)
from .structure import ModelStructure

__all__ = ["Fit", "LinearMixedModel", "WorkingScale"]

FloatArray = NDArray[np.float64]

SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance
GRADIENT_TOL = 2e-3  # lme4's check.conv.grad tolerance


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
        The finite-difference gradient of the derivative check.
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

    def __init__(
        self,
        structure: ModelStructure,
        data: ModelData,
        cross_products: _core.CrossProducts,
        *,
        reml: bool = True,
    ) -> None:
        cross_products.freeze()  # the model's sums are final (a GLMM's weighted ones will be its own)
        self.structure = structure
        self.data = data
        self.cross_products = cross_products
        self.reml = bool(reml)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        structure: ModelStructure,
        data: ModelData,
        cross_products: _core.CrossProducts,
        *,
        reml: bool = True,
    ) -> LinearMixedModel:
        """The model of these cross-products after the identifiability checks (`checks`): fixed-effects
        columns aliased by earlier ones are dropped (with a warning); other problems raise `DataError`."""
        keep = identifiable_fixed(structure, cross_products)
        if len(keep) < structure.p:
            structure = structure.select_fixed(keep)
            data = data.select_fixed(keep)
            cross_products = cross_products.select_fixed(keep.tolist())
        check_random_effects(structure, cross_products)
        return cls(structure, data, cross_products, reml=reml)

    @classmethod
    def from_data(
        cls, structure: ModelStructure, data: FrameData | ArrayData, *, reml: bool = True
    ) -> LinearMixedModel:
        """The model of rows held in memory: their cross-products formed in one pass, then `build`."""
        rows = data.rows("the cross-products")
        return cls.build(structure, data, rows.cross_products(structure.core_layout), reml=reml)

    @classmethod
    def from_formula(cls, formula: str | ParsedFormula, data: pd.DataFrame, *, reml: bool = True) -> LinearMixedModel:
        """The model of an lme4 formula on a data frame (see `mixedmodels.lmer`)."""
        structure, held = materialise(formula, data)
        return cls.from_data(structure, held, reml=reml)

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
        return LinearMixedModel(self.structure, self.data, self.cross_products, reml=reml)

    def with_response(self, y: ArrayLike) -> LinearMixedModel:
        """The same model with another response (the rows' cross-products formed again; needs the rows)."""
        data = self.data.with_response(np.asarray(y, dtype=np.float64))
        rows = data.rows("refit")
        cp = rows.cross_products(self.structure.core_layout)
        return LinearMixedModel(self.structure, data, cp, reml=self.reml)

    def __getstate__(self) -> dict[str, Any]:
        # engines are formed again from the cross-products after unpickling
        return {k: v for k, v in self.__dict__.items() if k in ("structure", "data", "cross_products", "reml")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
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
    def new_engine(self, *, working: bool = False, dense_threshold: float = 0.1) -> _core.Engine:
        """A new engine of this model's cross-products (``working``: of the working scale's)."""
        cp = self._working_cross_products if working else self.cross_products
        return _core.Engine(cp, dense_threshold)

    @cached_property
    def _engine(self) -> _core.Engine:
        """The model's own engine on the data's scale, for the single calls below (each locks it)."""
        return self.new_engine()

    @cached_property
    def working_scale(self) -> WorkingScale:
        """The working scale of the optimisation (from A's diagonal: the same for rows and streamed data)."""
        n = self.nobs
        divisors = [
            r if r > 0 and (r < 1e-2 or r > 1e2) else 1.0
            for r in (sqrt(v / n) for v in self.cross_products.column_sumsq().tolist())
        ]
        identity = all(d == 1.0 for d in divisors)
        ws = WorkingScale(np.array(divisors), self.structure.theta.factor_k, np.ones(self.ntheta), identity)
        return ws if identity else replace(ws, theta=self.structure.theta.row_scale(ws.z))

    @cached_property
    def _working_engine(self) -> _core.Engine:
        """The engine the optimiser works on: the model's own when no column is rescaled."""
        with self._lock:
            if self.working_scale.identity:
                return self._engine
        return self.new_engine(working=True)

    @cached_property
    def _working_cross_products(self) -> _core.CrossProducts:
        ws = self.working_scale
        if ws.identity:
            return self.cross_products
        scaled = self.cross_products.scaled([z.tolist() for z in ws.z], ws.x.tolist())
        scaled.freeze()
        return scaled

    @property
    def theta_scale(self) -> FloatArray:
        """theta_working / theta per entry (`WorkingScale.theta`): the unit-scale coordinates."""
        return self.working_scale.theta

    # ------------------------------------------------------------------ the criterion
    def criterion(self, theta: FloatArray) -> _core.Criterion:
        """The parts of the criterion at theta (the factor updated on the data's scale)."""
        with self._lock:
            engine = self._engine
        return engine.update(np.asarray(theta, dtype=np.float64))

    def objective(self, theta: FloatArray) -> float:
        """The REML criterion (REML models) or -2 log-likelihood at theta, sigma and beta profiled out."""
        return float(self.criterion(theta).profiled(self.reml))

    def estimates(self, theta: FloatArray) -> _core.Estimates:
        """Criterion parts, beta, b and (R_X'R_X)^-1 at theta, from one update of the factor."""
        with self._lock:
            engine = self._engine
        return engine.estimates(np.asarray(theta, dtype=np.float64))

    def conditional_covariances(self, theta: FloatArray) -> list[FloatArray]:
        """Per factor (engine order), the (nlev, k, k) diagonal blocks of (L_ZZ L_ZZ')^-1 at theta:
        Cov(u | y) / sigma^2 (a fresh engine: with a dense fill-in block this costs more than a few
        evaluations of the criterion)."""
        engine = self.new_engine()
        engine.update(np.asarray(theta, dtype=np.float64))
        return list(engine.condcov())

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
        opt, _ = self._minimize(start, warm, maxeval, optimizer, optimizer_options, progress)
        return OptimResult(
            theta=opt.theta / self.theta_scale,
            fun=opt.fun,
            n_evals=opt.n_evals,
            message=opt.message,
            hit_maxeval=opt.hit_maxeval,
        )

    def _minimize(
        self,
        start: Sequence[float] | FloatArray | str | None,
        warm: bool,
        maxeval: int,
        optimizer: str,
        optimizer_options: dict[str, Any] | None,
        progress: bool | Callable[[int, float], None] | None,
    ) -> tuple[OptimResult, EngineCriterion]:
        if optimizer not in ("auto", *METHODS):
            raise ValueError(f"optimizer must be 'auto', {', '.join(map(repr, METHODS))}; got {optimizer!r}")
        s = self.structure
        if self.nobs - s.p < s.ntheta + 1:
            raise DataError(
                f"{self.nobs} observations leave {self.nobs - s.p} residual degrees of freedom after "
                f"{s.p} fixed effects, fewer than the {s.ntheta + 1} variance parameters to estimate "
                f"({', '.join(s.theta.names)} and the residual SD): they are not identifiable"
            )
        engine = self._working_engine
        lower = s.theta.lower
        step = None
        if start is None:
            x0 = engine.moment_start(s.intercept_columns())
            step = initial_step(x0)
        elif isinstance(start, str):
            if start != "lme4":
                raise ValueError(f"start must be None, 'lme4' or {s.ntheta} numbers; got {start!r}")
            x0 = s.theta.default_start()
        else:
            x0 = np.asarray(start, dtype=float)
            if x0.shape != (s.ntheta,):
                raise ValueError(f"start must have {s.ntheta} entries ({', '.join(s.theta.names)})")
            if not np.isfinite(x0).all():
                bad = [s.theta.names[i] for i in np.flatnonzero(~np.isfinite(x0))]
                raise ValueError(f"start must be finite; it is not at {', '.join(bad)}")
            x0 = x0 * self.theta_scale
            if warm:
                step = initial_step(x0)
        criterion = EngineCriterion(engine, self.reml)
        f: Callable[[FloatArray], float] = criterion
        report = progress_reporter(progress)
        if report is not None:

            def f(theta: FloatArray) -> float:
                v = engine.objective(np.asarray(theta, dtype=float), self.reml)
                report(v)
                return v

        method = choose_method(engine.update_flops()) if optimizer == "auto" else optimizer
        opt = minimize_theta(f, x0, lower, method=method, maxeval=maxeval, step=step, **(optimizer_options or {}))
        return opt, criterion

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
        fit warns (`SingularFitWarning`)."""
        opt, criterion = self._minimize(start, warm, maxeval, optimizer, optimizer_options, progress)
        if not np.isfinite(opt.fun):
            raise DataError(
                f"the model fits the {self.nobs} observations exactly (no residual variation is left), so its "
                "likelihood is unbounded: use fewer fixed or random effects, or more data"
            )
        lower = self.structure.theta.lower
        grad, hdiag = gradient_check(criterion, opt.theta, lower, opt.fun)
        return self._fit_at(opt.theta / self.theta_scale, opt, grad, hdiag, data_name, check=True, unit=opt.theta)

    def fit_at(self, theta: Sequence[float] | FloatArray, *, data_name: str | None = None) -> Fit:
        """The estimates at a given theta, without optimising (profiles; checking the estimates that
        follow from another program's theta)."""
        theta = np.asarray(theta, dtype=float)
        opt = OptimResult(theta=theta, fun=np.nan, n_evals=0, message="not optimised", hit_maxeval=False)
        zero = np.zeros_like(theta)
        return self._fit_at(theta, opt, zero, zero, data_name, check=False, unit=theta * self.theta_scale)

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
    ) -> Fit:
        est = self.estimates(theta)
        crit = est.criterion
        fx = crit.profiled(self.reml)
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
        if check:
            if opt.hit_maxeval:
                msg = f"optimizer stopped at its limit of {opt.n_evals} evaluations before converging"
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
            deviance=float(fx if not self.reml else crit.profiled(False)),
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
