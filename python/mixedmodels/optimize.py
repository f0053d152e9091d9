"""Minimising the profiled criterion over theta: NLopt's BOBYQA (cheap evaluations), SciPy's
COBYQA (expensive ones) or SciPy's L-BFGS-B with the engine's analytic gradient, then a derivative
check."""

from __future__ import annotations

import contextlib
import functools
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

import nlopt
import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _core
from .exceptions import MixedModelsError, warn
from .layout import ThetaLayout

__all__ = [
    "BobyqaSettings",
    "DifferencedHessian",
    "EngineCriterion",
    "GradientAndValues",
    "OptimResult",
    "Hessian",
    "ValueAndGradient",
    "bobyqa",
    "choose_method",
    "covariance_descent",
    "directional_check",
    "gradient_check",
    "gradient_columns",
    "held_workspace",
    "initial_step",
    "max_scaled_gradient",
    "minimize_theta",
    "native_bobyqa",
    "newton_decrement",
    "newton_fallback",
    "newton_polish",
    "progress_reporter",
    "settled",
    "single_threaded_blas",
    "subplex",
    "values_hessian",
]

FloatArray = NDArray[np.float64]
Objective = Callable[[FloatArray], float]
ValueAndGradient = Callable[[FloatArray], tuple[float, FloatArray]]
Hessian = Callable[[FloatArray], tuple[float, FloatArray, FloatArray]]
# the criterion and gradient at a point, the criterion at other points and the gradient at others
# again (`EngineCriterion.alongside`)
GradientAndValues = Callable[
    [FloatArray, Sequence[FloatArray], Sequence[FloatArray]],
    tuple[float, FloatArray, list[float], list[tuple[float, FloatArray]]],
]

METHODS = ("bobyqa", "cobyqa", "lbfgsb", "newton")
# Above this much work per evaluation (about half a millisecond), "auto" stops BOBYQA at the looser
# `POLISHED_BOBYQA` tolerances and leaves the last digits to the Newton polish (`choose_method`).
EXPENSIVE_FLOPS = 1e7
# BOBYQA's stopping tolerances (on theta, on the criterion) where the Newton polish with the analytic
# gradient (`newton_polish`) follows and evaluations are expensive: the polish's few gradients
# take the estimates from ~1e-6 to ~1e-11, where BOBYQA's own 1e-9/1e-10 cost a third more evaluations.
# Looser ones (1e-4, 1e-5) save a fifth of InstEval's evaluations, but on a flat ridge (InstEval
# with (1 | dept) + (0 + service | dept)) the polish cannot finish an end that far off: its end,
# 2e-5 above the optimum, sent the fit through every restart (4,070 evaluations, not converged).
POLISHED_BOBYQA: dict[str, float] = {"xtol_abs": 1e-6, "ftol_abs": 1e-7}
# the polish's Hessian from differences of the criterion (`values_hessian`): at most this many free
# parameters ((n + 1) n / 2 evaluations against n gradients of ~3 evaluations each), relative step
VALUES_HESSIAN_MAX = 4
VALUES_HESSIAN_STEP = 1e-4
# Newton's method with the Hessian from differences of the criterion (`_newton_differenced`): at most
# this many parameters (its first Hessian's (n + 1) n / 2 evaluations, 21 for six, are a fifth of
# BOBYQA's ~100 on InstEval with a service slope by department)
DIFFERENCED_NEWTON_MAX = 6
# Newton on differences (`DifferencedHessian`) takes the Hessian's columns of the first k of its n
# parameters from forward differences of the analytic gradient (the gradient at x + h_i e_i, one each)
# and the other entries from differences of the criterion ((n - k + 1) (n - k) / 2 evaluations), k by
# `gradient_columns` for a gradient that costs this many evaluations (crossed200k and InstEval: ~3)
GRADIENT_COST = 3.0
# Above this much work per evaluation, a model with one grouping factor whose Newton run gives up
# (`_newton`) is fitted by L-BFGS-B with the analytic gradient, below it by BOBYQA, from the start:
# "auto"'s choices there before Newton's method (`newton_fallback`).
LBFGSB_FLOPS = 1e5
MAXLS = 10  # L-BFGS-B's line-search steps: more only repeat evaluations at roundoff level

ROUNDOFF_LIMITED = -4  # nlopt's NLOPT_ROUNDOFF_LIMITED

_MESSAGES = {
    ROUNDOFF_LIMITED: "roundoff-limited: the criterion cannot be improved at double precision",
    nlopt.SUCCESS: "success",
    nlopt.STOPVAL_REACHED: "stopval reached",
    nlopt.FTOL_REACHED: "ftol_rel or ftol_abs reached",
    nlopt.XTOL_REACHED: "xtol_rel or xtol_abs reached",
    nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached",
    nlopt.MAXTIME_REACHED: "maximum time reached",
}


@dataclass(frozen=True)
class OptimResult:
    """Where the optimiser stopped and why."""

    theta: np.ndarray
    fun: float
    n_evals: int
    message: str
    hit_maxeval: bool
    decrement: float = 0.0
    """The Newton decrement g'H^-1 g / 2 at ``theta`` (the fall of the criterion that a quadratic
    model of it still predicts; `newton_polish` sets it, 0 where it was not computed)."""
    unverified: str = ""
    """Why the searches from other starts that check this end could not confirm it (one reached a
    criterion of -inf, or failed numerically); empty when they did or did not run."""
    gradient: np.ndarray | None = None
    """The analytic gradient at ``theta`` (`newton_polish` sets it; None where not computed)."""
    hessian: np.ndarray | None = None
    """The Hessian over every parameter, by forward differences of the analytic gradient at the
    polish's start (`newton_polish` sets it when no parameter is at its bound of 0 and the Hessian
    is finite; None otherwise)."""
    stalled: bool = False
    """L-BFGS-B was stopped because its evaluations no longer lowered the criterion beyond its
    rounding (``minimize_theta(stall=True)``), before its own stopping rules: an end that the
    caller must confirm (`settled`) or continue from."""


