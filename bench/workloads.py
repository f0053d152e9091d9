"""The benchmark workloads: bundled datasets and simulated designs (seeded, generated on the fly)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import mixedmodels as mm


@dataclass(frozen=True)
class Workload:
    name: str
    formula: str
    statsmodels: dict | None  # MixedLM.from_formula arguments, or None where it cannot fit it
    description: str


def simulate_slopes(n: int, ngroups: int, seed: int = 1) -> pd.DataFrame:
    """Intercept and two correlated random slopes: y = 1 + .5 x1 - .3 x2 + b0 + b1 x1 + b2 x2 + e."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, ngroups, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    cov = np.array([[1.0, 0.3, 0.1], [0.3, 0.5, 0.0], [0.1, 0.0, 0.25]])
    b = rng.multivariate_normal(np.zeros(3), cov, size=ngroups)
    y = 1 + 0.5 * x1 - 0.3 * x2 + b[g, 0] + b[g, 1] * x1 + b[g, 2] * x2 + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": pd.Categorical(g)})


def simulate_slopes4(n: int, ngroups: int, seed: int = 5) -> pd.DataFrame:
    """Intercept and three correlated random slopes (issue 19's 4-term design):
    y = 1 + .5 x1 - .3 x2 + .2 x3 + b0 + b1 x1 + b2 x2 + b3 x3 + e."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, ngroups, n)
    x = rng.normal(size=(n, 3))
    cov = np.array([[1.0, 0.3, 0.1, 0.0], [0.3, 0.5, 0.0, 0.1], [0.1, 0.0, 0.25, 0.05], [0.0, 0.1, 0.05, 0.3]])
    b = rng.multivariate_normal(np.zeros(4), cov, size=ngroups)
    y = 1 + x @ np.array([0.5, -0.3, 0.2]) + b[g, 0] + np.sum(b[g, 1:] * x, axis=1) + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "g": pd.Categorical(g)})


def simulate_crossed(n: int, n1: int, n2: int, seed: int = 2) -> pd.DataFrame:
    """Two crossed random intercepts: y = 2 + .4 x + a[f1] + c[f2] + e."""
    rng = np.random.default_rng(seed)
    f1, f2 = rng.integers(0, n1, n), rng.integers(0, n2, n)
    x = rng.normal(size=n)
    y = 2 + 0.4 * x + rng.normal(0, 0.8, n1)[f1] + rng.normal(0, 0.5, n2)[f2] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "f1": pd.Categorical(f1), "f2": pd.Categorical(f2)})


WORKLOADS = {
    "hsb": Workload(
        "hsb",
        "mAch ~ ses + (ses | school)",
        {"formula": "mAch ~ ses", "groups": "school", "re_formula": "~ses"},
        "High School and Beyond, 7,185 rows, 160 schools, correlated slope",
    ),
    "sleepstudy": Workload(
        "sleepstudy",
        "Reaction ~ Days + (Days | Subject)",
        {"formula": "Reaction ~ Days", "groups": "Subject", "re_formula": "~Days"},
        "sleepstudy, 180 rows, 18 subjects, correlated slope",
    ),
    "sim100k": Workload(
        "sim100k",
        "y ~ x1 + x2 + (1 + x1 + x2 | g)",
        {"formula": "y ~ x1 + x2", "groups": "g", "re_formula": "~x1 + x2"},
        "simulated, 100,000 rows, 2,000 groups, intercept + 2 correlated slopes",
    ),
    "sim1m": Workload(
        "sim1m",
        "y ~ x1 + x2 + (1 + x1 + x2 | g)",
        {"formula": "y ~ x1 + x2", "groups": "g", "re_formula": "~x1 + x2"},
        "simulated, 1,000,000 rows, 20,000 groups, intercept + 2 correlated slopes",
    ),
    "sim100k4": Workload(
        "sim100k4",
        "y ~ x1 + x2 + x3 + (1 + x1 + x2 + x3 | g)",
        {"formula": "y ~ x1 + x2 + x3", "groups": "g", "re_formula": "~x1 + x2 + x3"},
        "simulated, 100,000 rows, 1,000 groups, intercept + 3 correlated slopes",
    ),
    "insteval": Workload(
        "insteval",
        "y ~ service + (1 | s) + (1 | d) + (1 | dept)",
        None,
        "InstEval, 73,421 rows, crossed s (2,972) x d (1,128) + dept (14)",
    ),
    "insteval_slope": Workload(
        "insteval_slope",
        "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept) + (0 + service | dept)",
        None,
        "InstEval with a service effect varying by department",
    ),
    "crossed200k": Workload(
        "crossed200k",
        "y ~ x + (1 | f1) + (1 | f2)",
        None,
        "simulated crossed, 200,000 rows, 5,000 x 500 levels",
    ),
}


def load(name: str) -> pd.DataFrame:
    if name in ("hsb", "sleepstudy"):
        return mm.datasets.load(name)
    if name.startswith("insteval"):
        return mm.datasets.load("insteval")
    if name == "sim100k":
        return simulate_slopes(100_000, 2_000)
    if name == "sim1m":
        return simulate_slopes(1_000_000, 20_000)
    if name == "sim100k4":
        return simulate_slopes4(100_000, 1_000)
    if name == "crossed200k":
        return simulate_crossed(200_000, 5_000, 500)
    raise KeyError(name)
