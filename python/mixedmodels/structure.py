"""What a model is, whatever data it was fitted from: its response and fixed-effects columns, its
random-effects terms and grouping factors, the theta layout, and how its columns are made from data
(the encoding, replayed on new data by ``predict``).

Built once by `design` (from a data frame or from arrays) or by `stream` (from the first pass over
chunks), and frozen. The numbers (rows, cross-products) live in `data` and `model`.
"""

from __future__ import annotations

import ast
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from formulaic.errors import FormulaicError
from formulaic.transforms.contrasts import DataMismatchWarning
from numpy.typing import NDArray

from . import _core
from .exceptions import DataError, MixedModelsError
from .layout import ThetaLayout
from .names import drop_internal_calls, level_label

__all__ = [
    "ArrayEncoding",
    "Encoding",
    "Factor",
    "FormulaEncoding",
    "LevelKeys",
    "ModelStructure",
    "Term",
]


@dataclass(frozen=True, eq=False)
class Term:
    """One random-effects term in lme4's order: its columns on one grouping factor.

    Attributes
    ----------
    group : str
        The grouping factor's name (``a:b`` for an interaction grouping).
    variables : tuple of str
        The grouping variables.
    columns : tuple of str
        Names of the term's random-effects columns.
    source : str
        The bar term as written, e.g. ``(1 + ses | school)``.
    """

    group: str
    variables: tuple[str, ...]
    columns: tuple[str, ...]
    source: str

    @property
    def k(self) -> int:
        """Number of columns."""
        return len(self.columns)


@dataclass(frozen=True, eq=False)
class LevelKeys:
    """The levels of a grouping factor by its variables' values: each variable's own levels (its
    values as the fit's data held them) and, for each level of the factor, the index of each
    variable's value. An interaction's level is the combination of its variables' codes, never a
    joined string (``a = 'x:y', b = 'z'`` and ``a = 'x', b = 'y:z'`` are two levels).

    Attributes
    ----------
    values : tuple of ndarray of object
        Per variable, its levels' values.
    combos : ndarray of int64, shape (nlev, nvars)
        Per level of the factor, the index into ``values[v]`` of each variable v.

    Examples
    --------
    >>> keys = LevelKeys((np.array(["x:y", "x"], dtype=object), np.array(["z", "y:z"], dtype=object)),
    ...                  np.array([[0, 0], [1, 1]]))
    >>> keys.codes([pd.Series(["x", "x:y", "q"]), pd.Series(["y:z", "z", "z"])]).tolist()
    [1, 0, -1]
    """

    values: tuple[NDArray[np.object_], ...]
    combos: NDArray[np.int64]

    def codes(self, columns: Sequence[Any]) -> NDArray[np.int64]:
        """Each new row's level (-1 for a combination, value or missing value not in the fit), from
        the grouping variables' columns in the order of ``values``."""
        parts = [_value_codes(vals, col) for vals, col in zip(self.values, columns, strict=True)]
        if len(parts) == 1:
            lookup = np.full(len(self.values[0]) + 1, -1, dtype=np.int64)  # the last: not found
            lookup[self.combos[:, 0]] = np.arange(self.combos.shape[0])
            return lookup[parts[0]]
        fit = pd.MultiIndex.from_arrays([self.combos[:, v] for v in range(self.combos.shape[1])])
        out = np.asarray(fit.get_indexer(pd.MultiIndex.from_arrays(parts)), dtype=np.int64)
        out[np.any(np.stack(parts) < 0, axis=0)] = -1
        return out


def _value_codes(values: NDArray[np.object_], col: Any) -> NDArray[np.int64]:
    """The index into values of each element of col (-1: not among them, or missing): by value,
    then by R's label for those not found (a column read as numbers where the fit had text)."""
    new = pd.Index(col.to_numpy(dtype=object) if isinstance(col, pd.Series) else np.asarray(col, dtype=object))
    fit = pd.Index(values, dtype=object)
    out = np.asarray(fit.get_indexer(new), dtype=np.int64) if fit.is_unique else np.full(len(new), -1, np.int64)
    missing = np.asarray(pd.isna(new), dtype=bool)
    out[missing] = -1
    todo = (out < 0) & ~missing
    if todo.any():
        labels = [level_label(v) for v in values]
        counts = pd.Series(labels).value_counts()
        by_label = {lab: i for i, lab in enumerate(labels) if counts[lab] == 1}
        out[todo] = [by_label.get(level_label(v), -1) for v in new[todo]]
    return out