class EngineCriterion:
    """An engine's REML criterion (or deviance) as a function of theta, which the optimisers can also
    hand to the engine whole: NLopt's BOBYQA then runs in C++ with no Python between evaluations
    (see `native_bobyqa`), and the derivative check runs in the engine.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> model = mm.LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> f = EngineCriterion(model.new_engine(), reml=True)
    >>> round(f(np.array([0.9667, 0.0152, 0.2309])), 3)
    1743.628
    """

    __slots__ = ("engine", "reml", "_f", "_last", "_new_twin", "_twin")

    def __init__(self, engine: _core.Engine, reml: bool, twin: Callable[[], _core.Engine] | None = None) -> None:
        self.engine, self.reml = engine, reml
        self._f: Callable[[FloatArray], float] = functools.partial(engine.objective, reml=reml)
        self._last: tuple[FloatArray, float, FloatArray] | None = None
        self._new_twin = twin
        self._twin: _core.Engine | None = None

    @property
    def alongside(self) -> GradientAndValues | None:
        """`gradient_and_values` where a second engine of the same model can be made (``twin``)
        and the engine may use more than one thread; else None."""
        if self._new_twin is None or self.engine.threads < 2:
            return None
        return self.gradient_and_values

    def gradient_and_values(
        self, theta: FloatArray, points: Sequence[FloatArray], gradient_points: Sequence[FloatArray] = ()
    ) -> tuple[float, FloatArray, list[float], list[tuple[float, FloatArray]]]:
        """The criterion and gradient at theta, the criterion at each of ``points`` and the criterion
        and gradient at each of ``gradient_points``, on both cores: this engine takes the gradient at theta while
        a second engine of the same cross-products (made at the first call, while this one works)
        takes the gradient points and then the points, and this one takes those left when it is
        done. Both engines run on one thread with BLAS held to one, so a value or gradient does not
        depend on which engine takes it. Where the factorisation fails, a value is NaN and a
        gradient all NaN. On crossed200k a gradient and the three points of a Hessian take 19 ms
        this way against 25 ms in turn on two threads.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> pen = mm.datasets.load("penicillin")
        >>> model = mm.LinearMixedModel.from_formula("diameter ~ 1 + (1 | plate) + (1 | sample)", pen)
        >>> f = EngineCriterion(model.new_engine(), reml=True, twin=model.new_engine)
        >>> t = np.array([1.5, 3.3])
        >>> v, g, values, grads = f.gradient_and_values(t, [t + 0.1, t - 0.1], [t + 0.2])
        >>> v == f(t), values == [f(t + 0.1), f(t - 0.1)]
        (True, True)
        >>> bool(np.array_equal(grads[0][1], f.value_and_gradient(t + 0.2)[1]))
        True
        """
        found = self._on_both(theta, points, gradient_points)
        assert found[1] is not None
        return found[0], found[1], found[2], found[3]

    def values(self, points: Sequence[FloatArray]) -> list[float]:
        """The criterion at each of ``points``: on both cores where the second engine of
        `gradient_and_values` has been made, the engine may use two threads and holds BLAS to one
        (else in turn); NaN where the factorisation fails, in both.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> pen = mm.datasets.load("penicillin")
        >>> model = mm.LinearMixedModel.from_formula("diameter ~ 1 + (1 | plate) + (1 | sample)", pen)
        >>> f = EngineCriterion(model.new_engine(), reml=True)
        >>> t = np.array([1.5, 3.3])
        >>> f.values([t, t + 0.1]) == [f(t), f(t + 0.1)]
        True
        """
        if self._twin is not None and self.engine.threads >= 2 and self.engine.single_threaded_blas:
            return self._on_both(None, points, ())[2]
        return [_or_nan(self._f, np.asarray(p, dtype=np.float64)) for p in points]

    def _on_both(
        self, theta: FloatArray | None, points: Sequence[FloatArray], gradient_points: Sequence[FloatArray]
    ) -> tuple[float, FloatArray | None, list[float], list[tuple[float, FloatArray]]]:
        """`gradient_and_values` (theta None: the points alone, `values`)."""
        make = self._new_twin
        values = [math.nan] * len(points)
        gradients: list[tuple[float, FloatArray]] = [(math.nan, np.full(0, np.nan))] * len(gradient_points)
        ng = len(gradient_points)
        taken = iter(range(ng + len(points)))  # the gradients first: the longest tasks
        lock = threading.Lock()
        failure: list[BaseException] = []
        reml = self.reml

        def take(engine: _core.Engine) -> None:
            while True:
                with lock:
                    k = next(taken, None)
                if k is None:
                    return
                if k < ng:
                    gradients[k] = _gradient_or_nan(engine, np.asarray(gradient_points[k], dtype=np.float64), reml)
                else:
                    at = np.asarray(points[k - ng], dtype=np.float64)
                    values[k - ng] = _or_nan(functools.partial(engine.objective, reml=reml), at)

        def other() -> None:
            try:
                if self._twin is None:
                    assert make is not None
                    twin = make()
                    twin.threads = 1
                    self._twin = twin
                take(self._twin)
            except BaseException as e:  # (raised again in the caller's thread)
                failure.append(e)

        value, grad = math.nan, None
        threads = self.engine.threads
        self.engine.threads = 1
        try:
            with _core.BlasOneThread():
                worker = threading.Thread(target=other)
                worker.start()
                try:
                    if theta is not None:
                        value, grad = self.value_and_gradient(theta)
                    take(self.engine)
                finally:
                    worker.join()
        finally:
            self.engine.threads = threads
        if failure:
            raise failure[0]
        return value, grad, values, gradients

    def __call__(self, theta: FloatArray, *_grad: object) -> float:
        return self._f(theta)

    def value_and_gradient(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """The criterion and its analytic gradient at theta, from one factorisation
        (`_core.Engine.gradient`).

        Examples
        --------
        >>> import mixedmodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> model = mm.LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep)
        >>> f, g = EngineCriterion(model.new_engine(), reml=True).value_and_gradient(np.array([0.9667, 0.0152, 0.2309]))
        >>> round(f, 3), g.shape
        (1743.628, (3,))
        """
        at = np.array(theta, dtype=np.float64)
        value, grad = self.engine.gradient(at, self.reml)
        self._last = (at, float(value), np.array(grad))
        return float(value), np.asarray(grad)

    @property
    def hessian(self) -> Hessian | None:
        """The criterion, gradient and analytic Hessian at theta from one factorisation
        (`_core.Engine.hessian`), where the engine has it (one grouping factor); else None.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> model = mm.LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep)
        >>> hess = EngineCriterion(model.new_engine(), reml=True).hessian
        >>> f, g, h = hess(np.array([0.9667, 0.0152, 0.2309]))
        >>> round(f, 3), h.shape, bool(np.all(np.linalg.eigvalsh(h) > 0))
        (1743.628, (3, 3), True)
        """
        if not self.engine.has_hessian:
            return None
        return self._value_gradient_hessian

    def _value_gradient_hessian(self, theta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        value, grad, hess = self.engine.hessian(np.array(theta, dtype=np.float64), self.reml)
        return float(value), np.asarray(grad), np.asarray(hess)

    def known_gradient(self, theta: FloatArray) -> tuple[float, FloatArray] | None:
        """The criterion and gradient at theta when the last `value_and_gradient` call was at
        exactly this theta (an optimiser's end is usually its last gradient), else None.

        Examples
        --------
        >>> import mixedmodels as mm
        >>> sleep = mm.datasets.load("sleepstudy")
        >>> model = mm.LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", sleep)
        >>> f = EngineCriterion(model.new_engine(), reml=True)
        >>> t = np.array([0.9667, 0.0152, 0.2309])
        >>> _ = f.value_and_gradient(t)
        >>> f.known_gradient(t) is not None, f.known_gradient(t + 1e-9) is None
        (True, True)
        """
        last = self._last
        if last is None or not np.array_equal(last[0], np.asarray(theta, dtype=np.float64)):
            return None
        return last[1], last[2].copy()


def _gradient_or_nan(engine: _core.Engine, x: FloatArray, reml: bool) -> tuple[float, FloatArray]:
    """The engine's criterion and gradient at x, or NaN where the factorisation fails there."""
    try:
        value, grad = engine.gradient(x, reml)
        return float(value), np.asarray(grad)
    except _core.NotPositiveDefiniteError:
        return math.nan, np.full(x.size, np.nan)


def _or_nan(f: Objective, x: FloatArray) -> float:
    """f(x), or NaN where the factorisation fails there."""
    try:
        return float(f(x))
    except _core.NotPositiveDefiniteError:
        return math.nan


@contextlib.contextmanager
def held_workspace(engine: _core.Engine) -> Iterator[_core.Engine]:
    """Within the with-block the engine keeps its gradients' selected inverse from call to call
    (`_core.Engine.hold_workspace`): a fit's optimiser, polish and derivative check call the
    gradient many times, and allocating and page-faulting an inverse above 2**21 values (a dense
    fill-in block of order ~1,450 or more; smaller ones are kept anyway) each time costs about a
    fifth of each gradient (measured on InstEval while its inverse, with a scratch copy since
    removed, was above that size: 49 against 38 ms). Released on leaving, however it is left, so
    that a fitted model does not hold it for its life.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> pen = mm.datasets.load("penicillin")
    >>> model = mm.LinearMixedModel.from_formula("diameter ~ 1 + (1 | plate) + (1 | sample)", pen)
    >>> with held_workspace(model.new_engine()) as engine:  # crossed factors: a selected inverse
    ...     _ = engine.gradient(np.array([1.5, 3.3]), True)
    ...     engine.workspace_values > 0
    True
    """
    engine.hold_workspace()
    try:
        yield engine
    finally:
        engine.release_workspace()


@functools.cache
def native_bobyqa() -> bool:
    """Whether BOBYQA can run in C++: NLopt's C entry points found in the library the nlopt package
    ships (``Engine.bobyqa``). Otherwise Python drives NLopt through its binding, with the same
    result at ~2 us more per evaluation.

    Examples
    --------
    >>> isinstance(native_bobyqa(), bool)  # True with the Linux wheels of nlopt
    True
    """
    path = getattr(getattr(nlopt, "_nlopt", None), "__file__", None)
    return isinstance(path, str) and _core.load_nlopt(path) == ""


@functools.cache
def single_threaded_blas() -> bool:
    """Whether the core can hold BLAS to one thread while it factors (OpenBLAS's thread control,
    found in the OpenBLAS that scipy loaded; Linux). Its large dense blocks are factored and inverted
    on its own thread pool, and BLAS's worker threads only spin on small ones: 20 crossed 10-level
    factors took 248 s with the second core busy, 9 s on one thread. The count is OpenBLAS's global
    one, restored after each factorisation.

    Examples
    --------
    >>> isinstance(single_threaded_blas(), bool)  # True with scipy's Linux wheels
    True
    """
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line and ".so" in line}
    except OSError:  # not Linux
        return False
    # scipy's OpenBLAS (32-bit integers), not numpy's (libscipy_openblas64_)
    for path in sorted(paths):
        name = path.rsplit("/", 1)[-1]
        if "openblas64" not in name and _core.load_blas_threads(path) == "":
            return True
    return False


class _Tracked:
    """f, counting its calls and keeping the best point seen (an optimiser may stop, or fail at
    double precision, somewhere worse)."""

    def __init__(self, f: Objective, x0: FloatArray) -> None:
        self.f, self.n, self.best_x, self.best_f = f, 0, x0.copy(), np.inf

    def __call__(self, x: FloatArray, *_grad: object) -> float:
        v = float(self.f(x))
        self.n += 1
        if v < self.best_f:
            self.best_f, self.best_x = v, np.array(x, copy=True)
        return v

    def no_worse(self, x: ArrayLike, fx: float) -> tuple[FloatArray, float]:
        """(x, fx), or the best point seen when that is lower."""
        if self.best_f < fx:
            return self.best_x, self.best_f
        return np.asarray(x, dtype=float), float(fx)


@dataclass(frozen=True)
class BobyqaSettings:
    """NLopt BOBYQA's stopping rules and initial step.

    Attributes
    ----------
    xtol_abs, ftol_abs : float
        Absolute tolerances on theta and on the criterion.
    maxeval : int
        Limit on evaluations (0 or less: none).
    step : ndarray, optional
        Initial step per parameter (NLopt's default when None).
    """

    xtol_abs: float = 1e-9
    ftol_abs: float = 1e-10
    maxeval: int = 100_000
    step: FloatArray | None = None


def bobyqa(
    f: Objective,
    x0: FloatArray,
    lower: FloatArray,
    settings: BobyqaSettings,
    upper: FloatArray | None = None,
    *,
    algorithm: int = nlopt.LN_BOBYQA,
) -> tuple[FloatArray, float, int, int]:
    """NLopt's BOBYQA from x0 within lower (and upper, if given) -> (x, f(x), evaluations, nlopt
    result code), the best point seen when the optimiser stops somewhere worse. An `EngineCriterion`
    or a GLMM's `_core.LaplaceStage` without upper bounds runs in C++ (`native_bobyqa`).
    ``algorithm``: another of NLopt's local derivative-free methods with the same settings
    (`subplex` uses LN_SBPLX).

    Examples
    --------
    >>> x, fx, n, code = bobyqa(lambda t: float((t[0] - 2) ** 2), np.array([0.0]), np.array([0.0]), BobyqaSettings())
    >>> round(float(x[0]), 6), code > 0
    (2.0, True)
    """
    step = None if settings.step is None else np.asarray(settings.step, dtype=float)
    if upper is None and isinstance(f, EngineCriterion | _core.LaplaceStage) and native_bobyqa():
        # an engine's criterion or a GLMM stage's: NLopt's loop in C++, no Python between evaluations
        run = f.bobyqa if isinstance(f, _core.LaplaceStage) else functools.partial(_core.bobyqa, f.engine, reml=f.reml)
        x, fx, n, code = run(
            x0,
            lower,
            algorithm=algorithm,
            xtol_abs=settings.xtol_abs,
            ftol_abs=settings.ftol_abs,
            maxeval=settings.maxeval,
            step=step,
        )
        if code < 0 and code != ROUNDOFF_LIMITED:
            raise RuntimeError(f"NLopt's {nlopt.algorithm_name(algorithm)} failed (nlopt result {code})")
        return x, fx, n, code
    opt = nlopt.opt(algorithm, x0.shape[0])
    opt.set_lower_bounds(lower.tolist())
    if upper is not None:
        opt.set_upper_bounds(upper.tolist())
    opt.set_xtol_abs(settings.xtol_abs)
    opt.set_ftol_abs(settings.ftol_abs)
    opt.set_maxeval(settings.maxeval)
    if step is not None:
        opt.set_initial_step(step)
    obj = _Tracked(f, x0)
    opt.set_min_objective(obj)
    try:
        x = opt.optimize((np.maximum(x0, lower) if upper is None else np.clip(x0, lower, upper)).tolist())
        code = opt.last_optimize_result()
        fx = opt.last_optimum_value()
    except nlopt.RoundoffLimited:  # no further progress possible at double precision: keep the best point
        x, fx, code = obj.best_x, obj.best_f, ROUNDOFF_LIMITED
    x, fx = obj.no_worse(x, fx)
    return x, fx, obj.n, code


def subplex(f: Objective, x0: FloatArray, lower: FloatArray, maxeval: int, step: FloatArray | None) -> OptimResult:
    """NLopt's Subplex (Rowan's variant of Nelder-Mead on subspaces) from x0 within lower: a search
    unlike BOBYQA's quadratic models, to check where BOBYQA ended (in C++ as BOBYQA is, for an
    `EngineCriterion`).

    Examples
    --------
    >>> f = lambda t: float((t[0] - 2) ** 2 + (t[1] - 1) ** 2)
    >>> r = subplex(f, np.array([0.0, 0.0]), np.array([0.0, 0.0]), 2000, None)
    >>> np.round(r.theta, 4).tolist()
    [2.0, 1.0]
    """
    settings = BobyqaSettings(1e-9, 1e-10, maxeval, step)
    x, fx, n, code = bobyqa(f, np.maximum(x0, lower), lower, settings, algorithm=nlopt.LN_SBPLX)
    message = "Subplex: " + _MESSAGES.get(code, f"nlopt result {code}")
    return OptimResult(theta=x, fun=fx, n_evals=n, message=message, hit_maxeval=code == nlopt.MAXEVAL_REACHED)


def _cobyqa(
    f: Objective, x0: FloatArray, lower: FloatArray, radius: float, final_radius: float, maxeval: int
) -> tuple[FloatArray, float, int, str, bool]:
    """SciPy's COBYQA (Ragonneau and Zhang's derivative-free trust-region SQP method, which keeps
    the bounds): on the crossed designs benchmarked it reaches the optimum in 40-60 % fewer
    evaluations than BOBYQA at its tight default tolerances, and in about as many as BOBYQA stopped
    at `POLISHED_BOBYQA`'s, at 2-5 ms of Python per iteration."""
    from scipy.optimize import Bounds, minimize  # scipy.optimize is heavy (~0.3 s, 20 MB): imported on use

    start = np.maximum(x0, lower)
    obj = _Tracked(f, start)
    res = minimize(
        obj,
        start,
        method="COBYQA",
        bounds=Bounds(lower, np.full_like(lower, np.inf)),
        options={"initial_tr_radius": radius, "final_tr_radius": min(final_radius, radius), "maxfev": maxeval},
    )
    x, fx = obj.no_worse(res.x, res.fun)
    hit = obj.n >= maxeval
    message = f"maximum number of evaluations reached ({maxeval})" if hit else f"COBYQA: {res.message}"
    return x, fx, obj.n, message, hit


class _BudgetSpent(Exception):
    """L-BFGS-B asked for an evaluation beyond its budget."""


class _Stalled(Exception):
    """L-BFGS-B's evaluations stopped lowering the criterion beyond its rounding."""


# With stall=True, L-BFGS-B is stopped after LBFGSB_STALL evaluations in a row that lower the best
# criterion by less than LBFGSB_NOISE relative (its rounding: a criterion of 3e6 is computed to
# ~1e-8), once the last real gain was below LBFGSB_NEAR relative (the end, not a bad first line
# search). Its line searches there fail on rounding and it restarts from steepest descent: on a
# 1M-row design 11 of its 23 gradients went that way. Such an end is only a candidate: the caller
# polishes it and continues L-BFGS-B unless the polish settles it (`settled`).
# L-BFGS-B runs again from the best point it met where its end is above it, at most this often
LBFGSB_RESTARTS = 3
LBFGSB_STALL = 3
LBFGSB_NOISE = 1e-13
LBFGSB_NEAR = 1e-9
# A polished end whose Newton decrement (the fall still predicted) is below this, relative to the
# criterion, is settled (`settled`): far below the criterion's rounding (~1e-14 relative).
SETTLED_DECREMENT = 1e-15


def _lbfgsb(
    fg: ValueAndGradient,
    x0: FloatArray,
    lower: FloatArray,
    ftol: float,
    gtol: float,
    maxeval: int,
    one_thread: bool,
    stall: bool = False,
) -> tuple[FloatArray, float, int, str, bool, bool]:
    """SciPy's L-BFGS-B (Byrd, Lu, Nocedal and Zhu's limited-memory quasi-Newton method with bounds)
    on the criterion and its analytic gradient: each evaluation is one factorisation and one
    selected inversion. ``ftol``: relative reduction of the criterion at which it stops; ``gtol``:
    largest projected gradient entry at which it stops; ``stall``: also stop, at the best point,
    after `LBFGSB_STALL` evaluations in a row without a fall beyond rounding once the gains are
    small (the last value returned says whether it stopped so). ``one_thread``: BLAS held to one
    thread meanwhile (L-BFGS-B's own BLAS calls are on tiny matrices, where OpenBLAS's threads cost
    ~5 ms per iteration on a busy machine against ~0.1 ms on one thread)."""
    from scipy.optimize import Bounds, minimize  # scipy.optimize is heavy (~0.3 s, 20 MB): imported on use

    start = np.maximum(x0, lower)
    n = 0
    best_x, best_f = start.copy(), np.inf
    flat, last_gain = 0, np.inf
    at_bound = lower == 0.0

    def tracked(x: FloatArray) -> tuple[float, FloatArray]:
        nonlocal n, best_x, best_f, flat, last_gain
        if n >= maxeval:  # SciPy checks maxfun after the call that passes it: stop before it
            raise _BudgetSpent
        v, g = fg(x)
        n += 1
        scale = max(1.0, abs(v)) if np.isfinite(v) else 1.0
        if v < best_f - LBFGSB_NOISE * scale:
            last_gain, flat = best_f - v, 0
        else:
            flat += 1
        if v < best_f:
            best_f, best_x = v, np.array(x, copy=True)
        if not np.isfinite(v):  # the exact-fit end (-inf) or a failed factorisation: stop there
            return v, np.zeros_like(g)
        # (not with a parameter at its bound of 0: `settled` never accepts such an end)
        if stall and flat >= LBFGSB_STALL and last_gain <= LBFGSB_NEAR * scale and not np.any(at_bound & (best_x <= 0)):
            raise _Stalled
        return v, g

    pinned = one_thread and single_threaded_blas()
    with _core.BlasOneThread() if pinned else contextlib.nullcontext():
        for _ in range(1 + LBFGSB_RESTARTS):
            try:
                res = minimize(
                    tracked,
                    start,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=Bounds(lower, np.full_like(lower, np.inf)),
                    options={
                        "ftol": ftol,
                        "gtol": gtol,
                        "maxfun": maxeval - n,
                        "maxiter": maxeval,
                        "maxcor": 20,
                        "maxls": MAXLS,
                    },
                )
                x, fx, said = np.asarray(res.x, dtype=float), float(res.fun), str(res.message)
            except _BudgetSpent:
                x, fx, said = best_x, best_f, ""
                break
            except _Stalled:
                said = f"no fall of the criterion beyond its rounding in {LBFGSB_STALL} evaluations"
                return best_x, best_f, n, f"L-BFGS-B: {said}", False, True
            # its end above a point its line searches met and passed over (a trial point they did not
            # accept): there the gradient is not 0 (it had stopped on a face where a variance is 0,
            # the criterion's slope 0 there, and the better point was returned as the end, unconverged
            # with a gradient of 28.6 where lme4 went on to a log-likelihood 1.9 higher): on from it
            if not (np.isfinite(fx) and best_f < fx - LBFGSB_NOISE * max(1.0, abs(fx))) or n >= maxeval:
                break
            start = best_x.copy()
    if best_f < fx:
        x, fx = best_x, best_f
    hit = n >= maxeval
    message = f"maximum number of evaluations reached ({maxeval})" if hit else f"L-BFGS-B: {said}"
    return x, fx, n, message, hit, False


# Newton's method with the analytic Hessian (`_newton`): the Armijo fraction of the predicted fall a
# step must achieve, the step halvings before a line search fails, the iterations before it gives up
# (the search `newton_fallback` names then runs from the start), and the decrement (relative to the
# criterion) below which a failed line search is the criterion's rounding, not a failure.
NEWTON_ARMIJO = 1e-4
NEWTON_HALVINGS = 30
NEWTON_ITERATIONS = 50
NEWTON_ROUNDING = 1e-12
# Newton's method with the Hessian from differences of the criterion (`DifferencedHessian`): the
# Hessian is formed again after a step longer than this fraction of the parameters' size and kept
# after shorter ones (its own error, ~3e-4 relative, then bounds the rate of convergence), and the
# iterations before the search gives up (each costs a gradient and (n + 1) n / 2 evaluations)
NEWTON_KEEP_HESSIAN = 1e-3
DIFFERENCED_ITERATIONS = 15
# Above this many parameters the Hessian is formed once, at the start, and then updated by BFGS from
# each step's gradients (a Hessian's (n + 1) n / 2 evaluations then cost several gradients, where for
# two or three they run beside the gradient on the second engine for about its time), within at most
# `QUASI_NEWTON_ITERATIONS` iterations of one gradient each. InstEval with a service slope by
# department (6 parameters): 114 evaluations and 1.2 s with a Hessian after each long step, 34 and 0.8 s
# with BFGS; crossed200k with a slope by f1 (4): 99 and 1.9 s (the SD ratio 0.025 approached by
# steps that trip `BOUND_AHEAD_STEP`, then BOBYQA), 33 and 1.2 s.
HESSIAN_REFRESH_MAX = 3
QUASI_NEWTON_ITERATIONS = 40
# With BFGS, the steps towards a variance's bound of 0 shrink (Exam with (standLRT | intake) over
# the log of a slope's SD: -0.1, ..., -0.02 a step, where fresh Hessians step by about -1/2) and the
# decrement falls by a constant factor near 0.9 per step; towards an interior optimum it can fall as
# slowly at first (a review's designs: 118 of 200 synthetic interior optima). A log that fell at each
# of this many steps while the decrement fell by less than half a step on average: the Hessian is
# formed afresh there, and BOBYQA and the boundary's test take over (as after `BOUND_AHEAD_STEP`)
# where Newton's step on it goes `BOUND_AHEAD_STEP` or more down such a log; else BFGS goes on from it.
QUASI_BOUND_ITERATIONS = 5
# where it stops: below this fraction of every parameter's size, a tenth of the polish's
# `POLISH_LAST_STEP` (the steps of a kept Hessian converge linearly: penicillin by ML, forced onto this
# path, stopped at 7e-9 with its vcov 1.3e-8 from the tight optimum, where 1e-8 is asked)
DIFFERENCED_LAST_STEP = 1e-9
# or below this fraction of each parameter's own size, or of `DIFFERENCED_SMALL_FLOOR` of the largest
# where it is smaller (the Newton step is the distance still to go; BFGS's Hessian had its
# eigenvalues within [0.91, 1.43] of the true one's at its ends): theta is asked within 1e-8 of the
# largest entry and vcov within 1e-8 of its own, and vcov follows a small SD closely (InstEval's
# department SD, 0.07 of the 0.44 largest, 2.2e-8 of itself away gave vcov 2.5e-8 away; a stop at
# 5e-9 of the largest parameter had allowed 3e-8 of it). crossed200k's, InstEval's and the slope
# model's last steps before their ends were 2.2e-9 to 3.2e-9, 1.0e-9 and 2.5e-9 of the largest
# (4.4e-9 and 1.1e-8 of the small SDs' floor of 0.1), and each took a gradient more (13, 33 and
# 40 ms) to go below 1e-9 of every one
DIFFERENCED_LAST_STEP_OF_OWN = 5e-9
DIFFERENCED_SMALL_FLOOR = 0.01
# Newton on differences (`_newton_differenced`): a step below this fraction of every parameter's own
# size (as `DIFFERENCED_LAST_STEP_OF_OWN`; `QUASI_LAST_STEP_OF_OWN` with BFGS's Hessian) is taken with
# the criterion alone, not its gradient, and ends the search there (`_last_step`), where the steps
# show quadratic convergence: its end is off the optimum by about the Hessian's relative error times
# the step, and the step's ratio r to the one before it bounds that error (r is about the error plus
# the steps' second-order term), so r must be below `LAST_STEP_RATIO` and r times the step below
# `LAST_STEP_ERROR` (both as fractions of the parameters' own sizes), and the criterion must not rise
# there. InstEval's last step, 6e-9 after 2.1e-4 (r = 3e-5), had cost a gradient (25-30 ms) where the
# criterion costs 9-10 ms. A review's cheap crossed design forced onto this path (its Hessian from
# differences ill-conditioned) had ended 1e-8 to 4e-8 off the optimum after a last step whose
# criterion rose within its rounding; one-factor fits near a ridge had failed their directional check
# after such a step and gone through restarts (so `_newton`, whose evaluations are cheap, takes none)
LAST_STEP_OF_OWN = 1e-6
LAST_STEP_MESSAGE = "Newton: the step is below the criterion's resolution (the last one taken on the criterion alone)"
QUASI_LAST_STEP_OF_OWN = 1e-8
LAST_STEP_RATIO = 0.1
LAST_STEP_ERROR = 1e-9
# below this a parameter bounded by 0 is left to BOBYQA and the boundary's test: Newton's method over
# its log (`_newton_differenced`) cannot reach the bound (lme4's singularity tolerance)
LOG_FLOOR = 1e-4
# the longest step `_newton_differenced` takes on a log (theta times or divided by e): far from the
# optimum the Hessian over the logs need not be positive definite, and its raised eigenvalues can
# give a step far beyond where the quadratic model holds
MAX_LOG_STEP = 1.0
# Near a variance whose optimum is 0 the criterion is ~ f0 + c theta^2 (+ higher powers): over its
# log each Newton step is about -1/2 (theta to e^-1/2 of itself; -0.4 to -0.6 seen), so reaching
# LOG_FLOOR from 0.2 took all 15 iterations, where towards an interior optimum the steps shrink
# quadratically. Steps of at least this size down a log in this many iterations in a row: BOBYQA and
# the boundary's test take over (a review's 100k-row crossed design with a zero variance: 317
# evaluations against 290 for BOBYQA alone before this rule)
BOUND_AHEAD_STEP = 0.25
BOUND_AHEAD_ITERATIONS = 3


@dataclass
class _NewtonEnd:
    """Where `_newton` stopped, with its derivatives there (None until it stops converged)."""

    theta: FloatArray | None = None
    gradient: FloatArray | None = None
    hessian: FloatArray | None = None
    decrement: float = math.inf
    bound: FloatArray | None = None
    """Where `_newton_differenced` gave up on variances heading to 0: its lowest point with those
    at 0, where the search that takes over starts."""


@dataclass(frozen=True)
class DifferencedHessian:
    """Newton's derivatives where the engine has no analytic Hessian (several grouping factors): the
    criterion and its analytic gradient from ``fg``, the Hessian from forward differences (up to
    `DIFFERENCED_NEWTON_MAX` parameters) of the gradient for the first `gradient_columns` parameters
    (one gradient each; none for up to three parameters) and of the criterion ``f`` for the others
    (as `_values_hessian`: (m + 1) m / 2 evaluations for m of them), formed at the start and, up
    to `HESSIAN_REFRESH_MAX` parameters, after every step longer than `NEWTON_KEEP_HESSIAN` of the
    parameters' size (above, BFGS updates it from the gradients). On crossed200k and InstEval a
    gradient costs ~3 evaluations, so one iteration costs 6 (two parameters) to 9 (three); from
    the moment start, Newton's steps over the logs (`_newton_differenced`) reach the optimum with
    four or five gradients and three Hessians, where BOBYQA took 23-33 evaluations and the polish
    two gradients and a Hessian after them.

    Examples
    --------
    >>> fg = lambda t: (float((t[0] - 1) ** 2 + 3 * (t[1] - 2) ** 2), np.array([2 * (t[0] - 1), 6 * (t[1] - 2)]))
    >>> f = lambda t: fg(t)[0]
    >>> r = minimize_theta(f, np.array([0.5, 1.0]), np.zeros(2), method="newton", gradient=fg,
    ...                    hessian=DifferencedHessian(fg, f))
    >>> np.round(r.theta, 8).tolist(), settled(r)
    ([1.0, 2.0], True)
    """

    fg: ValueAndGradient
    f: Objective
    alongside: GradientAndValues | None = None
    """The criterion and gradient at a point with the criterion and gradients at the Hessian's
    points around it, on both cores (`EngineCriterion.alongside`): at a step after which the Hessian is formed again,
    it is evaluated with the step's gradient (before the line search accepts the step: where it
    does not, those evaluations are lost). None: one after the other."""

    def at(self, x: FloatArray, fresh: bool) -> tuple[float, FloatArray, FloatArray | None, int]:
        """The criterion and gradient at x, with the Hessian there where ``fresh`` and the points
        can be evaluated alongside (else None: `_newton_differenced` forms it when it needs it), and the
        evaluations it took."""
        if not (fresh and self.alongside is not None):
            value, grad = self.fg(x)
            return float(value), grad, None, 1
        free = np.arange(x.size)
        columns = gradient_columns(x.size)
        points, gradient_points, h = _differenced_points(x, free, columns)
        value, grad, values, gradients = self.alongside(x, points, gradient_points)
        used = 1 + len(points) + len(gradient_points)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return float(value), grad, None, used
        return float(value), grad, _differenced_hessian(float(value), grad, free, h, columns, values, gradients), used

    def hessian(self, x: FloatArray, f0: float, g: FloatArray) -> tuple[FloatArray, int]:
        """The Hessian at x (where the criterion is f0 and its gradient g) from the same differences
        as `at`, evaluated in turn (the same bits), and the evaluations it took."""
        free = np.arange(x.size)
        columns = gradient_columns(x.size)
        points, gradient_points, h = _differenced_points(x, free, columns)
        gradients = [self.fg(p) for p in gradient_points]
        values = [float(self.f(p)) for p in points]
        return _differenced_hessian(f0, g, free, h, columns, values, gradients), len(points) + len(gradient_points)


def gradient_columns(n: int, cost: float = GRADIENT_COST) -> int:
    """How many of n parameters `DifferencedHessian` takes Hessian columns of from differences of
    the gradient, for a gradient that costs ``cost`` evaluations of the criterion: the fewest
    that end soonest on two engines (the first taking the gradient at x, each then taking the
    next gradient, then the next evaluation), then cost least in turn. Two or three parameters: none
    (a gradient costs about as much as the evaluations it saves); four: one; five: two; six: three,
    where the first Hessian of InstEval with a service slope by department took 21 evaluations beside
    the gradient, and takes three gradients and six evaluations beside it (a third less on two engines,
    a fourth in turn).

    Examples
    --------
    >>> [gradient_columns(n) for n in range(1, 7)]
    [0, 0, 0, 1, 2, 3]
    """

    def rest(k: int) -> int:
        return (n - k + 1) * (n - k) // 2

    def on_two(k: int) -> float:
        lanes = [cost, 0.0]
        for t in [cost] * k + [1.0] * rest(k):
            lanes[0 if lanes[0] <= lanes[1] else 1] += t
        return max(lanes)

    return min(range(n + 1), key=lambda k: (on_two(k), cost * (k + 1) + rest(k), k))


def _differenced_points(
    x: FloatArray, free: NDArray[np.intp], columns: int
) -> tuple[list[FloatArray], list[FloatArray], FloatArray]:
    """The points at which `DifferencedHessian` evaluates the criterion (x + h_i e_i for each free
    parameter after the first ``columns``, then x + h_i e_i + h_j e_j for each pair j < i of them;
    with ``columns`` 0, `_values_hessian`'s), those at which it takes the gradient (x + h_i e_i for
    the first ``columns``), and the steps h."""
    h = VALUES_HESSIAN_STEP * np.maximum(np.abs(x[free]), 0.1)

    def moved(*at: int) -> FloatArray:
        xp = x.copy()
        for j in at:
            xp[free[j]] += h[j]
        return xp

    rest = range(columns, free.size)
    points = [moved(j) for j in rest]
    points += [moved(j, k) for j in rest for k in range(columns, j)]
    return points, [moved(j) for j in range(columns)], h


def _differenced_hessian(
    f0: float,
    g: FloatArray,
    free: NDArray[np.intp],
    h: FloatArray,
    columns: int,
    values: Sequence[float],
    gradients: Sequence[tuple[float, FloatArray]],
) -> FloatArray:
    """The Hessian from `_differenced_points`' criterion ``values`` and ``gradients`` (in their
    order; each the criterion and gradient there), f0 and the gradient g at x: the first
    ``columns`` columns (and rows) from forward differences of the gradient (the mean of the two
    where both columns are), the rest from forward differences of the criterion: f(x + h_i e_i) the
    diagonal, f(x + h_i e_i + h_j e_j) each pair."""
    m = free.size
    hess = np.empty((m, m))
    rest = list(range(columns, m))
    pair = len(rest)
    for a, j in enumerate(rest):
        hess[j, j] = 2.0 * (values[a] - f0 - h[j] * g[free[j]]) / h[j] ** 2
        for b in range(a):
            k = rest[b]
            hess[j, k] = hess[k, j] = (values[pair] - values[a] - values[b] + f0) / (h[j] * h[k])
            pair += 1
    # (a gradient whose criterion is not finite is not one: its column NaN, as a failed evaluation's)
    cols = [
        (np.asarray(gradients[j][1])[free] - g[free]) / h[j] if np.isfinite(gradients[j][0]) else np.full(m, np.nan)
        for j in range(columns)
    ]
    for j in range(columns):
        hess[j, j] = cols[j][j]
        for k in range(j):
            hess[j, k] = hess[k, j] = 0.5 * (cols[j][k] + cols[k][j])
        for k in rest:
            hess[j, k] = hess[k, j] = cols[j][k]
    return hess


def _newton_direction(
    g: FloatArray, hess: FloatArray, x: FloatArray, lower: FloatArray
) -> tuple[FloatArray, float, bool]:
    """The Newton direction over the parameters not held at their bound of 0 (at it, with the
    gradient pushing outwards or the step pointing outwards: Bertsekas' projected Newton); where
    that Hessian is not positive definite, its eigenvalues raised to their size and to 1e-8 of the
    largest as in `newton_decrement`. With the decrement -g'd/2 it predicts and whether that
    Hessian is positive definite."""
    at = (lower == 0.0) & (x <= 0.0)
    held = at & (g > 0.0)
    d = np.zeros_like(x)
    definite = True
    for _ in range(x.size + 1):
        free = np.flatnonzero(~held)
        d = np.zeros_like(x)
        if free.size == 0:
            return d, 0.0, True
        sub = hess if free.size == x.size else hess[np.ix_(free, free)]
        try:
            np.linalg.cholesky(sub)
            d[free] = -np.linalg.solve(sub, g[free])
            definite = True
        except np.linalg.LinAlgError:
            raised = _raised_eigh(sub)
            if raised is None:
                return d, math.inf, False
            w, v = raised
            d[free] = -(v @ ((v.T @ g[free]) / w))
            definite = False
        out = at & ~held & (d < 0.0)
        if not out.any():
            break
        held |= out
    return d, float(-0.5 * (g @ d)), definite


@dataclass
class _Searched:
    """Where `_line_search` ended: the point it accepted (None: none) with what ``call`` gave there,
    the evaluations counted so far, and whether the limit stopped it."""

    x: FloatArray | None
    found: Any
    n: int
    hit: bool = False


def _line_search(
    call: Callable[[FloatArray], Any],
    x: FloatArray,
    f: float,
    g: FloatArray,
    d: FloatArray,
    lower: FloatArray,
    n: int,
    maxeval: int,
    count: Callable[[Any], int] = lambda found: 1,
) -> _Searched:
    """Newton's line search from x along d (bounded below by ``lower``), halving the step: a step is
    taken when it lowers the criterion by `NEWTON_ARMIJO` of the fall its gradient predicts or, a
    full step, when it lowers the gradient's norm without raising the criterion beyond its rounding
    (as the polish's steps). ``call(x)`` gives a tuple whose first two entries are the criterion and
    gradient; ``count`` the evaluations each call took (n counts them)."""
    moving = d != 0.0
    gnorm = float(np.linalg.norm(g[moving]))
    scale = max(1.0, abs(f))
    t = 1.0
    for _ in range(NEWTON_HALVINGS):
        if n >= maxeval:
            return _Searched(None, None, n, hit=True)
        xn = np.maximum(x + t * d, lower)
        if np.array_equal(xn, x):  # a step below the parameters' rounding: the line search is over
            break
        found = call(xn)
        n += count(found)
        fn, gn = found[0], found[1]
        if np.isfinite(fn) and (
            fn <= f + NEWTON_ARMIJO * float(g @ (xn - x))
            or (t == 1.0 and fn <= f + POLISH_ROUNDING * scale and float(np.linalg.norm(gn[moving])) < gnorm)
        ):
            return _Searched(xn, found, n)
        t *= 0.5
    return _Searched(None, None, n)


def _newton(
    hf: Hessian, x0: FloatArray, lower: FloatArray, maxeval: int, end: _NewtonEnd
) -> tuple[FloatArray, float, int, str, bool, bool]:
    """Newton's method with the analytic Hessian (one call gives the criterion, its gradient and
    Hessian: `EngineCriterion.hessian`), bounded by projection (`_newton_direction`) and damped by
    a line search that halves the step: a step is taken when it lowers the criterion by
    `NEWTON_ARMIJO` of the fall its gradient predicts or, a full step, when it lowers the gradient's
    norm without raising the criterion beyond its rounding (as the polish's steps). It stops
    converged where the Newton step is negligible (`POLISH_NEGLIGIBLE_STEP`, 1e-11, of every
    parameter's size, at least 0.1; the polish stops at `POLISH_LAST_STEP`) over a positive
    definite Hessian (``end`` then holds the gradient, Hessian and decrement there), or where a
    line search fails with the decrement already at the criterion's rounding (the polish then
    takes over); it gives up (the last value returned is True) on a
    criterion it cannot evaluate, a line search that fails above rounding or a step below the
    parameters' rounding, a parameter at its bound of 0 where the Hessian is not positive definite
    (which the projected direction cannot leave), or `NEWTON_ITERATIONS` iterations."""

    def call(x: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        try:
            return hf(x)
        except _core.NotPositiveDefiniteError:  # a factorisation that fails there: no criterion
            nan = np.full(x.size, np.nan)
            return math.nan, nan, np.full((x.size, x.size), np.nan)

    x = np.maximum(np.asarray(x0, dtype=float), lower)
    f, g, hess = call(x)
    n = 1
    for _ in range(NEWTON_ITERATIONS):
        if not (np.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(hess))):
            return x, float(f), n, "Newton: the criterion or its derivatives are not finite", False, True
        d, dec, definite = _newton_direction(g, hess, x, lower)
        scale = max(1.0, abs(f))
        at_bound = bool(np.any((lower == 0.0) & (x <= 0.0)))
        if not definite and at_bound:
            # a parameter at its bound of 0 and negative curvature: a diagonal of T clipped to 0 where
            # the criterion is even in it (a zero gradient there, the optimum inside), which the
            # direction cannot leave
            return x, float(f), n, "Newton: a parameter at its bound where the criterion is not convex", False, True
        if definite and _negligible(d, x):
            if not at_bound:  # a Hessian over every parameter, as the polish's
                end.theta, end.gradient, end.hessian, end.decrement = x, g, hess, dec
            return x, float(f), n, "Newton: the step is below the criterion's resolution", False, False
        searched = _line_search(call, x, f, g, d, lower, n, maxeval)
        n = searched.n
        if searched.hit:
            return x, float(f), n, f"maximum number of evaluations reached ({maxeval})", True, False
        if searched.x is None:
            if dec <= NEWTON_ROUNDING * scale:
                return x, float(f), n, "Newton: roundoff-limited (no step lowers the criterion)", False, False
            return x, float(f), n, "Newton: the line search failed", False, True
        x, (f, g, hess) = searched.x, searched.found
    return x, float(f), n, f"Newton: not converged in {NEWTON_ITERATIONS} iterations", False, True


def _newton_differenced(
    dh: DifferencedHessian, x0: FloatArray, lower: FloatArray, maxeval: int, end: _NewtonEnd
) -> tuple[FloatArray, float, int, str, bool, bool]:
    """Newton's method with the Hessian from differences of the criterion (`DifferencedHessian`),
    over the logs of the parameters bounded below by 0 (the diagonal of each term's T) and the
    others as they are: there the criterion is nearer a quadratic, and from the moment start
    crossed200k and InstEval need one Hessian and up to one gradient fewer than over theta itself (3
    Hessians and 4-5 gradients). The derivatives over those coordinates u follow from theta's by the
    chain rule (g_u = J g, H_u = J H J + diag(g_u) on the logs, J = diag(theta) there), so the
    differences are taken on theta as the polish takes them; the Hessian is formed at the start and,
    up to `HESSIAN_REFRESH_MAX` parameters, after every step longer than `NEWTON_KEEP_HESSIAN` of
    the parameters' size (with the step's gradient, on both cores where ``dh.alongside`` allows),
    kept after shorter ones; above, it is updated by BFGS after every step (`_bfgs_update`, over
    u). A step is taken as `_line_search` takes it. It stops converged where the step is below
    `DIFFERENCED_LAST_STEP` (1e-9) of every parameter's size (at least 0.1) or below
    `DIFFERENCED_LAST_STEP_OF_OWN` (5e-9) of every one's own size (at least
    `DIFFERENCED_SMALL_FLOOR` of the largest), over a positive definite Hessian
    (``end`` then holds theta's gradient and Hessian, BFGS's where it updated it, and the
    decrement there), or after a step below `LAST_STEP_OF_OWN` of each one's own size
    (`QUASI_LAST_STEP_OF_OWN` with BFGS) taken with the criterion alone (`_last_step`). It gives
    up (the last value returned is True) where a parameter bounded by 0 starts or falls below
    `LOG_FLOOR`, or its Newton steps are `BOUND_AHEAD_STEP` or
    more down its log in `BOUND_AHEAD_ITERATIONS` iterations in a row (with BFGS also where, after
    `QUASI_BOUND_ITERATIONS` steps down its log while the decrement fell by less than half a step,
    Newton's step on a Hessian formed afresh goes that far down it), a variance heading to its
    bound, which the logs cannot reach: BOBYQA and the boundary's test then take over; on a
    criterion or derivatives it cannot evaluate, a failed line search above rounding, or after
    `DIFFERENCED_ITERATIONS` iterations (`QUASI_NEWTON_ITERATIONS` with BFGS;
    for variances heading to 0, ``end.bound`` is its lowest point with them at 0, where the search
    that takes over starts). A step changes no log by more than `MAX_LOG_STEP`."""
    x0 = np.maximum(np.asarray(x0, dtype=float), lower)
    logs = lower == 0.0
    if np.any(x0[logs] < LOG_FLOOR):
        return x0, math.nan, 0, "Newton: a relative SD at its bound at the start", False, True
    free = np.full(x0.size, -np.inf)
    nan_hessian = np.full((x0.size, x0.size), np.nan)

    def theta(u: FloatArray) -> FloatArray:
        th = u.copy()
        th[logs] = np.exp(u[logs])
        return th

    def over_u(th: FloatArray, g: FloatArray, h: FloatArray | None) -> tuple[FloatArray, FloatArray | None]:
        j = np.where(logs, th, 1.0)
        gu = g * j
        return gu, None if h is None else h * np.outer(j, j) + np.diag(np.where(logs, gu, 0.0))

    def call(u: FloatArray, fresh: bool) -> tuple[float, FloatArray, FloatArray | None, FloatArray, int]:
        """f, g_u and H_u at u (None: formed when needed), theta's gradient, the evaluations."""
        th = theta(u)
        try:
            f, g, h, used = dh.at(th, fresh)
        except _core.NotPositiveDefiniteError:  # a factorisation that fails there: no criterion
            return math.nan, np.full(u.size, np.nan), nan_hessian, np.full(u.size, np.nan), 1
        gu, hu = over_u(th, g, h)
        return f, gu, hu, g, used

    def differences(u: FloatArray, f: float, g: FloatArray) -> tuple[FloatArray, int]:
        if not (np.isfinite(f) and np.all(np.isfinite(g))):
            return nan_hessian, 0
        th = theta(u)
        try:
            h, used = dh.hessian(th, f, g)
        except _core.NotPositiveDefiniteError:
            return nan_hessian, u.size
        hu = over_u(th, g, h)[1]
        return (nan_hessian if hu is None else hu), used

    def on_theta(u: FloatArray, d: FloatArray, tol: float) -> bool:
        """Whether the step d on u moves theta by less than tol of each parameter's size."""
        th = theta(u)
        return _negligible(np.where(logs, th, 1.0) * d, th, tol)

    def on_own(u: FloatArray, d: FloatArray, tol: float = DIFFERENCED_LAST_STEP_OF_OWN) -> bool:
        """Whether the step d on u moves each entry of theta by at most ``tol`` of its size (at least
        `DIFFERENCED_SMALL_FLOOR` of the largest)."""
        th = theta(u)
        return _below_own(np.where(logs, th, 1.0) * d, th, tol)

    def ended(u: FloatArray, g: FloatArray, hess: FloatArray, g_theta: FloatArray, dec: float) -> FloatArray:
        """theta at u, with ``end`` holding theta's gradient and Hessian there."""
        th = theta(u)
        j = np.where(logs, th, 1.0)
        h_theta = (hess - np.diag(np.where(logs, g, 0.0))) / np.outer(j, j)
        end.theta, end.gradient, end.hessian, end.decrement = th, g_theta, h_theta, dec
        return th

    def own_step(u: FloatArray, d: FloatArray) -> float:
        """The step d on u as the largest fraction of a parameter's own size it moves (as `on_own`)."""
        th = theta(u)
        size = np.maximum(_own_size(th), np.finfo(float).tiny)
        return float(np.max(np.abs(np.where(logs, th, 1.0) * d) / size))

    u = x0.copy()
    u[logs] = np.log(x0[logs])
    f, g, hess, g_theta, n = call(u, True)
    previous = 0.0  # the last step taken, as a fraction of the parameters' own sizes (`own_step`)
    heading = np.zeros(u.size, dtype=np.intp)
    refresh = u.size <= HESSIAN_REFRESH_MAX
    iterations = DIFFERENCED_ITERATIONS if refresh else QUASI_NEWTON_ITERATIONS
    falling = np.zeros(u.size, dtype=np.intp)  # (BFGS) steps in a row down each log
    decrements: list[float] = []
    checking: np.ndarray | None = None  # (BFGS) the logs a fresh Hessian's step is to check
    for _ in range(iterations):
        if hess is None:
            hess, used = differences(u, f, g_theta)
            n += used
        if not (np.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(hess))):
            return theta(u), float(f), n, "Newton: the criterion or its derivatives are not finite", False, True
        d, dec, definite = _newton_direction(g, hess, u, free)
        longest = float(np.max(np.abs(d[logs]))) if logs.any() else 0.0
        if longest > MAX_LOG_STEP:  # (where the Hessian over u is not positive definite, far off)
            d = d * (MAX_LOG_STEP / longest)
        heading = np.where(logs & (d <= -BOUND_AHEAD_STEP), heading + 1, 0)
        if checking is not None:  # the step of a fresh Hessian after slow steps down these logs
            heading = np.where(checking & (d <= -BOUND_AHEAD_STEP), BOUND_AHEAD_ITERATIONS, heading)
            checking = None
        elif not refresh:
            falling = np.where(logs & (d < 0.0), falling + 1, 0)
            decrements.append(dec)
            k = QUASI_BOUND_ITERATIONS
            if len(decrements) > k and dec > decrements[-1 - k] * 0.5**k and np.any(falling >= k):
                # BFGS's steps shrink both towards a bound and towards an interior optimum it
                # approaches linearly: Newton's step on a fresh Hessian tells them apart
                checking, falling, decrements = falling >= k, np.zeros_like(falling), []
                hess, used = differences(u, f, g_theta)
                n += used
                continue
        if np.any(heading >= BOUND_AHEAD_ITERATIONS):
            end.bound = np.where(heading >= BOUND_AHEAD_ITERATIONS, 0.0, theta(u))
            return theta(u), float(f), n, "Newton: a relative SD heading to its bound of 0", False, True
        if definite and (on_theta(u, d, DIFFERENCED_LAST_STEP) or on_own(u, d)):
            th = ended(u, g, hess, g_theta, dec)
            return th, float(f), n, "Newton: the step is below the criterion's resolution", False, False
        step = own_step(u, d)
        quadratic = previous > 0.0 and step <= LAST_STEP_RATIO * previous and step * step <= LAST_STEP_ERROR * previous
        small = on_own(u, d, LAST_STEP_OF_OWN if refresh else QUASI_LAST_STEP_OF_OWN)
        if definite and quadratic and small and n < maxeval:
            last = _last_step(dh.f, theta(u + d), f, g, hess, d)
            n += 1
            if last is not None:  # (else: the criterion rose there, and the search goes on as before)
                fn, gn, decn = last
                th = theta(u + d)
                th = ended(u + d, gn, hess, gn / np.where(logs, th, 1.0), decn)
                return th, fn, n, LAST_STEP_MESSAGE, False, False
        short = not refresh or on_theta(u, d, NEWTON_KEEP_HESSIAN)
        searched = _line_search(
            functools.partial(call, fresh=not short), u, f, g, d, free, n, maxeval, count=lambda found: int(found[4])
        )
        n = searched.n
        if searched.hit:
            return theta(u), float(f), n, f"maximum number of evaluations reached ({maxeval})", True, False
        if searched.x is None:
            if dec <= NEWTON_ROUNDING * max(1.0, abs(f)):
                return theta(u), float(f), n, "Newton: roundoff-limited (no step lowers the criterion)", False, False
            return theta(u), float(f), n, "Newton: the line search failed", False, True
        fn, gn, hn, g_theta, _ = searched.found
        previous = own_step(u, searched.x - u)
        if not refresh:
            hess = _bfgs_update(hess, searched.x - u, gn - g)
        u, f, g, hess = searched.x, float(fn), gn, hess if short else hn
        if np.any(theta(u)[logs] < LOG_FLOOR):
            return theta(u), f, n, "Newton: a relative SD heading to its bound of 0", False, True
    return theta(u), float(f), n, f"Newton: not converged in {iterations} iterations", False, True


