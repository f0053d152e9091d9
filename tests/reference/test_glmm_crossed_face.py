"""glmer's stage 2 (L-BFGS-B on the exact gradient) had stopped on the face theta_h = 0 of a crossed
Poisson design, where the criterion's slope in theta_h is 0, and returned a better point that its
line search had met and passed over, with a gradient of 28.6: unconverged, logLik 1.9 below lme4's.
L-BFGS-B now goes on from such a point (`optimize.LBFGSB_RESTARTS`). Against lme4 1.1-31
(glmm_crossed_face/, written by make_glmm_crossed_face.R; the tests never run R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import mixedmodels as mm

HERE = Path(__file__).parent / "glmm_crossed_face"
REF = json.loads((HERE / "glmm_crossed_face.json").read_text())


def test_the_crossed_poisson_fit_reaches_lme4s_optimum():
    d = pd.read_csv(HERE / "crossed.csv", dtype={"f": str, "g": str, "h": str})
    m = mm.glmer("cnt ~ x + f + (1 | g) + (1 | h)", d, family="poisson")
    assert m.converged
    assert m.loglik >= REF["loglik"] - 1e-8  # ours -613.4795340, lme4's -613.4795396
    np.testing.assert_allclose(m.theta, REF["theta"], rtol=1e-4)
    np.testing.assert_allclose(m.fixef.to_numpy(), list(REF["fixef"].values()), rtol=1e-4, atol=1e-6)
