"""The core factors with BLAS on one thread (issue 14, item 8): OpenBLAS's worker threads only spin
on its small dense blocks. Nothing here is timed: the thread count is read while pinned."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.optimize import single_threaded_blas

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="OpenBLAS's thread control is found through /proc (Linux)"
)


def _crossed(n_factors: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = [rng.integers(0, 10, 600) for _ in range(n_factors)]
    y = rng.normal(size=600) + sum(2.0 * rng.normal(size=10)[c] for c in codes)
    return pd.DataFrame({"y": y} | {f"f{i}": c.astype(str) for i, c in enumerate(codes)})


FORMULA = "y ~ 1 + " + " + ".join(f"(1 | f{i})" for i in range(6))


def test_scipys_openblas_thread_control_is_found():
    assert single_threaded_blas()
    loaded, threads, _, _ = _core.blas_threads()
    assert loaded
    assert threads >= 1


def test_a_fit_factors_on_one_thread_and_restores_the_count():
    assert single_threaded_blas()
    _, before, calls0, _ = _core.blas_threads()
    m = mm.LinearMixedModel.from_formula(FORMULA, _crossed()).fit()
    _, after, calls1, most = _core.blas_threads()
    assert calls1 - calls0 >= m.n_evals  # every evaluation factored pinned
    assert most == 1  # the count seen inside the factorisations
    assert after == before


def test_fits_in_several_threads_restore_the_count():
    assert single_threaded_blas()
    _, before, _, _ = _core.blas_threads()
    model = mm.LinearMixedModel.from_formula(FORMULA, _crossed())
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                model.with_reml(False).fit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _core.blas_threads()[1] == before


def _large_dense_block() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 60_000
    a, b = rng.integers(0, 2000, n), rng.integers(0, 1100, n)
    y = rng.normal(size=n) + rng.normal(size=2000)[a] + 0.5 * rng.normal(size=1100)[b]
    return pd.DataFrame({"y": y, "a": a.astype(str), "b": b.astype(str)})


def test_a_large_dense_block_is_factored_and_inverted_on_the_pool():
    """A dense fill-in block of order 1024 or more (InstEval's 1,128) is factored and inverted by
    panels on the core's pool with BLAS held to one thread, as smaller ones are (OpenBLAS's workers,
    which spin for ~0.1 s after each call, took the second core from the second engine of a
    Hessian's points): its criterion and gradient are the same bits on 1, 2 and 3 threads."""
    big = mm.LinearMixedModel.from_formula("y ~ 1 + (1 | b) + (1 | a)", _large_dense_block()).new_engine()
    diagonal = big.describe()[1][1]
    assert (diagonal.kind, diagonal.nrow) == ("Dense", 1100)
    theta = np.array([0.45, 0.9])
    bits = []
    for threads in (1, 2, 3):
        big.threads = threads
        assert big.single_threaded_blas
        _, _, calls0, _ = _core.blas_threads()
        value, grad = big.gradient(theta * (1 + threads * 1e-9), True)
        _, _, calls1, most = _core.blas_threads()
        assert calls1 > calls0
        assert most == 1
        bits.append((big.objective(theta, reml=True), big.gradient(theta, True)[1].tobytes()))
    assert bits[1] == bits[0]
    assert bits[2] == bits[0]


def test_threads_1_holds_blas_to_one_thread_for_a_large_dense_block():
    assert single_threaded_blas()
    _, before, calls0, _ = _core.blas_threads()
    m = mm.lmer("y ~ 1 + (1 | b) + (1 | a)", _large_dense_block(), threads=1)
    _, after, calls1, most = _core.blas_threads()
    assert calls1 - calls0 >= m.n_evals  # every evaluation factored pinned
    assert most == 1
    assert after == before