def _last_step(
    f: Objective, x: FloatArray, f0: float, g: FloatArray, hess: FloatArray, d: FloatArray
) -> tuple[float, FloatArray, float] | None:
    """Newton's last step d (from a point where the criterion is f0, its gradient g and its
    Hessian ``hess``, over the search's coordinates) taken with the criterion alone: the criterion
    at its end x, the gradient the quadratic model predicts there (g + hess d: 0 to rounding) and
    the decrement that gradient predicts; None where the criterion there is not finite or above f0
    (a step this short lowers it by less than its rounding: a rise says the quadratic model does not
    hold there). The end is not verified by a gradient of its own: the directional check that
    follows every Newton end (2 evaluations) compares the criterion's central differences there with
    the predicted gradient.

    Examples
    --------
    >>> f = lambda t: float((t[0] - 1) ** 2 + 3 * t[1] ** 2)
    >>> x, g, h = np.array([1.0 + 1e-7, 1e-7]), np.array([2e-7, 6e-7]), np.diag([2.0, 6.0])
    >>> fn, gn, dec = _last_step(f, x - np.linalg.solve(h, g), f(x), g, h, -np.linalg.solve(h, g))
    >>> fn, bool(np.abs(gn).max() < 1e-20), dec < 1e-30
    (0.0, True, True)
    """
    try:
        fn = float(f(x))
    except _core.NotPositiveDefiniteError:
        return None
    if not (np.isfinite(fn) and fn <= f0):
        return None
    gn = g + hess @ d
    try:
        dec = float(0.5 * (gn @ np.linalg.solve(hess, gn)))
    except np.linalg.LinAlgError:
        return None
    return fn, gn, abs(dec)


