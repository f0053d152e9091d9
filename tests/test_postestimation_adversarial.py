"""Adversarial checks of the post-estimation layer (issue 17) on lmer fits: each test is a finding
that failed before its fix. R's numbers (lme4 1.1-31, emmeans 1.8.4-1, pbkrtest 0.5.2) come from
tests/reference/postestimation_adversarial/make_adversarial.R and its JSON output."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return mm.datasets.load("sleepstudy")


def _lmer(formula: str, data: pd.DataFrame, **kwargs: object) -> mm.LmerResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.lmer(formula, data, **kwargs)


# ------------------------------------------------------------------ pickling after predict(se_fit=True)
def test_pickle_after_prediction_standard_errors(sleep: pd.DataFrame) -> None:
    # the cached sparse LU of the conditional standard errors made the fit unpicklable
    m = _lmer("Reaction ~ Days + (Days | Subject)", sleep)
    before = m.predict(sleep.head(4), se_fit=True)
    back = pickle.loads(pickle.dumps(m))
    after = back.predict(sleep.head(4), se_fit=True)
    np.testing.assert_allclose(after.to_numpy(), before.to_numpy(), rtol=1e-12)
