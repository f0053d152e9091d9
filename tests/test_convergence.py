"""What reaches the optimiser is checked first, and ``converged=True`` is a verified optimum
(issue 14, items 1 and 3)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels.model import LinearMixedModel

SLEEP = "Reaction ~ Days + (Days | Subject)"
OPTIMUM = 1743.6282719585  # REML, lme4 1.1-31 (and our tight refits)


@pytest.fixture(scope="module")
def sleep_model(fits):
    return LinearMixedModel.from_formula(SLEEP, fits.data("sleepstudy"))


@pytest.mark.parametrize(
    ("start", "error", "match"),
    [
        ([np.nan, 0.0, 0.2], ValueError, "finite; it is not at Subject.\\(Intercept\\) \\(nan\\)"),
        ([1.0, np.inf, 0.2], ValueError, "finite; it is not at Subject.Days.\\(Intercept\\)"),
        ([1.0, 0.0], ValueError, "start must be 3 numbers .*; got shape \\(2,\\)"),
        ([[1.0, 0.0, 0.2]], ValueError, "got shape \\(1, 3\\)"),
        ([-1.0, 0.0, 0.2], ValueError, "negative at Subject.\\(Intercept\\)"),
        ("moments", ValueError, "start must be None, 'lme4' or a sequence of numbers"),
        (["a", "b", "c"], ValueError, "start must be None, 'lme4' or a sequence of numbers"),
    ],
)
def test_a_bad_start_is_refused_before_the_optimiser_sees_it(sleep_model, start, error, match):
    with pytest.raises(error, match=match):
        sleep_model.fit(start=start)


@pytest.mark.parametrize("optimizer", ["bobyqa", "cobyqa", "lbfgsb"])
def test_a_nan_start_never_reaches_nlopt(sleep_model, optimizer):
    """NLopt wrote out of bounds on a NaN start; the model refuses it, and so does the core."""
    with pytest.raises(ValueError, match="finite"):
        sleep_model.fit(start=[np.nan, np.nan, np.nan], optimizer=optimizer)
    engine = sleep_model.new_engine()
    import nlopt

    from mixedmodels import _core
    from mixedmodels.optimize import native_bobyqa

    if not native_bobyqa():
        pytest.skip("NLopt's C API is not available to the core here")
    for x0, match in (([np.nan, 0.0, 0.1], "finite"), ([np.inf, 0.0, 0.1], "finite"), ([1.0, 0.0], "length 3")):
        with pytest.raises((ValueError, _core.InvalidInputError), match=match):
            _core.bobyqa(
                engine,
                np.array(x0),
                sleep_model.structure.theta.lower,
                True,
                algorithm=nlopt.LN_BOBYQA,
                xtol_abs=1e-9,
                ftol_abs=1e-10,
                maxeval=100,
                step=None,
            )


def test_reml_must_be_a_bool(fits):
    with pytest.raises(TypeError, match="reml must be True or False, got 'False' \\(str\\)"):
        LinearMixedModel.from_formula(SLEEP, fits.data("sleepstudy"), reml="False")  # type: ignore[arg-type]
    assert not LinearMixedModel.from_formula(SLEEP, fits.data("sleepstudy"), reml=np.bool_(False)).reml


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"xtol": 1e-8}, ValueError, "unknown key 'xtol' for optimizer 'bobyqa'; it takes 'xtol_abs', 'ftol_abs'"),
        ({"initial_tr_radius": 0.1}, ValueError, "unknown key 'initial_tr_radius' for optimizer 'bobyqa'"),
        ({"xtol_abs": "1e-8"}, TypeError, "'xtol_abs'\\] must be a positive finite number"),
        ({"ftol_abs": -1.0}, ValueError, "'ftol_abs'\\] must be a positive finite number"),
        ({"ftol_abs": np.nan}, ValueError, "'ftol_abs'\\] must be a positive finite number"),
        ([("xtol_abs", 1e-8)], TypeError, "optimizer_options must be a dict"),
    ],
)
def test_optimizer_options_are_checked(sleep_model, options, error, match):
    with pytest.raises(error, match=match):
        sleep_model.fit(optimizer="bobyqa", optimizer_options=options)


@pytest.mark.parametrize("maxeval", [0, -5, 2.5, True, 2**40])
def test_maxeval_must_be_a_positive_integer(sleep_model, maxeval):
    with pytest.raises(ValueError, match="maxeval must be an integer (of at least 1|from 1 to)"):
        sleep_model.fit(maxeval=maxeval)


def test_a_fit_stopped_early_is_verified_and_completed(sleep_model):
    """Loose tolerances stop BOBYQA 0.06 above the optimum with a failed derivative check; the
    restarts and the search that follows finish the job before the fit is called converged."""
    opt = sleep_model.optimize(optimizer="bobyqa", optimizer_options={"xtol_abs": 0.5, "ftol_abs": 10.0})
    assert opt.fun > OPTIMUM + 1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.ConvergenceWarning)
        m = sleep_model.fit(optimizer="bobyqa", optimizer_options={"xtol_abs": 0.5, "ftol_abs": 10.0})
    assert m.converged
    assert m.objective == pytest.approx(OPTIMUM, rel=1e-9)
    assert "restarts" in m.optimizer_message
    assert m.n_evals > opt.n_evals


def test_an_evaluation_limit_is_never_called_converged(sleep_model):
    with pytest.warns(mm.ConvergenceWarning, match="limit of"):
        m = sleep_model.fit(maxeval=3)  # (Newton from the moment start takes 6)
    assert not m.converged


def test_an_interior_optimum_needs_no_restart(fits):
    m = fits.fit(SLEEP, "sleepstudy")
    assert m.converged
    assert "restarts" not in m.optimizer_message


@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_a_zero_diagonal_of_t_is_tried_on_the_column_s_other_sign() -> None:
    # a reviewer's simulated design (seed 100, case 2260; ML, 2,600 rows): BOBYQA ended with a's
    # T = [[0, 0], [-0.134, 0.235]] and every restart kept it. With T[0, 0] = 0 the sign of T[1, 0] is
    # free (T T' is the same), and on the other sign the deviance falls as T[0, 0] rises: the fit
    # now restarts from there, 0.0034 lower
    from pathlib import Path

    import pandas as pd

    df = pd.read_csv(Path(__file__).parent / "data" / "lmer_sign_trap.csv.gz", dtype={"a": str, "b": str})
    r = mm.lmer("y ~ x + (1 + x | a/b)", df, reml=False, threads=1)
    assert r.converged
    assert r.objective < 8016.9746 - 3e-3
    assert r.theta[0] > 0.01


def test_a_saddle_of_thetas_cholesky_coordinates_is_left():
    """lmer on a small random-slope design (115 rows, 21 groups; numpy default_rng(143), the
    saddle sweep's generator) ended converged at theta (6.1e-4, 0.0407, 0.940): a minimum in theta,
    but over the covariance matrix a saddle, where turning the slope's column towards the
    intercept's (second order in theta, first order in T T') lowers the REML criterion by 1.1e-3
    (`optimize.covariance_descent`). lme4 1.1-31 stops there too, with a warning:
    ``REMLcrit(lmer(y ~ x + (1 + x | g), read.csv("lmm_cholesky_saddle.csv")))`` is
    486.74146541415149 at theta (1.95e-4, 0.0133, 0.941), "degenerate Hessian with 1 negative
    eigenvalues"."""
    from pathlib import Path

    import pandas as pd

    df = pd.read_csv(Path(__file__).parent / "data" / "lmm_cholesky_saddle.csv")
    with pytest.warns(mm.SingularFitWarning):  # theta (0.0037, 0.940, 0): a correlation of 1
        r = mm.lmer("y ~ x + (1 + x | g)", df)
    assert r.converged
    assert r.objective < 486.74146541415149 - 1e-3
    assert r.objective == pytest.approx(486.7403608270984, abs=1e-7)  # the best of 5 random starts


def test_centred_slopes_also_follow_lme4s_start():
    """lmer on a thin design whose random slopes sit far from zero (29 rows, 3 groups, a 4 x 4
    covariance of ``(x * z | g)`` with x = 100 + 0.01 N(0, 1); lmer_thin_ridge.csv from a fuzz probe)
    runs on centred columns from lme4's start there: it had ended converged=True at 107.420609,
    where lme4's start on the data's columns (`LinearMixedModel.fit`'s second fit) leads to
    107.414959, and random starts to 107.414556. lme4 1.1-31 ends at 107.4397 (singular, with
    warnings). The fit keeps the lower end, and on this flat ridge does not call it converged."""
    from pathlib import Path

    import pandas as pd

    df = pd.read_csv(Path(__file__).parent / "data" / "lmer_thin_ridge.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = mm.lmer("y ~ x * z + (x * z | g)", df)
    assert r.objective < 107.4206 - 5e-3
    assert r.objective < 107.4397  # lme4's
    assert not (r.converged and r.objective > 107.414556 + 1e-4)
