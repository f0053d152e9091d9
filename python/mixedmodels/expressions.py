"""The code inside a formula, vetted before anything evaluates it, and the R functions it may call.

A formula's factors (``ses``, ``log(x)``, ``I(x^2)``, ``factor(g)``) are code: formulaic evaluates
them with Python's ``eval``. Before anything evaluates a formula, `translate` reads every piece of
it with R's lexical rules (names with dots, backticks, ``^`` as power inside a call, ``TRUE`` and
``FALSE``), parses each call with Python's `ast` and checks it against a whitelist: column names,
the functions of `FUNCTIONS`, numeric, string and logical literals, arithmetic, unary and comparison
operators and the listed keyword arguments of those functions. Attribute access, subscripts,
lambdas, comprehensions, ``:=``, f-strings, starred arguments, names with double underscores and
every function not in the table are refused with a `FormulaError` that names the offending text
and its position in the formula. What passes is translated into the text formulaic reads, and
`model_matrix` evaluates it in a namespace holding only the table (each of Python's builtins is
shadowed by a name that refuses to be used), on columns whose integers and booleans are
converted to float64 where arithmetic sees them (R computes in double).

``trusted=True`` skips all of this: the formula is handed to formulaic as written and may run
arbitrary Python code.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import contextvars
import functools
import keyword
import math
import operator
import re
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import formulaic
import numpy as np
import pandas as pd
from formulaic.transforms import C as _formulaic_C  # noqa: N811 (formulaic's name)
from formulaic.transforms import center as _formulaic_center
from formulaic.transforms import poly as _formulaic_poly
from formulaic.transforms import scale as _formulaic_scale
from formulaic.transforms.contrasts import Contrasts, ContrastsRegistry, PolyContrasts
from formulaic.utils import code as _formulaic_code
from formulaic.utils.stateful_transforms import stateful_transform
from formulaic.utils.variables import Variable
from numpy.typing import NDArray

from .exceptions import DataError, FormulaError, MixedModelsWarning, warn
from .names import COMPARE_CALLS, LOGIC_CALLS, LOGICAL_CALL, NUMBER_CALL, level_label
from .splines import bs_basis, interior_count, ns_basis, spline_knots

__all__ = [
    "FUNCTIONS",
    "INTERNAL_CALLS",
    "LOGICAL_CALL",
    "LOGICAL_LEVELS",
    "NUMBER_CALL",
    "Translation",
    "SafeSpec",
    "all_rows",
    "decided_rows",
    "call_end",
    "called_functions",
    "expression_names",
    "column_name",
    "is_logical",
    "logical_factor",
    "located_error",
    "ordered_levels",
    "r_order",
    "variable_rank",
    "model_matrix",
    "r_matrix",
    "translate",
    "unquoted",
]


def located_error(text: str, pos: int, message: str) -> FormulaError:
    """A `FormulaError` naming a position of the formula with a caret under it.

    Examples
    --------
    >>> print(located_error("y ~ f(x)", 4, "unknown function 'f'"))
    unknown function 'f' at position 4 of the formula:
      y ~ f(x)
          ^
    """
    caret = " " * pos + "^"
    return FormulaError(f"{message} at position {pos} of the formula:\n  {text}\n  {caret}")


# --------------------------------------------------------------------------- the function table


def _double(x: Any) -> Any:
    """x in double precision (R's arithmetic), keeping a pandas Series a Series; a logical with
    missing values (a comparison's, `_comparison`) as 0/1 and NaN."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None and not isinstance(dtype, np.dtype) and pd.api.types.is_bool_dtype(dtype):
        return _as_number(x)
    if isinstance(x, pd.Series):
        return x.astype(np.float64)
    return np.asarray(x, dtype=np.float64)


def _numeric(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(x: Any) -> Any:
        return fn(_double(x))

    apply.__name__ = getattr(fn, "__name__", "function")
    return apply


def _log(x: Any, base: float = np.e) -> Any:
    """R's ``log(x, base)``: the natural logarithm, or the logarithm to ``base``."""
    out = np.log(_double(x))
    return out if base == np.e else out / np.log(base)


def _levels(x: Any) -> tuple[list[str | None], list[str]]:
    """Each value's label and the levels in R's ``factor()`` order (a Categorical's own order)."""
    if isinstance(x, pd.Series):
        x = x.array
    if isinstance(x, pd.Categorical):
        used = set(np.unique(x.codes[x.codes >= 0]).tolist())
        cats = [level_label(c) for i, c in enumerate(x.categories) if i in used]
        labels = [level_label(v) if not pd.isna(v) else None for v in np.asarray(x, dtype=object)]
        return labels, cats
    values = np.asarray(x)
    missing = pd.isna(values)
    present = values[~missing]
    try:
        uniq = np.unique(present)
    except TypeError:  # mixed types: R would compare their labels
        uniq = np.unique(present.astype(str))
    cats = list(dict.fromkeys(level_label(v.item() if hasattr(v, "item") else v) for v in uniq))
    labels = [
        None if m else level_label(v.item() if hasattr(v, "item") else v) for v, m in zip(values, missing, strict=True)
    ]
    return labels, cats


def _factor(x: Any) -> Any:
    """R's ``factor(x)``: a categorical variable, levels sorted (a categorical keeps its order); of an
    ordered categorical, R's ordered factor (`_ordered`), as R's ``factor()`` keeps it ordered."""
    if getattr(getattr(x, "dtype", None), "ordered", False):
        return _ordered(x)
    labels, cats = _levels(x)
    return pd.Categorical(labels, categories=cats)


# where `_with_ordered` puts an ordered factor for `_q` (names that Q() reads: not Python's, or a function's)
_ORDERED_KEY = "\x00ordered:"


def _q_column(variable: str, _context: Any = None) -> Any:
    """formulaic's ``Q("name")``: the data's column of that name, or the ordered factor
    `_with_ordered` made of it."""
    data = _context.data
    if variable in data:
        return data[variable]
    return _context[_ORDERED_KEY + variable]


_q = stateful_transform(
    _q_column, get_required_variables=lambda variable, *args, **kwargs: (Variable(variable, roles={"value"}),)
)


def _ordered(x: Any) -> Any:
    """R's ``ordered(x)``: a categorical variable with orthogonal polynomial contrasts."""
    labels, cats = _levels(x)
    return _formulaic_C(pd.Categorical(labels, categories=cats, ordered=True), PolyContrasts())


def _poly_columns(x: Any, degree: int = 1, raw: bool = False, _state: dict[str, Any] | None = None) -> Any:
    """R's ``poly(x, degree)`` (orthogonal, the same basis and signs as R's) or ``raw = TRUE``;
    columns named 1..degree as R names them."""
    state = {} if _state is None else _state
    values = _double(x)
    if "alpha" not in state and not raw:  # a fit (new data replays the fit's basis)
        finite = _finite(values)
        unique = len(np.unique(finite))
        if not 1 <= int(degree) < unique:
            raise FormulaError(f"poly(): the degree must be at least 1 and less than the {unique} unique points")
        if len(finite) < len(values):  # the basis of the values there are (missing ones give NaN rows)
            _formulaic_poly(finite, degree, raw=raw, _state=state)
    if raw and not 1 <= int(degree) <= 50:
        raise FormulaError("poly(): the degree of a raw polynomial must be between 1 and 50")
    return _matrix_columns(_formulaic_poly(values, degree, raw=raw, _state=state), x)


_poly = stateful_transform(_poly_columns)


def _scale(x: Any, center: bool = True, scale: bool = True, _state: dict[str, Any] | None = None) -> Any:
    """R's ``scale(x)``: centred and divided by the standard deviation (n - 1); ``scale = FALSE``
    only centres, ``center = FALSE`` divides by the root mean square (n - 1), as R does."""
    if np.ndim(center) or np.ndim(scale):  # (R: "length of 'center' must equal the number of columns of 'x'")
        raise DataError("scale()'s center and scale must each be TRUE, FALSE or one number, not a column")
    state = {} if _state is None else _state
    values = _double(x)
    if not state:  # a fit: R's centre and scale of the values there are (na.rm = TRUE)
        _formulaic_scale(_finite(values), center=center, scale=scale, _state=state)
    return _formulaic_scale(values, center=center, scale=scale, _state=state)


def _center(x: Any, _state: dict[str, Any] | None = None) -> Any:
    """``center(x)``: x minus its mean (the mean of the fit's data, also on new data)."""
    state = {} if _state is None else _state
    values = _double(x)
    if not state:  # a fit: the mean of the values there are
        _formulaic_center(_finite(values), _state=state)
    return _formulaic_center(values, _state=state)


def _finite(values: Any) -> NDArray[np.float64]:
    """The finite values (as a numpy array)."""
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v)]


def _spline_columns(
    kind: str,
    x: Any,
    df: Any = None,
    knots: Any = None,
    degree: Any = 3,
    intercept: Any = False,
    state: dict[str, Any] | None = None,
) -> Any:
    """R's ``bs()`` (``kind = "bs"``) or ``ns()``: columns named 1..k as R names them. The knots are
    placed on the rows of the fit (the interior ones at quantiles, the boundary ones at the range)
    and kept in ``state``, which new data replays (R's ``makepredictcall``)."""
    state = {} if state is None else state
    values = np.asarray(_double(x), dtype=np.float64)
    degree = 3 if kind == "ns" else degree
    if isinstance(degree, bool) or not float(degree).is_integer() or int(degree) < 1:
        raise FormulaError(f"{kind}(): the degree must be a whole number of at least 1, got {degree!r}")
    if "boundary" not in state:  # a fit: the knots from these rows
        if knots is None:
            if df is not None and (isinstance(df, bool) or not float(df).is_integer()):
                raise FormulaError(f"{kind}(): df must be a whole number, got {df!r}")
            fewest = int(degree) + int(bool(intercept)) if kind == "bs" else 1 + int(bool(intercept))
            if df is not None and int(df) < fewest:
                warn(f"{kind}(): df = {df} is too small; {fewest} used (as R does)", MixedModelsWarning)
            inner, boundary = spline_knots(values, interior_count(kind, df, int(degree), bool(intercept)))
        else:
            _, boundary = spline_knots(values, 0)
            inner = sorted(float(k) for k in np.atleast_1d(np.asarray(knots, dtype=np.float64)))
        if boundary[0] == boundary[1]:
            raise FormulaError(f"{kind}(): the variable has a single value, so its spline has no basis")
        state["knots"], state["boundary"] = list(inner), list(boundary)
    inner, boundary = state["knots"], (state["boundary"][0], state["boundary"][1])
    if kind == "bs":
        basis = bs_basis(values, inner, boundary, int(degree), bool(intercept))
    else:
        basis = ns_basis(values, inner, boundary, bool(intercept))
    return _matrix_columns(basis, x)


def _matrix_columns(values: Any, x: Any) -> Any:
    """A matrix-valued term's columns as R names them in a model matrix: ``f(x)1``, ``f(x)2``, ...,
    or ``f(x)`` alone for a single column (x's index kept)."""
    values = np.asarray(values, dtype=np.float64)
    index = x.index if isinstance(x, pd.Series) else None
    if values.shape[1] == 1:
        return pd.Series(values[:, 0], index=index)
    return pd.DataFrame(values, index=index, columns=[str(j) for j in range(1, values.shape[1] + 1)])


def _bs(x: Any, df: Any = None, knots: Any = None, degree: Any = 3, intercept: Any = False, _state: Any = None) -> Any:
    """R's ``splines::bs``: the B-spline basis of x (cubic unless ``degree``), knots at quantiles."""
    return _spline_columns("bs", x, df, knots, degree, intercept, _state)


def _ns(x: Any, df: Any = None, knots: Any = None, intercept: Any = False, _state: Any = None) -> Any:
    """R's ``splines::ns``: the natural cubic spline basis of x, knots at quantiles."""
    return _spline_columns("ns", x, df, knots, 3, intercept, _state)


def _vector(*values: Any) -> Any:
    """R's ``c(...)`` of numbers (the knots of a spline)."""
    return np.array([float(v) for v in values], dtype=np.float64)


def _identity(x: Any) -> Any:
    """R's ``I(x)``: x as computed."""
    return x


def _logical_term(x: Any) -> Any:
    """A comparison used as a term (`LOGICAL_CALL`: ``(x > 0)``, ``I(x > 0)`` as a whole term): R's
    logical factor (`logical_factor`: the column ``x > 0TRUE``), both levels kept as R keeps them (one
    that is always true is a column of ones, aliased with the intercept and dropped, as lme4 drops
    it); anything else as computed."""
    return logical_factor(x, all_levels=True) if np.ndim(x) >= 1 and is_logical(x) else x


def _as_number(x: Any) -> Any:
    """Values as numbers (`NUMBER_CALL`: a response, an offset, a comparison that arithmetic or a
    function of numbers reads): logical ones (``y > 0``, a factor of `logical_factor`) as 0/1 with
    their missing values NaN (a comparison's where an operand is missing, `_comparison`), as R's
    arithmetic reads a logical; anything else as computed."""
    values = x.array if isinstance(x, pd.Series) else x
    if (codes := _logical_factor_values(values)) is not None:
        return codes
    if np.ndim(x) >= 1 and is_logical(x):  # a comparison that arithmetic reads: R's 0/1 (numpy's bool + bool is "or")
        if isinstance(values, np.ndarray) and values.dtype == bool:
            out = values.astype(np.float64)
        else:
            flags: Any = pd.array(cast(Any, values), dtype="boolean")
            out = np.asarray(flags.to_numpy(dtype=np.float64, na_value=np.nan))
        return pd.Series(out, index=x.index) if isinstance(x, pd.Series) else out
    return x


def _logical_factor_values(values: Any) -> NDArray[np.float64] | None:
    """R's factor of a logical (`logical_factor`: levels FALSE and TRUE) as 0/1 with its missing
    values NaN, or None for anything else."""
    if not (isinstance(values, pd.Categorical) and set(map(str, values.categories)) <= set(LOGICAL_LEVELS)):
        return None
    labels = np.asarray(values, dtype=object)
    return np.where(pd.isna(labels), np.nan, (labels == "TRUE").astype(np.float64))


def _missing(v: Any) -> Any:
    """Where v is missing (NaN, None, NA; for a scalar, one flag)."""
    if np.ndim(v) == 0:
        return bool(pd.isna(v))
    return np.asarray(pd.isna(v), dtype=bool)


_ALL_ROWS: contextvars.ContextVar[tuple[list[NDArray[np.bool_]] | None] | None] = contextvars.ContextVar(
    "all_rows", default=None
)


@contextlib.contextmanager
def all_rows(missing: list[NDArray[np.bool_]] | None = None) -> Iterator[None]:
    """Within the with-block the formula is evaluated on every row, those with missing values too.
    For a stateful transform's state (`design.transform_state`) a comparison is then missing where
    an operand is, as in R's model frame; with ``missing`` (new data, `SafeSpec.get_model_matrix`)
    it is FALSE there, its rows are appended to ``missing``, and the caller makes them missing in
    the model matrix (a factor's encoding refuses a missing level). Outside the block the rows have
    every column the formula reads, and a comparison that meets a missing value (a NaN made by the
    formula, log of a negative number) is an error (`_comparison`)."""
    token = _ALL_ROWS.set((missing,))
    try:
        yield
    finally:
        _ALL_ROWS.reset(token)


@dataclass
class DecidedRows:
    """Where the results of R's ``&``, ``|`` and ``!`` (`_logic`) are missing within `decided_rows`,
    per call whose result no other such call reads (a term's outermost operator: an inner one's
    missing value may be decided by the outer one, NA & FALSE is FALSE)."""

    open: dict[int, tuple[Any, NDArray[np.bool_]]] = field(default_factory=dict)

    def read(self, operand: Any) -> None:
        """An outer call reads ``operand``: if an inner call's result, it is no longer outermost."""
        entry = self.open.get(id(operand))
        if entry is not None and entry[0] is operand:
            del self.open[id(operand)]

    def missing_results(self, n: int) -> NDArray[np.bool_]:
        """Rows where some outermost call's result is missing (R's model frame drops them)."""
        undefined = np.zeros(n, dtype=bool)
        for _, u in self.open.values():
            if u.shape == (n,):
                undefined |= u
        return undefined


_DECIDED: contextvars.ContextVar[DecidedRows | None] = contextvars.ContextVar("decided", default=None)


@contextlib.contextmanager
def decided_rows() -> Iterator[DecidedRows]:
    """Within the with-block R's ``&``, ``|`` and ``!`` (`_logic`) note where their results are
    missing (`DecidedRows`): a row with a variable missing that every term's outermost operator
    decides is one R's model frame keeps (`design.materialise` refuses it)."""
    found = DecidedRows()
    token = _DECIDED.set(found)
    try:
        yield found
    finally:
        _DECIDED.reset(token)


def _comparison(call: str) -> Callable[[Any, Any], Any]:
    """The comparison of a call of `COMPARE_CALLS` (``_gt``: ``operator.gt``) as R makes it: missing
    where an operand is missing or NaN (R's NA > 0 and NaN > 0 are NA; pandas and numpy compare them
    as False), as a pandas ``boolean`` array; the plain comparison where no operand is missing. On
    rows whose columns all have values (outside `all_rows`) a missing operand is a NaN the formula
    made, whose row R drops: a `DataError` (a factor of it had been coded as its first level, a
    number as FALSE)."""

    op: Callable[[Any, Any], Any] = getattr(operator, call.removeprefix("_"))

    def compare(a: Any, b: Any) -> Any:
        out = op(a, b)
        missing = _missing(a) | _missing(b)
        if not np.any(missing) or np.ndim(out) == 0:
            return out
        mode = _ALL_ROWS.get()
        if mode is None:
            raise DataError(
                f"a comparison ({COMPARE_CALLS[call]}) meets {int(np.sum(missing))} missing values that the "
                "formula made in rows whose columns have values (a NaN: log or sqrt of a negative number, 0/0); "
                "R reads each as NA and drops its row: drop those rows from the data first"
            )
        seen = mode[0]
        if seen is not None:  # new data: FALSE, its rows made missing in the model matrix by the caller
            seen.append(np.broadcast_to(missing, np.shape(out)))
            return out
        flags: Any = pd.array(np.asarray(out, dtype=object), dtype="boolean")
        flags[np.broadcast_to(missing, flags.shape)] = pd.NA
        return pd.Series(flags, index=out.index) if isinstance(out, pd.Series) else flags

    compare.__name__ = op.__name__
    return compare


def _flags(v: Any, op: str) -> Any:
    """An operand of R's logical operator ``op`` as a pandas ``boolean`` array: a logical as it is, a
    number TRUE where it is not 0 (as R reads it), missing where it is missing or NaN; a scalar as it
    is. Anything else (text, a factor) is refused, as R refuses it."""
    if np.ndim(v) == 0:
        if isinstance(v, (bool, np.bool_)) or v is pd.NA:
            return v
        if isinstance(v, (int, float, np.number)):
            return pd.NA if math.isnan(v) else bool(v != 0)
        raise DataError(f"R's {op} reads logicals and numbers; it was given {v!r}")
    values = v.array if isinstance(v, pd.Series) else v
    if is_logical(v):
        return pd.array(np.asarray(values, dtype=object), dtype="boolean")
    if (codes := _logical_factor_values(values)) is not None:  # a logical column as the frame holds it
        return _flags(codes, op)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        out: Any = pd.array(values != 0, dtype="boolean")
        out[np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, dtype=bool)] = pd.NA
        return out
    if isinstance(getattr(values, "dtype", None), pd.api.extensions.ExtensionDtype) and pd.api.types.is_numeric_dtype(
        values.dtype
    ):
        numbers: Any = pd.array(cast(Any, values))
        floats: NDArray[np.float64] = np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
        return _flags(floats, op)
    raise DataError(f"R's {op} reads logicals and numbers, not text or a factor")


