"""glmer on a copy of the columns (`GeneralizedLinearMixedModel._unit_scale`) also follows the path
lme4 takes from its start on the data's columns, where a fit costs little, and keeps the lower end
(glmm_two_paths/). On a thin Poisson design with slopes on x near 100 it had reported converged=True
at a deviance of 152.268, where lme4 reaches 149.581."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

HERE = Path(__file__).parent / "glmm_two_paths"
REF = json.loads((HERE / "glmm_two_paths.json").read_text())["thin22"]
FORMULA = "y ~ x + (x | g) + (x | h)"


@pytest.fixture(scope="module")
def thin22() -> pd.DataFrame:
    d = pd.read_csv(HERE / "thin22.csv")
    return d.assign(g=d.g.astype(str), h=d.h.astype(str))


def test_reaches_lme4s_optimum_not_the_copys_local_one(thin22):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        m = mm.glmer(FORMULA, thin22, family="poisson")
    assert m.converged
    deviance = -2 * m.loglik
    # lme4 stops at its evaluation limit within ~1e-6 above the optimum; never above lme4's
    assert deviance <= REF["deviance"] + 1e-7 * REF["deviance"]
    assert deviance >= REF["deviance"] - 1e-5
    # (measured: fixed effects 6.8e-6 relative, theta 4.3e-6 absolute from lme4's end at its limit)
    np.testing.assert_allclose(m.fixef.to_numpy(), REF["fixef"], rtol=1e-4)
    np.testing.assert_allclose(m.theta, REF["theta"], atol=1e-4)
    # the warnings are the kept fit's: singular as lme4's, and no word of the other path's end
    kinds = [w.category for w in said]
    assert REF["singular"]
    assert mm.SingularFitWarning in kinds
    assert mm.ConvergenceWarning not in kinds