def _bfgs_update(hess: FloatArray, s: FloatArray, y: FloatArray) -> FloatArray:
    """BFGS's update of a Hessian after the step s, over which the gradient changed by y, from the
    Hessian with its eigenvalues raised as Newton's direction raises them where it is not positive
    definite (`_raised_eigh`: a first Hessian from differences far from the optimum); that
    Hessian itself where the curvature along s is not positive (s'y at most 1e-12 of |s||y|: the
    update would not keep it positive definite).

    Examples
    --------
    >>> h = _bfgs_update(np.eye(2), np.array([1.0, 0.0]), np.array([3.0, 0.0]))
    >>> h.tolist()
    [[3.0, 0.0], [0.0, 1.0]]
    >>> _bfgs_update(np.diag([2.0, -1.0]), np.array([1.0, 0.0]), np.array([-1.0, 0.0])).tolist()
    [[2.0, 0.0], [0.0, 1.0]]
    """
    try:
        np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        raised = _raised_eigh(hess)
        if raised is not None:
            w, v = raised
            hess = (v * w) @ v.T
    sy = float(s @ y)
    if not (np.isfinite(sy) and sy > 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(y))):
        return hess
    hs = hess @ s
    shs = float(s @ hs)
    if not shs > 0.0:
        return hess
    return hess - np.outer(hs, hs) / shs + np.outer(y, y) / sy