def _logic(call: str) -> Callable[..., Any]:
    """R's logical operator of a call of `LOGIC_CALLS` (``_and(a, b, ...)``: ``a & b & ...``,
    ``_or``, ``_not(a)``: ``!a``) with R's missing values: NA & FALSE is FALSE, NA | TRUE is TRUE,
    otherwise missing where an operand is (pandas' ``boolean`` logic is R's). Where nothing is missing
    the result is plain booleans; where something is, as a comparison's (`_comparison`): outside
    `all_rows` a `DataError` (a NaN the formula made, whose row R drops), for new data FALSE with its
    rows noted, for a transform's state missing."""
    op = LOGIC_CALLS[call]

    def combine(*args: Any) -> Any:
        index = next((a.index for a in args if isinstance(a, pd.Series)), None)
        flags = [_flags(a, op) for a in args]
        out: Any
        if call == "_not":
            out = ~flags[0] if np.ndim(flags[0]) else (pd.NA if flags[0] is pd.NA else not flags[0])
        else:
            out = flags[0]
            for f in flags[1:]:
                out = (out & f) if call == "_and" else (out | f)
        if np.ndim(out) == 0:
            return out
        missing = np.asarray(pd.isna(out), dtype=bool)
        if (noted := _DECIDED.get()) is not None:
            for a in args:
                noted.read(a)
            result = pd.Series(out, index=index) if index is not None else out
            noted.open[id(result)] = (result, missing)
            return result
        if not missing.any():
            plain = np.asarray(out, dtype=bool)
            return pd.Series(plain, index=index) if index is not None else plain
        mode = _ALL_ROWS.get()
        if mode is None:
            raise DataError(
                f"a logical operator ({op}) meets {int(missing.sum())} missing values that the formula made in rows "
                "whose columns have values (a NaN: log or sqrt of a negative number, 0/0); R reads each as NA and "
                "drops its row: drop those rows from the data first"
            )
        if mode[0] is not None:  # new data: FALSE, its rows made missing in the model matrix by the caller
            mode[0].append(missing)
            plain = np.asarray(out.fillna(False), dtype=bool)
            return pd.Series(plain, index=index) if index is not None else plain
        return pd.Series(out, index=index) if index is not None else out

    combine.__name__ = call
    return combine


