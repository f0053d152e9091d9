"""Influence diagnostics against lme4 1.1-31 (tests/reference/postestimation, README's `influence`).

* hatvalues and Cook's distances at lme4's own theta must equal lme4's to 1e-6 relative (the issue's
  tolerance): they follow from theta alone, so this tests the formula and the bookkeeping.
* At our own optimum they differ from lme4's by lme4's optimiser noise in theta (up to ~6e-5
  relative on the HSB models, whose theta lme4 reaches to ~1e-5): checked at 2e-4 relative (Cook's
  distances of rows with an almost zero residual at 1e-6 of the largest, absolute).
* Deletion by school (hsb_ses_slope, 160 refits), with the full fit at lme4's theta (so the
  full-fit side of dfbeta is lme4's own): against lme4 refits run to their optimum
  (influence_tight/, R script and JSON) at the issue's 1e-4 relative, and against lme4's own
  ``influence()`` record (whose default refits stop ~1e-6..1e-5 from the optimum, which moves a
  small dfbeta by up to ~2e-3 and a small Cook's distance by up to ~6e-2 relative) at 1e-4 plus
  twice that measured noise.
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


@pytest.mark.parametrize(("where", "rtol"), [("lme4_theta", 1e-6), ("our_optimum", 2e-4)])
def test_hatvalues(case, where, rtol):
    m, at_lme4, ref = case
    fit = at_lme4 if where == "lme4_theta" else m
    h = fit.hatvalues()
    assert len(h) == ref["fit_check"]["nobs"]
    assert (h.index == m.fitted().index).all()
    _check(h.to_numpy(), ref["influence"]["hatvalues"], rtol)


@pytest.mark.parametrize(("where", "rtol"), [("lme4_theta", 1e-6), ("our_optimum", 2e-4)])
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
TIGHT = Path(__file__).parent / "influence_tight" / "hsb_ses_slope_tight.json"


@pytest.fixture(scope="module")
def school_influence(fits):
    ref = _load("hsb_ses_slope")
    m = fits.fit(ref["formula"], DATASETS[ref["dataset"]], reml=ref["REML"])
    theta = np.array(list(ref["fit_check"]["theta"].values()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        at_lme4 = mm.LmerResult.of(m.model.fit_at(theta))
    return at_lme4.influence(groups="school"), ref["influence"]["influence_groups"], json.loads(TIGHT.read_text())


def _table(recorded: dict) -> pd.DataFrame:
    return pd.DataFrame(recorded).T.astype(float)


def _close(ours: pd.DataFrame, want: pd.DataFrame, atol: dict[str, float] | None = None) -> None:
    got = ours.rename(index=str).loc[want.index, want.columns]
    for col in want.columns:
        a = 0.0 if atol is None else atol[col]
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-4, atol=a, err_msg=col)


def test_influence_groups_order_and_full_fit(school_influence):
    inf, rec, tight = school_influence
    assert [str(g) for g in inf.deleted] == rec["deleted_order"] == tight["deleted_order"]
    assert inf.groups == "school"
    np.testing.assert_allclose(inf.fixed_effects.to_numpy(), list(rec["fixed_effects_full"].values()), rtol=1e-6)
    assert list(inf.var_cov_comps.index) == list(rec["var_cov_comps_full"])
    np.testing.assert_allclose(inf.var_cov_comps.to_numpy(), list(rec["var_cov_comps_full"].values()), rtol=1e-6)
    assert inf.converged.all()
    assert list(inf.vcov_without(inf.deleted[0]).index) == list(inf.fixed_effects.index)


def test_influence_groups_against_tight_refits(school_influence):
    """Against lme4 refits run to their optimum (influence_tight/make_influence_tight.R): all 160
    groups at the issue's 1e-4 relative. A dfbeta entry near 0 is compared at 1e-4 of the fixed
    effect's standard error (1e-4 absolute for dfbetas, its value in SE units)."""
    inf, _, tight = school_influence
    d = inf.cooks_distance.rename(index=str)
    want = pd.Series(tight["cooks_distance"])
    assert len(want) == 160
    np.testing.assert_allclose(d.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-4)
    se = dict(zip(inf.vcov.index, np.sqrt(np.diag(inf.vcov.to_numpy())), strict=True))
    _close(inf.fixed_effects_deleted, _table(tight["fixed_effects_deleted"]))
    _close(inf.dfbeta, _table(tight["dfbeta"]), {k: 1e-4 * v for k, v in se.items()})
    _close(inf.dfbetas, _table(tight["dfbetas"]), dict.fromkeys(se, 1e-4))
    _close(inf.var_cov_comps_deleted, _table(tight["var_cov_comps_deleted"]))


def test_influence_groups_against_lme4s_influence(school_influence):
    """Against lme4's own ``influence(m, groups = "school")``: the fixed effects of the refits at
    1e-4 relative; the rest within 1e-4 relative plus twice the distance of lme4's default refits
    from the tight ones (measured here from the two records: up to 1.2e-3 relative for the
    covariance, 6e-2 relative for the smallest Cook's distances), lme4's optimiser noise."""
    inf, rec, tight = school_influence
    assert str(inf.cooks_distance.idxmax()) == rec["most_influential_group"]
    d = inf.cooks_distance.rename(index=str)
    lme4_d, tight_d = pd.Series(rec["cooks_distance"]), pd.Series(tight["cooks_distance"])
    noise = 2 * float((lme4_d - tight_d.loc[lme4_d.index]).abs().max())
    np.testing.assert_allclose(d.loc[lme4_d.index].to_numpy(), lme4_d.to_numpy(), rtol=1e-4, atol=noise)
    _close(inf.fixed_effects_deleted, _table(rec["fixed_effects_deleted"]))
    for key, ours in (
        ("dfbeta", inf.dfbeta),
        ("dfbetas", inf.dfbetas),
        ("var_cov_comps_deleted", inf.var_cov_comps_deleted),
    ):
        want = _table(rec[key])
        gap = (want - _table(tight[key]).loc[want.index, want.columns]).abs().max()
        _close(ours, want, {k: 2 * float(v) for k, v in gap.items()})