def _bobyqa_run(
    f: Objective, x0: FloatArray, lower: FloatArray, settings: BobyqaSettings
) -> tuple[FloatArray, float, int, str, bool, bool]:
    x, fx, n, code = bobyqa(f, x0, lower, settings)
    return x, fx, n, "BOBYQA: " + _MESSAGES.get(code, f"nlopt result {code}"), code == nlopt.MAXEVAL_REACHED, False


def initial_step(x0: np.ndarray) -> np.ndarray:
    """BOBYQA's initial step per parameter from a start near the optimum: a fifth of its size, at
    least 0.05. On lme4's 34 reference fits this needs 20 % fewer evaluations than half its size
    (at least 0.1), ending at the same criterion (within 1e-12 relative), and 10-45 % fewer on the
    benchmarked simulated and crossed designs.

    Examples
    --------
    >>> initial_step(np.array([1.2, 0.0, 0.1])).tolist()
    [0.24, 0.05, 0.05]
    """
    step: FloatArray = np.maximum(0.2 * np.abs(x0), 0.05)
    return step


def choose_method(update_flops: float, factors: int = 1, ntheta: int | None = None) -> tuple[str, dict[str, float]]:
    """The optimiser, and the stopping rules it is given, for a model whose evaluation costs
    ``update_flops`` (``Engine.update_flops()``) and that has ``factors`` grouping factors and
    ``ntheta`` covariance parameters (None: more than `DIFFERENCED_NEWTON_MAX`).

    - Newton's method on the analytic Hessian for one grouping factor (`_newton`,
      `cpp/hessian_one_factor.cpp`): 3-7 calls from the moment start, each one factorisation and
      a pass over the levels costing about two gradients (sleepstudy 43 evaluations -> 6, sim100k
      15 -> 4, sim1m 17 -> 3 from the start of a correlated term's levels' coefficients, against
      L-BFGS-B's 13-18 gradients and a polish before).
      Where it gives up (a criterion it cannot evaluate, a failed line search, a parameter at its
      bound where the criterion is not convex), the search "auto" took before runs from the start
      (`newton_fallback`).
    - Newton's method with the Hessian from differences of the criterion (`DifferencedHessian`)
      for several grouping factors when each evaluation costs more than ~1e7 operations (crossed
      designs with a dense fill-in block) and there are at most `DIFFERENCED_NEWTON_MAX` parameters:
      from the moment start, over the logs of theta's diagonal (`_newton_differenced`),
      crossed200k 28 evaluations (23 of BOBYQA, the polish's 2 gradients and 3 evaluations) -> 4-5
      gradients and 9 evaluations, InstEval 41 -> 5 gradients and 18 evaluations, the Hessians'
      evaluations beside the gradients on a second engine; above `HESSIAN_REFRESH_MAX` parameters
      one Hessian and BFGS's updates of it (InstEval with a service slope by department, 6
      parameters: BOBYQA and the polish 103 evaluations -> 31, 21 of them the first Hessian's). Where it
      gives up, BOBYQA at `POLISHED_BOBYQA`'s tolerances runs from the lowest point it reached, and
      the polish after it.
    - BOBYQA stopped at `POLISHED_BOBYQA`'s tolerances (1e-6 on theta, 1e-7 on the criterion) when
      each evaluation costs more than ~1e7 operations and there are more parameters (crossed
      designs with a dense fill-in block and many covariance parameters);
      the Newton polish that follows every fit takes the last digits. There a
      gradient costs 3-4 evaluations (crossed200k 19 against 5.5 ms, InstEval 47 against 11 ms), so
      L-BFGS-B does not pay, and its ends on a zero variance, exactly at the bound, send every such
      fit through the restarts that check it (a crossed 200,000-row design with one variance of 0:
      2.6 s against 0.26 s). COBYQA, the choice here before, needs as few evaluations but spends
      ~2-5 ms of Python on each iteration (crossed200k: 23 evaluations and 181 ms with the polish,
      against COBYQA's 29 and 240 ms; InstEval 33 and 679 against 34 and 794 ms).
    - BOBYQA with its tight default tolerances, whose iterations cost microseconds, otherwise
      (several grouping factors, each evaluation cheap).

    Examples
    --------
    >>> choose_method(4e3, factors=2), choose_method(5e8, factors=3), choose_method(2e6)
    (('bobyqa', {}), ('bobyqa', {'xtol_abs': 1e-06, 'ftol_abs': 1e-07}), ('newton', {}))
    >>> choose_method(5e8, factors=3, ntheta=6), choose_method(5e8, factors=3, ntheta=7)[0]
    (('newton', {'xtol_abs': 1e-06, 'ftol_abs': 1e-07}), 'bobyqa')
    """
    if factors == 1:
        return "newton", {}
    if update_flops <= EXPENSIVE_FLOPS:
        return "bobyqa", {}
    few = ntheta is not None and ntheta <= DIFFERENCED_NEWTON_MAX
    return "newton" if few else "bobyqa", dict(POLISHED_BOBYQA)