def _cbind(*args: Any) -> Any:
    """R's ``cbind(successes, failures)``: only a glmer response, never a column of the model."""
    raise FormulaError("cbind(successes, failures) can only be the response of a binomial glmer model")


def _contrasted(data: Any, contrasts: Any = None, **kwargs: Any) -> Any:
    """``C(f, contrasts)``: formulaic's, its contrasts vetted first (a number or an unknown name had
    been formulaic's "tuple index out of range")."""
    known = isinstance(contrasts, (Contrasts, dict, np.ndarray)) or (
        isinstance(contrasts, type) and issubclass(contrasts, Contrasts)
    )
    if contrasts is not None and not known:
        raise FormulaError(f"C()'s second argument must be contrasts ({', '.join(_CONTRASTS)}); got {contrasts!r}")
    return _formulaic_C(data, contrasts, **kwargs)


_CONTRASTS = {
    "contr.treatment": ContrastsRegistry.treatment,
    "contr.sum": ContrastsRegistry.sum,
    "contr.helmert": ContrastsRegistry.helmert,
    "contr.poly": ContrastsRegistry.poly,
    "contr.SAS": ContrastsRegistry.treatment,
}


@dataclass(frozen=True)
class Function:
    """One function a formula may call.

    Attributes
    ----------
    impl : callable
        What the call runs.
    nargs : int
        The most positional arguments it takes.
    keywords : tuple of str
        The keyword arguments it takes.
    categorical : bool
        Its first argument is a variable made categorical (not converted to double).
    doc : str
        What it computes, for the README's table and for error messages.
    argument_only : bool
        It only gives another function's argument (``c(2, 5)`` for ``knots =``), from numbers.
    matrix : bool
        R's function returns a matrix (``poly``, ``ns``, ``bs``, ``scale``): R's model frame then holds
        a matrix column, which lmerTest does not count with the numeric variables (`r_matrix`).
    """

    impl: Callable[..., Any]
    nargs: int = 1
    keywords: tuple[str, ...] = ()
    categorical: bool = False
    doc: str = ""
    argument_only: bool = False
    matrix: bool = False


_NUMPY = {
    "sqrt": np.sqrt,
    "abs": np.abs,
    "exp": np.exp,
    "log10": np.log10,
    "log2": np.log2,
    "log1p": np.log1p,
    "expm1": np.expm1,
}

#: The functions a formula may call, by the name the formula uses.
FUNCTIONS: Mapping[str, Function] = {
    "I": Function(_identity, doc="the expression as computed (``^`` is power)"),
    "factor": Function(_factor, categorical=True, doc="categorical, levels sorted"),
    "as.factor": Function(_factor, categorical=True, doc="as ``factor``"),
    "ordered": Function(_ordered, categorical=True, doc="categorical with polynomial contrasts"),
    "C": Function(_contrasted, 2, ("contrasts",), categorical=True, doc="formulaic's contrasts"),
    "Q": Function(_q, categorical=True, doc="a column by its name as a string"),
    "log": Function(_log, 2, ("base",), doc="natural logarithm, or to ``base``"),
    **{name: Function(_numeric(fn), doc=f"numpy's {name}") for name, fn in _NUMPY.items()},
    **{f"np.{name}": Function(_numeric(fn), doc=f"numpy's {name}") for name, fn in _NUMPY.items()},
    "np.log": Function(_numeric(np.log), doc="natural logarithm"),
    "np.square": Function(_numeric(np.square), doc="x squared"),
    "scale": Function(
        stateful_transform(_scale),
        3,
        ("center", "scale"),
        doc="centred, divided by the sd (R's ``scale``)",
        matrix=True,
    ),
    "center": Function(stateful_transform(_center), doc="centred on the mean"),
    "poly": Function(
        _poly, 3, ("degree", "raw"), doc="R's orthogonal polynomials; ``raw = TRUE`` for powers", matrix=True
    ),
    "offset": Function(
        _numeric(_identity), doc="a term added to the linear predictor with coefficient 1 (not a fixed effect)"
    ),
    "cbind": Function(_cbind, 2, doc="binomial counts ``cbind(successes, failures)``, as a glmer response"),
    "bs": Function(
        stateful_transform(_bs),
        5,
        ("df", "knots", "degree", "intercept"),
        doc="R's B-splines (``splines::bs``), knots at quantiles",
        matrix=True,
    ),
    "ns": Function(
        stateful_transform(_ns),
        4,
        ("df", "knots", "intercept"),
        doc="R's natural splines (``splines::ns``)",
        matrix=True,
    ),
    "c": Function(_vector, 64, doc="numbers, e.g. ``knots = c(2, 5)``", argument_only=True),
}

_CALLED = re.compile(r"(?<![\w.`])([A-Za-z_.][\w.]*)\s*\(")  # a function's name and its "("


def r_matrix(variable: str) -> bool:
    """Whether a variable of a term (formulaic's text of it) is a call of a function that R answers
    with a matrix (`Function.matrix`: ``poly(x, 2)``, ``scale(x)``, ``ns(x, 3)``, ``bs(x)``).

    Examples
    --------
    >>> r_matrix("poly(x, 2)"), r_matrix("scale(x)"), r_matrix("log(x)"), r_matrix("x")
    (True, True, False, False)
    """
    m = _CALLED.match(variable)
    return m is not None and (fn := FUNCTIONS.get(m.group(1))) is not None and fn.matrix


def called_functions(text: str) -> frozenset[str]:
    """The functions of the table that a formula's text calls (``log`` in ``log(x + 1)``).

    Examples
    --------
    >>> sorted(called_functions("y ~ log(x + 1) + bs(z, knots = c(2, 5)) + (1 | g)"))
    ['bs', 'c', 'log']
    """
    return frozenset(m.group(1) for m in _CALLED.finditer(text) if m.group(1) in FUNCTIONS)


#: Values a formula may name besides its columns (the contrasts ``C()`` takes).
VALUES: Mapping[str, Any] = _CONTRASTS

#: R functions that a formula may not use yet, and why.
_UNSUPPORTED = {
    "strata": "strata() is not supported",
}

_NAMESPACES = ("np", "contr")


