"""Datasets bundled with mixedmodels (exports of R datasets, with R's factor level order).

``load("hsb")`` gives the High School and Beyond data (mlmRev::Hsb82): 7185 students in 160 schools;
``load("hsb_classic")`` the same students as courses on random slopes name and code them
(``mathach``, ``ses``, school ``id``, 0/1 ``female``, ``minority``, ``sector`` and the school-level
``size``, ``pracad``, ``disclim``, ``himinty``, ``meanses``). Factor columns come back as pandas
categoricals whose category order is R's level order, so treatment contrasts use R's baseline.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

__all__ = ["describe", "load", "names"]

_ALIASES = {"hsb82": "hsb"}


@cache
def _catalog() -> dict[str, Any]:
    with resources.files(__name__).joinpath("data/catalog.json").open("r", encoding="utf-8") as fh:
        catalog: dict[str, Any] = json.load(fh)
    return catalog


def names() -> list[str]:
    """Names of the bundled datasets.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> "hsb" in mm.datasets.names()
    True
    """
    return sorted(_catalog())


def _entry(name: str) -> dict[str, Any]:
    key = _ALIASES.get(name.lower(), name.lower())
    cat = _catalog()
    if key not in cat:
        raise KeyError(f"no bundled dataset {name!r}; available: {', '.join(names())}")
    entry: dict[str, Any] = cat[key]
    return entry


def describe(name: str) -> str:
    """A one-paragraph description of a bundled dataset and its columns.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> print(mm.datasets.describe("sleepstudy").splitlines()[0])
    sleepstudy: lme4::sleepstudy, 180 rows
    """
    e = _entry(name)
    key = _ALIASES.get(name.lower(), name.lower())
    lines = [f"{key}: {e['source']}, {e['rows']} rows", f"  {e['description']}"]
    for col, info in e["columns"].items():
        lines.append(f"  {col} ({info['type']}): {info['description']}")
    return "\n".join(lines)


def load(name: str) -> pd.DataFrame:
    """Load a bundled dataset as a pandas DataFrame.

    Parameters
    ----------
    name : str
        One of `names()`: ``hsb`` (alias ``hsb82``), ``hsb_classic``, ``sleepstudy``, ``dyestuff``,
        ``penicillin``, ``pastes``, ``insteval``, ``exam``, ``cake``.

    Returns
    -------
    pandas.DataFrame
        Factor columns are categoricals in R's level order. R's ordered factors come back
        unordered, with the same order, so they have treatment contrasts; ``cake.temperature``
        is the one that matters: ``.cat.as_ordered()`` makes it R's ordered factor, with R's
        polynomial contrasts (``temperature.L``, ...) and lme4's coefficients.

    Examples
    --------
    >>> import mixedmodels as mm
    >>> hsb = mm.datasets.load("hsb")
    >>> hsb.shape, hsb["school"].nunique()
    ((7185, 8), 160)
    >>> m = mm.lmer("mathach ~ 1 + ses + (1 + ses | id)", mm.datasets.load("hsb_classic"))
    >>> m.fixef.round(2).tolist()
    [12.67, 2.39]
    """
    e = _entry(name)
    factors = {c: info for c, info in e["columns"].items() if info["type"] in ("factor", "ordered")}
    # pandas >= 3 parses floats correctly rounded by default (and deprecates the option)
    exact: dict[str, Any] = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    with resources.files(__name__).joinpath("data/" + e["file"]).open("rb") as fh:
        df: pd.DataFrame = pd.read_csv(
            fh,
            dtype={c: str for c in factors},
            compression="gzip" if e["file"].endswith(".gz") else None,
            **exact,
        )
    for c, info in factors.items():
        df[c] = pd.Categorical(df[c], categories=info["levels"])
    return df
