"""From data to a model's parts: a data frame (or arrays, for the embedding API) becomes the model's
structure (`structure.ModelStructure`) and its rows (`data.FrameData`, `data.ArrayData`).

The symbolic terms come from `formula.parse_formula`; formulaic materialises the fixed part and each
term's columns and keeps the specs that replay the same encoding on new data. Rows with a missing
value in a used column are dropped; non-finite values are errors naming the column and row. The
identifiability checks (constant response, aliased columns, too few levels, constant slopes) run
later, once, on the cross-products (`checks`), whatever the data's kind.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import formulaic
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .data import ArrayData, FrameData, Rows
from .exceptions import DataError, FormulaError
from .expressions import SafeSpec, model_matrix
from .formula import ParsedFormula, parse_formula
from .names import level_label, r_name
from .structure import ArrayEncoding, Encoding, FormulaEncoding, ModelStructure, Term, assemble

__all__ = ["GroupTerm", "LazySpec", "from_arrays", "materialise", "used_columns"]


# --------------------------------------------------------------------------- grouping factors


def _drop_unused(col: pd.Categorical) -> pd.Categorical:
    """A categorical without its unused categories (a counting pass; pandas' own sorts the codes)."""
    codes = col.codes  # -1: missing
    ncat = len(col.categories)
    used = np.bincount(codes[codes >= 0], minlength=ncat) > 0
    if used.all():
        return col
    return col.set_categories(col.categories[used])  # keeps the order (remove_categories may sort)


ObjectArray = NDArray[np.object_]
Column = Any  # a data frame column's array: numpy, pandas Categorical or another extension array


def _level_labels(values: Iterable[object]) -> ObjectArray:
    """Level labels as R's ``factor()`` prints them, as an object array."""
    return np.array([v if type(v) is str else level_label(v) for v in values], dtype=object)


def _as_factor(col: Column, name: str) -> tuple[NDArray[np.int64], ObjectArray]:
    """Codes and level labels of one grouping variable (a column's array: numpy, Categorical or
    other extension array). A Categorical's categories are its levels (`build_design` has dropped
    the unused ones, as R does, unless the levels were fixed beforehand); other values are sorted."""
    if isinstance(col, pd.Categorical):
        return col.codes.astype(np.int64), _level_labels(col.categories.tolist())
    values = col if isinstance(col, np.ndarray) else col.to_numpy()
    try:
        uniq, codes = np.unique(values, return_inverse=True)
    except TypeError as exc:
        raise DataError(f"grouping variable {name!r} mixes types that cannot be ordered") from exc
    return codes.astype(np.int64), _level_labels(v.item() if hasattr(v, "item") else v for v in uniq)


def _labels(data: _Columns, variables: tuple[str, ...]) -> list[str]:
    """Each row's level label of an interaction grouping (``lvl_a:lvl_b``)."""
    parts = []
    for v in variables:
        col = data[v]
        if isinstance(col, pd.Categorical):
            parts.append(_level_labels(col.categories.tolist())[col.codes])
        else:
            parts.append(_level_labels(col.tolist()))
    return [":".join(t) for t in zip(*parts, strict=True)]


def _grouping(data: _Columns, variables: tuple[str, ...]) -> tuple[NDArray[np.int32], ObjectArray]:
    codes, levels = _as_factor(data[variables[0]], variables[0])
    for v in variables[1:]:
        c2, l2 = _as_factor(data[v], v)
        combined = codes * len(l2) + c2  # first variable varies slowest, as R's ':' on factors
        uniq, inv = np.unique(combined, return_inverse=True)
        levels = np.array([f"{levels[u // len(l2)]}:{l2[u % len(l2)]}" for u in uniq], dtype=object)
        codes = inv.astype(np.int64)
    return codes.astype(np.int32), levels


# --------------------------------------------------------------------------- formulaic helpers


def _materialise(
    spec_text: str, data: _Columns, what: str, numeric: Iterable[str] = (), trusted: bool = False
) -> tuple[NDArray[np.float64], tuple[str, ...], Any]:
    plain = _plain_terms(spec_text, data)
    if plain is not None:  # only numeric columns and the intercept: no encoding to decide
        intercept, cols = plain
        x = np.empty((data.shape[0], int(intercept) + len(cols)))
        if intercept:
            x[:, 0] = 1.0
        for j, c in enumerate(cols, start=int(intercept)):
            x[:, j] = data[c]
        names = (("(Intercept)",) if intercept else ()) + tuple(cols)
        return x, names, LazySpec(spec_text, data.frame)
    try:  # the text was vetted by parse_formula (unless trusted): formulaic evaluates only the function table
        mm = model_matrix(spec_text, data.frame, numeric, trusted=trusted, na_action="ignore")
    except FormulaError:
        raise
    except Exception as exc:  # formulaic raises many types; name what failed
        raise FormulaError(f"cannot build the {what} from {spec_text!r}: {exc}") from exc
    names = tuple(r_name(c) for c in mm.model_spec.column_names)
    spec = SafeSpec(mm.model_spec, numeric, trusted)
    return np.ascontiguousarray(mm.to_numpy(dtype=np.float64)), names, spec


class _Columns:
    """A data frame's columns as arrays (numpy, or pandas' Categorical and other extension arrays),
    each looked up once: building a pandas Series costs ~10-20 us, and a small fit needs a dozen."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.columns = frame.columns
        self.shape = frame.shape
        self._cache: dict[str, Column] = {}

    def __getitem__(self, name: str) -> Column:
        col = self._cache.get(name)
        if col is None:
            col = self._cache[name] = _column_array(self.frame, name)
        return col

    def replace(self, name: str, col: Column) -> None:
        """Swap in a changed column (the frame gets it too)."""
        self.frame = self.frame.assign(**{name: col})
        self._cache[name] = col


def _column_array(frame: pd.DataFrame, name: str) -> Column:
    """The array behind one column (read only: it may be the frame's own memory)."""
    get = getattr(frame, "_get_column_array", None)  # pandas' internal accessor: no Series built
    if get is not None and frame.columns.is_unique:
        return get(frame.columns.get_loc(name))
    col = frame[name]
    return col.array if isinstance(col.dtype, pd.api.extensions.ExtensionDtype) else col.to_numpy()


_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(pd.get_option("mode.copy_on_write") is True)
_TOKEN = re.compile(r"\s*([+-])\s*")


def _plain_terms(spec_text: str, data: _Columns) -> tuple[bool, tuple[str, ...]] | None:
    """(intercept, columns) when the right-hand side is nothing but ``1``/``0``/``-1`` and distinct
    numeric (non-boolean) column names, for which formulaic's model matrix is just those columns
    after the intercept; else None (formulaic builds it)."""
    parts = _TOKEN.split(" + " + spec_text.strip())
    if parts[0].strip():
        return None
    intercept, cols = True, []
    for sign, tok in zip(parts[1::2], parts[2::2], strict=True):
        if tok in ("0", "1"):
            intercept = (tok == "1") == (sign == "+")
        elif sign == "+" and tok.isidentifier() and tok in data.columns and tok not in cols:
            dtype = data[tok].dtype
            if not isinstance(dtype, np.dtype) or dtype.kind not in "iuf":  # bool, categorical, strings,
                return None  # nullable and other extension types: formulaic decides
            cols.append(tok)
        else:
            return None
    return intercept, tuple(cols)


class LazySpec:
    """formulaic's ModelSpec of a plain right-hand side, built from the data when first needed
    (predictions on new data, type III contrasts): a fit does not need it."""

    def __init__(self, spec_text: str, data: pd.DataFrame) -> None:
        self._text = spec_text
        self._data = data
        self._spec: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._spec is None:
            self._spec = formulaic.model_matrix(self._text, self._data, na_action="ignore").model_spec
        return getattr(self._spec, name)


@functools.lru_cache(maxsize=256)
def _required(text: str) -> frozenset[str]:
    """The variables formulaic finds in a trusted formula (it parses, evaluates nothing)."""
    try:
        return frozenset(formulaic.Formula(text).required_variables)
    except Exception as exc:
        raise FormulaError(f"cannot parse {text!r}: {exc}") from exc


def used_columns(pf: ParsedFormula) -> set[str]:
    """The data columns a parsed formula needs, inside function calls too (``scale(x)``,
    ``poly(x, 2)``): the vetted formula's names that are not functions.

    Examples
    --------
    >>> sorted(used_columns(parse_formula("y ~ x + log(w) + poly(v, 2) + (1 + z | a/b)")))
    ['a', 'b', 'v', 'w', 'x', 'y', 'z']
    """
    if pf.variables is not None:
        return set(pf.variables)
    used = set(_required(f"{pf.response} ~ {pf.fixed}"))
    for t in pf.random:
        used |= _required(t.lhs)
        used |= set(t.factors)
    return used


@dataclass
class _TermRows:
    """One random-effects term as materialised: its symbolic term, levels, codes, columns and spec."""

    term: Term
    levels: NDArray[np.object_]
    codes: NDArray[np.int32]
    z: NDArray[np.float64]
    spec: Any


def _parts(
    formula: str,
    response: str,
    fixed_names: tuple[str, ...],
    y: NDArray[np.float64],
    x: NDArray[np.float64],
    raw: list[_TermRows],
    index: pd.Index,
    encode: Callable[[tuple[Any, ...]], Encoding],
) -> tuple[ModelStructure, Rows]:
    """The structure (terms in lme4's order, factors) and the rows (per factor codes and columns);
    ``encode`` makes the encoding from the terms' specs in lme4's order."""
    terms, factors, layout, order = assemble([r.term for r in raw], [r.levels for r in raw])
    raw = [raw[i] for i in order]
    codes, zs = [], []
    for f in factors:
        parts = [raw[i].z for i in f.terms]
        codes.append(np.ascontiguousarray(raw[f.terms[0]].codes, dtype=np.int32))
        zs.append(np.ascontiguousarray(parts[0] if len(parts) == 1 else np.column_stack(parts), dtype=np.float64))
    rows = Rows(y=y, x=np.ascontiguousarray(x), codes=tuple(codes), z=tuple(zs), index=index)
    structure = ModelStructure(
        formula=formula,
        response=response,
        fixed_names=fixed_names,
        dropped_fixed=(),
        terms=terms,
        factors=factors,
        theta=layout,
        encoding=encode(tuple(r.spec for r in raw)),
    )
    return structure, rows


def materialise(
    formula: str | ParsedFormula,
    data: pd.DataFrame,
    *,
    levels: Mapping[str, Sequence[Any]] | None = None,
    trusted: bool = False,
) -> tuple[ModelStructure, FrameData]:
    """A parsed formula on a data frame: the model's structure and its rows.

    Rows with a missing value in any used column (inside function calls too) are dropped (as R's
    ``na.omit``). ``levels`` fixes the levels of some columns beforehand (streamed data: the levels
    seen in a first pass), unused ones kept; with it, ``scale()``, ``center()`` and orthogonal
    ``poly()``, whose columns depend on all the rows, are refused.

    The formula's code is vetted before anything evaluates it (`formula.parse_formula`) and
    evaluated with only the function table of `expressions`. ``trusted=True`` (or a formula parsed
    with it) hands the formula to formulaic as written: evaluating it **runs arbitrary Python code**,
    so use it only for formulas you wrote yourself.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> s, d = materialise("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> s.fixed_names, s.theta.names, d.rows("").nobs
    (('(Intercept)', 'Days'), ('Subject.(Intercept)', 'Subject.Days.(Intercept)', 'Subject.Days'), 180)
    """
    pf = parse_formula(formula, trusted=trusted)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.shape[0] == 0:
        raise DataError("the data frame has no rows")
    if not pf.random:
        raise FormulaError(
            f"the formula {pf.text!r} has no random-effects term such as (1 | g); "
            "for a model without random effects use ordinary least squares"
        )
    if levels is not None and pf.data_dependent:  # streamed: each chunk would be transformed on its own
        calls = ", ".join(f"{f}()" for f in sorted(pf.data_dependent))
        raise FormulaError(
            f"{calls} in {pf.text!r} depends on all the rows, which data read in chunks does not "
            "give at once: compute the column beforehand (or use poly(x, d, raw = TRUE))"
        )
    used = used_columns(pf)
    if pf.trusted:  # formulaic's guess at the names of arbitrary code: the columns among them
        used = {v for v in used if v in data.columns}
    missing = sorted(v for v in used if v not in data.columns)
    if missing:
        hints = []
        for v in missing:
            close = difflib.get_close_matches(v, [str(c) for c in data.columns], n=3)
            hints.append(f"{v!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        raise FormulaError(f"the data has no column {', '.join(hints)}")
    if data.columns.is_unique:
        cols = sorted(used, key=lambda c: cast(int, data.columns.get_loc(c)))  # in the data's order
    else:
        twice = sorted({str(c) for c in data.columns[data.columns.duplicated()] if c in used})
        if twice:
            raise DataError(f"the data frame has more than one column named {', '.join(map(repr, twice))}")
        cols = [c for c in data.columns if c in used]
    dc = _Columns(data)
    complete = _complete_rows(dc, cols)
    n_dropped = int((~complete).sum())
    if not complete.any():
        raise DataError(f"every row has a missing value in at least one of the columns {cols}")
    # the rows used; when all are, a shallow copy under pandas' copy-on-write (default from pandas 3)
    # keeps them from later edits of data at no cost
    if n_dropped or not _COPY_ON_WRITE:
        dc = _Columns(data.loc[complete, cols])
    else:  # the columns already looked up are those of the copy
        dc.frame = data.copy(deep=False)
    levels = levels or {}
    for c in cols:
        col = dc[c]
        if c in levels:  # levels fixed beforehand (streamed data): impose them, keep unused ones
            if isinstance(col, pd.Categorical):
                cat = col.set_categories(list(levels[c]))
            else:
                cat = pd.Categorical(col, categories=levels[c])
            if (cat.codes < 0).any():
                raise DataError(f"column {c!r} has a value that the first pass over the data did not see")
            dc.replace(c, cat)
        elif isinstance(col, pd.Categorical):
            dropped_cats = _drop_unused(col)
            if dropped_cats is not col:
                dc.replace(c, dropped_cats)

    fixed_spec: Any
    if pf.response in dc.columns:  # a plain column: no need to materialise it
        resp = dc[pf.response]
        dt = resp.dtype
        if not (isinstance(dt, np.dtype) and dt.kind in "iuf") and (
            not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
        ):
            raise DataError(f"the response {pf.response!r} must be numeric, it has dtype {dt}")
        y = np.array(resp, dtype=np.float64)  # our own copy: the column's array may be the frame's memory
        x, fixed_names, fixed_spec = _materialise(
            pf.fixed, dc, f"fixed-effects model matrix of {pf.text!r}", pf.numeric, pf.trusted
        )
    else:
        try:
            mm = model_matrix(
                f"{pf.response} ~ {pf.fixed}", dc.frame, pf.numeric, trusted=pf.trusted, na_action="ignore"
            )
        except FormulaError:
            raise
        except Exception as exc:
            raise FormulaError(f"cannot build the fixed-effects model matrix of {pf.text!r}: {exc}") from exc
        ymat = mm.lhs.to_numpy(dtype=np.float64)
        if ymat.ndim != 2 or ymat.shape[1] != 1:
            raise DataError(f"the response {pf.response!r} must be one numeric column")
        y = np.ascontiguousarray(ymat[:, 0])
        x = mm.rhs.to_numpy(dtype=np.float64)
        fixed_names = tuple(r_name(c) for c in mm.rhs.model_spec.column_names)
        fixed_spec = SafeSpec(mm.rhs.model_spec, pf.numeric, pf.trusted)
    _check_finite(y, pf.response)
    _check_finite_columns(x, fixed_names)

    raw = []
    for t in pf.random:
        z, names, spec = _materialise(t.lhs, dc, f"random-effects columns of {t.source}", pf.numeric, pf.trusted)
        if z.shape[1] == 0:
            raise FormulaError(f"the random-effects term {t.source} has no columns")
        _check_finite_columns(z, [f"{nm} in {t.source}" for nm in names])
        if t.group in levels and len(t.factors) > 1:  # interaction levels fixed beforehand
            glev = np.asarray(levels[t.group], dtype=object)
            lab = _labels(dc, t.factors)
            mapped = pd.Series(lab).map({v: i for i, v in enumerate(glev)}).to_numpy()
            if np.isnan(mapped.astype(float)).any():
                raise DataError(f"a level of {t.group!r} was not seen in the first pass over the data")
            codes, glevels = mapped.astype(np.int32), glev
        else:
            codes, glevels = _grouping(dc, t.factors)
        raw.append(_TermRows(Term(t.group, t.factors, names, t.source), glevels, codes, z, spec))
    structure, rows = _parts(
        pf.text,
        pf.response,
        fixed_names,
        y,
        x,
        raw,
        dc.frame.index,
        lambda specs: FormulaEncoding(fixed_spec, specs),
    )
    return structure, FrameData(rows, dc.frame, n_dropped)


def _check_finite_columns(x: NDArray[np.float64], names: Sequence[str]) -> None:
    """`_check_finite` for each column of x (one pass over x when all are finite)."""
    if not np.isfinite(x).all():
        for j, nm in enumerate(names):
            _check_finite(x[:, j], nm)


def _check_finite(v: NDArray[np.float64], name: str) -> None:
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{name!r} has {int(bad.sum())} non-finite values (first at row position {i}: {v[i]})")


def _complete_rows(data: _Columns, cols: list[str]) -> np.ndarray:
    """Rows with a value in every one of cols (column by column: cheaper than a frame-wide notna)."""
    ok = np.ones(data.shape[0], dtype=bool)
    for c in cols:
        col = data[c]
        if isinstance(col, np.ndarray):
            if col.dtype.kind == "f":
                ok &= ~np.isnan(col)
            elif col.dtype.kind not in "iub":  # numpy integer and boolean columns hold no missing value
                ok &= ~pd.isna(col)
        elif isinstance(col, pd.Categorical):
            ok &= col.codes >= 0
        else:
            ok &= ~np.asarray(pd.isna(col), dtype=bool)
    return ok


@dataclass(frozen=True)
class GroupTerm:
    """One random-effects term for `fit_arrays`: a grouping factor's codes and the term's columns.

    Parameters
    ----------
    group : str
        Name of the grouping factor. Terms with the same name share the factor (and its codes).
    codes : array of int
        Level of each observation, 0 .. nlevels-1.
    z : array (n, k)
        The term's model columns (a column of ones for a random intercept).
    columns : sequence of str
        Names of the k columns.
    levels : sequence of str, optional
        Level labels (default ``"0" .. str(nlevels-1)``).
    """

    group: str
    codes: np.ndarray
    z: np.ndarray
    columns: tuple[str, ...]
    levels: tuple[str, ...] | None = None


def from_arrays(
    y: ArrayLike,
    x: ArrayLike,
    terms: Sequence[GroupTerm],
    *,
    fixed_names: Sequence[str] | None = None,
) -> tuple[ModelStructure, ArrayData]:
    """A model's structure and rows from arrays (the embedding API; no formula, no missing values).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = np.repeat(np.arange(5), 4)
    >>> s, d = from_arrays(rng.normal(size=20), np.ones((20, 1)), [GroupTerm("g", g, np.ones(20), ("(Intercept)",))])
    >>> s.theta.names, [f.nlev for f in s.factors]
    (('g.(Intercept)',), [5])
    """
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float64))
    if y.ndim != 1:
        raise DataError(f"y must be one-dimensional, got shape {y.shape}")
    n = y.shape[0]
    if n == 0:
        raise DataError("y has no observations")
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    if x.ndim != 2 or x.shape[0] != n:
        raise DataError(f"X must have shape ({n}, p), got {x.shape}")
    names = tuple(fixed_names) if fixed_names is not None else tuple(f"x{j}" for j in range(x.shape[1]))
    if len(names) != x.shape[1]:
        raise DataError(f"{len(names)} fixed-effect names for {x.shape[1]} columns of X")
    _check_finite(y, "y")
    _check_finite_columns(x, names)
    if not terms:
        raise DataError("at least one random-effects term is needed")
    raw = []
    for t in terms:
        codes = np.asarray(t.codes)
        if codes.shape != (n,) or not np.issubdtype(codes.dtype, np.integer):
            raise DataError(f"codes of {t.group!r} must be integers of shape ({n},)")
        z = np.asarray(t.z, dtype=np.float64)
        if z.ndim == 1:
            z = z[:, None]
        if z.shape[0] != n:
            raise DataError(f"z of {t.group!r} must have {n} rows, got {z.shape[0]}")
        if len(t.columns) != z.shape[1]:
            raise DataError(f"{len(t.columns)} column names for {z.shape[1]} columns of z in {t.group!r}")
        if codes.min() < 0:
            raise DataError(f"codes of {t.group!r} must be non-negative")
        nlev = int(codes.max()) + 1
        levels = np.array(list(t.levels) if t.levels is not None else [str(i) for i in range(nlev)], dtype=object)
        if len(levels) < nlev:
            raise DataError(f"{len(levels)} level labels for codes up to {nlev - 1} in {t.group!r}")
        used = np.unique(codes)
        if len(used) < len(levels):
            remap = np.full(len(levels), -1)
            remap[used] = np.arange(len(used))
            codes = remap[codes]
            levels = levels[used]
        _check_finite_columns(z, [f"{nm} of {t.group}" for nm in t.columns])
        src = f"({' + '.join(t.columns)} | {t.group})"
        term = Term(t.group, (t.group,), tuple(t.columns), src)
        raw.append(_TermRows(term, levels, codes.astype(np.int32), z, None))
    structure, rows = _parts("", "y", names, y, x, raw, pd.RangeIndex(n), lambda _specs: ArrayEncoding())
    return structure, ArrayData(rows)
