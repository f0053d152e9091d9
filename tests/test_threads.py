"""The ``threads=`` option of `lmer`, `fit_arrays` and `_core.Engine`: checked, passed down to the
core, and without effect on any number (fits bitwise the same for every thread count)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels import _core
from mixedmodels.arguments import check_threads
from mixedmodels.model import LinearMixedModel


@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, "2", True, [2], 1 << 20])
def test_lmer_refuses_threads_that_are_not_a_positive_integer(bad):
    with pytest.raises(mm.ArgumentError, match="threads"):
        mm.lmer("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"), threads=bad)


@pytest.mark.parametrize("bad", [0, "all", False])
def test_fit_arrays_refuses_bad_threads(bad):
    y = np.arange(6.0)
    x = np.ones((6, 1))
    term = mm.GroupTerm("g", np.array([0, 0, 1, 1, 2, 2]), np.ones((6, 1)), ("(Intercept)",), ("a", "b", "c"))
    with pytest.raises(mm.ArgumentError, match="threads"):
        mm.fit_arrays(y, x, [term], threads=bad)


def test_the_default_is_the_machines_cores():
    assert check_threads(None) == (os.cpu_count() or 1)
    assert check_threads(np.int64(3)) == 3
    model = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    assert model.new_engine().threads == (os.cpu_count() or 1)


def test_the_engine_takes_and_checks_threads():
    model = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    cp = model.cross_products
    assert _core.Engine(cp, threads=3).threads == 3
    engine = _core.Engine(cp)
    assert engine.threads == (os.cpu_count() or 1)
    engine.threads = 1
    assert engine.threads == 1
    for bad in (0, -2, 2.5, True, "1"):
        with pytest.raises((ValueError, TypeError), match="threads"):
            _core.Engine(cp, threads=bad)
        with pytest.raises((ValueError, TypeError), match="threads"):
            engine.threads = bad


def test_the_model_passes_threads_to_its_engines():
    model = LinearMixedModel.from_formula("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    engine = model._engine  # formed before the threads are set: set_threads reaches it too
    model.set_threads(2)
    assert engine.threads == 2
    assert model.new_engine().threads == 2
    assert model.with_reml(False).threads == 2


def _crossed(n: int = 30_000, n1: int = 1_500, n2: int = 250, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f1 = np.concatenate([np.arange(n1), rng.integers(0, n1, n - n1)])
    f2 = rng.integers(0, n2, n)
    x = rng.normal(size=n)
    y = 1 + 0.4 * x + rng.normal(0, 0.7, n1)[f1] + rng.normal(0, 0.4, n2)[f2] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "f1": pd.Categorical(f1), "f2": pd.Categorical(f2)})


def _facts(m) -> tuple:
    return (m.objective, m.theta.tobytes(), m.fixef.to_numpy().tobytes(), m.n_evals, m.sigma)


@pytest.mark.parametrize(
    ("formula", "data"),
    [
        ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
        ("y ~ x + (1 | f1) + (1 | f2)", "crossed"),
    ],
)
def test_fits_are_bitwise_the_same_for_every_thread_count(formula, data):
    frame = _crossed() if data == "crossed" else mm.datasets.load(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        fits = {t: mm.lmer(formula, frame, threads=t) for t in (1, 2, 3)}
    assert _facts(fits[2]) == _facts(fits[1])
    assert _facts(fits[3]) == _facts(fits[1])
    ranef = [fits[t].ranef["f1" if data == "crossed" else "Subject"].to_numpy().tobytes() for t in (1, 2, 3)]
    assert ranef[1] == ranef[0]
    assert ranef[2] == ranef[0]


def test_fit_arrays_threads_give_the_same_fit():
    frame = _crossed(n=20_000, n1=1_000, n2=200)
    y = frame["y"].to_numpy()
    x = np.column_stack([np.ones(len(frame)), frame["x"].to_numpy()])
    terms = [
        mm.GroupTerm(
            g,
            frame[g].cat.codes.to_numpy(),
            np.ones((len(frame), 1)),
            ("(Intercept)",),
            tuple(str(c) for c in frame[g].cat.categories),
        )
        for g in ("f1", "f2")
    ]
    fits = [mm.fit_arrays(y, x, terms, threads=t) for t in (1, 2)]
    assert _facts(fits[0]) == _facts(fits[1])
