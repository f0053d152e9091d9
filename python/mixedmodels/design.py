"""Numeric side of a model: response, fixed-effects matrix, and random-effects terms and blocks.

Built once from a data frame (or from arrays, for the embedding API) and frozen. The symbolic terms
come from `formula.parse_formula`; formulaic materialises the fixed part and each term's columns and
keeps the specs that replay the same encoding on new data.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field

import formulaic
import numpy as np
import pandas as pd
from scipy.linalg import lapack

from .exceptions import DataError, FormulaError, MixedModelsWarning
from .formula import ParsedFormula, parse_formula
from .names import level_label, r_name

__all__ = ["Design", "Factor", "Term", "build_design", "design_from_arrays"]


@dataclass(frozen=True, eq=False)
class Term:
    """One random-effects term in lme4's order: its columns on one grouping factor."""

    group: str
    columns: tuple[str, ...]
    source: str
    lhs: str
    spec: object | None  # formulaic ModelSpec of the term's columns (None for array fits)

    @property
    def k(self) -> int:
        return len(self.columns)

    @property
    def ntheta(self) -> int:
        return self.k * (self.k + 1) // 2


@dataclass(frozen=True, eq=False)
class Factor:
    """A grouping factor with all its terms merged into one block (columns in lme4 term order)."""

    name: str
    variables: tuple[str, ...]
    levels: pd.Index
    codes: np.ndarray  # int32, one per observation
    z: np.ndarray  # n x k, C-contiguous
    terms: tuple[int, ...]  # indices into Design.terms
    term_offsets: tuple[int, ...]  # first column of each term within z
    theta_index: np.ndarray
    theta_row: np.ndarray
    theta_col: np.ndarray

    @property
    def nlev(self) -> int:
        return len(self.levels)

    @property
    def k(self) -> int:
        return self.z.shape[1]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._columns)

    def t_matrix(self, theta: np.ndarray) -> np.ndarray:
        """This factor's k x k lower-triangular relative covariance factor T from theta (the one
        place the theta -> Lambda map is applied in Python; the core applies the same map)."""
        t = np.zeros((self.k, self.k))
        t[self.theta_row, self.theta_col] = theta[self.theta_index]
        return t

    _columns: tuple[str, ...] = field(default=())


@dataclass(frozen=True, eq=False)
class Design:
    """Everything numeric about a model, in the order the engine wants it."""

    formula: str
    response: str
    y: np.ndarray
    x: np.ndarray  # n x p, C-contiguous
    fixed_names: tuple[str, ...]
    fixed_spec: object | None
    dropped_fixed: tuple[str, ...]
    terms: tuple[Term, ...]  # lme4 order
    factors: tuple[Factor, ...]  # engine order: most levels first
    theta_lower: np.ndarray
    theta_names: tuple[str, ...]
    n_dropped_na: int
    row_index: pd.Index  # the data rows used
    frame: pd.DataFrame | None = None  # the used columns of those rows (None for array fits)
    n_rows: int | None = None  # set when the rows are not held (streamed fits)
    blocks: object | None = None  # blocks of A (mixedmodels.blocks.Blocks) when the rows are not held

    @property
    def nobs(self) -> int:
        return self.n_rows if self.n_rows is not None else self.y.shape[0]

    @property
    def streamed(self) -> bool:
        """True when the model was formed from chunks and holds the blocks of A, not the rows."""
        return self.blocks is not None

    def require_rows(self, what: str) -> None:
        if self.streamed:
            raise DataError(
                f"{what} needs the data rows, and this model was fitted from streamed data (only the blocks "
                "of A = [Z X y]'[Z X y] are held); use predict(newdata) for predictions"
            )

    def make_engine(self, dense_threshold: float = 0.1):
        """The C++ engine for this design: from the rows, or from the held blocks of A."""
        if self.blocks is not None:
            from .blocks import engine_from_blocks

            return engine_from_blocks(self, self.blocks, dense_threshold)
        from . import _core

        return _core.Engine(self.y, self.x, self.engine_factors(), dense_threshold)

    @property
    def p(self) -> int:
        return self.x.shape[1]

    @property
    def ntheta(self) -> int:
        return self.theta_lower.shape[0]

    def engine_factors(self) -> list[tuple]:
        return [(f.codes, f.nlev, f.z, f.theta_index, f.theta_row, f.theta_col) for f in self.factors]

    def factor(self, name: str) -> Factor:
        for f in self.factors:
            if f.name == name:
                return f
        raise KeyError(f"no grouping factor {name!r}; the model has {[f.name for f in self.factors]}")


