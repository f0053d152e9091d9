"""Blocks of A = [Z X y]'[Z X y] as numpy arrays, summed over chunks of rows.

A is a sum over rows, so it can be formed chunk by chunk (or per partition of a distributed
frame) and added up; `engine_from_blocks` then builds the engine the one-pass C++ constructor
builds from the rows. Every sum is kept in double-double (a value and the exact remainder of its
rounding), so the rounded blocks -- and hence the fit -- are the same bit for bit however the rows
are split into chunks or partitions.

Examples
--------
>>> import numpy as np, mixedmodels as mm
>>> from mixedmodels.design import build_design
>>> d = build_design("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
>>> parts = [partial_blocks(d, slice(0, 90)), partial_blocks(d, slice(90, 180))]
>>> e = engine_from_blocks(d, add_blocks(*parts))
>>> e2 = mm._core.Engine(d.y, d.x, d.engine_factors())
>>> th = np.array([0.9, 0.02, 0.23])
>>> e.objective(th, True) == e2.objective(th, True)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np

from . import _core

__all__ = ["Blocks", "add_blocks", "engine_from_blocks", "partial_blocks", "scale_blocks"]

Pair = tuple[np.ndarray, np.ndarray]  # (hi, lo): the value and the exact remainder


@dataclass
class Blocks:
    """Sums over rows as (hi, lo) pairs: diag[f] (nlev, k, k); off[(c, j)] = (keys, hi, lo) with
    key = col_level * nlev_c + row_level and values (nnz, k_c, k_j); xy[f] (p+1, nlev*k);
    xx (p+1, p+1); n rows."""

    n: int
    diag: list[Pair]
    off: dict
    xy: list[Pair]
    xx: Pair

    def rounded(self, part: str, i=None) -> np.ndarray:
        """hi + lo of a part (the correctly rounded sum)."""
        if part == "xx":
            return self.xx[0] + self.xx[1]
        h, lo = getattr(self, part)[i]
        return h + lo


def _dd_add(ah, al, bh, bl) -> Pair:
    """Double-double addition (TwoSum, then renormalised)."""
    s = ah + bh
    bp = s - ah
    err = (ah - (s - bp)) + (bh - bp)
    lo = al + bl + err
    hi = s + lo
    return hi, lo - (hi - s)


def partial_blocks(design, rows=slice(None)) -> Blocks:
    """The blocks of A contributed by some rows of a design (engine order of factors), formed by
    the C++ pass over those rows."""
    factors = [
        (np.ascontiguousarray(c[rows]), nl, np.ascontiguousarray(z[rows]), ti, tr, tc)
        for (c, nl, z, ti, tr, tc) in design.engine_factors()
    ]
    y = np.ascontiguousarray(design.y[rows])
    eng = _core.Engine(y, np.ascontiguousarray(design.x[rows]), factors, 0.1, True)
    diag, off, xy, xx = eng.a_parts()
    offd = {}
    for (c, j), (r, cl, hi, lo) in off.items():
        offd[c, j] = (cl.astype(np.int64) * design.factors[c].nlev + r, hi, lo)
    return Blocks(n=y.shape[0], diag=[tuple(p) for p in diag], off=offd, xy=[tuple(p) for p in xy], xx=tuple(xx))


def _add_two(a: Blocks, b: Blocks) -> Blocks:
    off = {}
    for key in a.off:
        ka, ha, la = a.off[key]
        kb, hb, lb = b.off[key]
        keys = np.concatenate([ka, kb])
        hi = np.concatenate([ha, hb])
        lo = np.concatenate([la, lb])
        order = np.argsort(keys, kind="stable")
        keys, hi, lo = keys[order], hi[order], lo[order]
        dup = np.flatnonzero(keys[1:] == keys[:-1])  # each key at most once per side: pairs
        if dup.size:
            h2, l2 = _dd_add(hi[dup], lo[dup], hi[dup + 1], lo[dup + 1])
            hi[dup], lo[dup] = h2, l2
            keep = np.ones(keys.shape[0], dtype=bool)
            keep[dup + 1] = False
            keys, hi, lo = keys[keep], hi[keep], lo[keep]
        off[key] = (keys, hi, lo)
    return Blocks(
        n=a.n + b.n,
        diag=[_dd_add(*x, *y) for x, y in zip(a.diag, b.diag, strict=True)],
        off=off,
        xy=[_dd_add(*x, *y) for x, y in zip(a.xy, b.xy, strict=True)],
        xx=_dd_add(*a.xx, *b.xx),
    )


def add_blocks(*parts: Blocks) -> Blocks:
    """The sum of partial blocks (chunks or partitions of the same model), in double-double."""
    return reduce(_add_two, parts)


def scale_blocks(b: Blocks, zscales: list[np.ndarray], xs: np.ndarray) -> Blocks:
    """The blocks of the design whose Z columns are divided by zscales and X columns by xs."""
    wx = np.append(xs, 1.0)
    diag = []
    for (h, lo), s in zip(b.diag, zscales, strict=True):
        f = np.outer(s, s)[None]
        diag.append((h / f, lo / f))
    xy = []
    for (h, lo), s in zip(b.xy, zscales, strict=True):
        f = wx[:, None] * np.tile(s, h.shape[1] // s.shape[0])[None, :]
        xy.append((h / f, lo / f))
    off = {}
    for (c, j), (keys, h, lo) in b.off.items():
        f = np.outer(zscales[c], zscales[j])[None]
        off[c, j] = (keys, h / f, lo / f)
    f = np.outer(wx, wx)
    return Blocks(n=b.n, diag=diag, off=off, xy=xy, xx=(b.xx[0] / f, b.xx[1] / f))


def engine_from_blocks(design, blocks: Blocks, dense_threshold: float = 0.1):
    """The C++ engine from summed blocks (the same engine as the one built from the rows)."""
    meta = [(f.nlev, f.k, f.theta_index, f.theta_row, f.theta_col) for f in design.factors]
    off = {}
    for (c, j), (keys, hi, lo) in blocks.off.items():
        nlev_c = design.factors[c].nlev
        off[c, j] = ((keys % nlev_c).astype(np.int32), (keys // nlev_c).astype(np.int32), np.ascontiguousarray(hi + lo))
    return _core.Engine.from_blocks(
        blocks.n,
        design.p,
        meta,
        [np.ascontiguousarray(h + lo) for h, lo in blocks.diag],
        off,
        [np.ascontiguousarray(h + lo) for h, lo in blocks.xy],
        np.ascontiguousarray(blocks.xx[0] + blocks.xx[1]),
        dense_threshold,
    )
