"""Loading the GLMM reference cases (tests/reference/glmm, a copy of ../shared/reference/glmm with
the simulated datasets in its data/ folder; the R datasets are bundled with the package)."""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import mixedmodels as mm

GLMM_DIR = Path(__file__).parent / "glmm"
BUNDLED = {"cbpp": "cbpp", "grouseticks": "grouseticks", "VerbAgg": "verbagg", "Contraception": "contraception"}


def case_ids(model: str) -> list[str]:
    index = json.loads((GLMM_DIR / "index.json").read_text())
    return [e["file"].removesuffix(".json") for e in index["fits"] if e["model"] == model]


@cache
def reference(case: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((GLMM_DIR / f"{case}.json").read_text())
    return out


@cache
def _dataset(name: str) -> pd.DataFrame:
    if name in BUNDLED:
        return mm.datasets.load(BUNDLED[name])
    schema = json.loads((GLMM_DIR / "data" / f"{name}.schema.json").read_text())
    factors = {c["name"]: c["levels"] for c in schema["columns"] if c["type"] in ("factor", "ordered")}
    d = pd.read_csv(GLMM_DIR / "data" / f"{name}.csv", dtype={c: str for c in factors})
    for c, levels in factors.items():
        d[c] = pd.Categorical(d[c], categories=levels)
    return d


def data(ref: dict[str, Any]) -> pd.DataFrame:
    """The case's data frame, with the R preprocessing the case records."""
    d = _dataset(ref["dataset"].removesuffix(".csv")).copy()
    for statement in ref.get("data_preprocessing") or []:
        assert statement.startswith("obs <- factor(seq_len(nrow"), statement
        labels = [str(i + 1) for i in range(len(d))]
        d["obs"] = pd.Categorical(labels, categories=labels)
    return d


def arguments(ref: dict[str, Any], d: pd.DataFrame) -> dict[str, Any]:
    """weights= and offset= as the R call gives them (a column, or log(column))."""
    kw: dict[str, Any] = {}
    if ref["weights"]:
        kw["weights"] = ref["weights"]
    if ref["offset"]:
        expr = ref["offset"]
        if expr in d.columns:
            kw["offset"] = expr
        else:
            assert expr.startswith("log("), expr
            assert expr.endswith(")"), expr
            kw["offset"] = np.log(d[expr[4:-1]].to_numpy())
    return kw


@cache
def glmer_fit(case: str) -> mm.GlmerResult:
    ref = reference(case)
    d = data(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        return mm.glmer(
            ref["formula"],
            d,
            family=mm.families.family(ref["family"], ref["link"]),
            nAGQ=ref["nAGQ"],
            data_name=ref["dataset"],
            **arguments(ref, d),
        )


@cache
def lmer_fit(case: str) -> mm.LmerResult:
    ref = reference(case)
    d = data(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        return mm.lmer(ref["formula"], d, reml=ref["REML"], **arguments(ref, d))


def values(named: dict[str, float] | list[float]) -> np.ndarray:
    return np.array(list(named.values()) if isinstance(named, dict) else named, dtype=float)