# --------------------------------------------------------------------------- grouping factors


def _drop_unused(col: pd.Categorical) -> pd.Categorical:
    """A categorical without its unused categories (a counting pass; pandas' own sorts the codes)."""
    codes = col.codes  # -1: missing
    ncat = len(col.categories)
    used = np.bincount(codes[codes >= 0], minlength=ncat) > 0
    if used.all():
        return col
    return col.set_categories(col.categories[used])  # keeps the order (remove_categories may sort)


def _level_labels(values) -> np.ndarray:
    """Level labels as R's ``factor()`` prints them, as an object array."""
    return np.array([v if type(v) is str else level_label(v) for v in values], dtype=object)


def _as_factor(col, name: str) -> tuple[np.ndarray, np.ndarray]:
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


def _grouping(data: _Columns, variables: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    codes, levels = _as_factor(data[variables[0]], variables[0])
    for v in variables[1:]:
        c2, l2 = _as_factor(data[v], v)
        combined = codes * len(l2) + c2  # first variable varies slowest, as R's ':' on factors
        uniq, inv = np.unique(combined, return_inverse=True)
        levels = np.array([f"{levels[u // len(l2)]}:{l2[u % len(l2)]}" for u in uniq], dtype=object)
        codes = inv.astype(np.int64)
    return codes.astype(np.int32), levels


# --------------------------------------------------------------------------- formulaic helpers


def _materialise(spec_text: str, data: _Columns, what: str):
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
    try:
        mm = formulaic.model_matrix(spec_text, data.frame, na_action="ignore")  # pandas output: faster than numpy
    except Exception as exc:  # formulaic raises many types; name what failed
        raise FormulaError(f"cannot build the {what} from {spec_text!r}: {exc}") from exc
    names = tuple(r_name(c) for c in mm.model_spec.column_names)
    return np.ascontiguousarray(mm.to_numpy(dtype=np.float64)), names, mm.model_spec


class _Columns:
    """A data frame's columns as arrays (numpy, or pandas' Categorical and other extension arrays),
    each looked up once: building a pandas Series costs ~10-20 us, and a small fit needs a dozen."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.columns = frame.columns
        self.shape = frame.shape
        self._cache: dict = {}

    def __getitem__(self, name):
        col = self._cache.get(name)
        if col is None:
            col = self._cache[name] = _column_array(self.frame, name)
        return col

    def replace(self, name, col) -> None:
        """Swap in a changed column (the frame gets it too)."""
        self.frame = self.frame.assign(**{name: col})
        self._cache[name] = col


def _column_array(frame: pd.DataFrame, name):
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
        self._spec = None

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._spec is None:
            self._spec = formulaic.model_matrix(self._text, self._data, na_action="ignore").model_spec
        return getattr(self._spec, name)


@functools.lru_cache(maxsize=256)
def _required(text: str) -> frozenset[str]:
    try:
        return frozenset(formulaic.Formula(text).required_variables)
    except Exception as exc:
        raise FormulaError(f"cannot parse {text!r}: {exc}") from exc


def _independent_columns(x: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Indices of the columns kept when columns aliased by earlier ones are dropped (as R's qr with
    tolerance 1e-7: a column goes when its part not explained by the kept earlier columns has
    relative norm below tol). Works on the Gram matrix: one pass over the rows."""
    return independent_from_gram(x.T @ x, tol)


def independent_from_gram(g: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """`_independent_columns` from the Gram matrix X'X (all a streamed fit has)."""
    p = g.shape[0]
    if p == 0:
        return np.arange(0)
    chol, info = lapack.dpotrf(g, lower=1)  # the usual case first: every column well determined
    if info == 0 and np.all(np.diag(chol) ** 2 > (tol * tol) * np.diag(g)):
        return np.arange(p)
    chol = np.zeros((p, p))
    kept: list[int] = []
    for j in range(p):
        if g[j, j] <= 0.0:
            continue
        lj = chol[j, kept]
        r = g[j, j] - lj @ lj
        if r <= (tol * tol) * g[j, j]:
            continue
        d = np.sqrt(r)
        chol[j, j] = d
        for i in range(j + 1, p):
            chol[i, j] = (g[i, j] - chol[i, kept] @ lj) / d
        kept.append(j)
    return np.array(kept, dtype=int)


# --------------------------------------------------------------------------- lme4 term order


def _lme4_order(nlevels: list[int]) -> list[int]:
    """lme4's mkReTrms: if any term has more levels than the one before, order by decreasing
    number of levels with R's rev(order(nl)) (so ties come out in reverse)."""
    nl = np.asarray(nlevels)
    if len(nl) > 1 and np.any(np.diff(nl) > 0):
        return list(np.argsort(nl, kind="stable")[::-1])
    return list(range(len(nl)))


def _theta_names(group: str, cols: tuple[str, ...]) -> list[str]:
    out = []
    for j in range(len(cols)):
        for i in range(j, len(cols)):
            out.append(f"{group}.{cols[i]}" if i == j else f"{group}.{cols[i]}.{cols[j]}")
    return out


@dataclass
class _RawTerm:
    group: str
    variables: tuple[str, ...]
    codes: np.ndarray
    levels: pd.Index
    z: np.ndarray
    columns: tuple[str, ...]
    source: str
    lhs: str
    spec: object | None

    @property
    def k(self) -> int:
        return self.z.shape[1]


def _assemble(raw: list[_RawTerm], nobs: int) -> tuple[tuple[Term, ...], tuple[Factor, ...], np.ndarray, tuple]:
    order = _lme4_order([len(t.levels) for t in raw])
    raw = [raw[i] for i in order]
    terms = tuple(Term(t.group, t.columns, t.source, t.lhs, t.spec) for t in raw)
    # theta offsets in lme4 order
    offsets, o = [], 0
    lower, names = [], []
    for t in terms:
        offsets.append(o)
        o += t.ntheta
        for j in range(t.k):
            for i in range(j, t.k):
                lower.append(0.0 if i == j else -np.inf)
        names.extend(_theta_names(t.group, t.columns))
    # merge terms by grouping factor (first appearance), then order blocks by levels, largest first
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(raw):
        groups.setdefault(t.group, []).append(i)
    blocks = []
    for g, idx in groups.items():
        first = raw[idx[0]]
        zs, tis, trs, tcs, toffs = [], [], [], [], []
        col = 0
        for i in idx:
            t = raw[i]
            toffs.append(col)
            zs.append(t.z)
            n = offsets[i]
            for j in range(t.k):
                for r in range(j, t.k):
                    tis.append(n)
                    trs.append(col + r)
                    tcs.append(col + j)
                    n += 1
            col += t.k
        z = np.ascontiguousarray(zs[0] if len(zs) == 1 else np.column_stack(zs), dtype=np.float64)
        allcols = tuple(c for i in idx for c in raw[i].columns)
        blocks.append(
            Factor(
                name=g,
                variables=first.variables,
                levels=first.levels,
                codes=np.ascontiguousarray(first.codes, dtype=np.int32),
                z=z,
                terms=tuple(idx),
                term_offsets=tuple(toffs),
                theta_index=np.array(tis, dtype=np.int32),
                theta_row=np.array(trs, dtype=np.int32),
                theta_col=np.array(tcs, dtype=np.int32),
                _columns=allcols,
            )
        )
    blocks.sort(key=lambda f: -f.nlev)  # stable: ties keep lme4's order
    return terms, tuple(blocks), np.array(lower), tuple(names)


def _check_slopes(t: _RawTerm) -> None:
    """A slope column constant within every group, next to an intercept, cannot vary by group."""
    if "(Intercept)" not in t.columns:
        return
    cnt = np.bincount(t.codes, minlength=len(t.levels)).astype(float)
    for j, name in enumerate(t.columns):
        if name == "(Intercept)":
            continue
        z = t.z[:, j]
        s1 = np.bincount(t.codes, weights=z, minlength=len(t.levels))
        s2 = np.bincount(t.codes, weights=z * z, minlength=len(t.levels))
        within = s2 - s1 * s1 / np.maximum(cnt, 1)
        if np.all(within <= 1e-10 * max(float(s2.sum()), 1e-300)):
            raise DataError(
                f"the random slope on {name!r} in {t.source} is constant within every level of {t.group!r}, "
                f"so its effect cannot vary between levels: keep {name!r} in the fixed part and drop it from "
                "the random-effects term"
            )


def _check_terms(raw: list[_RawTerm], nobs: int) -> None:
    _check_levels(raw, nobs)
    for t in raw:
        _check_slopes(t)


def _check_levels(raw: list[_RawTerm], nobs: int) -> None:
    for t in raw:
        check_term_size(t.group, t.source, len(t.levels), t.z.shape[1], nobs)


def check_term_size(group: str, source: str, nl: int, k: int, nobs: int) -> None:
    """lme4's checks of a term's levels and random effects against the number of observations."""
    if nl < 2:
        raise DataError(f"grouping factor {group!r} in {source} has {nl} level; a random effect needs at least 2")
    if nl >= nobs:
        raise DataError(
            f"grouping factor {group!r} in {source} has {nl} levels for {nobs} observations; "
            "the number of levels must be less than the number of observations"
        )
    if nl * k >= nobs:
        raise DataError(
            f"the term {source} has {nl * k} random effects ({nl} levels x {k} columns) for {nobs} observations; "
            "they and the residual variance are not identifiable"
        )


# --------------------------------------------------------------------------- entry points


def used_columns(pf: ParsedFormula) -> set[str]:
    """The data columns a parsed formula needs."""
    used = _required(f"{pf.response} ~ {pf.fixed}")
    for t in pf.random:
        used |= _required(t.lhs)
        used |= set(t.factors)
    return used


def build_design(
    formula: str | ParsedFormula,
    data: pd.DataFrame,
    *,
    levels: dict | None = None,
    row_checks: bool = True,
) -> Design:
    """Materialise a parsed formula on a data frame.

    Rows with a missing value in any used column are dropped (as R's ``na.omit``).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> d = build_design("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    >>> d.fixed_names, d.theta_names
    (('(Intercept)', 'Days'), ('Subject.(Intercept)', 'Subject.Days.(Intercept)', 'Subject.Days'))
    """
    pf = formula if isinstance(formula, ParsedFormula) else parse_formula(formula)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if data.shape[0] == 0:
        raise DataError("the data frame has no rows")
    if not pf.random:
        raise FormulaError(
            f"the formula {pf.text!r} has no random-effects term such as (1 | g); "
            "for a model without random effects use ordinary least squares"
        )
    used = used_columns(pf)
    missing = sorted(v for v in used if v not in data.columns)
    if missing:
        import difflib

        hints = []
        for v in missing:
            close = difflib.get_close_matches(v, [str(c) for c in data.columns], n=3)
            hints.append(f"{v!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        raise FormulaError(f"the data has no column {', '.join(hints)}")
    if data.columns.is_unique:
        cols = sorted(used, key=data.columns.get_loc)  # in the data's order
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
                cat = col.set_categories(levels[c])
            else:
                cat = pd.Categorical(col, categories=levels[c])
            if (cat.codes < 0).any():
                raise DataError(f"column {c!r} has a value that the first pass over the data did not see")
            dc.replace(c, cat)
        elif isinstance(col, pd.Categorical):
            dropped_cats = _drop_unused(col)
            if dropped_cats is not col:
                dc.replace(c, dropped_cats)
    nobs = dc.shape[0]

    if pf.response in dc.columns:  # a plain column: no need to materialise it
        resp = dc[pf.response]
        dt = resp.dtype
        if not (isinstance(dt, np.dtype) and dt.kind in "iuf") and (
            not pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
        ):
            raise DataError(f"the response {pf.response!r} must be numeric, it has dtype {dt}")
        y = np.array(resp, dtype=np.float64)  # our own copy: the column's array may be the frame's memory
        x, fixed_names, fixed_spec = _materialise(pf.fixed, dc, f"fixed-effects model matrix of {pf.text!r}")
    else:
        try:
            mm = formulaic.model_matrix(f"{pf.response} ~ {pf.fixed}", dc.frame, na_action="ignore")
        except Exception as exc:
            raise FormulaError(f"cannot build the fixed-effects model matrix of {pf.text!r}: {exc}") from exc
        ymat = mm.lhs.to_numpy(dtype=np.float64)
        if ymat.ndim != 2 or ymat.shape[1] != 1:
            raise DataError(f"the response {pf.response!r} must be one numeric column")
        y = np.ascontiguousarray(ymat[:, 0])
        x = mm.rhs.to_numpy(dtype=np.float64)
        fixed_names = tuple(r_name(c) for c in mm.rhs.model_spec.column_names)
        fixed_spec = mm.rhs.model_spec
    _check_finite(y, pf.response)
    _check_finite_columns(x, fixed_names)
    if row_checks and y.min() == y.max():
        raise DataError(f"the response {pf.response!r} is constant; there is no variation to model")
    kept = _independent_columns(x) if row_checks else np.arange(x.shape[1])
    dropped = tuple(nm for j, nm in enumerate(fixed_names) if j not in set(kept))
    if dropped:
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} column"
            f"{'s' if len(dropped) > 1 else ''}: {', '.join(dropped)}",
            MixedModelsWarning,
            stacklevel=3,
        )
        x = x[:, kept]
        fixed_names = tuple(fixed_names[j] for j in kept)
    x = np.ascontiguousarray(x)

    raw = []
    for t in pf.random:
        z, names, spec = _materialise(t.lhs, dc, f"random-effects columns of {t.source}")
        if z.shape[1] == 0:
            raise FormulaError(f"the random-effects term {t.source} has no columns")
        _check_finite_columns(z, [f"{nm} in {t.source}" for nm in names])
        if t.group in levels and len(t.factors) > 1:  # interaction levels fixed beforehand
            glev = pd.Index(levels[t.group], dtype=object)
            lab = _labels(dc, t.factors)
            codes = pd.Series(lab).map({v: i for i, v in enumerate(glev)}).to_numpy()
            if np.isnan(codes.astype(float)).any():
                raise DataError(f"a level of {t.group!r} was not seen in the first pass over the data")
            codes, glevels = codes.astype(np.int32), glev
        else:
            codes, glevels = _grouping(dc, t.factors)
        raw.append(_RawTerm(t.group, t.factors, codes, glevels, z, names, t.source, t.lhs, spec))
    if row_checks:
        _check_terms(raw, nobs)
    terms, factors, lower, names = _assemble(raw, nobs)
    return Design(
        formula=pf.text,
        response=pf.response,
        y=y,
        x=x,
        fixed_names=fixed_names,
        fixed_spec=fixed_spec,
        dropped_fixed=dropped,
        terms=terms,
        factors=factors,
        theta_lower=lower,
        theta_names=names,
        n_dropped_na=n_dropped,
        row_index=dc.frame.index,
        frame=dc.frame,
    )


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


def _check_finite_columns(x: np.ndarray, names) -> None:
    """`_check_finite` for each column of x (one pass over x when all are finite)."""
    if not np.isfinite(x).all():
        for j, nm in enumerate(names):
            _check_finite(x[:, j], nm)


def _check_finite(v: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(v)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{name!r} has {int(bad.sum())} non-finite values (first at row position {i}: {v[i]})")


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


def design_from_arrays(y: np.ndarray, x: np.ndarray, fixed_names: tuple[str, ...], terms: list[GroupTerm]) -> Design:
    """Build a `Design` from arrays (the embedding API; no formula, no missing values allowed)."""
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float64))
    if y.ndim != 1:
        raise DataError(f"y must be one-dimensional, got shape {y.shape}")
    n = y.shape[0]
    if n == 0:
        raise DataError("y has no observations")
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64))
    if x.ndim != 2 or x.shape[0] != n:
        raise DataError(f"X must have shape ({n}, p), got {x.shape}")
    fixed_names = tuple(fixed_names)
    if len(fixed_names) != x.shape[1]:
        raise DataError(f"{len(fixed_names)} fixed-effect names for {x.shape[1]} columns of X")
    _check_finite(y, "y")
    _check_finite_columns(x, fixed_names)
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
        levels = pd.Index(list(t.levels) if t.levels is not None else [str(i) for i in range(nlev)], dtype=object)
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
        raw.append(_RawTerm(t.group, (t.group,), codes.astype(np.int32), levels, z, tuple(t.columns), src, "", None))
    _check_terms(raw, n)
    terms_, factors, lower, names = _assemble(raw, n)
    return Design(
        formula="",
        response="y",
        y=y,
        x=x,
        fixed_names=fixed_names,
        fixed_spec=None,
        dropped_fixed=(),
        terms=terms_,
        factors=factors,
        theta_lower=lower,
        theta_names=names,
        n_dropped_na=0,
        row_index=pd.RangeIndex(n),
    )
