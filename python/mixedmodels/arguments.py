"""Checks of the arguments of the public entry points (`lmer`, `fit_arrays`, `LmerResult.refit`,
`LmerResult.predict`, simulation and the bootstrap): a wrong type or value is refused with an
`ArgumentError` (a `TypeError` and a `ValueError`) or a `DataError` that names the argument, before
anything reaches the C++ core or an internal function.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from numbers import Integral, Real

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .exceptions import ArgumentError, DataError
from .optimize import METHODS

__all__ = [
    "MAX_EVALUATIONS",
    "UNLABELLED_ROWS",
    "MAX_SIMULATED_VALUES",
    "available_cpus",
    "OPTIMIZER_OPTIONS",
    "check_bool",
    "check_count",
    "check_level",
    "check_optimizer",
    "check_positive_weights",
    "check_response",
    "check_seed",
    "check_simulation_size",
    "check_start",
    "check_threads",
    "group_list",
    "refuse_statsmodels_keywords",
    "table_as_frame",
]

FloatArray = NDArray[np.float64]
MAX_EVALUATIONS = 2**31 - 1  # the optimisers count evaluations in a C int

# The stopping rules each optimiser takes (keywords of `optimize.minimize_theta`).
OPTIMIZER_OPTIONS: dict[str, tuple[str, ...]] = {
    "bobyqa": ("xtol_abs", "ftol_abs"),
    "cobyqa": ("initial_tr_radius", "final_tr_radius"),
    "lbfgsb": ("ftol", "gtol"),
    "newton": (),
}


def _shown(value: object) -> str:
    text = repr(value)
    return (text[:60] + "...") if len(text) > 63 else text


def check_bool(value: object, name: str) -> bool:
    """``value`` as a bool: True or False (numpy's bools too); anything else, such as the string
    ``"False"`` (which Python would take as true) or 0/1, is refused.

    Examples
    --------
    >>> check_bool(np.bool_(False), "reml")
    False
    >>> check_bool("False", "reml")
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: reml must be True or False, got 'False' (str)
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ArgumentError(f"{name} must be True or False, got {_shown(value)} ({type(value).__name__})")


def check_count(value: object, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int of at least ``minimum`` (and at most ``maximum``, if given): an integer,
    or a float with an integral value (``maxeval=1e5``); not a bool.

    Examples
    --------
    >>> check_count(1e5, "maxeval")
    100000
    >>> check_count(0, "nsim")
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: nsim must be an integer of at least 1, got 0
    """
    count: int | None = None
    if isinstance(value, (bool, np.bool_)):
        pass
    elif isinstance(value, Integral):
        count = int(value)
    elif isinstance(value, Real) and math.isfinite(value) and float(value).is_integer():
        count = int(float(value))
    if count is None or count < minimum:
        raise ArgumentError(f"{name} must be an integer of at least {minimum}, got {_shown(value)}")
    if maximum is not None and count > maximum:
        raise ArgumentError(f"{name} must be an integer from {minimum} to {maximum}, got {_shown(value)}")
    return count


def check_nagq(value: object) -> int:
    """glmer's ``nAGQ``: a non-negative integer (0: the first stage only; 1: Laplace; more:
    adaptive Gauss-Hermite quadrature).

    Examples
    --------
    >>> check_nagq(np.int64(9))
    9
    >>> check_nagq(1.5)
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: nAGQ must be a non-negative integer, got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ArgumentError(f"nAGQ must be a non-negative integer, got {value!r}")
    return int(value)


def check_data_name(value: object) -> str | None:
    """The ``data_name`` shown as ``Data:`` in a summary: a string or None.

    Examples
    --------
    >>> check_data_name("hsb")
    'hsb'
    >>> check_data_name(3)
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: data_name must be a string or None, got int
    """
    if value is not None and not isinstance(value, str):
        raise ArgumentError(f"data_name must be a string or None, got {type(value).__name__}")
    return value


def _positive_float(value: object, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not (0 < float(value) < math.inf):
        raise ArgumentError(f"{name} must be a positive finite number, got {_shown(value)}")
    return float(value)


def check_positive_weights(weights: NDArray[np.float64] | None, name: str = "weights") -> None:
    """Raise a `DataError` when prior weights are given and none is positive: such a model has no
    observation to fit (the rows' sums are all zero).

    Parameters
    ----------
    weights : ndarray or None
        The prior weights of the rows used (None: no weights, nothing to check).
    name : str
        The argument named in the message.

    Examples
    --------
    >>> check_positive_weights(np.array([0.0, 2.0]))
    >>> check_positive_weights(np.zeros(3))
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.DataError: weights: no observation has a positive weight (all 3 are 0)
    """
    if weights is None or weights.size == 0:
        return
    if not np.any(weights > 0):
        raise DataError(f"{name}: no observation has a positive weight (all {weights.size} are 0)")


MAX_SIMULATED_VALUES = 2**30  # 8 GiB of doubles


def check_simulation_size(nobs: int, nsim: int) -> None:
    """An `ArgumentError` where ``nsim`` simulated responses of ``nobs`` rows would need more than
    `MAX_SIMULATED_VALUES` values (the frame of them could not be allocated: numpy's MemoryError).

    Examples
    --------
    >>> check_simulation_size(180, 1000)
    >>> check_simulation_size(180, 10**12)
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: nsim=1000000000000 simulations of 180 rows are 180000000000000 values ...
    """
    if nobs * nsim > MAX_SIMULATED_VALUES:
        raise ArgumentError(
            f"nsim={nsim} simulations of {nobs} rows are {nobs * nsim} values ({8 * nobs * nsim / 2**30:.3g} GiB), "
            f"more than the {MAX_SIMULATED_VALUES} this returns at once; simulate in batches of fewer"
        )


def check_level(value: object, name: str = "level") -> float:
    """A confidence level: a number strictly between 0 and 1.

    Examples
    --------
    >>> check_level(0.9)
    0.9
    >>> check_level("0.9")
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: level must be a number between 0 and 1, got '0.9'
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not 0 < float(value) < 1:
        raise ArgumentError(f"{name} must be a number between 0 and 1, got {_shown(value)}")
    return float(value)


MAX_THREADS = 1 << 16  # the core's limit on threads= (far beyond any machine's cores)


def available_cpus() -> int:
    """The CPUs this process may run on: its CPU affinity where the platform tells it (a job
    scheduler's allocation, ``taskset``), else ``os.cpu_count()``; at least 1. The default of
    ``threads`` and of ``n_jobs=-1``: a job given one CPU of a 64-core node runs on one thread.

    Examples
    --------
    >>> 1 <= available_cpus() <= (os.cpu_count() or 1)
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


def check_threads(threads: object) -> int:
    """The threads the core may use: None is the CPUs this process may run on (`available_cpus`),
    else a positive integer (not a bool, not a float).

    Examples
    --------
    >>> check_threads(2)
    2
    >>> check_threads(None) == available_cpus()
    True
    >>> check_threads(0)
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: threads must be a positive integer or None (the machine's cores), got 0
    """
    if threads is None:
        return available_cpus()
    if isinstance(threads, Integral) and not isinstance(threads, (bool, np.bool_)) and 1 <= int(threads) <= MAX_THREADS:
        return int(threads)
    raise ArgumentError(f"threads must be a positive integer or None (the machine's cores), got {_shown(threads)}")


def check_seed(seed: object) -> None:
    """A seed for numpy's ``default_rng``: None, a non-negative integer, a ``numpy.random.Generator``,
    ``SeedSequence`` or ``BitGenerator``.

    Examples
    --------
    >>> check_seed(42)
    >>> check_seed("a")
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: seed must be None, a non-negative integer or a numpy.random.Generator, got 'a'
    """
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence, np.random.BitGenerator)):
        return
    if isinstance(seed, Integral) and not isinstance(seed, (bool, np.bool_)) and int(seed) >= 0:
        return
    raise ArgumentError(f"seed must be None, a non-negative integer or a numpy.random.Generator, got {_shown(seed)}")


def check_optimizer(optimizer: object, options: object) -> tuple[str, dict[str, float]]:
    """The optimiser's name and its options, checked: ``optimizer`` one of ``"auto"``, ``"bobyqa"``,
    ``"cobyqa"``, ``"lbfgsb"``, ``"newton"``; ``options`` None or a mapping from the stopping rules that optimiser takes
    (`OPTIMIZER_OPTIONS`; with ``"auto"`` those of either) to positive finite numbers.

    Examples
    --------
    >>> check_optimizer("bobyqa", {"xtol_abs": 1e-10})
    ('bobyqa', {'xtol_abs': 1e-10})
    >>> check_optimizer("bobyqa", {"final_tr_radius": 1e-8})
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: optimizer_options: unknown key 'final_tr_radius' ... 'xtol_abs', 'ftol_abs'
    """
    choices = ("auto", *METHODS)
    if not isinstance(optimizer, str) or optimizer not in choices:
        listed = ", ".join(map(repr, choices[:-1])) + f" or {choices[-1]!r}"
        raise ArgumentError(f"optimizer must be {listed}; got {_shown(optimizer)}")
    if options is None:
        return optimizer, {}
    if not isinstance(options, Mapping):
        raise ArgumentError(f"optimizer_options must be a dict, got {type(options).__name__}")
    allowed = (
        tuple(k for m in METHODS for k in OPTIMIZER_OPTIONS[m]) if optimizer == "auto" else OPTIMIZER_OPTIONS[optimizer]
    )
    out = {}
    for key, value in options.items():
        if key not in allowed:
            raise ArgumentError(
                f"optimizer_options: unknown key {_shown(key)} for optimizer {optimizer!r}; "
                + (f"it takes {', '.join(map(repr, allowed))}" if allowed else "it takes none")
            )
        out[key] = _positive_float(value, f"optimizer_options[{key!r}]")
    return optimizer, out


def check_start(start: object, names: Sequence[str] | None = None) -> str | FloatArray | None:
    """A starting theta: None, ``"lme4"``, or finite numbers, one per name in ``names`` (the model's
    theta names, when known).

    Examples
    --------
    >>> check_start([1, 0, 1], ("a", "b", "c")).tolist()
    [1.0, 0.0, 1.0]
    >>> check_start([1, float("nan"), 1], ("a", "b", "c"))
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: start must be finite; it is not at b (nan)
    """
    if start is None:
        return None
    if isinstance(start, str):
        if start != "lme4":
            raise ArgumentError(f"start must be None, 'lme4' or a sequence of numbers; got {_shown(start)}")
        return start
    try:
        raw = np.asarray(start)
        if np.iscomplexobj(raw):
            raise ArgumentError("start must be real numbers, not complex ones")
        x = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ArgumentError):
            raise
        raise ArgumentError(f"start must be None, 'lme4' or a sequence of numbers; got {_shown(start)}") from exc
    if x.ndim != 1 or (names is not None and x.shape[0] != len(names)):
        want = f"{len(names)} numbers ({', '.join(names)})" if names is not None else "a one-dimensional sequence"
        raise ArgumentError(f"start must be {want}; got shape {x.shape}")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        where = ", ".join(f"{names[i] if names is not None else i} ({x[i]})" for i in bad[:5])
        raise ArgumentError(f"start must be finite; it is not at {where}")
    return x


