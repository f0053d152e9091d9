"""Shared fixtures: fitted models are cached for the whole session (one fit per case)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import mixedmodels as mm

REFERENCE_DIR = Path(__file__).parent / "reference" / "lme4"

DATASETS = {
    "sleepstudy.csv": "sleepstudy",
    "Hsb82.csv": "hsb",
    "Penicillin.csv": "penicillin",
    "Pastes.csv": "pastes",
    "Dyestuff.csv": "dyestuff",
    "InstEval.csv.gz": "insteval",
    "Exam.csv": "exam",
    "cake.csv": "cake",
}


def reference_ids() -> list[str]:
    index = json.loads((REFERENCE_DIR / "index.json").read_text())
    return [e["file"].removesuffix(".json") for e in index["fits"]]


class FitCache:
    """Fits each (formula, dataset, REML) once per session."""

    def __init__(self) -> None:
        self._fits: dict = {}
        self._data: dict = {}

    def data(self, name: str):
        if name not in self._data:
            self._data[name] = mm.datasets.load(name)
        return self._data[name]

    def fit(self, formula: str, dataset: str, reml: bool = True):
        key = (formula, dataset, reml)
        if key not in self._fits:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", mm.SingularFitWarning)
                self._fits[key] = mm.lmer(formula, self.data(dataset), reml=reml, data_name=dataset)
        return self._fits[key]


@pytest.fixture(scope="session")
def fits() -> FitCache:
    return FitCache()


@pytest.fixture(scope="session")
def cbpp():
    """The cbpp data (lme4's): herds' incidence of contagious bovine pleuropneumonia by period."""
    return mm.datasets.load("cbpp")


@pytest.fixture(scope="session")
def cbpp_fit(cbpp):
    """lme4's glmer example, ``cbind(incidence, size - incidence) ~ period + (1 | herd)``, binomial."""
    return mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")


@pytest.fixture(scope="session")
def load_reference():
    cache: dict = {}

    def load(fit_id: str) -> dict:
        if fit_id not in cache:
            cache[fit_id] = json.loads((REFERENCE_DIR / f"{fit_id}.json").read_text())
        return cache[fit_id]

    return load