def newton_fallback(update_flops: float) -> str:
    """The search that runs from the start where Newton's method gives up (`minimize_theta`), and
    that verifies a doubtful end of a Newton run: "auto"'s choice for one grouping factor before
    Newton's method, L-BFGS-B on the analytic gradient above ~1e5 floating-point operations per
    evaluation (where it needs a tenth of BOBYQA's evaluations), BOBYQA below.

    Examples
    --------
    >>> newton_fallback(4e3), newton_fallback(2e6)
    ('bobyqa', 'lbfgsb')
    """
    return "lbfgsb" if update_flops > LBFGSB_FLOPS else "bobyqa"


def minimize_theta(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray,
    *,
    method: str = "bobyqa",
    xtol_abs: float = 1e-9,
    ftol_abs: float = 1e-10,
    initial_tr_radius: float = 0.03,
    final_tr_radius: float = 3e-6,
    ftol: float = 1e-13,
    gtol: float = 1e-6,
    maxeval: int = 100_000,
    step: np.ndarray | None = None,
    gradient: ValueAndGradient | None = None,
    one_thread_blas: bool = True,
    stall: bool = False,
    hessian: Hessian | DifferencedHessian | None = None,
    fallback: str = "bobyqa",
) -> OptimResult:
    """Minimise f over theta subject to theta >= lower, then try the boundary.

    ``method="bobyqa"``: NLopt's BOBYQA with absolute tolerances 1e-9 on theta and 1e-10 on the
    criterion, tighter than lme4's ``nloptwrap`` defaults (1e-8 and 1e-8), which leave estimates up
    to ~1e-5 short of the optimum; ``step`` is its initial step per parameter.
    ``method="cobyqa"``: SciPy's COBYQA with trust-region radius from ``initial_tr_radius`` (0.03,
    suited to the moment-based start) down to ``final_tr_radius`` (3e-6: on both InstEval models
    the criterion ends within 3e-9 of where a final radius of 1e-8 takes it, and theta within
    4e-6 relative where it is identified).
    ``method="lbfgsb"``: SciPy's L-BFGS-B on the criterion and its analytic gradient (``gradient``:
    a function of theta giving both; by default the engine's, when f is an `EngineCriterion`),
    stopping when the criterion falls by less than ``ftol`` relative or the largest projected
    gradient entry is below ``gtol``, or, with ``stall``, once `LBFGSB_STALL` evaluations in a row
    near the end lower it by no more than its rounding (the result's ``stalled``: a candidate end,
    see `settled`); ``step`` is not used; ``one_thread_blas``: hold BLAS to one thread while it
    runs (the engine's `_core.Engine.single_threaded_blas`).
    ``method="newton"``: Newton's method on the analytic Hessian (``hessian``: a function of theta
    giving the criterion, gradient and Hessian; by default the engine's, when f is an
    `EngineCriterion` of a model with one grouping factor), bounded by projection and damped by a
    line search (`_newton`); each call counts as one evaluation. It stops where its step is
    negligible (`POLISH_NEGLIGIBLE_STEP`; the result then carries the gradient, Hessian and decrement, as a
    polished end does); where it gives up, ``fallback`` (``"bobyqa"``, with ``step`` its initial
    step, or ``"lbfgsb"``: `newton_fallback`) runs from the start, and its end is the result.
    With a `DifferencedHessian` as ``hessian``, Newton's Hessian comes from differences of the
    criterion (at most `DIFFERENCED_NEWTON_MAX` parameters; several grouping factors; its
    ``alongside``: those evaluations on both cores), and where it gives up BOBYQA runs from the
    lowest point it reached (with the SDs it found heading to 0 at 0), its initial step `initial_step`.

    A parameter that the optimiser leaves just above its lower bound of 0 (a variance heading to
    zero, a correlation heading to +-1) is tried at exactly 0; if that is no worse the fit restarts
    from there, so near-singular fits reach the boundary optimum that lme4's default settings can miss.
    The exact boundary point is kept when the restart finds nothing lower by more than 1e-10 relative.

    Examples
    --------
    >>> r = minimize_theta(lambda t: (t[0] - 1) ** 2 + (t[1] + 2) ** 2, np.array([1.0, 0.0]),
    ...                    np.array([0.0, -np.inf]))
    >>> np.round(r.theta, 6).tolist()
    [1.0, -2.0]
    >>> r = minimize_theta(lambda t: (t[0] - 1) ** 2 + (t[1] + 2) ** 2, np.array([1.0, 0.0]),
    ...                    np.array([0.0, -np.inf]), method="cobyqa")
    >>> np.round(r.theta, 5).tolist()
    [1.0, -2.0]
    >>> fg = lambda t: ((t[0] - 1) ** 2 + (t[1] + 2) ** 2, np.array([2 * (t[0] - 1), 2 * (t[1] + 2)]))
    >>> r = minimize_theta(lambda t: fg(t)[0], np.array([0.5, 0.0]), np.array([0.0, -np.inf]),
    ...                    method="lbfgsb", gradient=fg)
    >>> np.round(r.theta, 6).tolist()
    [1.0, -2.0]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    fg = gradient
    if method in ("lbfgsb", "newton") and fg is None:
        if not isinstance(f, EngineCriterion):
            raise ValueError(f"method {method!r} needs the gradient: pass gradient= or an EngineCriterion")
        fg = f.value_and_gradient
    hf: Hessian | DifferencedHessian | None = hessian
    if method == "newton" and hf is None:
        hf = f.hessian if isinstance(f, EngineCriterion) else None
    if method == "newton" and (hf is None or isinstance(hf, DifferencedHessian) and x0.size > DIFFERENCED_NEWTON_MAX):
        raise ValueError(
            "method 'newton' needs the Hessian: pass hessian= or the EngineCriterion of a model with one "
            f"grouping factor, or a DifferencedHessian for at most {DIFFERENCED_NEWTON_MAX} parameters"
        )
    end = _NewtonEnd()

    def run(start: FloatArray, budget: int, stp: FloatArray | None) -> tuple[FloatArray, float, int, str, bool, bool]:
        if hf is not None and fg is not None and method == "newton":
            # (the differences' evaluations are serial: BLAS held to one thread for the whole search)
            serial = one_thread_blas and single_threaded_blas() and not isinstance(hf, DifferencedHessian)
            with _core.BlasOneThread() if serial else contextlib.nullcontext():
                if isinstance(hf, DifferencedHessian):
                    x, fx, n, said, hit, gave_up = _newton_differenced(hf, start, lower, budget, end)
                else:
                    x, fx, n, said, hit, gave_up = _newton(hf, start, lower, budget, end)
            if not gave_up:
                return x, fx, n, said, hit, False
            if hit or n >= budget:
                return x, fx, n, f"maximum number of evaluations reached ({maxeval})", True, False
            # where Newton gives up the criterion is odd (not convex at a bound, unbounded, not
            # evaluable somewhere): "auto"'s search before Newton's method, from the start (with
            # differences, from the lowest point Newton reached), and its end
            origin = "the start"
            if isinstance(hf, DifferencedHessian) and end.bound is not None:
                start, stp, origin = (
                    end.bound,
                    initial_step(end.bound),
                    "Newton's lowest point, its SDs heading to 0 at 0",
                )
                end.bound = None
            elif isinstance(hf, DifferencedHessian) and np.isfinite(fx):
                start, stp, origin = x, initial_step(x), "Newton's lowest point"
            if fallback == "lbfgsb":
                more = _lbfgsb(fg, start, lower, ftol, gtol, budget - n, one_thread_blas)
            else:
                more = _bobyqa_run(f, start, lower, BobyqaSettings(xtol_abs, ftol_abs, budget - n, stp))
            name = "L-BFGS-B" if fallback == "lbfgsb" else "BOBYQA"
            return more[0], more[1], n + more[2], f"{said}; {name} from {origin}: {more[3]}", more[4], False
        if fg is not None and method == "lbfgsb":
            return _lbfgsb(fg, start, lower, ftol, gtol, budget, one_thread_blas, stall)
        if method == "cobyqa":
            radius = initial_tr_radius if stp is None else float(min(initial_tr_radius, np.min(stp)))
            return (*_cobyqa(f, start, lower, radius, final_tr_radius, budget), False)
        return _bobyqa_run(f, start, lower, BobyqaSettings(xtol_abs, ftol_abs, budget, stp))

    x, fx, n, message, hit, stalled = run(x0, maxeval, step)
    total = n
    near = np.flatnonzero((lower == 0.0) & (x > 0.0) & (x < 1e-3))
    if near.size and total < maxeval:
        xb = x.copy()
        xb[near] = 0.0
        fb = f(xb)
        total += 1
        tol = 1e-10 * max(1.0, abs(fx))
        if fb <= fx + tol:
            x2, f2, n2, message2, hit2, stalled2 = run(xb, maxeval - total, np.maximum(np.abs(xb) * 0.01, 1e-4))
            total += n2
            if fb <= fx and fb <= f2 + tol:  # the exact boundary, as good as any point the restart found
                x, fx, stalled = xb, fb, stalled2
            elif f2 <= fx:
                x, fx, message, hit, stalled = x2, f2, message2, hit2, stalled2
    result = OptimResult(theta=x, fun=fx, n_evals=total, message=message, hit_maxeval=hit, stalled=stalled)
    if end.theta is not None and end.hessian is not None and np.array_equal(end.theta, x):
        # Newton's converged end: its derivatives there, as the polish would leave them
        result = replace(result, gradient=end.gradient, hessian=end.hessian, decrement=end.decrement)
    return result


# a term whose covariance's smallest eigenvalue is below this fraction of its largest (a variance
# near 0, a correlation near +-1) has directions of the covariances that theta's coordinates see only
# to second order (`covariance_descent`); its derivatives there are differences over this fraction
# of the covariance's size
SADDLE_CONDITION = 1e-3
SADDLE_STEP = 1e-6
# a covariance whose largest eigenvalue is below this is 0 (theta's entries below ~1e-6)
SADDLE_ZERO = 1e-12
# restarts from such points per fit, at most
SADDLE_ROUNDS = 3


def covariance_descent(
    layout: ThetaLayout, theta: FloatArray, f: Callable[[FloatArray], float], fun: float
) -> tuple[FloatArray | None, int]:
    """A theta where the criterion ``f`` is lower than ``fun`` (its value at ``theta``, an
    optimiser's end) along a direction of the covariances that theta's coordinates see only to
    second order, or None; and the evaluations spent.

    The criterion is a smooth function of each term's covariance S = T T' (on the scale of theta),
    but theta (T's entries) reaches some directions of S only to second order where S is (nearly)
    singular: with T's diagonal entry 0 in one column, moving variance between its columns; with a
    diagonal entry near 0, the direction in which it grows (the criterion is even in it). An
    optimiser over theta can stop there with its gradient near 0 where the criterion falls at first
    order over S: a saddle, reported as a minimum (small random-slope designs: glmer 0.008-0.14
    below lme4's log-likelihood, lmer 1e-3 above a better REML criterion). At a minimum over
    S >= 0, with S = sum_i l_i u_i u_i' and its nearly null eigenvectors n (`SADDLE_CONDITION`),
    the derivative G of the criterion in S has G(n, n) positive semi-definite and G(n, r) = 0 for
    the others r. For each term of two or more columns whose S is nearly singular, G is formed in
    S's eigenbasis by forward differences along S + h v v' (k(k+1)/2 evaluations for k columns;
    `ThetaLayout.with_factor`). Where G(n, n) has a negative eigenvalue, with eigenvector w,
    S + s w w' is tried for growing s; where G(n, r) is not 0, r's part of S is turned towards n
    by growing angles (its variance l_r kept: the first-order change is 2 l_r G(n, r) per radian).
    The first trial that lowers the criterion by more than its rounding (1e-9 relative) is returned.

    Examples
    --------
    >>> from mixedmodels.layout import ThetaLayout
    >>> lay = ThetaLayout([("g", ("(Intercept)", "x"), 0, 0)], [2])
    >>> target = np.array([[0.01, 0.095], [0.095, 1.0]])  # a correlation of 0.95
    >>> def f(th):  # a criterion of S alone, least at S = target
    ...     t = lay.terms[0].t_matrix(th)
    ...     return float(np.sum((t @ t.T - target) ** 2))
    >>> end = np.array([0.0, 0.0, 1.0])  # S = [[0, 0], [0, 1]]: the gradient in theta is 0 there
    >>> better, evals = covariance_descent(lay, end, f, f(end))
    >>> bool(f(better) < f(end)), evals
    (True, 4)
    """
    tol = 1e-9 * max(1.0, abs(fun))
    evals = 0
    for j, term in enumerate(layout.terms):
        k = term.k
        if k < 2:
            continue  # a scalar term's variance at 0: the optimiser's boundary checks
        t = term.t_matrix(theta)
        lam, u = np.linalg.eigh(t @ t.T)
        lam = np.maximum(lam, 0.0)
        top = float(lam[-1])
        zero = top <= SADDLE_ZERO  # S is 0 to rounding: its scale is theta's own (1, the residual SD's)
        small = np.full(k, True) if zero else lam <= SADDLE_CONDITION * top
        if not small[0]:
            continue
        size = 1.0 if zero else top  # (relative to S: a slope's variance on a covariate in 1e4 units is ~1e-8)
        h = SADDLE_STEP * size
        root = math.sqrt(h)
        slope = np.empty((k, k))
        for a in range(k):
            slope[a, a] = (f(layout.with_factor(theta, j, np.column_stack([t, root * u[:, a]]))) - fun) / h
        for a in range(k):
            for b in range(a + 1, k):
                both = f(layout.with_factor(theta, j, np.column_stack([t, root * (u[:, a] + u[:, b])])))
                slope[a, b] = slope[b, a] = ((both - fun) / h - slope[a, a] - slope[b, b]) / 2.0
        evals += k * (k + 1) // 2
        trials: list[FloatArray] = []
        null = np.flatnonzero(small)
        mu, vecs = np.linalg.eigh(slope[np.ix_(null, null)])
        if mu[0] < 0.0:  # variance added where there is none
            w = u[:, null] @ vecs[:, 0]
            trials += [np.column_stack([t, math.sqrt(s * size) * w]) for s in (1e-3, 1e-2, 1e-1, 1.0)]
        roots = np.sqrt(lam)
        for a in null.tolist():  # a column's variance turned towards a null direction
            for b in np.flatnonzero(~small).tolist():
                if slope[a, b] == 0.0:
                    continue
                for angle in (1e-3, 1e-2, 1e-1, 0.5):
                    phi = -math.copysign(angle, slope[a, b])
                    m = u * roots[None, :]
                    m[:, b] = roots[b] * (math.cos(phi) * u[:, b] + math.sin(phi) * u[:, a])
                    trials.append(m)
        for m in trials:
            trial = layout.with_factor(theta, j, m)
            evals += 1
            if f(trial) < fun - tol:
                return trial, evals
    return None, evals


def newton_decrement(g: np.ndarray, hess: np.ndarray) -> float:
    """g'H^-1 g / 2: the fall of the criterion that its quadratic model at a point still predicts
    (gradient g, Hessian H). Negative curvatures count by their size (a saddle's descent direction
    predicts a fall too) and curvatures below 1e-8 of the largest are raised to it; inf when H has
    no finite positive scale.

    Examples
    --------
    >>> newton_decrement(np.array([2.0, 0.0]), np.diag([4.0, 1.0]))
    0.5
    """
    if not (np.all(np.isfinite(hess)) and np.all(np.isfinite(g))):
        return math.inf
    raised = _raised_eigh(hess)
    if raised is None:
        return 0.0 if not np.any(g) else math.inf
    w, v = raised
    c = v.T @ g
    return float(0.5 * np.sum(c * c / w))


def _raised_eigh(hess: FloatArray) -> tuple[FloatArray, FloatArray] | None:
    """The eigenvalues of a symmetric Hessian raised to their size and to 1e-8 of the largest, and
    its eigenvectors (for `newton_decrement` and Newton's direction, `_newton_direction`); None
    where it has no finite positive scale."""
    w, v = np.linalg.eigh(hess)
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    if not np.isfinite(scale) or scale == 0.0:
        return None
    return np.maximum(np.abs(w), 1e-8 * scale), v


# a Newton step below this in every parameter, relative to its size (at least 0.1), is not taken by
# Newton's method (`_newton`): the estimates are then within ~1e-11 of the step's end
POLISH_NEGLIGIBLE_STEP = 1e-11
# nor by the polish below this: there the gradient at the step's start is known but the step's end
# would cost one more (three or four evaluations on crossed designs, ~6 % of InstEval's fit), and
# the estimates are within ~1e-8 of it (lme4's answer is good to ~1e-6). Its steps converge
# quadratically, so such a step comes after one of ~1e-4 or less (InstEval: 4.7e-5 -> 3.5e-9).
POLISH_LAST_STEP = 1e-8
# a step of the polish (and a full Newton step, `_newton`) may raise the criterion by this much
# relative to it (its rounding) while it lowers the gradient's norm
POLISH_ROUNDING = 1e-11


def _below_own(step: FloatArray, x: FloatArray, tol: float) -> bool:
    """Whether a step moves each parameter by at most ``tol`` of its own size (at least
    `DIFFERENCED_SMALL_FLOOR` of the largest; False where every parameter is 0).

    Examples
    --------
    >>> _below_own(np.array([1e-9, 1e-9]), np.array([1.0, 1e-3]), 1e-6)
    True
    >>> _below_own(np.array([1e-9, 1e-9]), np.array([1.0, 1e-3]), 1e-8)
    False
    """
    size = _own_size(x)
    return bool(np.any(size > 0.0)) and bool(np.all(np.abs(step) <= tol * size))


def _own_size(x: FloatArray) -> FloatArray:
    """Each parameter's own size, at least `DIFFERENCED_SMALL_FLOOR` of the largest (the measure of
    `_below_own` and of Newton on differences' steps)."""
    largest = float(np.max(np.abs(x))) if x.size else 0.0
    return np.maximum(np.abs(x), DIFFERENCED_SMALL_FLOOR * largest)


def _negligible(step: FloatArray, x: FloatArray, tol: float = POLISH_NEGLIGIBLE_STEP) -> bool:
    """Whether a Newton step is below ``tol`` of every parameter's size (at least 0.1): Newton's
    stop (`_newton`, `POLISH_NEGLIGIBLE_STEP`), and the polish's (`POLISH_LAST_STEP`)."""
    return bool(np.all(np.abs(step) <= tol * np.maximum(np.abs(x), 0.1)))


def values_hessian(update_flops: float, factors: int) -> bool:
    """Whether the polish (`newton_polish`) may take the Hessian from differences of the criterion
    itself, (n + 1) n / 2 evaluations for n free parameters (up to `VALUES_HESSIAN_MAX`), rather than
    of the analytic gradient (n gradients): for several grouping factors with an expensive
    evaluation (a dense fill-in block, `EXPENSIVE_FLOPS`), where a gradient costs ~3 evaluations (the
    selected inversion of the dense block costs twice its factorisation: crossed200k 11.8 against
    4.4 ms, InstEval 35 against 9.7 ms).

    Examples
    --------
    >>> values_hessian(5e7, 2), values_hessian(5e7, 1), values_hessian(4e3, 2)
    (True, False, False)
    """
    return factors > 1 and update_flops > EXPENSIVE_FLOPS


def _values_hessian(
    f: Objective, x: FloatArray, f0: float, g: FloatArray, free: NDArray[np.intp]
) -> tuple[FloatArray, int]:
    """The Hessian over the free parameters from forward differences of the criterion with the
    analytic gradient g at x (f0 = f(x)), step `VALUES_HESSIAN_STEP` of each parameter's size (at
    least 0.1): f(x + h_i e_i) gives the diagonal, f(x + h_i e_i + h_j e_j) each pair; and the
    evaluations it took. On crossed200k and InstEval at the optimum it agrees with differences of
    the gradient to 3e-4 and 1.3e-4 relative (steps of 1e-5: 6e-3, rounding; 1e-3: 1.5e-3, truncation)."""
    points, _, h = _differenced_points(x, free, 0)
    values = [f(p) for p in points]
    return _differenced_hessian(f0, g, free, h, 0, values, []), len(points)


def newton_polish(
    fg: ValueAndGradient,
    x: np.ndarray,
    fx: float,
    lower: np.ndarray,
    max_steps: int = 3,
    known: tuple[float, FloatArray] | None = None,
    hessian: Hessian | None = None,
    values: Objective | None = None,
) -> OptimResult:
    """Newton steps from an optimiser's end with the analytic gradient: the last digits that a
    derivative-free search (or L-BFGS-B's stopping rule) leaves, at the cost of a few gradients.

    The parameters at their lower bound of 0 stay there; over the others, the Hessian is the
    analytic one where ``hessian`` gives it (with the criterion and gradient at x: one call,
    counted as one evaluation; ``known`` is then not used), else it comes from forward
    differences of the gradient (one gradient per parameter, relative step 1e-6), or, with
    ``values`` (the criterion: `values_hessian`) and at most `VALUES_HESSIAN_MAX` free parameters,
    of the criterion itself (`_values_hessian`; where that Hessian is not positive definite or not
    finite, of the gradient after all); it is kept
    for up to ``max_steps`` steps. A step is taken only while it is small (below 1e-3 of
    the parameters' size: a polish, not a search) but not negligible (above
    `POLISH_LAST_STEP`, 1e-8, of some parameter's size), keeps every parameter inside its bounds,
    lowers the gradient's norm and does not raise the criterion beyond its rounding (1e-11
    relative); otherwise the point is returned unchanged. Where it ends at that stop (from an
    optimiser's end near 1e-6 the steps converge quadratically: one or two of them), the next Newton
    step is below 1e-8 of every parameter's size (at least 0.1), so theta, sigma and vcov agree with
    a tightly converged optimum to about 1e-8 relative; it may also end after ``max_steps`` steps
    or at a refused step. ``n_evals`` counts the
    gradient and criterion calls (``known``: the criterion and gradient at x, already computed, not called again);
    ``decrement`` is the Newton decrement (`newton_decrement`) at the returned point
    with that Hessian: near 0 at a minimum, and large where the end lies on a flat ridge along
    which the criterion still falls (a step too long for a polish).

    Examples
    --------
    >>> fg = lambda t: (float((t[0] - 1) ** 2 + 3 * (t[1] + 2) ** 2 + t[0] * t[1]),
    ...                 np.array([2 * (t[0] - 1) + t[1], 6 * (t[1] + 2) + t[0]]))
    >>> x = np.array([2.1818, -2.3636])  # the minimum (24/11, -26/11) to 4 digits
    >>> r = newton_polish(fg, x, fg(x)[0], np.array([0.0, -np.inf]))
    >>> np.round(r.theta, 10).tolist(), r.n_evals, bool(r.decrement < 1e-20)
    ([2.1818181818, -2.3636363636], 4, True)
    """
    x = np.array(x, dtype=np.float64)
    lower = np.asarray(lower, dtype=np.float64)
    free = np.flatnonzero(~((lower == 0.0) & (x <= 0.0)))
    analytic: FloatArray | None = None
    if hessian is not None and free.size:
        f0, g, analytic = hessian(x)
        calls = 1
    else:
        f0, g = known if known is not None else fg(x)
        calls = 0 if known is not None else 1
    unchanged = OptimResult(theta=x, fun=fx, n_evals=calls, message="", hit_maxeval=False)
    if free.size == 0 or not np.isfinite(f0) or not np.all(np.isfinite(g[free])):
        return unchanged
    hess = np.empty(0)
    if analytic is not None:
        hess = analytic[np.ix_(free, free)]
    elif values is not None and free.size <= VALUES_HESSIAN_MAX:
        hess, used = _values_hessian(values, x, float(f0), g, free)
        calls += used
        if not (np.all(np.isfinite(hess)) and _positive_definite(hess)):
            hess = np.empty(0)  # (a criterion too rough for its differences: the gradient's)
    if not hess.size:
        h = 1e-6 * np.maximum(np.abs(x[free]), 0.1)
        hess = np.empty((free.size, free.size))
        for j, i in enumerate(free.tolist()):
            xp = x.copy()
            xp[i] += h[j]
            _, gp = fg(xp)
            calls += 1
            hess[:, j] = (gp[free] - g[free]) / h[j]
        hess = (hess + hess.T) / 2.0
    whole = hess if free.size == x.size and np.all(np.isfinite(hess)) else None
    unchanged = replace(
        unchanged, n_evals=calls, decrement=newton_decrement(g[free], hess), gradient=np.array(g), hessian=whole
    )
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return unchanged
    if not np.all(np.isfinite(chol)):
        return unchanged
    size = max(float(np.max(np.abs(x[free]))), 0.1)
    gnorm = float(np.linalg.norm(g[free]))
    best_x, best_f = x, f0
    for _ in range(max_steps):
        step = np.linalg.solve(chol.T, np.linalg.solve(chol, g[free]))
        if not np.all(np.isfinite(step)) or float(np.max(np.abs(step))) > 1e-3 * size:
            break
        if _negligible(step, best_x[free], POLISH_LAST_STEP):
            break  # each parameter there to ~1e-8 relative: another gradient would not move the estimates
        xn = best_x.copy()
        xn[free] -= step
        if np.any(xn < lower):
            break
        fn, gn = fg(xn)
        calls += 1
        gn_norm = float(np.linalg.norm(gn[free])) if np.all(np.isfinite(gn[free])) else math.inf
        if not (fn <= best_f + POLISH_ROUNDING * max(1.0, abs(best_f)) and gn_norm < gnorm):
            break
        best_x, best_f, g, gnorm = xn, float(fn), gn, gn_norm
        if gnorm == 0.0:
            break
    if best_x is x:
        return replace(unchanged, n_evals=calls)
    decrement = newton_decrement(g[free], hess)
    return OptimResult(
        theta=best_x,
        fun=best_f,
        n_evals=calls,
        message="",
        hit_maxeval=False,
        decrement=decrement,
        gradient=np.array(g),
        hessian=whole,
    )


def gradient_check(
    f: EngineCriterion, x: np.ndarray, lower: np.ndarray, fx: float, h: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Finite-difference gradient and Hessian diagonal at x (`_core.derivative_check`): lme4's
    derivative check, but for the Hessian's diagonal only (lme4 estimates the whole Hessian).

    Central differences with step h (lme4's ``deriv12`` uses 1e-4); a parameter at (or within h of)
    its lower bound gets a one-sided difference and, when the criterion increases into the feasible
    region (the optimality condition at a bound), a gradient of 0. Costs 2 evaluations per parameter.

    Returns
    -------
    gradient, hessian_diagonal : ndarray

    Examples
    --------
    >>> import mixedmodels as mm
    >>> model = mm.LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> f = EngineCriterion(model.new_engine(), reml=True)
    >>> theta = np.array([0.966748, 0.015169, 0.230903])  # lme4's optimum
    >>> g, hd = gradient_check(f, theta, model.structure.theta.lower, f(theta))
    >>> bool(np.all(np.abs(g) < 1e-2)), bool(np.all(hd > 0))
    (True, True)
    """
    return _core.derivative_check(f.engine, x, lower, fx, f.reml, h)


def _positive_definite(a: FloatArray) -> bool:
    try:
        np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return False
    return True


def settled(opt: OptimResult) -> bool:
    """Whether a polished end (`newton_polish`) is a minimum the polish has finished: its Hessian
    (over every parameter, none at a bound) is positive definite and the Newton decrement there is
    below `SETTLED_DECREMENT` of the criterion. A stalled L-BFGS-B end (``stalled``) that is not
    settled is continued.

    Examples
    --------
    >>> fg = lambda t: (float((t[0] - 1) ** 2 + 3 * t[1] ** 2), np.array([2 * (t[0] - 1), 6 * t[1]]))
    >>> x = np.array([1.0001, 0.0001])
    >>> settled(newton_polish(fg, x, fg(x)[0], np.full(2, -np.inf)))
    True
    >>> x = np.array([3.0, 1.0])  # too far for a polish: its step is refused
    >>> settled(newton_polish(fg, x, fg(x)[0], np.full(2, -np.inf)))
    False
    """
    hess = opt.hessian
    if hess is None or not np.isfinite(opt.fun) or not _positive_definite(hess):
        return False
    return bool(opt.decrement <= SETTLED_DECREMENT * max(1.0, abs(opt.fun)))


def directional_check(
    f: Objective,
    x: np.ndarray,
    lower: np.ndarray,
    fx: float,
    g: np.ndarray,
    hess: np.ndarray,
    tol: float,
    h: float = 1e-4,
) -> bool:
    """Whether the analytic gradient ``g`` at x agrees with the criterion itself: central differences
    of f along one fixed direction d (2 evaluations, where lme4's check takes 2 per parameter) against
    g'd. d has random signs and sizes (a fixed seed) scaled by the curvatures (the diagonal of
    ``hess``, the Hessian from differences of the gradient), its largest step h as in lme4's check.
    The disagreement e is measured as lme4 measures a gradient, min(|e| / sqrt(d'Hd), |e|), and must
    be below ``tol``; False also where the second difference along d is negative, a step would
    leave the bounds or ``hess`` has a non-positive diagonal. A wrong gradient would have moved the
    optimiser's end off the optimum, where the differences would not agree with it; a right one
    makes ``g`` and ``hess`` a derivative check of their own (exact in place of lme4's differences).

    Examples
    --------
    >>> f = lambda t: float((t[0] - 1) ** 2 + 3 * t[1] ** 2)
    >>> x, hess = np.array([1.0, 0.0]), np.diag([2.0, 6.0])
    >>> directional_check(f, x, np.full(2, -np.inf), f(x), np.zeros(2), hess, 1e-3)
    True
    >>> directional_check(f, x, np.full(2, -np.inf), f(x), np.array([0.5, 0.0]), hess, 1e-3)
    False
    """
    diag = np.diag(hess)
    if x.size == 0 or not np.all(np.isfinite(diag)) or np.any(diag <= 0.0):
        return False
    rng = np.random.default_rng(20261204)
    u = rng.choice([-1.0, 1.0], x.size) * rng.uniform(0.5, 1.5, x.size) / np.sqrt(diag)
    d = u / float(np.max(np.abs(u)))
    if np.any(x - h * d < lower) or np.any(x + h * d < lower):
        return False
    if isinstance(f, EngineCriterion):  # (on both cores where it can)
        up, down = f.values([x + h * d, x - h * d])
    else:
        up, down = f(x + h * d), f(x - h * d)
    if not (np.isfinite(up) and np.isfinite(down)) or up - 2.0 * fx + down < 0.0:
        return False
    e = abs((up - down) / (2.0 * h) - float(g @ d))
    curvature = float(d @ hess @ d)
    scaled = min(e / math.sqrt(curvature), e) if curvature > 0.0 else e
    return scaled < tol


def max_scaled_gradient(g: np.ndarray, hess_diag: np.ndarray, free: np.ndarray) -> float:
    """lme4's convergence measure with the Hessian's diagonal in place of its Cholesky factor: over the
    free parameters, the largest of the smaller of |gradient| and the gradient scaled by the
    curvature (the Hessian's diagonal, where positive); 0 if none.

    Examples
    --------
    >>> max_scaled_gradient(np.array([0.1, 4.0]), np.array([4.0, np.nan]), np.array([True, False]))
    0.05
    """
    worst = 0.0
    for gi, hi, fi in zip(g.tolist(), hess_diag.tolist(), free.tolist(), strict=True):
        if fi:
            a = abs(gi)
            worst = max(worst, min(a / math.sqrt(hi), a) if hi > 0 else a)
    return worst


def progress_reporter(
    progress: bool | Callable[[int, float], None] | None,
) -> Callable[[float], None] | None:
    """None (no progress), or a function of each criterion value that reports (evaluations, best
    criterion) to ``progress`` when it is callable, else as a line on stderr at most twice a second.

    Examples
    --------
    >>> seen = []
    >>> report = progress_reporter(lambda n, best: seen.append((n, best)))
    >>> report(3.0); report(2.0); report(2.5)
    >>> seen
    [(1, 3.0), (2, 2.0), (3, 2.0)]
    """
    if not progress:
        return None
    n, best, last = 0, np.inf, 0.0

    def report(v: float) -> None:
        nonlocal n, best, last
        n += 1
        best = min(best, v)
        if callable(progress):
            progress(n, best)
            return
        now = time.perf_counter()
        if now - last > 0.5:
            last = now
            sys.stderr.write(f"\roptimising: {n} evaluations, criterion {best:.6f}")
            sys.stderr.flush()

    return report


class _Ended(Protocol):
    """A fit's end as `lower_of_two` compares them (lmer's and glmer's fits, dataclasses)."""

    @property
    def objective(self) -> float: ...

    @property
    def n_evals(self) -> int: ...


_Fit = TypeVar("_Fit", bound=_Ended)
# a second fit's end is kept where it is lower than the first's by more than this, relative
SECOND_END_TOL = 1e-7
# A fit on a copy of the columns (centred random slopes) starts from lme4's start on the copy, which is
# another covariance than lme4's start on the data's columns; on thin designs the two paths end in
# different local optima (22 rows, glmer's (x | g) + (x | h) with x near 100: ours converged 2.69 above
# lme4's deviance; 29 rows, lmer's (x * z | g): 0.006 above lme4's start's end). Designs of at most
# this many rows also follow lme4's path (`second_fit_budget`); on larger ones a second fit from the
# data's columns, the path the copy avoids, cost up to 184 times the first (20,000 rows)
SECOND_FIT_ROWS = 1000
SECOND_FIT_EVALS = 10  # (times the first fit's evaluations, plus SECOND_FIT_EVALS_MIN)
SECOND_FIT_EVALS_MIN = 500


def second_fit_budget(nobs: int, first_evals: int, maxeval: int) -> int | None:
    """The evaluations a second fit from lme4's path may spend (each of its searches) after a first
    fit of ``first_evals`` on ``nobs`` rows, or None where it does not run (`SECOND_FIT_ROWS`).

    Examples
    --------
    >>> second_fit_budget(22, 631, 100_000), second_fit_budget(20_000, 81, 100_000)
    (6810, None)
    """
    if nobs > SECOND_FIT_ROWS:
        return None
    return max(1, min(maxeval, SECOND_FIT_EVALS * first_evals + SECOND_FIT_EVALS_MIN))


def lower_of_two(first: Callable[[], _Fit], second: Callable[[_Fit], tuple[_Fit, int] | None]) -> _Fit:
    """The fit ``first()``, or the fit ``second`` makes after it (from another start: None where it
    does not run; with the evaluations it spent beyond its fit's own) where that ends lower by more
    than `SECOND_END_TOL` relative, converged or not (a converged end above a point found is no
    optimum). ``n_evals`` counts both; the warnings are the kept fit's (each fit's are recorded, and
    the kept one's issued again); a second fit that fails (an error of the package, or of linear
    algebra) leaves the first.

    Examples
    --------
    >>> @dataclass(frozen=True)
    ... class End:
    ...     objective: float
    ...     n_evals: int
    >>> lower_of_two(lambda: End(10.0, 30), lambda f: (End(9.5, 40), 5))
    End(objective=9.5, n_evals=75)
    >>> lower_of_two(lambda: End(10.0, 30), lambda f: None)
    End(objective=10.0, n_evals=30)
    """
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        fit = first()
    try:
        with warnings.catch_warnings(record=True) as other_said:
            warnings.simplefilter("always")
            made = second(fit)
    except (MixedModelsError, np.linalg.LinAlgError):  # the other start unusable: the first fit stands
        made = None
    if made is not None:
        other, extra = made
        spent = fit.n_evals + other.n_evals + extra
        if other.objective < fit.objective - SECOND_END_TOL * max(1.0, abs(fit.objective)):
            fit, said = other, other_said
        fit = replace(fit, n_evals=spent)  # type: ignore[type-var]
    for w in said:
        warn(str(w.message), w.category)
    return fit