def check_response(y: object, index: pd.Index, name: str = "new_y") -> FloatArray:
    """A new response for the rows ``index``: real numbers, one per row, finite, not all equal.

    Examples
    --------
    >>> check_response([1.0, 2.0, 4.0], pd.RangeIndex(3)).tolist()
    [1.0, 2.0, 4.0]
    >>> check_response([1.0, np.nan, 4.0], pd.RangeIndex(3))
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.DataError: new_y: the response has 1 non-finite value, at row 1 (nan)
    """
    arr = np.asarray(y)
    if np.iscomplexobj(arr):
        raise DataError(f"{name}: the response must be real; it has complex values")
    if arr.dtype.kind == "b" or not (arr.dtype.kind in "iuf" or arr.dtype == object):
        raise DataError(f"{name}: the response must be numeric, got dtype {arr.dtype}")
    try:
        v = np.ascontiguousarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: the response must be numeric: {exc}") from exc
    n = len(index)
    if v.shape != (n,):
        raise DataError(f"{name} must have {n} values (one per row of the fit), got shape {v.shape}")
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        rows = ", ".join(f"{index[i]} ({v[i]})" for i in bad[:5]) + (", ..." if bad.size > 5 else "")
        plural = "s" if bad.size > 1 else ""
        raise DataError(f"{name}: the response has {bad.size} non-finite value{plural}, at row{plural} {rows}")
    if n and v.min() == v.max():
        raise DataError(f"{name}: the response is constant ({v[0]}); there is no variation to model")
    return v


