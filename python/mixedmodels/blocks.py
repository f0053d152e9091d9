"""Blocks of A = [Z X y]'[Z X y] as numpy arrays, summed over chunks of rows.

A is a sum over rows, so it can be formed chunk by chunk (or per partition of a distributed
frame) and added up; `engine_from_blocks` then builds the same engine the one-pass C++ constructor
builds from the rows. This is the primitive for fits of data that is not in memory.

Examples
--------
>>> import numpy as np, mixedmodels as mm
>>> from mixedmodels.design import build_design
>>> d = build_design("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
>>> parts = [partial_blocks(d, slice(0, 90)), partial_blocks(d, slice(90, 180))]
>>> e = engine_from_blocks(d, add_blocks(*parts))
>>> e2 = mm._core.Engine(d.y, d.x, d.engine_factors())
>>> th = np.array([0.9, 0.02, 0.23])
>>> bool(abs(e.objective(th, True) - e2.objective(th, True)) < 1e-9)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _core

__all__ = ["Blocks", "add_blocks", "engine_from_blocks", "partial_blocks", "scale_blocks"]


@dataclass
class Blocks:
    """Sums over rows: diag[f] (nlev, k, k); off[(c, j)] = (keys, values (nnz, k_c, k_j)) with
    key = col_level * nlev_c + row_level; xy[f] (p+1, nlev*k); xx (p+1, p+1); n rows."""

    n: int
    diag: list[np.ndarray]
    off: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]
    xy: list[np.ndarray]
    xx: np.ndarray


def partial_blocks(design, rows=slice(None)) -> Blocks:
    """The blocks of A contributed by some rows of a design (engine order of factors)."""
    facs = design.factors
    x, y = design.x[rows], design.y[rows]
    w = np.column_stack([x, y])
    n = w.shape[0]
    diag, xy, codes, zs = [], [], [], []
    for f in facs:
        c = f.codes[rows]
        z = f.z[rows]
        codes.append(c)
        zs.append(z)
        d = np.empty((f.nlev, f.k, f.k))
        for a in range(f.k):
            for b in range(a, f.k):
                d[:, a, b] = d[:, b, a] = np.bincount(c, weights=z[:, a] * z[:, b], minlength=f.nlev)
        diag.append(d)
        blk = np.empty((w.shape[1], f.nlev, f.k))
        for m in range(w.shape[1]):
            for a in range(f.k):
                blk[m, :, a] = np.bincount(c, weights=w[:, m] * z[:, a], minlength=f.nlev)
        xy.append(blk.reshape(w.shape[1], f.nlev * f.k))
    off = {}
    for j in range(len(facs)):
        for c in range(j + 1, len(facs)):
            key = codes[j].astype(np.int64) * facs[c].nlev + codes[c]
            uniq, inv = np.unique(key, return_inverse=True)
            vals = np.empty((uniq.shape[0], facs[c].k, facs[j].k))
            for a in range(facs[c].k):
                for b in range(facs[j].k):
                    vals[:, a, b] = np.bincount(inv, weights=zs[c][:, a] * zs[j][:, b], minlength=uniq.shape[0])
            off[c, j] = (uniq, vals)
    return Blocks(n=n, diag=diag, off=off, xy=xy, xx=w.T @ w)


def add_blocks(*parts: Blocks) -> Blocks:
    """The sum of partial blocks (chunks or partitions of the same model)."""
    first = parts[0]
    off = {}
    for key in first.off:
        keys = np.concatenate([p.off[key][0] for p in parts])
        vals = np.concatenate([p.off[key][1] for p in parts])
        uniq, inv = np.unique(keys, return_inverse=True)
        summed = np.zeros((uniq.shape[0],) + vals.shape[1:])
        np.add.at(summed, inv, vals)
        off[key] = (uniq, summed)
    return Blocks(
        n=sum(p.n for p in parts),
        diag=[sum(p.diag[i] for p in parts) for i in range(len(first.diag))],
        off=off,
        xy=[sum(p.xy[i] for p in parts) for i in range(len(first.xy))],
        xx=sum(p.xx for p in parts),
    )


def scale_blocks(b: Blocks, zscales: list[np.ndarray], xs: np.ndarray) -> Blocks:
    """The blocks of the design whose Z columns are divided by zscales and X columns by xs."""
    wx = np.append(xs, 1.0)
    diag = [d / np.outer(s, s)[None] for d, s in zip(b.diag, zscales, strict=True)]
    xy = []
    for w, s in zip(b.xy, zscales, strict=True):
        nlev = w.shape[1] // s.shape[0]
        xy.append(w / wx[:, None] / np.tile(s, nlev)[None, :])
    off = {(c, j): (keys, vals / np.outer(zscales[c], zscales[j])[None]) for (c, j), (keys, vals) in b.off.items()}
    return Blocks(n=b.n, diag=diag, off=off, xy=xy, xx=b.xx / np.outer(wx, wx))


def engine_from_blocks(design, blocks: Blocks, dense_threshold: float = 0.1):
    """The C++ engine from summed blocks (same structure as the engine built from the rows)."""
    meta = [(f.nlev, f.k, f.theta_index, f.theta_row, f.theta_col) for f in design.factors]
    off = {}
    for (c, j), (keys, vals) in blocks.off.items():
        nlev_c = design.factors[c].nlev
        off[c, j] = ((keys % nlev_c).astype(np.int32), (keys // nlev_c).astype(np.int32), np.ascontiguousarray(vals))
    return _core.Engine.from_blocks(
        blocks.n,
        design.p,
        meta,
        [np.ascontiguousarray(d) for d in blocks.diag],
        off,
        [np.ascontiguousarray(b) for b in blocks.xy],
        np.ascontiguousarray(blocks.xx),
        dense_threshold,
    )
