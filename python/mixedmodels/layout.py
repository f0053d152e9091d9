"""The theta layout: the one owner of how the covariance parameters are ordered, named, bounded and
turned into covariance matrices.

theta lists, term by term in lme4's order, the column-wise lower triangle of each term's k x k
relative covariance factor T (a term's random effects have covariance sigma^2 T T'). The engine
groups terms by grouping factor (a factor's T is block diagonal over its terms) and orders the
factors by number of levels; `ThetaLayout.core_factors` gives it the map from theta to each
factor's T. lme4 names the entries ``Subject.(Intercept)``, ``Subject.Days.(Intercept)``, ... and, on
the standard-deviation/correlation scale, ``.sig01``, ``.sig02``, ..., ``.sigma``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray

from . import _core

__all__ = ["TermSlot", "ThetaLayout", "sd_corr", "tril_pairs"]

FloatArray = NDArray[np.float64]


@cache
def tril_pairs(k: int) -> tuple[tuple[int, int], ...]:
    """The (row, column) positions of the lower triangle of a k x k matrix, column by column: the
    order of a term's entries in theta (and on lme4's sd/cor scale). The only place that order is
    written.

    Examples
    --------
    >>> tril_pairs(3)
    ((0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (2, 2))
    """
    return tuple((i, j) for j in range(k) for i in range(j, k))


def sd_corr(cov: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Standard deviations and correlation matrix of a covariance matrix (NaN correlations where a
    standard deviation is zero).

    Examples
    --------
    >>> sd, corr = sd_corr(np.array([[4.0, 1.0], [1.0, 1.0]]))
    >>> sd.tolist(), float(corr[1, 0])
    ([2.0, 1.0], 0.5)
    """
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(sd, sd)
    corr[(sd[:, None] == 0) | (sd[None, :] == 0)] = np.nan
    return sd, corr


@dataclass(frozen=True)
class TermSlot:
    """One random-effects term's place in theta and in the engine's blocks.

    Attributes
    ----------
    group : str
        The grouping factor's name (``a:b`` for an interaction).
    name : str
        lme4's name of the term in variance tables: the group, made unique by ``.1``, ``.2``, ...
        when several terms share it (``Subject``, ``Subject.1``).
    columns : tuple of str
        The term's random-effects columns.
    offset : int
        Index in theta of the term's first entry.
    factor : int
        Index (engine order) of the grouping factor whose block holds the term.
    column_offset : int
        The term's first column within that factor's columns.
    """

    group: str
    name: str
    columns: tuple[str, ...]
    offset: int
    factor: int
    column_offset: int

    @property
    def k(self) -> int:
        """Number of columns."""
        return len(self.columns)

    @property
    def ntheta(self) -> int:
        """Number of theta entries: the lower triangle of a k x k matrix."""
        return self.k * (self.k + 1) // 2

    @property
    def theta_slice(self) -> slice:
        """The term's entries of theta."""
        return slice(self.offset, self.offset + self.ntheta)

    def t_matrix(self, theta: FloatArray) -> FloatArray:
        """The term's k x k lower-triangular relative covariance factor T from theta."""
        t = np.zeros((self.k, self.k))
        rows, cols = _tril_index(self.k)
        t[rows, cols] = theta[self.theta_slice]
        return t


@cache
def _tril_index(k: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    pairs = tril_pairs(k)
    return np.array([i for i, _ in pairs], dtype=np.intp), np.array([j for _, j in pairs], dtype=np.intp)


class ThetaLayout:
    """The covariance parameters of a model: order (lme4's), names, bounds, the map to the engine's
    blocks, and conversions to covariance matrices and to lme4's sd/cor scale.

    Parameters
    ----------
    terms : sequence of (group, columns, factor index, column offset)
        The random-effects terms in lme4's order, each with the engine index of its grouping factor
        and its first column within that factor's block.
    factor_k : sequence of int
        Number of columns of each grouping factor (engine order).

    Examples
    --------
    >>> lay = ThetaLayout([("Subject", ("(Intercept)", "Days"), 0, 0)], [2])
    >>> lay.names
    ('Subject.(Intercept)', 'Subject.Days.(Intercept)', 'Subject.Days')
    >>> lay.lower.tolist()
    [0.0, -inf, 0.0]
    >>> np.round(lay.to_sdcor(np.array([0.9667, 0.0152, 0.2309]), 25.59), 3).tolist()
    [24.738, 0.066, 5.922, 25.59]
    """

    @staticmethod
    @lru_cache(maxsize=256)
    def of(terms: tuple[tuple[str, tuple[str, ...], int, int], ...], factor_k: tuple[int, ...]) -> ThetaLayout:
        """The layout of these terms (shared: a layout is immutable, and refits of a model ask again)."""
        return ThetaLayout(terms, factor_k)

    def __init__(self, terms: Sequence[tuple[str, tuple[str, ...], int, int]], factor_k: Sequence[int]) -> None:
        slots: list[TermSlot] = []
        counts: dict[str, int] = {}
        offset = 0
        for group, columns, factor, column_offset in terms:
            seen = counts.get(group, 0)
            counts[group] = seen + 1
            name = group if seen == 0 else f"{group}.{seen}"
            slot = TermSlot(group, name, tuple(columns), offset, factor, column_offset)
            slots.append(slot)
            offset += slot.ntheta
        self.terms: tuple[TermSlot, ...] = tuple(slots)
        self.ntheta: int = offset
        self.factor_k: tuple[int, ...] = tuple(int(k) for k in factor_k)
        lower: list[float] = []
        names: list[str] = []
        index: list[list[int]] = [[] for _ in self.factor_k]
        rows: list[list[int]] = [[] for _ in self.factor_k]
        cols: list[list[int]] = [[] for _ in self.factor_k]
        for t in self.terms:
            for e, (i, j) in enumerate(tril_pairs(t.k)):
                lower.append(0.0 if i == j else -np.inf)
                names.append(f"{t.group}.{t.columns[i]}" if i == j else f"{t.group}.{t.columns[i]}.{t.columns[j]}")
                index[t.factor].append(t.offset + e)
                rows[t.factor].append(t.column_offset + i)
                cols[t.factor].append(t.column_offset + j)
        self.lower: FloatArray = np.array(lower, dtype=np.float64)
        self.lower.flags.writeable = False
        self.names: tuple[str, ...] = tuple(names)
        self._maps = [
            (np.array(i, dtype=np.int32), np.array(r, dtype=np.int32), np.array(c, dtype=np.int32))
            for i, r, c in zip(index, rows, cols, strict=True)
        ]

    # ------------------------------------------------------------------ the engine's view
    def core_factors(self, nlev: Sequence[int]) -> list[_core.FactorLayout]:
        """The factors as the core sees them: levels, columns and theta map (engine order)."""
        return [
            _core.FactorLayout(int(nl), k, ti, tr, tc)
            for nl, k, (ti, tr, tc) in zip(nlev, self.factor_k, self._maps, strict=True)
        ]

    def factor_t(self, theta: FloatArray, factor: int) -> FloatArray:
        """Grouping factor ``factor``'s k x k relative covariance factor T (block diagonal over its
        terms) from theta: the map the core applies, in Python."""
        k = self.factor_k[factor]
        ti, tr, tc = self._maps[factor]
        t = np.zeros((k, k))
        t[tr, tc] = theta[ti]
        return t

    def row_scale(self, column_scales: Sequence[FloatArray]) -> FloatArray:
        """For each theta entry, the scale of its row's column given each factor's column scales:
        dividing the random-effects columns by their scales multiplies theta by this."""
        scale = np.ones(self.ntheta)
        for (ti, tr, _), s in zip(self._maps, column_scales, strict=True):
            scale[ti] = s[tr]
        return scale

    def term_maps(
        self, factor_maps: Sequence[FloatArray]
    ) -> tuple[tuple[FloatArray | None, ...], tuple[FloatArray | None, ...]]:
        """Per term, its block A of its factor's map (the copy's columns Z_f A_f) and A^-1, None where
        it is the identity: the maps `transformed` takes (lmer's centred copy, glmer's `ColumnMap`).

        Examples
        --------
        >>> lay = ThetaLayout([("g", ("(Intercept)", "x"), 0, 0)], [2])
        >>> to_model, to_working = lay.term_maps([np.array([[1.0, -100.0], [0.0, 1.0]])])
        >>> to_working[0].tolist()
        [[1.0, 100.0], [0.0, 1.0]]
        >>> lay.term_maps([np.eye(2)])
        ((None,), (None,))
        """
        to_model: list[FloatArray | None] = []
        to_working: list[FloatArray | None] = []
        for t in self.terms:
            span = slice(t.column_offset, t.column_offset + t.k)
            a: FloatArray = np.asarray(factor_maps[t.factor][span, span], dtype=np.float64)
            identity = np.array_equal(a, np.eye(t.k))
            to_model.append(None if identity else a)
            to_working.append(None if identity else np.asarray(np.linalg.inv(a), dtype=np.float64))
        return tuple(to_model), tuple(to_working)

    def transformed(self, theta: FloatArray, maps: Sequence[FloatArray | None]) -> FloatArray:
        """theta of the covariances A T T' A' (per term, A from ``maps``, None: unchanged): the
        lower-triangular factor of A T with a non-negative diagonal (from a QR decomposition, so
        singular T are fine). With Z A in place of a term's columns Z, theta becomes
        ``transformed(theta, A^-1)``: the model is the same.

        Examples
        --------
        >>> lay = ThetaLayout([("g", ("(Intercept)", "x"), 0, 0)], [2])
        >>> a = np.array([[1.0, -100.0], [0.0, 1.0]])  # x - 100 in place of x
        >>> th = np.array([2.0, 0.5, 0.3])
        >>> back = lay.transformed(lay.transformed(th, [np.linalg.inv(a)]), [a])
        >>> np.allclose(back, th)
        True
        """
        out = np.array(theta, dtype=np.float64, copy=True)
        for t, a in zip(self.terms, maps, strict=True):
            if a is None:
                continue
            r: FloatArray = np.linalg.qr((a @ t.t_matrix(out)).T)[1]  # (A T)' = Q R, so A T T' A' = R'R
            ell = r.T * np.where(np.diag(r) < 0, -1.0, 1.0)[None, :]
            out[t.theta_slice] = ell[_tril_index(t.k)]
        return out

    def with_factor(self, theta: FloatArray, term: int, factor: FloatArray) -> FloatArray:
        """theta with term ``term``'s T T' = M M' (M: ``factor``, k rows and any number of columns):
        the lower-triangular factor of M with a non-negative diagonal, from a QR decomposition of
        M', so that a singular M is fine. With M = [T v], T T' + v v': a step in the covariances,
        where a step in theta can be second order (at T's diagonal entry 0, moving variance between
        its columns).

        Examples
        --------
        >>> lay = ThetaLayout([("g", ("(Intercept)", "x"), 0, 0)], [2])
        >>> th = np.array([0.0, 0.0, 1.0])
        >>> th = lay.with_factor(th, 0, np.column_stack([lay.terms[0].t_matrix(th), [0.5, 0.5]]))
        >>> t = lay.terms[0].t_matrix(th)
        >>> np.round(t @ t.T, 12).tolist()
        [[0.25, 0.25], [0.25, 1.25]]
        """
        out = np.array(theta, dtype=np.float64, copy=True)
        t = self.terms[term]
        m = np.asarray(factor, dtype=np.float64).reshape(t.k, -1)
        if m.shape[1] < t.k:
            m = np.column_stack([m, np.zeros((t.k, t.k - m.shape[1]))])
        r: FloatArray = np.linalg.qr(m.T)[1]  # M' = Q R, so M M' = R'R
        ell = r.T * np.where(np.diag(r) < 0, -1.0, 1.0)[None, :]
        out[t.theta_slice] = ell[_tril_index(t.k)]
        return out

    # ------------------------------------------------------------------ parameters
    @property
    def on_diagonal(self) -> NDArray[np.bool_]:
        """True for the entries on a diagonal of T (bounded below by 0)."""
        on: NDArray[np.bool_] = self.lower == 0.0
        return on

    @cached_property
    def columns(self) -> tuple[tuple[int, ...], ...]:
        """The theta indices of each column of each term's T, its diagonal entry first, then the
        entries below it (a column enters the covariance as t t', so its sign is free).

        Examples
        --------
        >>> ThetaLayout([("g", ("(Intercept)", "x"), 0, 0), ("h", ("(Intercept)",), 1, 0)], [2, 1]).columns
        ((0, 1), (2,), (3,))
        """
        out: list[tuple[int, ...]] = []
        for t in self.terms:
            pairs = tril_pairs(t.k)
            for j in range(t.k):
                entries = sorted((i, t.offset + e) for e, (i, c) in enumerate(pairs) if c == j)
                out.append(tuple(e for _, e in entries))
        return tuple(out)

    def default_start(self) -> FloatArray:
        """lme4's starting theta: 1 on the diagonals, 0 elsewhere."""
        return np.where(self.on_diagonal, 1.0, 0.0)

    def covariances(self, theta: FloatArray, sigma: float) -> list[tuple[TermSlot, FloatArray]]:
        """Each term (lme4's order) with its covariance matrix sigma^2 T T'."""
        out = []
        for t in self.terms:
            tm = t.t_matrix(theta)
            out.append((t, sigma**2 * tm @ tm.T))
        return out

    # ------------------------------------------------------------------ lme4's sd/cor scale
    @property
    def sdcor_names(self) -> list[str]:
        """lme4's names on the sd/cor scale (``oldNames``): .sig01, .sig02, ... then .sigma."""
        return [f".sig{i + 1:02d}" for i in range(self.ntheta)] + [".sigma"]

    def to_sdcor(self, theta: FloatArray, sigma: float) -> FloatArray:
        """theta and sigma -> per term, its covariance's lower triangle on the sd/cor scale (standard
        deviations on the diagonal, correlations below; a correlation with a zero SD is 0), then
        sigma (lme4's ``Cv_to_Sv``)."""
        out: list[float] = []
        for t, cov in self.covariances(theta, sigma):
            sd, corr = sd_corr(cov)
            for i, j in tril_pairs(t.k):
                out.append(float(sd[i]) if i == j else (0.0 if np.isnan(corr[i, j]) else float(corr[i, j])))
        out.append(sigma)
        return np.array(out)

    def from_sdcor(self, v: FloatArray) -> FloatArray | None:
        """Inverse of `to_sdcor` (lme4's ``Sv_to_Cv``); None where a term's correlations do not form a
        valid (positive semi-definite) correlation matrix."""
        sigma = float(v[-1])
        theta: list[float] = []
        for t in self.terms:
            sd = np.zeros(t.k)
            corr = np.eye(t.k)
            for e, (i, j) in enumerate(tril_pairs(t.k)):
                value = v[t.offset + e]
                if i == j:
                    sd[i] = value
                else:
                    corr[i, j] = corr[j, i] = value
            ell = _semidef_chol(np.outer(sd, sd) * corr / sigma**2)
            if ell is None:
                return None
            theta.extend(float(ell[i, j]) for i, j in tril_pairs(t.k))
        return np.array(theta)

    def sdcor_bounds(self) -> tuple[FloatArray, FloatArray]:
        """Bounds on the sd/cor scale: SD >= 0, -1 <= correlation <= 1, sigma >= 0."""
        lo = np.append(np.where(self.on_diagonal, 0.0, -1.0), 0.0)
        hi = np.append(np.where(self.on_diagonal, np.inf, 1.0), np.inf)
        return lo, hi


def _semidef_chol(c: FloatArray) -> FloatArray | None:
    """Lower Cholesky factor of a positive semi-definite matrix (zero columns where singular);
    None if the matrix is not positive semi-definite."""
    k = c.shape[0]
    ell = np.zeros_like(c)
    scale = max(float(np.max(np.abs(np.diag(c)))), 1e-300)
    for j in range(k):
        d = c[j, j] - ell[j, :j] @ ell[j, :j]
        if d < -1e-10 * scale:
            return None
        if d <= 1e-14 * scale:
            continue
        ell[j, j] = np.sqrt(d)
        for i in range(j + 1, k):
            ell[i, j] = (c[i, j] - ell[i, :j] @ ell[j, :j]) / ell[j, j]
    return ell
