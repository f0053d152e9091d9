"""The GLMM benchmark workloads (`bench_glmm.py`): three bundled datasets and two seeded simulations.

Every tool reads the same rows: the parent process writes each workload once as ``data.csv`` with
``levels.csv`` (the categorical columns' levels in order, so that R's factors and pandas'
categoricals code them alike), and each tool's process reads them back before its clock starts.
This module imports only numpy and pandas at the top, so the children of tools installed in other
environments (mixedlm's venv) can import it; `frame` (the bundled datasets) needs mixedmodels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class GlmmWorkload:
    """One GLMM benchmark.

    formula : the lme4 formula, fitted as written by mixedmodels and lme4.
    family : "binomial" or "poisson".
    mixedlm_formula : the same model in mixedlm's formula syntax (no cbind(), no scale()).
    sm_fixed, sm_vc : statsmodels' BayesMixedGLM: fixed-effects formula and variance components
        (formula per component; None for the simulated designs, whose indicator matrices are built
        sparse: patsy's dense ones would take gigabytes).
    sm_theta : statsmodels' variance component -> lme4's theta name (its sd is that theta; theta
        entries not named, the correlations, are 0 in statsmodels' model).
    sm_method : `fit_vb`'s optimiser. Its default, SciPy's BFGS, updates a dense N x N inverse
        Hessian by two N x N matrix products per iteration (N = 2 x (fixed + random effects):
        8,010 and 40,008 on the simulated designs, 2e12 and 3e14 flops per iteration), so
        those two use L-BFGS-B.
    aliases : a column a tool is given pre-computed -> the lme4 name of the fixed effect.
    small : timed after one untimed call, over more repetitions (a fit takes milliseconds).
    """

    name: str
    formula: str
    family: str
    description: str
    mixedlm_formula: str
    sm_fixed: str
    sm_vc: dict[str, str] | None
    sm_theta: dict[str, str]
    sm_note: str = ""
    sm_method: str = "BFGS"
    aliases: dict[str, str] = field(default_factory=dict)
    small: bool = False


WORKLOADS: dict[str, GlmmWorkload] = {
    w.name: w
    for w in (
        GlmmWorkload(
            "cbpp",
            "cbind(incidence, size - incidence) ~ period + (1 | herd)",
            "binomial",
            "cbpp, 56 rows (842 trials), 15 herds",
            "incidence / size ~ period + (1 | herd)",
            "y ~ period",
            {"herd": "0 + C(herd)"},
            {"herd": "herd.(Intercept)"},
            sm_note="expanded to 842 0/1 rows",
            small=True,
        ),
        GlmmWorkload(
            "grouseticks",
            "TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
            "poisson",
            "grouseticks, 403 rows, INDEX (403) + BROOD (118) + LOCATION (63)",
            "TICKS ~ YEAR + sHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
            "TICKS ~ YEAR + sHEIGHT",
            {"BROOD": "0 + C(BROOD)", "INDEX": "0 + C(INDEX)", "LOCATION": "0 + C(LOCATION)"},
            {"BROOD": "BROOD.(Intercept)", "INDEX": "INDEX.(Intercept)", "LOCATION": "LOCATION.(Intercept)"},
            aliases={"sHEIGHT": "scale(HEIGHT)"},
            small=True,
        ),
        GlmmWorkload(
            "verbagg",
            "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
            "binomial",
            "VerbAgg, 7,584 rows, crossed id (316) x item (24)",
            "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
            "y ~ Anger + Gender + btype + situ",
            {"id": "0 + C(id)", "item": "0 + C(item)"},
            {"id": "id.(Intercept)", "item": "item.(Intercept)"},
        ),
        GlmmWorkload(
            "logit100k",
            "y ~ x1 + x2 + (1 + x1 | g)",
            "binomial",
            "simulated 0/1, 100,000 rows, 2,000 groups, correlated intercept and slope",
            "y ~ x1 + x2 + (1 + x1 | g)",
            "y ~ x1 + x2",
            None,
            {"g": "g.(Intercept)", "g:x1": "g.x1"},
            sm_note="uncorrelated intercept and slope (variance components only); L-BFGS-B",
            sm_method="L-BFGS-B",
        ),
        GlmmWorkload(
            "poisson1m",
            "y ~ x1 + x2 + (1 | g)",
            "poisson",
            "simulated counts, 1,000,000 rows, 20,000 groups, random intercept",
            "y ~ x1 + x2 + (1 | g)",
            "y ~ x1 + x2",
            None,
            {"g": "g.(Intercept)"},
            sm_note="L-BFGS-B",
            sm_method="L-BFGS-B",
        ),
    )
}


def simulate_logistic(n: int, ngroups: int, seed: int = 3) -> pd.DataFrame:
    """y ~ Bernoulli(plogis(-.5 + .8 x1 - .5 x2 + b0[g] + b1[g] x1)), sd(b0) = 1, sd(b1) = .7, cor .42."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, ngroups, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    b = rng.multivariate_normal(np.zeros(2), np.array([[1.0, 0.3], [0.3, 0.5]]), size=ngroups)
    eta = -0.5 + 0.8 * x1 - 0.5 * x2 + b[g, 0] + b[g, 1] * x1
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": pd.Categorical(g)})


def simulate_poisson(n: int, ngroups: int, seed: int = 4) -> pd.DataFrame:
    """y ~ Poisson(exp(.5 + .3 x1 - .2 x2 + b[g])), sd(b) = .5."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, ngroups, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    b = rng.normal(0.0, 0.5, ngroups)
    y = rng.poisson(np.exp(0.5 + 0.3 * x1 - 0.2 * x2 + b[g]))
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": pd.Categorical(g)})


def frame(name: str) -> pd.DataFrame:
    """The workload's data frame (the bundled datasets need mixedmodels). $GLMM_BENCH_SHRINK = k
    divides the simulated designs' rows and groups by k (a smoke test of the script, not a benchmark)."""
    k = int(os.environ.get("GLMM_BENCH_SHRINK", "1"))
    if name == "logit100k":
        return simulate_logistic(100_000 // k, 2_000 // k)
    if name == "poisson1m":
        return simulate_poisson(1_000_000 // k, 20_000 // k)
    import mixedmodels as mm

    if name == "cbpp":
        return mm.datasets.load("cbpp")
    if name == "grouseticks":
        df = mm.datasets.load("grouseticks").drop(columns="cHEIGHT")
        h = df["HEIGHT"].to_numpy(dtype=np.float64)
        df["sHEIGHT"] = (h - h.mean()) / h.std(ddof=1)  # R's scale(), for the tools without it
        return df
    if name == "verbagg":
        return mm.datasets.load("verbagg")[["r2", "Anger", "Gender", "btype", "situ", "id", "item"]]
    raise KeyError(name)


def write(name: str, folder: Path) -> None:
    """The workload's rows as folder/data.csv, and its categoricals' levels as folder/levels.csv."""
    df = frame(name)
    levels = []
    for col in df.columns:
        if isinstance(df[col].dtype, pd.CategoricalDtype):
            levels += [(col, str(lev)) for lev in df[col].cat.categories]
    df.to_csv(folder / "data.csv", index=False)
    pd.DataFrame(levels, columns=["column", "level"]).to_csv(folder / "levels.csv", index=False)


def read(folder: Path) -> pd.DataFrame:
    """The rows `write` wrote, with the categoricals as they were (levels and their order)."""
    levels = pd.read_csv(folder / "levels.csv", dtype=str, keep_default_na=False)
    cats = list(dict.fromkeys(levels["column"]))
    df = pd.read_csv(folder / "data.csv", dtype=dict.fromkeys(cats, str), keep_default_na=False)
    for col in cats:
        df[col] = pd.Categorical(df[col], categories=levels.loc[levels["column"] == col, "level"].tolist())
    return df
