"""The data a model holds: its rows (from a data frame or from arrays), or, for data that was
streamed, nothing but the count of rows (the cross-products are the model's own, in `model`).

Every kind answers the same questions: `ModelData.rows` and `ModelData.frame` give the rows or the
data frame, or raise a `DataError` that names what needed them and why they are not held.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from . import _core
from .exceptions import DataError

__all__ = ["ArrayData", "FrameData", "ModelData", "Rows", "StreamedData"]


@dataclass(frozen=True, eq=False)
class Rows:
    """A model's rows: the response, the fixed-effects matrix and, per grouping factor (engine
    order), the level codes and the random-effects columns.

    Attributes
    ----------
    y : ndarray (n,)
    x : ndarray (n, p), C-contiguous
    codes : tuple of int32 ndarrays (n,)
    z : tuple of ndarrays (n, k), C-contiguous
    index : pandas.Index
        Labels of the rows (the data frame's index of the rows used).
    weights : ndarray (n,) or None
        Prior weights (lme4's ``weights``): row i's residual variance is sigma^2 / weights[i] (for
        binomial counts, the number of trials); None: all 1.
    offset : ndarray (n,) or None
        A known term of the linear predictor (``offset(...)`` in the formula plus the ``offset``
        argument); None: 0.
    trials : ndarray (n,) or None
        For a response ``cbind(successes, failures)``, the binomial trials of each row (then
        `weights` is the trials times any ``weights`` argument, as R's glm codes it).
    """

    y: NDArray[np.float64]
    x: NDArray[np.float64]
    codes: tuple[NDArray[np.int32], ...]
    z: tuple[NDArray[np.float64], ...]
    index: pd.Index
    weights: NDArray[np.float64] | None = None
    offset: NDArray[np.float64] | None = None
    trials: NDArray[np.float64] | None = None

    @property
    def nobs(self) -> int:
        """Number of rows."""
        return int(self.y.shape[0])

    @property
    def y_minus_offset(self) -> NDArray[np.float64]:
        """The response less the offset: what the fixed and random effects explain."""
        return self.y if self.offset is None else np.ascontiguousarray(self.y - self.offset)

    def column(self, j: int) -> NDArray[np.float64]:
        """Column j of [Z X], the columns in the cross-products' order (each factor's Z in turn, then X).

        Examples
        --------
        >>> r = Rows(np.zeros(2), np.array([[1.0], [1.0]]), (np.zeros(2, np.int32),), (np.array([[2.0], [3.0]]),),
        ...          pd.RangeIndex(2))
        >>> r.column(0).tolist(), r.column(1).tolist()
        ([2.0, 3.0], [1.0, 1.0])
        """
        for z in self.z:
            if j < z.shape[1]:
                return z[:, j]
            j -= z.shape[1]
        return self.x[:, j]

    def add_to(self, cross_products: _core.CrossProducts) -> None:
        """Add these rows' products (of y less the offset, weighted by the prior weights) to
        ``cross_products`` (formed in C++, in double-double)."""
        cross_products.add_rows(self.y_minus_offset, self.x, list(self.codes), list(self.z), self.weights)

    def cross_products(self, layout: _core.Layout) -> _core.CrossProducts:
        """The cross-products A = [Z X y]'[Z X y] of these rows."""
        cp = _core.CrossProducts(layout)
        self.add_to(cp)
        return cp

    def select_fixed(self, keep: NDArray[np.intp]) -> Rows:
        """The rows with only the fixed-effects columns ``keep``."""
        return replace(self, x=np.ascontiguousarray(self.x[:, keep]))

    def minus_fixed(self, beta: NDArray[np.float64]) -> Rows:
        """The rows with response y - X beta, computed in double-double (Dekker's exact products)
        and rounded once: the correctly rounded residual however much of y the fixed part explains.

        Examples
        --------
        >>> r = Rows(np.array([1e9 + 0.5, 2e9 + 0.25]), np.array([[1.0, 1.0], [1.0, 2.0]]), (), (), pd.RangeIndex(2))
        >>> r.minus_fixed(np.array([0.0, 1e9])).y.tolist()
        [0.5, 0.25]
        """
        hi = self.y_minus_offset.copy()
        lo = np.zeros_like(hi)
        for m, bm in enumerate(np.asarray(beta, dtype=np.float64).tolist()):
            prod, err = _two_product(self.x[:, m], -bm)
            s = hi + prod
            bp = s - hi
            lo += (hi - (s - bp)) + (prod - bp) + err
            hi = s
        return replace(self, y=np.ascontiguousarray(hi + lo), offset=None)

    def with_fixed_columns(self, x: NDArray[np.float64]) -> Rows:
        """The rows with another fixed-effects matrix (same shape)."""
        if x.shape != self.x.shape:
            raise ValueError(f"the new fixed-effects matrix must have shape {self.x.shape}, got {x.shape}")
        return replace(self, x=np.ascontiguousarray(x, dtype=np.float64))

    def with_random_columns(self, z: tuple[NDArray[np.float64], ...]) -> Rows:
        """The rows with other random-effects columns (same shapes)."""
        if [a.shape for a in z] != [a.shape for a in self.z]:
            raise ValueError("the new random-effects columns must have the shapes of the old")
        return replace(self, z=tuple(np.ascontiguousarray(a, dtype=np.float64) for a in z))

    def with_response(self, y: NDArray[np.float64]) -> Rows:
        """The rows with another response (same length)."""
        y = np.ascontiguousarray(np.asarray(y, dtype=np.float64))
        if y.shape != self.y.shape:
            raise ValueError(f"the new response must have {self.nobs} values, got shape {y.shape}")
        return replace(self, y=y)


_SPLIT = 134217729.0  # 2^27 + 1: Dekker's splitting constant for doubles


def _two_product(a: NDArray[np.float64], b: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """a * b as an unevaluated sum prod + err, exactly (Dekker's algorithm; no FMA needed)."""
    prod = a * b
    c = _SPLIT * a
    ah = c - (c - a)
    al = a - ah
    cb = _SPLIT * b
    bh = cb - (cb - b)
    bl = b - bh
    err = ((ah * bh - prod) + ah * bl + al * bh) + al * bl
    return prod, err


class ModelData(ABC):
    """The data a model holds (see the module's docstring)."""

    @property
    @abstractmethod
    def n_dropped(self) -> int:
        """Rows left out for a missing value in a used column."""

    @property
    def has_rows(self) -> bool:
        """Whether the rows are held (not for streamed data)."""
        return True

    @abstractmethod
    def rows(self, what: str) -> Rows:
        """The rows, or a `DataError` saying that `what` needs them."""

    @abstractmethod
    def frame(self, what: str) -> pd.DataFrame:
        """The data frame of the used columns and rows, or a `DataError` saying that `what` needs it."""

    @abstractmethod
    def select_fixed(self, keep: NDArray[np.intp]) -> ModelData:
        """The same data with only the fixed-effects columns ``keep``."""

    @abstractmethod
    def with_response(self, y: NDArray[np.float64]) -> ModelData:
        """The same data with another response."""


@dataclass(frozen=True, eq=False)
class FrameData(ModelData):
    """Rows materialised from a data frame, the frame (used columns of the used rows), and how many
    rows had a missing value."""

    held: Rows
    data_frame: pd.DataFrame
    dropped: int

    @property
    def n_dropped(self) -> int:
        return self.dropped

    def rows(self, what: str) -> Rows:
        return self.held

    def frame(self, what: str) -> pd.DataFrame:
        return self.data_frame

    def select_fixed(self, keep: NDArray[np.intp]) -> FrameData:
        return replace(self, held=self.held.select_fixed(keep))

    def with_response(self, y: NDArray[np.float64]) -> FrameData:
        return replace(self, held=self.held.with_response(y))


@dataclass(frozen=True, eq=False)
class ArrayData(ModelData):
    """Rows given as arrays (`fit_arrays`): no data frame, no missing values."""

    held: Rows

    @property
    def n_dropped(self) -> int:
        return 0

    def rows(self, what: str) -> Rows:
        return self.held

    def frame(self, what: str) -> pd.DataFrame:
        raise DataError(f"{what} needs a model fitted from a formula and a data frame, not from arrays")

    def select_fixed(self, keep: NDArray[np.intp]) -> ArrayData:
        return replace(self, held=self.held.select_fixed(keep))

    def with_response(self, y: NDArray[np.float64]) -> ArrayData:
        return replace(self, held=self.held.with_response(y))


def _not_held(what: str) -> DataError:
    return DataError(
        f"{what} needs the data rows, and this model was fitted from streamed data (only the blocks "
        "of A = [Z X y]'[Z X y] are held); use predict(newdata) for predictions"
    )


@dataclass(frozen=True, eq=False)
class StreamedData(ModelData):
    """Data read in chunks (files, iterables, Dask): only its cross-products were kept, and how many
    rows had a missing value."""

    dropped: int

    @property
    def n_dropped(self) -> int:
        return self.dropped

    @property
    def has_rows(self) -> bool:
        return False

    def rows(self, what: str) -> Rows:
        raise _not_held(what)

    def frame(self, what: str) -> pd.DataFrame:
        raise _not_held(what)

    def select_fixed(self, keep: NDArray[np.intp]) -> StreamedData:
        return self

    def with_response(self, y: NDArray[np.float64]) -> StreamedData:
        raise _not_held("refit")