def group_list(include_re: object, names: Sequence[str]) -> list[str]:
    """The grouping factors whose random effects a prediction includes: all (True), none (False),
    one (its name) or several (a list of names); an unknown name is a `DataError`. None is refused:
    lme4's ``re.form = NULL`` means all of them, so the None of a translation from R would otherwise
    mean the opposite.

    Examples
    --------
    >>> group_list("Subject", ["Subject"]), group_list(False, ["Subject"])
    (['Subject'], [])
    >>> group_list(None, ["Subject"])
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: include_re=None is ambiguous: write include_re=True ...
    """
    if include_re is None:
        raise ArgumentError(
            "include_re=None is ambiguous: write include_re=True for every random effect (lme4's re.form = NULL) "
            "or include_re=False for none (re.form = NA or ~0)"
        )
    if include_re is True or isinstance(include_re, np.bool_) and bool(include_re):
        return list(names)
    if include_re is False or isinstance(include_re, np.bool_):
        return []
    if isinstance(include_re, str):
        use = [include_re]
    elif isinstance(include_re, Iterable) and not isinstance(include_re, Mapping):
        use = list(include_re)
    else:
        raise ArgumentError(
            f"include_re must be True, False, a grouping factor's name or a list of them; got {_shown(include_re)}"
        )
    unknown = [g for g in use if not isinstance(g, str) or g not in names]
    if unknown:
        raise DataError(f"no grouping factor {unknown}; the model has {list(names)}")
    return use


