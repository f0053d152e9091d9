"""No pooling: a separate least-squares fit per group, as lme4's ``lmList``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .exceptions import DataError, FormulaError, MixedModelsWarning, warn
from .expressions import Translation, all_rows, is_logical, logical_factor, model_matrix, translate
from .names import drop_internal_calls, level_label, r_name

__all__ = ["LmList", "lmlist"]


@dataclass(frozen=True)
class LmList:
    """Per-group OLS fits: `coef` (groups x coefficients), `se`, `sigma` and `nobs` per group."""

    formula: str
    group: str
    coef: pd.DataFrame
    se: pd.DataFrame
    sigma: pd.Series
    nobs: pd.Series

    def __repr__(self) -> str:
        return f"<LmList {self.formula!r}: {len(self.coef)} groups>"


def _kept_columns(x: NDArray[np.float64], tol: float = 1e-7) -> list[int]:
    """The columns of x that R's lm keeps (LINPACK's dqrdc2 with its tolerance): in order, each one
    whose part orthogonal to those kept before it is at least ``tol`` of its norm.

    Examples
    --------
    >>> _kept_columns(np.array([[1.0, 2.0, 0.0, 1.0], [1.0, 2.0, 0.0, 2.0], [1.0, 2.0, 0.0, 4.0]]))
    [0, 3]
    """
    kept: list[int] = []
    basis = np.zeros((x.shape[0], 0))
    for j in range(x.shape[1]):
        col = x[:, j]
        norm = float(np.linalg.norm(col))
        rest = col - basis @ (basis.T @ col)
        rest = rest - basis @ (basis.T @ rest)  # (twice: what one Gram-Schmidt pass leaves by rounding)
        left = float(np.linalg.norm(rest))
        if norm > 0.0 and left >= tol * norm:
            kept.append(j)
            basis = np.column_stack([basis, rest / left])
    return kept


def _group_matrix(
    code: Translation, rows: pd.DataFrame, at: Mapping[str, int], logical: set[str]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]] | None:
    """One group's response, model matrix and its columns' positions (``at``: by name, those of all
    rows), as R's lm forms them from the group's rows alone (its factors' unused levels dropped;
    ``logical``: the logical columns, R's logicals, not factors); None where the group's rows cannot
    form it, as lmList leaves such a group's fit out: a factor of one level there (R: "contrasts can
    be applied only to factors with 2 or more levels"), poly() of too few distinct values."""
    factors = [
        c
        for c in rows.columns
        if c in code.variables
        and c not in logical
        and (isinstance(rows[c].dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(rows[c].dtype))
    ]
    if any(rows[c].nunique() < 2 for c in factors):
        return None
    dropped = [c for c in factors if isinstance(rows[c].dtype, pd.CategoricalDtype)]
    own = rows.assign(**{c: rows[c].cat.remove_unused_categories() for c in dropped})
    try:
        with all_rows([]):
            mm = model_matrix(code.text, own, code.numeric, na_action="ignore")
    except Exception:  # noqa: BLE001 (the group's fit is left out, as lmList's tryCatch leaves it)
        return None
    own_names = [r_name(c) for c in mm.rhs.model_spec.column_names]
    if not all(n in at for n in own_names):
        return None
    y = mm.lhs.to_numpy(dtype=float)[:, 0]
    x = mm.rhs.to_numpy(dtype=float)
    return y, x, np.array([at[n] for n in own_names], dtype=np.intp)


def lmlist(formula: str, data: pd.DataFrame) -> LmList:
    """Fit ``y ~ x | g``: one ordinary least-squares regression of y on x within each level of g.

    Each group's fit is R's lm on its rows, as lmList's: a stateful transform (``scale(x)``) learns
    from the group, and a factor has the group's levels (a group without the first level has the
    next as reference; one where a factor has a single level has no fit, with a warning, as in R).
    A column aliased within a group (more columns than rows) gets NaN there, as R's lmList gives NA:
    R's lm keeps the columns in order and drops one whose part not spanned by those kept is below
    1e-7 of its norm (`_kept_columns`).

    Examples
    --------
    >>> import mixedmodels as mm
    >>> fits = mm.lmlist("Reaction ~ Days | Subject", mm.datasets.load("sleepstudy"))
    >>> fits.coef.shape, list(fits.coef.columns)
    ((18, 2), ['(Intercept)', 'Days'])
    """
    if not isinstance(formula, str):
        raise FormulaError(f"the formula must be a string, got {type(formula).__name__}")
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if "|" not in formula:
        raise FormulaError(f"lmlist needs a formula 'y ~ x | g', got {formula!r}")
    model, group = (s.strip() for s in formula.rsplit("|", 1))
    if re.search(r"(?<![\w.])offset\s*\(", model):  # (it had been fitted as a coefficient)
        raise FormulaError(f"lmlist does not take offset() terms ({model!r}): subtract the offset from the response")
    if group not in data.columns:
        raise FormulaError(f"the data has no grouping column {group!r}")
    code = translate(model)  # vetted before anything evaluates it, as lmer's formulas
    response = model.split("~", 1)[0].strip()
    # a logical predictor is R's two-level factor (bTRUE), as in lmer's model matrix
    # (those that arithmetic or a function reads, I(b * x) or exp(b), stay 0/1, as in R)
    logical = {
        c: logical_factor(data[c], all_levels=True)
        for c in data.columns
        if c != response and c not in code.numeric and is_logical(data[c])
    }
    if logical:
        data = data.assign(**logical)
    # the rows with every column the formula reads (R's na.omit), as lmer's: formulaic's own dropping
    # cannot look into a factor made in the formula ((x > 0) | g had been refused)
    used = [c for c in data.columns if c in code.variables or c == group]
    data = data[data[used].notna().all(axis=1)]
    missing: list[NDArray[np.bool_]] = []
    try:
        with all_rows(missing):  # (a comparison of a NaN the formula made: its row left out below)
            mm = model_matrix(code.text, data, code.numeric, na_action="ignore")
    except FormulaError:
        raise
    except Exception as exc:
        raise FormulaError(f"cannot build the model matrix of {model!r}: {drop_internal_calls(str(exc))}") from exc
    y = mm.lhs.to_numpy(dtype=float)[:, 0]
    x = mm.rhs.to_numpy(dtype=float)
    names = [r_name(c) for c in mm.rhs.model_spec.column_names]
    g = data.loc[mm.rhs.index, group]
    # R's na.omit of the model frame: also the rows where the formula made a NaN (sqrt(w), w < 0)
    keep = ~g.isna().to_numpy() & ~np.isnan(y) & ~np.isnan(x).any(axis=1)
    for rows in missing:
        if rows.shape == keep.shape:
            keep &= ~rows
    if not keep.all():
        y, x, g = y[keep], x[keep], g[keep]
    if not (np.isfinite(y).all() and np.isfinite(x).all()):  # (R's lm: "NA/NaN/Inf in 'y'")
        raise DataError(f"the model matrix of {model!r} has infinite values: lmlist needs finite ones")
    if isinstance(g.dtype, pd.CategoricalDtype):
        levels = [c for c in g.cat.categories if (g == c).any()]
    else:
        levels = sorted(g.unique())
    if not levels:
        raise DataError("no groups with data")
    p = x.shape[1]
    coef = np.full((len(levels), p), np.nan)
    se = np.full((len(levels), p), np.nan)
    sig = np.full(len(levels), np.nan)
    nob = np.zeros(len(levels), dtype=int)
    gv = g.to_numpy()
    # R's lmList fits lm to each group's rows: a stateful transform (scale(x)) learns from the group,
    # and a factor has only the group's levels (lm's drop.unused.levels: a group without the first
    # level has the next as reference); a formula without either gives the same columns on all rows
    spec = mm.rhs.model_spec
    per_group = bool(code.data_dependent) or any(
        str(getattr(kind, "value", kind)) == "categorical" for kind, _ in spec.encoder_state.values()
    )
    rows_of = data.iloc[np.flatnonzero(keep)]  # (the model matrix's rows are data's, in order)
    at, factor_free = {n: j for j, n in enumerate(names)}, set(logical)
    failed = 0
    for i, lvl in enumerate(levels):
        rows = gv == lvl
        nob[i] = rows.sum()
        xi, yi = x[rows], y[rows]
        cols = np.arange(p)
        if per_group:
            own = _group_matrix(code, rows_of[rows], at, factor_free)
            if own is None:
                failed += 1
                continue
            yi, xi, cols = own
        kept = _kept_columns(xi)
        if not kept:
            continue
        xk = xi[:, kept]
        b, *_ = np.linalg.lstsq(xk, yi, rcond=None)
        coef[i, cols[kept]] = b
        dfr = nob[i] - len(kept)
        if dfr > 0:
            s2 = float(((yi - xk @ b) ** 2).sum() / dfr)
            sig[i] = np.sqrt(s2)
            se[i, cols[kept]] = np.sqrt(np.diag(s2 * np.linalg.inv(xk.T @ xk)))
    if failed:
        warn(
            f"lmlist: no fit for {failed} group(s), where a factor of the formula has one level (R's lmList: "
            "contrasts can be applied only to factors with 2 or more levels) or the formula cannot be formed",
            MixedModelsWarning,
        )
    idx = pd.Index([level_label(v) for v in levels], name=group)
    return LmList(
        formula=formula,
        group=group,
        coef=pd.DataFrame(coef, index=idx, columns=names),
        se=pd.DataFrame(se, index=idx, columns=names),
        sigma=pd.Series(sig, index=idx, name="sigma"),
        nobs=pd.Series(nob, index=idx, name="nobs"),
    )
