"""The C++ engine's block layout and errors."""

from __future__ import annotations

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels import _core


def _factor(codes, nlev, k=1):
    n = len(codes)
    z = np.ones((n, k))
    ti = np.arange(k, dtype=np.int32)
    return (np.asarray(codes, np.int32), nlev, z, ti, ti.copy(), ti.copy())


def test_nested_factor_keeps_diagonal_blocks():
    fine = np.repeat(np.arange(12), 3)
    coarse = fine // 4
    y = np.random.default_rng(0).normal(size=fine.size)
    x = np.ones((fine.size, 1))
    f1 = _factor(fine, 12)
    f2 = list(_factor(coarse, 3))
    f2[3] = f2[4] = f2[5] = np.array([1], np.int32)
    f2[3] = np.array([1], np.int32)
    f2[4] = f2[5] = np.array([0], np.int32)
    e = _core.Engine(y, x, [f1, tuple(f2)], 1.0)
    rows = e.describe().strip().split("\n")
    assert rows[0] == "Diagonal(12)"
    assert rows[1].split("\t")[1] == "Diagonal(3)"  # no fill-in: nested
    assert rows[1].split("\t")[0].startswith("Sparse")


def test_crossed_factor_fills_in_dense():
    m = mm.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mm.datasets.load("penicillin"))
    desc = m.block_description()
    assert "Dense(6x6)" in desc
    assert desc.splitlines()[0].split()[:3] == ["rows", "plate", "sample"]


def test_bad_codes_raise_invalid_input():
    y = np.zeros(4)
    x = np.ones((4, 1))
    with pytest.raises(_core.InvalidInputError, match="outside"):
        _core.Engine(y, x, [_factor([0, 1, 2, 5], 3)])
    with pytest.raises(mm.CoreError):
        _core.Engine(y, np.ones((3, 1)), [_factor([0, 1, 2, 0], 3)])


def test_theta_of_wrong_length_raises():
    y = np.arange(6.0)
    e = _core.Engine(y, np.ones((6, 1)), [_factor([0, 0, 1, 1, 2, 2], 3)])
    with pytest.raises(_core.InvalidInputError, match="length 1"):
        e.objective(np.array([1.0, 2.0]), True)
    with pytest.raises(_core.InvalidInputError, match="not finite"):
        e.objective(np.array([np.nan]), True)


def test_rank_deficient_x_raises_not_pd():
    y = np.arange(6.0)
    x = np.column_stack([np.ones(6), np.ones(6)])
    e = _core.Engine(y, x, [_factor([0, 0, 1, 1, 2, 2], 3)])
    with pytest.raises(_core.NotPositiveDefiniteError):
        e.objective(np.array([1.0]), True)


def test_engine_does_not_write_into_inputs():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 4, 30).astype(np.int32)
    codes[:4] = np.arange(4)
    y, x = rng.normal(size=30), np.column_stack([np.ones(30), rng.normal(size=30)])
    f = _factor(codes, 4, 1)
    copies = [a.copy() for a in (y, x, f[0], f[2])]
    e = _core.Engine(y, x, [f])
    e.objective(np.array([0.7]), True)
    e.solve()
    e.condcov()
    for a, b in zip((y, x, f[0], f[2]), copies, strict=True):
        np.testing.assert_array_equal(a, b)