# the attrs key marking a frame made from a table without row labels (`table_as_frame`)
UNLABELLED_ROWS = "mixedmodels.unlabelled_rows"


def table_as_frame(data: object) -> object:
    """A table given in another form as a pandas DataFrame: a dict of equal-length columns, a
    numpy structured array, a pyarrow Table or a polars DataFrame; anything else as it is (the
    caller decides: paths, chunks and Dask frames are read in batches).

    Examples
    --------
    >>> table_as_frame({"y": [1.0, 2.0], "g": ["a", "b"]}).shape
    (2, 2)
    >>> table_as_frame({"y": [1.0, 2.0], "g": ["a"]})
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.DataError: the columns of data must have one length; they have y: 2, g: 1
    """
    if isinstance(data, pd.DataFrame):
        return data
    frame: object = None
    if isinstance(data, Mapping):
        lengths = {str(k): len(v) if hasattr(v, "__len__") else 1 for k, v in data.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{k}: {n}" for k, n in lengths.items())
            raise DataError(f"the columns of data must have one length; they have {listed}")
        frame = pd.DataFrame(dict(data))
    elif isinstance(data, np.ndarray) and data.dtype.names:
        frame = pd.DataFrame(data)
    elif type(data).__module__.split(".")[0] in ("pyarrow", "polars") and hasattr(data, "to_pandas"):
        frame = data.to_pandas()
    if not isinstance(frame, pd.DataFrame):
        return data
    frame.attrs[UNLABELLED_ROWS] = (
        True  # (its RangeIndex is pandas', not the caller's: `design` reads Series by position)
    )
    return frame


# statsmodels' MixedLM keywords, and what lme4's formula says instead
_STATSMODELS = {"groups", "re_formula", "vc_formula", "exog_re", "exog_vc"}
# lme4's arguments that lmer spells otherwise or takes elsewhere, with what to write instead
_LME4_NAMES = {
    "REML": "write reml= (reml=False for maximum likelihood)",
    "control": "lme4's lmerControl() settings are maxeval=, optimizer= and optimizer_options=",
    "contrasts": "contrasts are chosen in the formula, e.g. C(f, contr.sum) or C(f, contr.helmert)",
    "subset": "subset the data frame before the fit",
    "na_action": "rows with a missing value in a variable of the model are dropped (R's na.omit)",
    "verbose": "write progress=True",
    "family": "a response that is not Gaussian is fitted by glmer(..., family=...)",
}


# glmer's own answers where they differ from lmer's
_LME4_GLMER_NAMES = {
    "REML": "glmer maximises the likelihood (Laplace's approximation, or quadrature with nAGQ=); REML does not apply",
    "control": "lme4's glmerControl() settings are maxeval=, nAGQ= and fast=",
}


def refuse_statsmodels_keywords(keywords: Mapping[str, object], function: str = "lmer") -> None:
    """Unknown keywords are a TypeError; statsmodels' ``groups=``/``re_formula=``/``vc_formula=``
    get the lme4 term that says the same, and lme4's ``REML=``, ``control=``, ``contrasts=``, ...
    an `ArgumentError` saying what to write instead.

    Examples
    --------
    >>> refuse_statsmodels_keywords({"REML": False})
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: lmer() takes no argument REML=: write reml= (reml=False for ...)
    >>> refuse_statsmodels_keywords({"groups": "school", "re_formula": "~ses"})
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.ArgumentError: lmer takes its random effects in the formula, ...: write (1 + ses | school)...
    """
    if not keywords:
        return
    names = _LME4_NAMES | (_LME4_GLMER_NAMES if function == "glmer" else {})
    for k in sorted(keywords):
        if k in names:
            raise ArgumentError(f"{function}() takes no argument {k}=: {names[k]}")
    known = sorted(k for k in keywords if k in _STATSMODELS)
    if not known:
        raise TypeError(f"{function}() got an unexpected keyword argument {sorted(keywords)[0]!r}")
    group = keywords.get("groups")
    name = group if isinstance(group, str) else "g"
    re_formula = keywords.get("re_formula")
    lhs = "1"
    if isinstance(re_formula, str):
        rhs = re_formula.split("~", 1)[-1].strip()
        lhs = rhs if rhs.startswith(("0", "-1", "1")) else f"1 + {rhs}"
    term = f"({lhs} | {name})"
    extra = ""
    if "vc_formula" in keywords:
        extra = "; variance components of nested groups are terms such as (1 | school/class)"
    raise ArgumentError(
        f"{function} takes its random effects in the formula, not as {'/'.join(k + '=' for k in known)}: "
        f"write {term} in the formula{extra}"
    )