class _Refused:
    """Stands in for a Python builtin in the evaluation namespace: any use is an error."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise FormulaError(f"{self.name!r} is not available in a formula")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # protocol look-ups (copy, pickle) find nothing
            raise AttributeError(attr)
        raise FormulaError(f"{self.name!r} is not available in a formula")

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_Refused, (self.name,))


def _namespace(prefix: str, table: Mapping[str, Any]) -> SimpleNamespace:
    return SimpleNamespace(**{k.split(".", 1)[1]: v for k, v in table.items() if k.startswith(prefix + ".")})


@functools.cache
def _context(trusted: bool) -> dict[str, Any]:
    """The names formulaic may resolve besides the data's columns."""
    table: dict[str, Any] = {name: f.impl for name, f in FUNCTIONS.items()}
    table.update({name: f.impl for name, f in _INTERNAL.items()})
    table.update(VALUES)
    table.update({alias: FUNCTIONS[name].impl for name, alias in _ALIASES.items()})
    table["np"] = _namespace("np", {name: f.impl for name, f in FUNCTIONS.items()})
    table["contr"] = _namespace("contr", VALUES)
    if trusted:
        return table
    refused: dict[str, Any] = {name: _Refused(name) for name in dir(builtins)}
    refused.update({name: _Refused(name) for name in formulaic.transforms.TRANSFORMS})
    refused.update(table)
    refused["__builtins__"] = {}  # a name lookup finds this layer before Python's builtins
    return refused


# --------------------------------------------------------------------------- reading R's code

_NAME_START = re.compile(r"[^\W\d]|\.")
_NAME = re.compile(r"(?:[^\W\d]|\.)[\w.]*")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?")


@dataclass(frozen=True)
class Translation:
    """A piece of a formula read and vetted.

    Attributes
    ----------
    text : str
        The piece as formulaic reads it (R's ``^`` inside a call as ``**``, ``TRUE`` as ``True``,
        names that are not Python identifiers in backticks).
    variables : frozenset of str
        The data columns it names (inside calls too).
    numeric : frozenset of str
        Those of them that arithmetic or a numeric function sees (converted to double).
    data_dependent : frozenset of str
        The functions it calls whose result depends on all the rows (``scale``, ``center``,
        orthogonal ``poly``): a chunk of the rows would give other columns.
    """

    text: str
    variables: frozenset[str]
    numeric: frozenset[str]
    data_dependent: frozenset[str] = frozenset()


_MANY = 1 << 20  # (a & b & c: one call of all the operands)
#: Python names formulaic is given for the dotted function names (its parser reads no other).
_ALIASES = {"as.factor": "as_factor"}
#: The calls the translation writes (`names.LOGICAL_CALL`, `names.NUMBER_CALL`; evaluation vets the
#: translated text again): as harmless as ``I()``.
_INTERNAL: Mapping[str, Function] = {
    NUMBER_CALL: Function(_as_number, doc="a response, an offset or a comparison read as a number"),
    LOGICAL_CALL: Function(_logical_term, doc="a comparison used as a term: R's logical factor"),
    **{
        name: Function(_comparison(name), 2, doc=f"the comparison {op}, missing where an operand is")
        for name, op in COMPARE_CALLS.items()
    },
    **{
        name: Function(_logic(name), 1 if name == "_not" else _MANY, doc=f"R's {op}, with its missing values")
        for name, op in LOGIC_CALLS.items()
    },
}
#: Their names, which no column of the formula may have.
INTERNAL_CALLS = frozenset(_INTERNAL)
_ALIASED = {alias: name for name, alias in _ALIASES.items()}


def _sanitized_name(
    name: str, env: MutableMapping[str, Any], *, reserved_names: Container[str], template: str = "{}"
) -> str:
    """formulaic's ``sanitize_variable_name`` (a Python name for a backticked one) with an alias that
    depends on the expression alone: ``x.a`` as ``x_a__0``, the same name met again in one
    expression keeping its alias, another with the same letters, or a name the data has, counting
    on. formulaic's own avoids the names in the data with a random suffix from NumPy's global
    stream, so ``scale(x.a * x.a)`` had a new key for its state at every evaluation (the state
    learnt in the fit was never found again: streamed fits and predictions learnt their own) and a
    fit moved the user's random stream; and an alias without the double underscore changed with the
    data (a column ``x_a`` in new data but not among the fit's). A formula cannot name a column with
    a double underscore (`_Code`), and new data's such columns are left out (`SafeSpec`), so the
    alias is the same in every evaluation of a formula. Installed in place of formulaic's
    (`formulaic.utils.code`) on import: a user's own formulaic calls get these aliases too (values
    unchanged, no name in the data taken).

    Examples
    --------
    >>> env, aliases = {"x.a": 1}, {}
    >>> aliases[_sanitized_name("x.a", env, reserved_names=aliases)] = "x.a"
    >>> _sanitized_name("x.a", env, reserved_names=aliases), _sanitized_name("x a", env, reserved_names=aliases)
    ('x_a__0', 'x_a__1')
    >>> _sanitized_name("x.a", {"x.a": 1, "x_a__0": 2}, reserved_names={})  # a name the data has
    'x_a__1'
    """
    if name.isidentifier() or keyword.iskeyword(name):
        return name
    base = "".join(c if re.match(r"\w", c) else "_" for c in name)
    if base[0].isdigit():
        base = "_" + base
    k = 0
    new = template.format(f"{base}__{k}")
    while new in reserved_names or new in env:
        if isinstance(reserved_names, Mapping) and reserved_names.get(new) == name:
            break  # the same name again: its alias (and its value, already in env)
        k += 1
        new = template.format(f"{base}__{k}")
    if name in env:
        env[new] = env[name]  # (in formulaic's local layer of the data)
    return new


if callable(getattr(_formulaic_code, "sanitize_variable_name", None)):
    _formulaic_code.sanitize_variable_name = _sanitized_name