@dataclass(frozen=True, eq=False)
class Factor:
    """A grouping factor with all its terms merged into one block (columns in lme4 term order).

    Attributes
    ----------
    name : str
        The grouping factor's name.
    variables : tuple of str
        The grouping variables.
    levels : ndarray of object
        Level labels as R prints them (``lvl_a:lvl_b`` for an interaction).
    columns : tuple of str
        The random-effects columns of all its terms.
    terms : tuple of int
        Indices of its terms in `ModelStructure.terms`.
    term_offsets : tuple of int
        The first column of each of those terms within `columns`.
    keys : LevelKeys or None
        How new data's values find the levels (by each variable's values, not by the labels, which
        may have been made unique for printing); None for a model fitted from arrays.
    """

    name: str
    variables: tuple[str, ...]
    levels: NDArray[np.object_]
    columns: tuple[str, ...]
    terms: tuple[int, ...]
    term_offsets: tuple[int, ...]
    keys: LevelKeys | None = None

    @property
    def nlev(self) -> int:
        """Number of levels."""
        return len(self.levels)

    @property
    def k(self) -> int:
        """Number of random-effects columns."""
        return len(self.columns)


class Encoding(ABC):
    """How a model's columns are made from data, for new data (``predict``) and for type III tests."""

    @abstractmethod
    def formula(self, what: str) -> FormulaEncoding:
        """This encoding if it replays a formula, else a `MixedModelsError` saying that `what` needs one."""

    @abstractmethod
    def fixed_matrix(self, newdata: pd.DataFrame, keys: Sequence[str]) -> NDArray[np.float64]:
        """The fixed-effects columns of internal keys ``keys`` (`ModelStructure.fixed_keys`) for the
        rows of newdata."""

    @abstractmethod
    def term_matrix(self, newdata: pd.DataFrame, term: int, source: str) -> NDArray[np.float64]:
        """Random-effects term ``term``'s columns for the rows of newdata."""

    def offset(self, newdata: pd.DataFrame) -> NDArray[np.float64] | None:
        """The formula's ``offset(...)`` terms summed on new data, or None (no such term)."""
        return None


def _unseen_levels(newdata: pd.DataFrame, spec: Any, exc: Warning) -> str:
    """The error for newdata with a level of a categorical variable the fit did not see, naming the
    column and its values from formulaic's warning (whose "cast to nan" is not what happens here:
    the prediction stops)."""
    text = str(exc)
    found = re.search(r"\{.*\}", text)
    values: set[Any] = set()
    if found:
        try:
            parsed = ast.literal_eval(found.group(0))
            values = set(parsed) if isinstance(parsed, (set, frozenset)) else set()
        except (ValueError, SyntaxError, TypeError):
            values = set()
    columns = [
        str(c)
        for c in sorted(map(str, getattr(spec, "required_variables", ())))
        if c in newdata.columns and values and newdata[c].isin(list(values)).any()
    ]
    shown = ", ".join(map(repr, sorted(values, key=str))) if values else text.split(". They are being cast")[0]
    where = f" in column{'s' if len(columns) > 1 else ''} {', '.join(map(repr, columns))}" if columns else ""
    return (
        f"newdata has a level the model was not fitted with{where}: {shown} (the fixed part has no coefficient for it)"
    )


