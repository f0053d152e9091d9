"""Deletion by group of glmer fits without R: a deletion equals a fit to the data without the group,
threads give the same numbers, the fit's nAGQ is kept, and what stays refused is refused by name."""

from __future__ import annotations

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels import influence

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def test_a_deletion_is_the_fit_without_the_group(cbpp_fit, cbpp):
    inf = cbpp_fit.influence(groups="herd")
    without = mm.glmer(CBPP, cbpp[cbpp["herd"] != "3"], family="binomial")
    np.testing.assert_allclose(inf.fixed_effects_deleted.loc["3"], without.beta, atol=2e-6)
    np.testing.assert_allclose(inf.var_cov_comps_deleted.loc["3", "v[(Intercept)]"], without.theta[0] ** 2, atol=2e-6)
    # both from finite-difference Hessians of the deviance (different steps from different starts)
    np.testing.assert_allclose(inf.vcov_without("3").to_numpy(), without.vcov_array, rtol=1e-3)
    assert inf.var_cov_comps["sigma^2"] == 1.0
    np.testing.assert_allclose(inf.dfbeta.loc["3"], without.beta - cbpp_fit.beta, atol=2e-6)


def test_threads_and_labels_as_an_array(cbpp_fit, cbpp):
    one = cbpp_fit.influence(groups="herd")
    two = cbpp_fit.influence(groups=cbpp["herd"].to_numpy(), n_jobs=2)
    assert two.groups == "case"
    np.testing.assert_allclose(two.fixed_effects_deleted.to_numpy(), one.fixed_effects_deleted.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(two.cooks_distance.to_numpy(), one.cooks_distance.to_numpy(), rtol=1e-6)


def test_the_fits_nagq_is_kept(cbpp):
    m = mm.glmer(CBPP, cbpp, family="binomial", nAGQ=7)
    inf = m.influence(groups="herd")
    without = mm.glmer(CBPP, cbpp[cbpp["herd"] != "1"], family="binomial", nAGQ=7)
    np.testing.assert_allclose(inf.fixed_effects_deleted.loc["1"], without.beta, atol=2e-6)


def test_deleting_a_groups_rows_that_carry_a_fixed_effect(cbpp):
    d = cbpp.assign(special=(cbpp["herd"] == "2").astype(float))
    m = mm.glmer("cbind(incidence, size - incidence) ~ period + special + (1 | herd)", d, family="binomial")
    with pytest.raises(mm.DataError, match="special are not identifiable"):
        m.influence(groups="herd")


def test_observation_level_diagnostics_stay_refused(cbpp_fit):
    with pytest.raises(mm.MixedModelsError, match="influence\\(groups=...\\)"):
        influence.hatvalues(cbpp_fit)
    with pytest.raises(mm.MixedModelsError, match="not supported for glmer fits"):
        influence.cooks_distance(cbpp_fit)
    with pytest.raises(mm.ArgumentError, match="not a column"):
        cbpp_fit.influence(groups="farm")