def _formulaic_name(name: str) -> str:
    """How formulaic is told a name: as is when Python can read it, else in backticks."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    if name.split(".", 1)[0] in _NAMESPACES and (name in FUNCTIONS or name in VALUES):
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    return f"`{name}`"


def _column(name: str) -> str:
    """How formulaic is told a column that is a whole factor of a term: by name when Python can
    read it, else ``Q('name')``, whose column name formulaic keeps whole (``my f[T.b]`` could not be
    split back; R prints `` `my f`b ``), and so is ``Intercept`` (formulaic's intercept column has
    that name and would replace it), and so is a name the evaluation namespace holds (a function
    such as ``C`` or ``log``, a builtin such as ``min``): ``Q`` reads the data."""
    if (
        name.isidentifier() and not keyword.iskeyword(name) and name != "Intercept" and name not in _context(False)
    ) or ("'" in name or "\\" in name):
        return _formulaic_name(name)
    return f"Q('{name}')"


_QUOTED_COLUMN = re.compile(r"Q\('([^'\\]*)'\)")


def column_name(token: str) -> str | None:
    """The column a term's token names, as `_column` writes it for formulaic: a plain name, or
    ``Q('name')``; None for anything else (a call, backticks, a name holding a quote).

    Examples
    --------
    >>> column_name("x"), column_name("Q('c')"), column_name("Q('my x')"), column_name("log(x)")
    ('x', 'c', 'my x', None)
    """
    if token.isidentifier() and not keyword.iskeyword(token):
        return token
    m = _QUOTED_COLUMN.fullmatch(token)
    return m.group(1) if m else None


def _string_end(text: str, i: int) -> int:
    """The index after the string literal starting at text[i]."""
    quote = text[i]
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j + 1
        j += 1
    return len(text)


def unquoted(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """(position, character) of text[start:end] outside string literals and backtick-quoted names
    (a level "a(b", a column `a|b`), which the formula's splitters and these scanners must not read.

    Examples
    --------
    >>> "".join(c for _, c in unquoted("a + `b|c` + I(d == 'e|f')", 0, 25))
    'a +  + I(d == )'
    """
    i = start
    while i < end:
        c = text[i]
        if c in "'\"":
            i = _string_end(text, i)
            continue
        if c == "`":
            close = text.find("`", i + 1)
            i = end if close < 0 else close + 1
            continue
        yield i, c
        i += 1


def call_end(text: str, i: int) -> int:
    """The index of the parenthesis closing the one at text[i] (strings and backtick-quoted names
    skipped), or -1.

    Examples
    --------
    >>> call_end("I(f(x) + g(')'))", 1)
    15
    """
    depth = 0
    for j, c in unquoted(text, i, len(text)):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1


@functools.lru_cache(maxsize=1024)
def translate(formula: str, start: int = 0, end: int | None = None, *, terms: bool = True) -> Translation:
    """Vet ``formula[start:end]``, a formula or a piece of one, and translate it for formulaic.

    Parameters
    ----------
    formula : str
        The whole formula (error messages point into it).
    start, end : int
        The piece to read.
    terms : bool
        The piece is terms (the right-hand side, a random-effects term's left-hand side): a
        comparison that is a whole term is R's logical factor (`LOGICAL_CALL`). False for a response,
        an offset or cbind's counts, where it is 0/1. Either way a comparison that arithmetic reads is
        0/1 (`NUMBER_CALL`).

    Returns
    -------
    Translation

    Raises
    ------
    FormulaError
        For anything outside the whitelist, naming its text and position; nothing is evaluated.

    Examples
    --------
    >>> t = translate("log(Informed.liking) + I(u^2) + factor(g)")
    >>> t.text, sorted(t.variables), sorted(t.numeric)
    ('log(`Informed.liking`) + I(u**2) + factor(g)', ['Informed.liking', 'g', 'u'], ['Informed.liking', 'u'])
    >>> translate("I(__import__('os').system('id'))")
    Traceback (most recent call last):
    ...
    mixedmodels.exceptions.FormulaError: the name '__import__' (with a double underscore) is not allowed ...
      I(__import__('os').system('id'))
        ^
    """
    end = len(formula) if end is None else end
    while start < end and formula[start].isspace():  # (cbind(k > 2, k <= 2): Python reads no indent)
        start += 1
    # where the piece is terms (not a response, an offset or cbind's counts, where a comparison is
    # 0/1), a comparison that is a whole term is R's logical factor (`LOGICAL_CALL`)
    logical = LOGICAL_CALL if terms else "I"
    if _compares(formula, start, end):  # a random-effects term's left-hand side x > 0
        code = _Code(formula, start, end)
        return Translation(
            f"{logical}({code.text.strip()})",
            frozenset(code.variables),
            frozenset(code.numeric),
            frozenset(code.data_dependent),
        )
    out: list[str] = []
    variables: set[str] = set()
    numeric: set[str] = set()
    dependent: set[str] = set()
    i = start
    operand = False  # the last token ends an operand (a name, number, call or ')'): the next must be an operator

    def juxtaposed(at: int) -> None:
        nonlocal operand
        if operand:
            raise located_error(formula, at, "terms must be joined by an operator such as '+'")
        operand = True

    while i < end:
        c = formula[i]
        if c.isspace():
            out.append(c)
            i += 1
        elif c == "(" and (close := call_end(formula, i)) > 0 and close < end and _compares(formula, i + 1, close):
            # R's y ~ (x > 0): a logical variable made in the formula, R's logical factor (x > 0TRUE)
            juxtaposed(i)
            code = _Code(formula, i + 1, close)
            out.append(f"{logical}({code.text})")
            variables |= code.variables
            numeric |= code.numeric
            dependent |= code.data_dependent
            i = close + 1
        elif (
            c == "("
            and (close := call_end(formula, i)) > 0
            and close < end
            and (bar := _top_level_bar(formula, i + 1, close)) > 0
            and _compares(formula, i + 1, bar)
        ):
            # a random-effects term (x > 0 | g): its left-hand side R's logical factor, as above
            juxtaposed(i)
            lhs = translate(formula, i + 1, bar, terms=terms)
            out.append("(" + lhs.text)
            variables |= lhs.variables
            numeric |= lhs.numeric
            dependent |= lhs.data_dependent
            i = bar  # the bar and the grouping factor as any term's
        elif c in "+-*/:^~|()":
            if c == "(":
                juxtaposed(i)
            operand = c == ")"
            out.append(c)
            i += 1
        elif formula.startswith("%in%", i):  # R's a %in% b is the term a:b (patsy's would be b/a)
            j = i + 4
            while j < end and formula[j].isspace():
                j += 1
            k = len(out) - 1
            while k >= 0 and out[k].isspace():
                k -= 1
            if (j < end and formula[j] == "(") or (k >= 0 and out[k] == ")"):
                # R makes one term of a group's variables there (a %in% (b + c) is a:b:c)
                raise located_error(
                    formula, i, "%in% beside a parenthesised group is not supported: write the interaction, e.g. a:b:c"
                )
            operand = False
            out.append(":")
            i += 4
        elif c == "`":
            j = formula.find("`", i + 1)
            if j < 0 or j >= end:
                raise located_error(formula, i, "a backtick-quoted name is never closed")
            name = formula[i + 1 : j]
            _check_name(formula, i, name)
            juxtaposed(i)
            variables.add(name)
            out.append(_column(name))
            i = j + 1
        elif (m := _NUMBER.match(formula, i)) is not None and (c.isdigit() or c == "."):
            juxtaposed(i)
            out.append(m.group().rstrip("L"))
            i = m.end()
        elif _NAME_START.match(c):
            m = _NAME.match(formula, i)
            assert m is not None
            juxtaposed(i)
            name = m.group()
            j = m.end()
            while j < end and formula[j].isspace():
                j += 1
            if j < end and formula[j] == "(":
                close = call_end(formula, j)
                if close < 0 or close >= end:
                    raise located_error(formula, j, "unbalanced parenthesis: '(' is never closed")
                code = _Code(formula, i, close + 1)
                text = code.text
                if terms and code.compares:  # I(x > 3) as a term: R's logical factor, I(x > 3)TRUE
                    opening = text.index("(") + 1
                    text = f"{text[:opening]}{LOGICAL_CALL}({text[opening : text.rindex(')')]}))"
                out.append(text)
                variables |= code.variables
                numeric |= code.numeric
                dependent |= code.data_dependent
                i = close + 1
            else:
                _check_name(formula, i, name)
                if name in _INTERNAL:  # a column would hide the translation's own call
                    raise located_error(
                        formula, i, f"the name {name!r} is reserved for the formula's own calls: rename the column"
                    )
                if name == ".":
                    raise located_error(formula, i, "'.' (R's 'every other column') is not supported: name the columns")
                variables.add(name)  # a column, even one named as a function (C, log): R reads it so
                out.append(_column(name))
                i = m.end()
        else:
            raise located_error(formula, i, f"unexpected {c!r} in the formula")
    return Translation("".join(out), frozenset(variables), frozenset(numeric), frozenset(dependent))


def _top_level_chars(formula: str, start: int, end: int) -> Iterator[int]:
    """The positions in formula[start:end] at its top level: outside calls, nested parentheses,
    strings and backtick-quoted names."""
    depth = 0
    for i, c in unquoted(formula, start, end):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0:
            yield i


def _negation_end(formula: str, start: int, end: int) -> int:
    """Where R's ``!`` that precedes formula[start:end] ends: at the first ``&``, ``|`` or ``,`` of
    its own depth, or the ``)`` that closes the group it is in (R's ! takes everything that binds
    more tightly than &)."""
    depth = 0
    for i, c in unquoted(formula, start, end):
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                return i
            depth -= 1
        elif depth == 0 and c in "&|,":
            return i
    return end


def _top_level_bar(formula: str, start: int, end: int) -> int:
    """The position of the first '|' at the top level of formula[start:end], or -1."""
    return next((i for i in _top_level_chars(formula, start, end) if formula[i] == "|"), -1)


def _compares(formula: str, start: int, end: int) -> bool:
    """Whether formula[start:end] (a parenthesised group's inside, or a random-effects term's
    left-hand side) is R's logical: a comparison, ``&`` or ``!`` at its top level, and no '|' or '~'
    there (``(x > 0 | g)`` is a random-effects term whose left-hand side is the comparison, as lme4
    reads any bar there)."""
    found = False
    for i in _top_level_chars(formula, start, end):
        if formula[i] in "|~":
            return False
        found = found or formula[i] in "<>&!" or formula.startswith("==", i)
    return found


def _check_name(formula: str, pos: int, name: str) -> None:
    if "__" in name:
        raise located_error(formula, pos, f"the name {name!r} (with a double underscore) is not allowed in a formula")
    if not name:
        raise located_error(formula, pos, "an empty name")


_OPS: dict[type[ast.AST], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "^",
    ast.Mod: "%%",
    ast.FloorDiv: "%/%",
}
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_COMPARE_CALL = {ast.Gt: "_gt", ast.GtE: "_ge", ast.Lt: "_lt", ast.LtE: "_le", ast.Eq: "_eq", ast.NotEq: "_ne"}
_COMPARE_OPERATOR = re.compile(r"==|!=|>=|<=|>|<")
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.NamedExpr: "an assignment expression ':='",
    ast.JoinedStr: "an f-string",
    ast.FormattedValue: "an f-string",
    ast.Starred: "a starred argument",
    ast.Dict: "a dictionary",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Set: "a set",
    ast.IfExp: "a conditional expression",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
    ast.Slice: "a slice",
}


class _Code:
    """One call in a formula, ``name(...)``: read with R's lexical rules into Python, parsed, vetted."""

    def __init__(self, formula: str, start: int, end: int) -> None:
        self.formula = formula
        self.variables: set[str] = set()
        self.numeric: set[str] = set()
        self.data_dependent: set[str] = set()
        self.names: dict[str, str] = {}  # placeholder -> the name as written
        self.where: list[tuple[int, int]] = []  # (offset in the Python text, offset in the formula)
        # each token's (offset, in formulaic's text too, and their lengths): `_numbered`'s map
        self.tokens: list[tuple[int, int, int, int]] = []
        self._fo_length = 0
        py, text = self._lex(start, end)
        try:
            tree = ast.parse(py, mode="eval")
            self._vet(tree.body, numeric=True, argument=False)
            body = tree.body
            # I(comparison): R's I() of a logical is a logical (a factor as a term); arithmetic on
            # comparisons, I((x > 0) * (w > 0)), is a number
            self.compares = (
                isinstance(body, ast.Call)
                and isinstance(body.func, ast.Name)
                and self._original(body.func.id) == "I"
                and len(body.args) == 1
                and not body.keywords
                and _logical_node(body.args[0])
            )
            text = self._numbered(tree, py, text)
        except SyntaxError as exc:
            pos = self._pos(max((exc.offset or 1) - 1, 0)) if exc.lineno == 1 else start
            raise located_error(formula, pos, f"cannot read {formula[start:end]!r} ({exc.msg})") from None
        except (RecursionError, MemoryError):  # Python's parser or the vetting walk, on thousands of terms
            raise located_error(
                formula, start, "this expression is too long or nested too deeply to read; split it into columns"
            ) from None
        self.text = text

    def _numbered(self, tree: ast.Expression, py: str, text: str) -> str:
        """formulaic's text with each comparison written as a call (`COMPARE_CALLS`: ``x > 0`` as
        ``_gt(x, 0)``, missing where an operand is, as R's NA > 0 is NA: pandas compares NaN as
        False, and ``scale(x > 0)`` had learnt its centre from those rows too), and each one that R
        reads as a number wrapped in `NUMBER_CALL`: an operand of ``+ - * / ^`` or unary minus (R's
        arithmetic reads a logical as 0/1, numpy's ``bool + bool`` is "or" and pandas' ``-bool`` is
        "not": ``I((x > 0) + (w > 0))``, ``exp(-(x > 0))`` had been silently other numbers than
        R's), or the first argument of a function of numbers (``scale(x > 0)``)."""
        numbers: list[ast.expr] = []
        compares: list[ast.Compare] = []
        logic: list[ast.BoolOp | ast.UnaryOp] = []
        for node in ast.walk(tree):
            operands: list[ast.expr] = []
            if isinstance(node, ast.BinOp):
                operands = [node.left, node.right]
            elif isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not):
                operands = [node.operand]
            elif isinstance(node, ast.Call) and node.args and self._reads_numbers(node):
                operands = [node.args[0]]
            numbers += [o for o in operands if _logical_node(o)]
            if isinstance(node, ast.BoolOp) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
                logic.append(node)
            if isinstance(node, ast.Compare):
                if len(node.ops) > 1:
                    raise self._fail(
                        node,
                        "R cannot read a chained comparison such as 0 < x < 1: write each one, e.g. (0 < x) * (x < 1)",
                    )
                compares.append(node)
        if not compares and not logic:
            return text
        utf8 = py.encode()

        def char(at: int) -> int:  # ast's offsets count UTF-8 bytes, the token map characters
            return at if py.isascii() else len(utf8[:at].decode())

        starts = {py: fo for py, fo, _, _ in self.tokens}
        ends = {py + n: fo + m for py, fo, n, m in self.tokens}
        # edits of formulaic's text (position, order, key, end, replacement): at a position, closings
        # before an operator's replacement before openings before the removal of a leading operator
        # (!); of nested calls, the inner one's closing first and the outer one's opening first, and of
        # two calls of one span NUMBER_CALL's outside (key: -end, then 0 for NUMBER_CALL, 1 otherwise)
        edits: list[tuple[int, int, tuple[int, int], int, str]] = []

        def wrap(node: ast.expr, call: str) -> None:
            fa, fb = starts[char(node.col_offset)], ends[char(cast(int, node.end_col_offset))]
            edits.append((fa, 2, (-fb, int(call != NUMBER_CALL)), fa, f"{call}("))
            edits.append((fb, 0, (-fa, 0), fb, ")"))

        for node in compares:
            left, right = node.left, node.comparators[0]
            lo, hi = char(cast(int, left.end_col_offset)), char(right.col_offset)
            # the operator between the operands (only parentheses and spaces beside it)
            op = _COMPARE_OPERATOR.search(py, lo, hi)
            assert op is not None
            wrap(node, _COMPARE_CALL[type(node.ops[0])])
            edits.append((starts[op.start()], 1, (0, 0), ends[op.end()], ","))
        for node in logic:  # R's & | ! (written by `_lex` as Python's " and ", " or ", "not ")
            at = char(node.col_offset)
            if isinstance(node, ast.UnaryOp):
                wrap(node, "_not")
                edits.append((starts[at], 3, (0, 0), ends[at + 4], ""))
                continue
            word = " and " if isinstance(node.op, ast.And) else " or "
            wrap(node, "_and" if word == " and " else "_or")
            values = node.values  # noqa: PD011 (the operands of ast's BoolOp)
            for left, right in zip(values, values[1:], strict=False):
                k = py.find(word, char(cast(int, left.end_col_offset)), char(right.col_offset) + 1)
                edits.append((starts[k], 1, (0, 0), ends[k + len(word)], ","))
        for node in numbers:
            wrap(node, NUMBER_CALL)
        out, at = [], 0
        for pos, _, _, stop, piece in sorted(edits):
            out += [text[at:pos], piece]
            at = stop
        return "".join([*out, text[at:]])

    def _reads_numbers(self, node: ast.Call) -> bool:
        """Whether a call reads its arguments as numbers: a function of the table that neither makes
        a factor nor is ``I`` (whose comparison is R's logical)."""
        if not isinstance(node.func, ast.Name):
            return False
        name = self._original(node.func.id)
        fn = FUNCTIONS.get(_ALIASED.get(name, name))
        return fn is not None and not fn.categorical and not fn.argument_only and name != "I"

    def _lex(self, start: int, end: int) -> tuple[str, str]:
        """(Python text with placeholders for vetting, text for formulaic)."""
        formula = self.formula
        self.previous = ""
        py: list[str] = []
        fo: list[str] = []
        length = 0
        i = start

        def emit(p: str, f: str, at: int) -> None:
            nonlocal length
            if not p.isspace():
                self.previous = p
            self.where.append((length, at))
            self.tokens.append((length, self._fo_length, len(p), len(f)))
            self._fo_length += len(f)
            py.append(p)
            fo.append(f)
            length += len(p)

        closings: list[int] = []  # where a parenthesised ! (below) ends
        while i < end:
            c = formula[i]
            while closings and closings[-1] == i:
                closings.pop()
                emit(")", "", i)
            if c in "'\"":
                j = _string_end(formula, i)
                emit(formula[i:j], formula[i:j], i)
                i = j
            elif c == "`":
                j = formula.find("`", i + 1)
                if j < 0 or j >= end:
                    raise located_error(formula, i, "a backtick-quoted name is never closed")
                self._name(formula[i + 1 : j], i, emit)
                i = j + 1
            elif (m := _NUMBER.match(formula, i)) is not None and (c.isdigit() or c == "."):
                num = m.group().rstrip("L")
                emit(num, num, i)
                i = m.end()
            elif _NAME_START.match(c):
                m = _NAME.match(formula, i)
                assert m is not None
                self._name(m.group(), i, emit)
                i = m.end()
            elif formula.startswith("**", i):
                emit("**", "**", i)
                i += 2
            elif c == "^":
                emit("**", "**", i)
                i += 1
            elif formula.startswith("%%", i):
                emit("%", "%", i)
                i += 2
            elif formula.startswith("%/%", i):
                emit("//", "//", i)
                i += 3
            elif formula.startswith(("&&", "||"), i):
                raise located_error(
                    formula, i, f"R's {formula[i : i + 2]} reads one value (R refuses it on a column): write {c}"
                )
            elif c in "&|":  # R's logical operators, below the comparisons as Python's and/or are
                emit(" and " if c == "&" else " or ", c, i)
                i += 1
            elif c == "!" and not formula.startswith("!=", i):
                if self.previous and self.previous[-1] in "+-*/%<>=":
                    # an operand of arithmetic or a comparison (1 + !flag), where Python cannot read
                    # `not`: in parentheses up to where R's ! ends (before & or | or the group's end)
                    emit("(", "", i)  # (for Python's parser: formulaic's text has calls, `_numbered`)
                    closings.append(_negation_end(formula, i + 1, end))
                emit("not ", c, i)
                i += 1
            elif c in "\n\r\t\f\v":  # (ast's offsets count within a line: one line for the map)
                emit(" ", " ", i)
                i += 1
            else:
                emit(c, c, i)
                i += 1
        while closings:
            closings.pop()
            emit(")", "", end)
        return "".join(py), "".join(fo)

    def _name(self, name: str, pos: int, emit: Callable[[str, str, int], None]) -> None:
        _check_name(self.formula, pos, name)
        if name.startswith(".") and self.previous and (self.previous[-1] in ")]\"'" or self.previous[-1].isalnum()):
            raise located_error(self.formula, pos, f"attribute access ({name!r}) is not allowed in a formula")
        if name in ("TRUE", "FALSE"):
            emit(name.title(), name.title(), pos)
        elif name in _PYTHON_SYNTAX and name not in _R_NAMES:  # lambda, for, if, ...: vetted (and refused)
            emit(name, name, pos)
        elif name.isidentifier() and not keyword.iskeyword(name):
            emit(name, name, pos)
        else:
            placeholder = f"_mm_name{len(self.names)}_"
            self.names[placeholder] = name
            emit(placeholder, _formulaic_name(name), pos)

    def _pos(self, offset: int) -> int:
        """The formula position of an offset into the Python text."""
        best = self.where[0][1] if self.where else 0
        for py_at, at in self.where:
            if py_at > offset:
                break
            best = at
        return best

    def _fail(self, node: ast.AST, message: str) -> FormulaError:
        return located_error(self.formula, self._pos(getattr(node, "col_offset", 0)), message)

    def _original(self, name: str) -> str:
        return self.names.get(name, name)

    def _vet(self, node: ast.AST, *, numeric: bool, argument: bool) -> None:
        if isinstance(node, ast.Call):
            self._vet_call(node, argument)
        elif isinstance(node, ast.Name):
            name = self._original(node.id)
            if "__" in name:
                raise self._fail(node, f"the name {name!r} (with a double underscore) is not allowed in a formula")
            # a function's name not called is a column, as R reads it (log(c) with a column c; where
            # the data has none, the missing column's error says that c is a function to call)
            if name in VALUES and name not in FUNCTIONS:
                if not argument:
                    raise self._fail(node, f"{name!r} can only be an argument of C()")
                return
            if name.split(".", 1)[0] in _NAMESPACES and "." in name:
                raise self._fail(node, f"{name!r} is not among the functions a formula may call")
            self.variables.add(name)
            if numeric:
                self.numeric.add(name)
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or type(value) in (int, float):
                return
            if isinstance(value, str) and argument:
                return
            what = "a string" if isinstance(value, str) else repr(value)
            raise self._fail(node, f"{what} is not allowed here in a formula")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _OPS:
                raise self._fail(node, f"the operator {type(node.op).__name__} is not allowed in a formula")
            if isinstance(node.op, ast.Pow) and not (
                math.isfinite(_constant(node.right)) and math.isfinite(_constant(node))
            ):
                # Python would compute 9^9^9^9 exactly (forever); R gives Inf
                raise self._fail(node, "a power of constants too large for a double")
            self._vet(node.left, numeric=True, argument=False)
            self._vet(node.right, numeric=True, argument=False)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
                raise self._fail(node, f"the operator {type(node.op).__name__} is not allowed in a formula")
            # (R's ! reads a logical as it is: not converted to a number, `_flags`)
            self._vet(node.operand, numeric=not isinstance(node.op, ast.Not), argument=False)
        elif isinstance(node, ast.BoolOp):  # R's & and | (`_lex`), reading logicals as they are
            for operand in node.values:  # noqa: PD011 (ast's operands)
                self._vet(operand, numeric=False, argument=False)
        elif isinstance(node, ast.Compare):
            if not all(isinstance(op, _COMPARE) for op in node.ops):
                raise self._fail(node, "only the comparisons == != < <= > >= are allowed in a formula")
            for operand in (node.left, *node.comparators):
                self._vet(operand, numeric=not _is_string(operand), argument=True)
        else:
            what = _REFUSED_NODES.get(type(node), type(node).__name__)
            raise self._fail(node, f"{what} is not allowed in a formula")

    def _vet_call(self, node: ast.Call, argument: bool = False) -> None:
        if not isinstance(node.func, ast.Name):
            if type(node.func) in _REFUSED_NODES:
                self._vet(node.func, numeric=False, argument=False)  # says what it is
            raise self._fail(node, "only the functions of the formula language may be called")
        name = self._original(node.func.id)
        name = _ALIASED.get(name, name)  # text already translated (evaluation vets it again)
        fn = FUNCTIONS.get(name) or _INTERNAL.get(name)
        if fn is None:
            if name in _UNSUPPORTED:
                raise self._fail(node, _UNSUPPORTED[name])
            known = ", ".join(sorted(n for n in FUNCTIONS if not n.startswith("np.")))
            raise self._fail(node, f"unknown function {name!r} (a formula may call {known})")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self._fail(arg, "a starred argument is not allowed in a formula")
        if fn.argument_only:
            if not argument:
                raise self._fail(node, f"{name}() gives a function's argument (e.g. knots = c(2, 5)), not a term")
            if node.keywords or not node.args or not all(_is_number(a) for a in node.args):
                raise self._fail(node, f"{name}() takes numbers, e.g. c(2, 5)")
            if len(node.args) > fn.nargs:
                raise self._fail(node, f"{name}() takes at most {fn.nargs} numbers")
            return
        if len(node.args) > fn.nargs:
            raise self._fail(node, f"{name}() takes at most {fn.nargs} positional argument(s)")
        if not node.args and name != "Q":
            raise self._fail(node, f"{name}() needs an argument")
        for kw in node.keywords:
            if kw.arg is None:
                raise self._fail(kw.value, "'**' arguments are not allowed in a formula")
            if kw.arg not in fn.keywords:
                allowed = ", ".join(fn.keywords) or "none"
                raise self._fail(kw.value, f"{name}() has no argument {kw.arg!r} (it takes: {allowed})")
        if name in _DATA_DEPENDENT and not _raw_poly(node):
            self.data_dependent.add(name)
        if name == "Q":
            if (
                len(node.args) != 1
                or not isinstance(node.args[0], ast.Constant)
                or not isinstance(node.args[0].value, str)
            ):
                raise self._fail(node, 'Q() takes one column name as a string, e.g. Q("my column")')
            _check_name(self.formula, self._pos(node.col_offset), node.args[0].value)
            self.variables.add(node.args[0].value)
            return
        for k, arg in enumerate(node.args):
            self._vet(arg, numeric=not (k == 0 and fn.categorical), argument=k > 0)
        for kw in node.keywords:
            self._vet(kw.value, numeric=False, argument=True)


