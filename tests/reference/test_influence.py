"""Influence diagnostics against lme4 1.1-31 (tests/reference/postestimation, README's `influence`).

* hatvalues and Cook's distances at lme4's own theta must equal lme4's to 1e-6 relative (the issue's
  tolerance): they follow from theta alone, so this tests the formula and the bookkeeping.
* At our own optimum they differ from lme4's by lme4's optimiser noise in theta (up to ~6e-5
  relative on the HSB models, whose theta lme4 reaches to ~1e-5): checked at 2e-4 relative (Cook's
  distances of rows with an almost zero residual at 1e-6 of the largest, absolute).
* Deletion by school (hsb_ses_slope, 160 refits) is compared at 1e-4 relative, as the README says:
  lme4's refits stop ~1e-5 from their optimum. The full fit is taken at lme4's theta, so the
  full-fit side of dfbeta is lme4's own; dfbeta's entries that are tiny against the fixed
  effect's standard error are compared at 1e-4 of that SE (see `_close`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from tests.conftest import DATASETS

POST = Path(__file__).parent / "postestimation"
IDS = [e["file"].removesuffix(".json") for e in json.loads((POST / "index.json").read_text())["files"]]


def _load(case_id: str) -> dict:
    return json.loads((POST / f"{case_id}.json").read_text())


@pytest.fixture(params=IDS, scope="module")
def case(request, fits):
    ref = _load(request.param)
    m = fits.fit(ref["formula"], DATASETS[ref["dataset"]], reml=ref["REML"])
    theta = np.array(list(ref["fit_check"]["theta"].values()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        at_lme4 = mm.LmerResult.of(m.model.fit_at(theta))
    return m, at_lme4, ref


def _check(values: np.ndarray, rec: dict, rtol: float, atol: float = 0.0) -> None:
    np.testing.assert_allclose(values[:20], rec["first20"], rtol=rtol, atol=atol)
    if rec.get("all") is not None:
        np.testing.assert_allclose(values, rec["all"], rtol=rtol, atol=atol)
    if "sum" in rec:
        np.testing.assert_allclose(values.sum(), rec["sum"], rtol=rtol)
    np.testing.assert_allclose(np.nanmax(values), rec["max"], rtol=rtol)
    # the largest value's row (balanced designs have ties: the recorded row holds the maximum)
    np.testing.assert_allclose(values[rec["which_max_row_1based"] - 1], rec["max"], rtol=rtol)


@pytest.mark.parametrize("where, rtol", [("lme4_theta", 1e-6), ("our_optimum", 2e-4)])
def test_hatvalues(case, where, rtol):
    m, at_lme4, ref = case
    fit = at_lme4 if where == "lme4_theta" else m
    h = fit.hatvalues()
    assert len(h) == ref["fit_check"]["nobs"]
    assert (h.index == m.fitted().index).all()
    _check(h.to_numpy(), ref["influence"]["hatvalues"], rtol)


@pytest.mark.parametrize("where, rtol", [("lme4_theta", 1e-6), ("our_optimum", 2e-4)])
def test_cooks_distance(case, where, rtol):
    m, at_lme4, ref = case
    fit = at_lme4 if where == "lme4_theta" else m
    rec = ref["influence"]["cooks_distance"]
    assert rec["p_rank_X"] == m.structure.p
    # at our optimum, a row whose residual is almost 0 has a Cook's distance ~1e-6 of the largest,
    # relatively sensitive to theta: such rows are compared at 1e-6 of the largest (absolute)
    atol = 0.0 if where == "lme4_theta" else 1e-6 * rec["max"]
    _check(fit.cooks_distance().to_numpy(), rec, rtol, atol)


def test_hatvalues_within_zero_and_one(case):
    """A diagonal entry of H = I - sigma^2 P lies in (0, 1) (P positive semi-definite, H too)."""
    _, at_lme4, ref = case
    h = at_lme4.hatvalues().to_numpy()
    assert ((h > 0) & (h < 1)).all()


# ------------------------------------------------------------------------------ deletion by group
@pytest.fixture(scope="module")
def school_influence(fits):
    ref = _load("hsb_ses_slope")
    m = fits.fit(ref["formula"], DATASETS[ref["dataset"]], reml=ref["REML"])
    theta = np.array(list(ref["fit_check"]["theta"].values()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        at_lme4 = mm.LmerResult.of(m.model.fit_at(theta))
    return at_lme4.influence(groups="school"), ref["influence"]["influence_groups"]


def _close(ours: pd.DataFrame, recorded: dict, scale: pd.Series | None = None) -> None:
    want = pd.DataFrame(recorded).T
    got = ours.rename(index=str).loc[want.index, want.columns]
    atol = 0.0 if scale is None else 1e-4 * scale.loc[want.columns].to_numpy()[None, :]
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(dtype=float), rtol=1e-4, atol=atol)


def test_influence_groups_order_and_full_fit(school_influence):
    inf, rec = school_influence
    assert [str(g) for g in inf.deleted] == rec["deleted_order"]
    assert inf.groups == "school"
    np.testing.assert_allclose(inf.fixed_effects.to_numpy(), list(rec["fixed_effects_full"].values()), rtol=1e-6)
    assert list(inf.var_cov_comps.index) == list(rec["var_cov_comps_full"])
    np.testing.assert_allclose(inf.var_cov_comps.to_numpy(), list(rec["var_cov_comps_full"].values()), rtol=1e-6)
    assert inf.converged.all()


def test_influence_groups_cooks_distance(school_influence):
    inf, rec = school_influence
    d = inf.cooks_distance.rename(index=str)
    want = pd.Series(rec["cooks_distance"])
    assert len(want) == 160
    np.testing.assert_allclose(d.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-4)
    assert str(d.idxmax()) == rec["most_influential_group"]


def test_influence_groups_refits(school_influence):
    inf, rec = school_influence
    se = pd.Series(np.sqrt(np.diag(inf.vcov.to_numpy())), index=inf.vcov.index)
    _close(inf.fixed_effects_deleted, rec["fixed_effects_deleted"])
    _close(inf.dfbeta, rec["dfbeta"], se)
    _close(inf.dfbetas, rec["dfbetas"], pd.Series(1.0, index=se.index))
    _close(inf.var_cov_comps_deleted, rec["var_cov_comps_deleted"])