@dataclass(frozen=True, eq=False)
class FormulaEncoding(Encoding):
    """formulaic's model specs of the fixed part and of each random-effects term (lme4's order):
    the categories, contrasts and transforms seen in the fit, replayed on new data."""

    fixed: Any  # formulaic ModelSpec (or design.LazySpec, which builds one when first used)
    terms: tuple[Any, ...]
    offsets: tuple[Any, ...] = ()  # one spec per offset(...) term of the formula

    def offset(self, newdata: pd.DataFrame) -> NDArray[np.float64] | None:
        """The sum of the formula's ``offset(...)`` terms on new data (None without any)."""
        total = None
        for spec in self.offsets:
            try:
                mm = spec.get_model_matrix(newdata, na_action="ignore", output="numpy")
            except (KeyError, FormulaicError) as exc:
                missing = sorted(set(getattr(spec, "required_variables", ())) - set(map(str, newdata.columns)))
                raise DataError(
                    f"newdata lacks the column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                    "that the formula's offset() needs"
                    if missing
                    else f"cannot evaluate the formula's offset() on newdata: {drop_internal_calls(str(exc))}"
                ) from exc
            v = np.asarray(mm, dtype=np.float64)[:, 0]
            total = v if total is None else total + v
        return total

    def formula(self, what: str) -> FormulaEncoding:
        return self

    def fixed_matrix(self, newdata: pd.DataFrame, keys: Sequence[str]) -> NDArray[np.float64]:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataMismatchWarning)
            try:
                mm = self.fixed.get_model_matrix(newdata, na_action="ignore", output="numpy")
            except DataMismatchWarning as exc:
                raise DataError(_unseen_levels(newdata, self.fixed, exc)) from exc
            except KeyError as exc:
                raise DataError(f"newdata lacks a column the fixed part needs: {exc}") from exc
        where = {c: j for j, c in enumerate(self.fixed.column_names)}  # formulaic's names are unique
        return np.asarray(mm, dtype=np.float64)[:, [where[k] for k in keys]]

    def term_matrix(self, newdata: pd.DataFrame, term: int, source: str) -> NDArray[np.float64]:
        try:
            mm = self.terms[term].get_model_matrix(newdata, na_action="ignore", output="numpy")
        except KeyError as exc:
            raise DataError(f"newdata lacks a column {source} needs: {exc}") from exc
        return np.asarray(mm, dtype=np.float64)


class ArrayEncoding(Encoding):
    """A model fitted from arrays (`fit_arrays`): there is no formula to replay on new data."""

    def formula(self, what: str) -> FormulaEncoding:
        raise MixedModelsError(f"{what} needs a model fitted from a formula and a data frame")

    def fixed_matrix(self, newdata: pd.DataFrame, keys: Sequence[str]) -> NDArray[np.float64]:
        raise DataError("a model fitted from arrays predicts only its own rows (newdata=None)")

    def term_matrix(self, newdata: pd.DataFrame, term: int, source: str) -> NDArray[np.float64]:
        raise DataError("a model fitted from arrays predicts only its own rows (newdata=None)")


