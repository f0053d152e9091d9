"""mm.anova of a Poisson glmer fit against a glmer_nb fit of the same data (the test of
overdispersion: the Poisson model is the negative binomial's limit theta -> inf), against lme4
1.1-31's anova(glmer(poisson), glmer.nb) at tight controls (anova_counts/make_anova_counts.R).
Before, the pair was refused as "not fitted to the same data". Tolerances: log-likelihoods and
AIC 1e-7 relative, the statistic 1e-5 relative (a difference of two log-likelihoods near 1,000);
measured 1e-9 and 4e-9."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

HERE = Path(__file__).resolve().parent / "anova_counts"
REF = json.loads((HERE / "anova_counts.json").read_text())


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    ticks = mm.datasets.load("grouseticks")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        poisson = mm.glmer(REF["formula"], ticks, family="poisson")
        nb = mm.glmer_nb(REF["formula"], ticks)
        return mm.anova(nb, poisson)


def test_a_poisson_fit_and_a_glmer_nb_fit_are_compared_as_lme4_compares_them(table):
    tight = REF["tight"]
    assert table["npar"].tolist() == tight["npar"]
    np.testing.assert_allclose(table["logLik"], tight["logLik"], rtol=1e-7)
    np.testing.assert_allclose(table["AIC"], tight["AIC"], rtol=1e-7)
    np.testing.assert_allclose(table["BIC"], tight["BIC"], rtol=1e-7)
    assert table["Chisq"].iloc[1] == pytest.approx(tight["Chisq"], rel=1e-5)
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(tight["p"], rel=1e-4)


def test_fits_of_other_families_are_refused_by_that_reason():
    cbpp = mm.datasets.load("cbpp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MixedModelsWarning)
        logit = mm.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
        probit = mm.glmer(
            "cbind(incidence, size - incidence) ~ period + (1 | herd)",
            cbpp,
            family=mm.families.Binomial(link="probit"),
        )
    with pytest.raises(mm.DataError, match=r"different families or links \(binomial\(logit\) and binomial\(probit\)\)"):
        mm.anova(logit, probit)