_DATA_DEPENDENT = frozenset({"scale", "center", "poly", "bs", "ns"})

#: Python keywords left to the parser (and refused by the vetting); the others (``class``,
#: ``import``, ...) are names R allows for columns.
_PYTHON_SYNTAX = frozenset(
    {"lambda", "for", "if", "else", "async", "await", "yield", "not", "and", "or", "is", "in", "None", "True", "False"}
)
#: Python's keywords that the translation writes for R's operators (`_Code._lex`): as written, names
#: (R reads a column ``not``), never Python's operators.
_R_NAMES = frozenset({"not", "and", "or"})


def _logical_node(node: ast.AST) -> bool:
    """Whether a node makes R's logical: a comparison, or R's ``&``, ``|`` or ``!`` (`_Code._lex`)."""
    not_ = isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    return not_ or isinstance(node, (ast.Compare, ast.BoolOp))


def _raw_poly(node: ast.Call) -> bool:
    """``poly(x, d, raw = TRUE)``: powers of x, the same on any rows."""
    raw = [kw.value for kw in node.keywords if kw.arg == "raw"] + node.args[2:3]
    return bool(raw) and isinstance(raw[0], ast.Constant) and raw[0].value is True


def _constant(node: ast.AST) -> float:
    """The value in double precision of a subexpression without variables (0 if it has some; inf
    when it overflows)."""
    if isinstance(node, ast.Constant):
        value = node.value
        return float(value) if isinstance(value, (int, float)) else 0.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _constant(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a, b = _constant(node.left), _constant(node.right)
        if not (math.isfinite(a) and math.isfinite(b)):
            return math.inf
        try:
            if isinstance(node.op, ast.Pow):
                return float(abs(a) ** b) if a != 0 else 0.0
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op), max(abs(a), abs(b)))
        except (OverflowError, ZeroDivisionError):
            return math.inf
    return 0.0