@dataclass(frozen=True, eq=False)
class ModelStructure:
    """Everything about a model but its numbers.

    Attributes
    ----------
    formula : str
        The formula as given ("" for a model fitted from arrays).
    response : str
        The response's name.
    fixed_names : tuple of str
        The fixed-effects columns, named as lme4 names them.
    dropped_fixed : tuple of str
        Fixed-effects columns dropped because earlier columns alias them.
    terms : tuple of Term
        The random-effects terms in lme4's order.
    factors : tuple of Factor
        The grouping factors in the engine's order (most levels first).
    theta : ThetaLayout
        The covariance parameters' layout.
    encoding : Encoding
        How the columns are made from data.
    fixed_keys : tuple of str
        An internal key per fixed-effects column that cannot collide (formulaic's column name),
        by which the encoding replays the column on new data; the printed names may coincide
        (``grp1`` for level ``1`` of ``grp`` and for a column ``grp1``) and are then made unique.
        Empty: the names are the keys (a model fitted from arrays).
    """

    formula: str
    response: str
    fixed_names: tuple[str, ...]
    dropped_fixed: tuple[str, ...]
    terms: tuple[Term, ...]
    factors: tuple[Factor, ...]
    theta: ThetaLayout
    encoding: Encoding
    fixed_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.fixed_keys:
            object.__setattr__(self, "fixed_keys", self.fixed_names)
        if len(self.fixed_keys) != len(self.fixed_names):
            raise ValueError("one key per fixed-effects column")

    @property
    def p(self) -> int:
        """Number of fixed-effects columns."""
        return len(self.fixed_names)

    @property
    def ntheta(self) -> int:
        """Number of covariance parameters."""
        return self.theta.ntheta

    @cached_property
    def group_order(self) -> tuple[str, ...]:
        """The grouping factors' names in lme4's order (of their first term)."""
        return tuple(dict.fromkeys(t.group for t in self.terms))

    def factor_index(self, name: str) -> int:
        """The engine index of grouping factor ``name``."""
        for i, f in enumerate(self.factors):
            if f.name == name:
                return i
        raise KeyError(f"no grouping factor {name!r}; the model has {[f.name for f in self.factors]}")

    def factor(self, name: str) -> Factor:
        """Grouping factor ``name``."""
        return self.factors[self.factor_index(name)]

    def intercept_columns(self) -> list[int]:
        """Per factor, the index of its ``(Intercept)`` column, or -1."""
        return [f.columns.index("(Intercept)") if "(Intercept)" in f.columns else -1 for f in self.factors]

    @cached_property
    def core_layout(self) -> _core.Layout:
        """The model's dimensions and theta map as the core sees them."""
        return _core.Layout(self.theta.core_factors([f.nlev for f in self.factors]), self.p)

    def select_fixed(self, keep: NDArray[np.intp]) -> ModelStructure:
        """The structure with only the fixed-effects columns ``keep``; the others are recorded as dropped."""
        kept = set(keep.tolist())
        dropped = tuple(n for j, n in enumerate(self.fixed_names) if j not in kept)
        return replace(
            self,
            fixed_names=tuple(self.fixed_names[j] for j in keep),
            dropped_fixed=self.dropped_fixed + dropped,
            fixed_keys=tuple(self.fixed_keys[j] for j in keep),
        )


def assemble(
    terms: Sequence[Term],
    levels: Sequence[NDArray[np.object_]],
    keys: Sequence[LevelKeys | None] | None = None,
) -> tuple[tuple[Term, ...], tuple[Factor, ...], ThetaLayout, list[int]]:
    """lme4's order of the terms, the grouping factors (terms merged by group, most levels first)
    and the theta layout, from the terms as written and each one's levels (and level keys).

    Returns
    -------
    terms, factors, layout, order
        The terms in lme4's order, the factors in the engine's order (their `Factor.terms` index the
        reordered terms), the theta layout, and for each reordered term its index among the terms
        as written.
    """
    order = lme4_order([len(lv) for lv in levels])
    terms = [terms[i] for i in order]
    levels = [levels[i] for i in order]
    level_keys = [None if keys is None else keys[i] for i in order]
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(terms):
        groups.setdefault(t.group, []).append(i)
    unsorted: list[Factor] = []
    for g, idx in groups.items():
        offsets, col = [], 0
        for i in idx:
            offsets.append(col)
            col += terms[i].k
        unsorted.append(
            Factor(
                name=g,
                variables=terms[idx[0]].variables,
                levels=levels[idx[0]],
                columns=tuple(c for i in idx for c in terms[i].columns),
                terms=tuple(idx),
                term_offsets=tuple(offsets),
                keys=level_keys[idx[0]],
            )
        )
    factors = sorted(unsorted, key=lambda f: -f.nlev)  # stable: ties keep lme4's order
    where = {}
    for fi, f in enumerate(factors):
        for ti, off in zip(f.terms, f.term_offsets, strict=True):
            where[ti] = (fi, off)
    layout = ThetaLayout.of(
        tuple((t.group, t.columns, *where[i]) for i, t in enumerate(terms)), tuple(f.k for f in factors)
    )
    return tuple(terms), tuple(factors), layout, order


def lme4_order(nlevels: Sequence[int]) -> list[int]:
    """lme4's mkReTrms: if any term has more levels than the one before, order by decreasing
    number of levels with R's rev(order(nl)) (so ties come out in reverse).

    Examples
    --------
    >>> lme4_order([3, 10, 5]), lme4_order([10, 5, 3])
    ([1, 2, 0], [0, 1, 2])
    """
    nl = np.asarray(nlevels)
    if len(nl) > 1 and np.any(np.diff(nl) > 0):
        return [int(i) for i in np.argsort(nl, kind="stable")[::-1]]
    return list(range(len(nl)))
