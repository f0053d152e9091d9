"""Engines of hand-made designs for the tests: factors given as (codes, nlev, z, theta_index,
theta_row, theta_col) tuples, in the engine's order."""

from __future__ import annotations

import numpy as np

from mixedmodels import _core


def theta_map(k: int, diagonal: bool = False, first: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """theta's map (index, row, column) for a k x k factor from theta[first]: lme4's column-wise
    lower triangle, or the diagonal (||)."""
    if diagonal:
        rows = cols = np.arange(k, dtype=np.int32)
    else:
        pairs = [(c, r) for c in range(k) for r in range(c, k)]
        cols = np.array([c for c, _ in pairs], dtype=np.int32)
        rows = np.array([r for _, r in pairs], dtype=np.int32)
    return np.arange(first, first + rows.size, dtype=np.int32), rows, cols


def layout_of(x, factors) -> _core.Layout:
    return _core.Layout(
        [_core.FactorLayout(nlev, z.shape[1], ti, tr, tc) for _c, nlev, z, ti, tr, tc in factors], x.shape[1]
    )


def cross_products_of(y, x, factors) -> _core.CrossProducts:
    cp = _core.CrossProducts(layout_of(x, factors))
    cp.add_rows(np.asarray(y, float), np.asarray(x, float), [f[0] for f in factors], [f[2] for f in factors])
    return cp


def engine_of(y, x, factors, dense_threshold: float = 0.1) -> _core.Engine:
    return _core.Engine(cross_products_of(y, x, factors), dense_threshold)


def block_rows(engine: _core.Engine) -> list[list[str]]:
    """The engine's block layout as text, row by row (``BlkDiag(18x2x2)``, ``Dense(3x36)``, ...)."""
    return [[str(b) for b in row] for row in engine.describe()]


def factor_tuples(model) -> list[tuple]:
    """A fitted model's factors as (codes, nlev, z, theta_index, theta_row, theta_col) tuples."""
    rows = model.data.rows("test")
    layout = model.structure.core_layout
    return [
        (rows.codes[i], f.nlev, rows.z[i], f.theta_index, f.theta_row, f.theta_col)
        for i, f in enumerate(layout.factors)
    ]