def _is_number(node: ast.AST) -> bool:
    """A number written out, possibly negative."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def _is_string(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


# --------------------------------------------------------------------------- evaluation


def _prepared(frame: pd.DataFrame, numeric: Iterable[str]) -> pd.DataFrame:
    """frame with the integer and boolean columns among ``numeric`` in double precision."""
    change = {}
    for name in numeric:
        if name in frame.columns:
            dtype = frame[name].dtype
            if isinstance(dtype, np.dtype) and dtype.kind in "iub":
                change[name] = frame[name].astype(np.float64)
            elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
                change[name] = frame[name].astype(np.float64)  # nullable: missing values become NaN
    return frame.assign(**change) if change else frame


LOGICAL_LEVELS = ("FALSE", "TRUE")
"""The levels of R's factor of a logical column, in R's order (FALSE < TRUE) and as R prints them."""


def expression_names(expr: str) -> set[str]:
    """The plain names an expression reads, functions' names too (empty when it is not Python).

    Examples
    --------
    >>> sorted(expression_names("C(h) + log(x)")), expression_names("a b")
    (['C', 'h', 'log', 'x'], set())
    """
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def is_logical(col: Any) -> bool:
    """Whether a column (a Series or an array) holds R's logicals: numpy booleans, pandas' nullable
    ``boolean``, Arrow booleans, or Python objects that are all booleans (missing values aside).

    Examples
    --------
    >>> is_logical(np.array([True, False])), is_logical(pd.array([True, None], dtype="boolean"))
    (True, True)
    >>> is_logical(pd.Series([True, None, False], dtype=object)), is_logical(np.array([0, 1]))
    (True, False)
    """
    dtype = getattr(col, "dtype", None)
    if dtype is None or isinstance(dtype, pd.CategoricalDtype):
        return False
    if pd.api.types.is_bool_dtype(dtype):
        return True
    if not (isinstance(dtype, np.dtype) and dtype.kind == "O") or len(col) == 0:
        return False
    first = pd.Series(col, copy=False).first_valid_index()  # cheap look before scanning text columns
    if first is None or not isinstance(pd.Series(col, copy=False).loc[first], (bool, np.bool_)):
        return False
    return bool(pd.api.types.infer_dtype(col, skipna=True) == "boolean")


def logical_factor(col: Any, all_levels: bool = False) -> Any:
    """R's factor of a logical column (`is_logical`): levels ``FALSE`` < ``TRUE`` (`LOGICAL_LEVELS`),
    those that occur (as R's ``factor()``) or, with ``all_levels``, both; missing values stay missing.

    Examples
    --------
    >>> logical_factor(np.array([True, True])).categories.tolist()
    ['TRUE']
    >>> f = logical_factor(pd.array([True, None, False], dtype="boolean"), all_levels=True)
    >>> f.tolist(), f.categories.tolist()
    (['TRUE', nan, 'FALSE'], ['FALSE', 'TRUE'])
    """
    dtype = getattr(col, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind == "b":  # no missing value
        codes = np.asarray(col).astype(np.int8)
    else:  # nullable, Arrow or objects
        values = np.array(col, dtype=object)
        missing = np.asarray(pd.isna(values), dtype=bool)
        values[missing] = False
        codes = np.where(missing, -1, values.astype(bool)).astype(np.int8)
    out = pd.Categorical.from_codes(codes, categories=pd.Index(list(LOGICAL_LEVELS)))
    if all_levels:
        return out
    used = [lv for k, lv in enumerate(LOGICAL_LEVELS) if (codes == k).any()]
    return out if len(used) == 2 else out.set_categories(used)


def model_matrix(
    text: str,
    frame: pd.DataFrame,
    numeric: Iterable[str] = (),
    *,
    trusted: bool = False,
    functions: Mapping[str, Any] | None = None,
    **options: Any,
) -> Any:
    """formulaic's model matrix of a vetted, translated formula (`translate`), evaluated with only
    the function table; ``numeric`` names the columns to convert to double first; ``functions``
    replace table entries of the same name (the recorders of streamed data's first pass).

    Examples
    --------
    >>> frame = pd.DataFrame({"u": np.array([1, 2, 3], dtype=np.uint8)})
    >>> model_matrix("0 + I(u - 5)", frame, ["u"]).to_numpy().ravel().tolist()
    [-4.0, -3.0, -2.0]
    """
    numeric = tuple(numeric)
    if not trusted:  # vetted again where it is evaluated: nothing reaches formulaic unvetted
        translate(text)
    context = dict(_context(trusted))
    if functions:
        context.update(functions)
    ordered = {c: v for c, v in ordered_levels(frame).items() if c in text}  # (a grouping column is not)
    frame, context = _with_ordered(frame, context, ordered)
    return formulaic.model_matrix(text, _prepared(frame, numeric), context=context, **options)


def variable_rank(text: str) -> dict[str, int]:
    """Each variable (formulaic's factor) of a right-hand side and its place in R's list of the
    formula's variables (``attr(terms, "variables")``): the order in which they first appear as
    written. R orders the variables of an interaction term so, and names its columns so
    (``sector + ses + ses:sector``: ``sectorCatholic:ses``), where formulaic keeps the term as
    written (`r_order`). Empty where formulaic cannot read the text.

    Examples
    --------
    >>> variable_rank("sector + ses + ses:sector")
    {'sector': 0, 'ses': 1}
    """
    return dict(_variable_order(text))


@functools.lru_cache(maxsize=256)
def _variable_order(text: str) -> tuple[tuple[str, int], ...]:
    """`variable_rank`, cached (refits and the parts of one formula parse the same text again)."""
    try:
        formula = formulaic.Formula(text, _ordering="none")
    except Exception:  # noqa: BLE001 (the model matrix reports what is wrong with the formula)
        return ()
    rank: dict[str, int] = {}
    for term in formula:
        for factor in term.factors:
            if str(factor) != "1":  # (the intercept)
                rank.setdefault(str(factor), len(rank))
    return tuple(rank.items())


def r_order(factors: Sequence[str], rank: Mapping[str, int]) -> list[int]:
    """The order of an interaction term's variables (formulaic's, as written) in R's
    (`variable_rank`): positions into ``factors``.

    Examples
    --------
    >>> r_order(["ses", "sector"], {"sector": 0, "ses": 1})
    [1, 0]
    """
    return sorted(range(len(factors)), key=lambda i: (rank.get(factors[i], len(rank)), i))


def ordered_levels(frame: pd.DataFrame) -> dict[str, tuple[Any, ...]]:
    """The ordered categorical columns of a frame (pandas' ``ordered=True``, R's ordered factors)
    and their levels in order.

    Examples
    --------
    >>> frame = pd.DataFrame({"o": pd.Categorical(["lo", "hi"], ["lo", "hi"], ordered=True), "x": [1.0, 2.0]})
    >>> ordered_levels(frame)
    {'o': ('lo', 'hi')}
    """
    out: dict[str, tuple[Any, ...]] = {}
    for c, dtype in frame.dtypes.items():  # (the dtypes at once: a column looked up is a new Series)
        if isinstance(c, str) and isinstance(dtype, pd.CategoricalDtype) and dtype.ordered:
            out[c] = tuple(dtype.categories)
    return out


def _with_ordered(
    frame: pd.DataFrame, context: dict[str, Any], levels: Mapping[str, tuple[Any, ...]]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The frame and evaluation context with each ordered categorical column of ``levels`` coded as R
    codes an ordered factor, by orthogonal polynomial contrasts (columns ``o.L``, ``o.Q``, ...; as
    ``ordered(o)``), where formulaic would give it treatment contrasts: the column moves from the
    frame to the context (formulaic looks a name up in the data first), as formulaic's ``C(o,
    contr.poly)`` on ``levels`` (the fit's: new data replays them). A value among none of the levels
    is a `DataError` naming the column."""
    present = [c for c in levels if c in frame.columns]
    if not present:
        return frame, context
    context = dict(context)
    for c in present:
        col = frame[c]
        if isinstance(col.dtype, pd.CategoricalDtype) and tuple(col.dtype.categories) == tuple(levels[c]):
            codes = np.asarray(col.cat.codes)  # (the fit's own column: its codes as they are)
        else:
            values = np.asarray(col, dtype=object)
            codes = pd.Index(list(levels[c]), dtype=object).get_indexer(values)
        unseen = (codes < 0) & ~np.asarray(col.isna(), dtype=bool)
        if unseen.any():
            value = np.asarray(col, dtype=object)[unseen][0]
            raise DataError(
                f"column {c!r} has the value {value!r}, which is none of the levels of the ordered factor the "
                f"model was fitted with ({', '.join(map(str, levels[c]))})"
            )
        cat = pd.Categorical.from_codes(
            np.asarray(codes, dtype=np.int64), categories=pd.Index(list(levels[c])), ordered=True
        )
        coded = _formulaic_C(pd.Series(cat, index=frame.index, name=c), PolyContrasts())
        context[_ORDERED_KEY + c] = coded  # for Q("my o"), Q("log") (`_q`)
        if c not in context:  # read by name (not where it would hide a function: Q() reads it then)
            context[c] = coded
    return frame.drop(columns=present), context


class SafeSpec:
    """A formulaic ModelSpec that replays on new data with the function table (and nothing else)
    and with the same columns in double precision as at the fit."""

    def __init__(
        self,
        spec: Any,
        numeric: Iterable[str],
        trusted: bool = False,
        logical: Iterable[str] = (),
        ordered: Mapping[str, tuple[Any, ...]] | None = None,
        rank: Mapping[str, int] | None = None,
    ) -> None:
        self._spec = spec
        self._rank = dict(rank or {})  # R's order of the formula's variables (`variable_rank`)
        self._numeric = tuple(numeric)
        self._trusted = trusted
        self._logical = tuple(logical)
        self._ordered = dict(ordered or {})  # ordered factors (their levels at the fit): polynomial contrasts

    @property
    def spec(self) -> Any:
        """The formulaic ModelSpec."""
        return self._spec

    @property
    def numeric(self) -> tuple[str, ...]:
        """The columns converted to double before evaluation."""
        return self._numeric

    @property
    def trusted(self) -> bool:
        """Evaluated with Python's builtins (a trusted formula)."""
        return self._trusted

    @property
    def variable_rank(self) -> dict[str, int]:
        """R's order of the formula's variables (`variable_rank`; none in a spec pickled before it was kept)."""
        return cast(dict[str, int], self.__dict__.get("_rank", {}))

    @property
    def ordered(self) -> dict[str, tuple[Any, ...]]:
        """The ordered factors of the fit and their levels (none in a spec pickled before they were kept)."""
        return cast(dict[str, tuple[Any, ...]], self.__dict__.get("_ordered", {}))

    @property
    def required_variables(self) -> set[Any]:
        """formulaic's data variables the spec reads, the ordered factors among them (which it reads
        from the context, `_with_ordered`)."""
        found = set(self._spec.required_variables)
        # a backticked name (x.a) is read through formulaic's alias in its local layer, which leaves it
        # without a source and out of required_variables (emmeans' grid had lacked it)
        found |= set(getattr(self._spec, "variables_by_source", {}).get(None, set()))
        from_context = {
            str(v.root).removeprefix(_ORDERED_KEY)
            for v in getattr(self._spec, "variables_by_source", {}).get("context", set())
        }
        found |= {Variable(c) for c in self.ordered if c in from_context}
        return found

    @property
    def logical(self) -> tuple[str, ...]:
        """The logical columns coded as R's factors (`logical_factor`) at the fit: new data's are too."""
        return self._logical

    def get_model_matrix(self, data: pd.DataFrame, **options: Any) -> Any:
        """The model matrix of ``data`` (formulaic's `ModelSpec.get_model_matrix`); a column named
        like a function the formula calls (a column ``log`` beside ``log(x + 1)``), which the model
        cannot use (`design.materialise` refuses it), is left out rather than hide the function, as
        is one with a double underscore, which a formula cannot read (`_sanitized_name`)."""
        hidden = called_functions(str(getattr(self._spec, "formula", ""))) & {
            c for c in data.columns if isinstance(c, str)
        }
        if not self._trusted:  # (no formula of the library reads one: formulaic's aliases stay those of the fit)
            hidden |= {c for c in data.columns if isinstance(c, str) and "__" in c}
        if hidden:
            data = data.drop(columns=sorted(hidden))
        change = {
            c: logical_factor(data[c], all_levels=True)
            for c in self._logical
            if c in data.columns and is_logical(data[c])
        }
        if change:
            data = data.assign(**change)
        data, context = _with_ordered(data, dict(_context(self._trusted)), self.ordered)
        missing: list[NDArray[np.bool_]] = []
        with all_rows(missing):  # new data: a comparison is missing where an operand is
            out = self._spec.get_model_matrix(_prepared(data, self._numeric), context=context, **options)
        rows = [m for m in missing if m.shape == (len(data),)]
        if rows and isinstance(out, np.ndarray) and out.ndim == 2:
            # its rows are missing, as R's model frame has them (a factor of it had coded them as its
            # first level: a prediction where lme4 gives NA)
            out = np.array(out, dtype=np.float64)
            out[np.logical_or.reduce(rows)] = np.nan
        return out

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._spec, name)
