"""Bad input gets a package error naming the problem; hard numerics fit as accurately as easy ones;
fits are deterministic, thread-safe and survive interruption."""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def base(fits):
    return fits.fit(SLEEP, "sleepstudy")


@pytest.mark.parametrize("factor", [1e9, 1e-9])
def test_response_scale_does_not_matter(fits, base, factor):
    df = fits.data("sleepstudy").assign(Reaction=lambda d: d["Reaction"] * factor)
    m = mm.lmer(SLEEP, df)
    np.testing.assert_allclose(m.theta, base.theta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(m.fixef / factor, base.fixef, rtol=1e-6)
    assert m.sigma / factor == pytest.approx(base.sigma, rel=1e-6)
    assert m.converged


@pytest.mark.parametrize("factor", [1e6, 1e-6])
def test_covariate_scale_does_not_matter(fits, base, factor):
    df = fits.data("sleepstudy").assign(Days=lambda d: d["Days"] * factor)
    m = mm.lmer(SLEEP, df)
    # Days times c scales a column of X by c, so log|R_X|^2 and the REML criterion gain 2 log c
    # (Z's Days column is absorbed by theta); every other part of the criterion is unchanged
    assert m.objective == pytest.approx(base.objective + 2 * np.log(factor), rel=1e-9)
    np.testing.assert_allclose(m.fixef["Days"] * factor, base.fixef["Days"], rtol=1e-6)
    sd = m.var_corr[m.var_corr["var2"].isna()].set_index("var1")["sdcor"]
    sd0 = base.var_corr[base.var_corr["var2"].isna()].set_index("var1")["sdcor"]
    assert sd["Days"] * factor == pytest.approx(sd0["Days"], rel=1e-5)
    assert sd["(Intercept)"] == pytest.approx(sd0["(Intercept)"], rel=1e-5)
    assert m.converged


def test_bootstrap_does_not_depend_on_covariate_scale(fits, base):
    """Bootstrap refits optimise on the same unit-scale columns as the fit: with Days in millionths
    the replicates are those of the unscaled model, rescaled (they were ~10 % off before)."""
    df = fits.data("sleepstudy").assign(Days=lambda d: d["Days"] * 1e6)
    scaled = mm.lmer(SLEEP, df).bootstrap(nsim=20, seed=7)
    ref = base.bootstrap(nsim=20, seed=7)
    scaled[[".sig03", "Days"]] *= 1e6
    np.testing.assert_allclose(scaled.to_numpy(), ref.to_numpy(), rtol=2e-3, atol=1e-4)


@pytest.fixture(scope="module")
def days_in_millionths(fits):
    return mm.lmer(SLEEP, fits.data("sleepstudy").assign(Days=lambda d: d["Days"] * 1e6))


def test_satterthwaite_does_not_depend_on_covariate_scale(base, days_in_millionths):
    """The df's numerical derivatives run on unit-scale theta (on the data's scale Days' df came
    out 0.04 instead of 17 and its p-value 0.85 instead of 3e-6)."""
    a, b = base.coef_table(), days_in_millionths.coef_table()
    np.testing.assert_allclose(b["df"], a["df"], rtol=1e-5)
    np.testing.assert_allclose(b["Pr(>|t|)"], a["Pr(>|t|)"], rtol=1e-4)
    np.testing.assert_allclose(days_in_millionths.anova()["DenDF"], base.anova()["DenDF"], rtol=1e-5)


def test_profile_confint_does_not_depend_on_covariate_scale(base, days_in_millionths):
    """Profiles optimise on unit-scale coordinates (this raised nlopt.RoundoffLimited before)."""
    a = base.confint(method="profile")
    b = days_in_millionths.confint(method="profile")
    b.loc[[".sig03", "Days"]] *= 1e6
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-6)


def test_kenward_roger_does_not_depend_on_covariate_scale(fits):
    """The variance parameters' information matrix is inverted on its correlation scale (with ses in
    hundred-thousandths its slope variance's eigenvalue fell under an absolute cut-off, and ses' df
    came out 10,516 instead of 148)."""
    hsb = fits.data("hsb")
    a = fits.fit("mAch ~ ses + (ses | school)", "hsb").coef_table(ddf="kenward-roger")
    b = mm.lmer("mAch ~ ses + (ses | school)", hsb.assign(ses=lambda d: d["ses"] * 1e-5)).coef_table(
        ddf="kenward-roger"
    )
    np.testing.assert_allclose(b["df"], a["df"], rtol=1e-5)


@pytest.mark.parametrize("factor", [1e9, 1e-9])
def test_inference_does_not_depend_on_response_scale(fits, base, factor):
    """sigma's numerical steps are relative to its estimate (with Reaction in billionths the df
    came out 0.006 and the profile intervals were wrong)."""
    m = mm.lmer(SLEEP, fits.data("sleepstudy").assign(Reaction=lambda d: d["Reaction"] * factor))
    np.testing.assert_allclose(m.coef_table()["df"], base.coef_table()["df"], rtol=1e-5)
    a = base.confint(method="profile")
    b = m.confint(method="profile")
    b.loc[[".sig01", ".sig03", ".sigma", "(Intercept)", "Days"]] /= factor
    np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-6)


def test_objective_shifts_exactly_with_response_scale(fits, base):
    df = fits.data("sleepstudy").assign(Reaction=lambda d: d["Reaction"] * 1e9)
    m = mm.lmer(SLEEP, df)
    # -2 log-likelihood of y*c is that of y plus (n - p) log c^2 for REML
    assert m.objective == pytest.approx(base.objective + (m.nobs - 2) * np.log(1e18), rel=1e-9)


BAD = [
    ("Reaction ~ Days + (Days | Subject", mm.FormulaError, "never closed"),
    ("Reaction ~ Days + (1 | Subject)(0 + Days | Subject)", mm.FormulaError, "joined by an operator"),
    ("Reaction ~ Dayz + (1 | Subject)", mm.FormulaError, "did you mean 'Days'"),
    ("Reaction ~ Days + (1 | Subjekt)", mm.FormulaError, "did you mean 'Subject'"),
    ("Reaction ~ Days", mm.FormulaError, "no random-effects term"),
    ("Subject ~ Days + (1 | Subject)", mm.DataError, "must be numeric"),
    ("Reaction ~ Days + ( | Subject)", mm.FormulaError, "empty left-hand side"),
    ("Reaction ~ Days + (1 | )", mm.FormulaError, "empty grouping factor"),
    ("Reaction ~ Days + (1 | Subject) ~ x", mm.FormulaError, "more than one '~'"),
    ("Reaction ~ Days + (Days | Subject/)", mm.FormulaError, "not a variable name"),
]


@pytest.mark.parametrize(("formula", "error", "match"), BAD)
def test_bad_formulas(fits, formula, error, match):
    with pytest.raises(error, match=match):
        mm.lmer(formula, fits.data("sleepstudy"))


def test_bad_data(fits):
    sleep = fits.data("sleepstudy")
    cases = [
        (sleep.iloc[:0], "no rows"),
        (sleep.assign(Reaction=np.nan), "every row has a missing value"),
        (sleep.assign(Reaction=3.0), "constant"),
        (sleep.assign(Days=np.where(sleep.index == 5, np.inf, sleep["Days"])), "non-finite"),
        (sleep.assign(Reaction=np.where(sleep.index == 5, -np.inf, sleep["Reaction"])), "non-finite"),
        (sleep.assign(Subject="one"), "at least 2"),
        (sleep.assign(Subject=np.arange(180)), "less than the number of observations"),
    ]
    for df, match in cases:
        with pytest.raises(mm.DataError, match=match):
            mm.lmer(SLEEP, df)
    few = sleep.groupby("Subject", observed=True).head(1).reset_index(drop=True)
    few = pd.concat([few, few.assign(Days=few["Days"] + 1)]).reset_index(drop=True)
    with pytest.raises(mm.DataError, match="not identifiable"):
        mm.lmer(SLEEP, few)


def test_slope_constant_within_groups_is_refused(fits):
    with pytest.raises(mm.DataError, match="'meanses'.*constant within every level of 'school'"):
        mm.lmer("mAch ~ meanses + (1 + meanses | school)", fits.data("hsb"))


def test_evaluation_limit_says_so(fits):
    with pytest.warns(mm.ConvergenceWarning, match="limit of"):
        m = mm.lmer(SLEEP, fits.data("sleepstudy"), maxeval=3)  # (Newton from the moment start takes 6)
    assert not m.converged
    assert any("limit" in msg for msg in m.messages)


def test_fits_are_deterministic(fits):
    a = mm.lmer(SLEEP, fits.data("sleepstudy"))
    b = mm.lmer(SLEEP, fits.data("sleepstudy"))
    assert a.objective == b.objective
    np.testing.assert_array_equal(a.theta, b.theta)
    np.testing.assert_array_equal(a.fixef, b.fixef)
    np.testing.assert_array_equal(a.ranef["Subject"], b.ranef["Subject"])


def test_threads_give_bitwise_serial_results(fits):
    jobs = [
        (SLEEP, "sleepstudy"),
        ("mAch ~ ses + (ses | school)", "hsb"),
        ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
        ("strength ~ 1 + (1 | batch/cask)", "pastes"),
    ]
    data = {d: fits.data(d) for _, d in jobs}
    serial = [mm.lmer(f, data[d]) for f, d in jobs]
    with ThreadPoolExecutor(4) as ex:
        parallel = list(ex.map(lambda j: mm.lmer(j[0], data[j[1]]), jobs * 3))
    for i, p in enumerate(parallel):
        s = serial[i % len(jobs)]
        assert p.objective == s.objective
        np.testing.assert_array_equal(p.theta, s.theta)
        np.testing.assert_array_equal(p.fixef, s.fixef)


def test_interrupted_fit_leaves_no_state(fits, monkeypatch):
    from mixedmodels import _core

    real = _core.Engine

    class Interrupting:
        def __init__(self, *a, **k):
            self._e = real(*a, **k)
            self.calls = 0

        def objective(self, theta, reml):
            self.calls += 1
            if self.calls > 10:
                raise KeyboardInterrupt
            return self._e.objective(theta, reml)

        def hessian(self, theta, reml):  # Newton's method, "auto"'s choice for one grouping factor
            self.calls += 5
            if self.calls > 10:
                raise KeyboardInterrupt
            return self._e.hessian(theta, reml)

        def __getattr__(self, name):
            return getattr(self._e, name)

    sleep = fits.data("sleepstudy")
    monkeypatch.setattr(_core, "Engine", Interrupting)
    monkeypatch.setattr("mixedmodels.optimize.native_bobyqa", lambda: False)  # Python calls each evaluation
    with pytest.raises(KeyboardInterrupt):
        mm.lmer(SLEEP, sleep)
    monkeypatch.undo()
    m = mm.lmer(SLEEP, sleep)
    ref = fits.fit(SLEEP, "sleepstudy")
    assert m.objective == ref.objective
    np.testing.assert_array_equal(m.theta, ref.theta)


def test_ctrl_c_stops_the_native_optimiser():
    """BOBYQA's loop runs in C++ without the GIL; a pending Ctrl-C stops it within ~50 ms and
    arrives as KeyboardInterrupt, and the engine stays usable."""
    import _thread
    import signal
    import threading
    import time

    import nlopt

    from mixedmodels import _core
    from mixedmodels.model import LinearMixedModel
    from mixedmodels.optimize import native_bobyqa

    assert native_bobyqa()
    rng = np.random.default_rng(3)
    n, g = 300_000, 6_000
    grp = rng.integers(0, g, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    b = rng.normal(size=(g, 3))
    y = b[grp, 0] + (1 + b[grp, 1]) * x1 + (0.5 + b[grp, 2]) * x2 + rng.normal(size=n)
    frame = pd.DataFrame({"y": y, "x1": x1, "x2": x2, "g": pd.Categorical(grp)})
    model = LinearMixedModel.from_formula("y ~ x1 + x2 + (1 + x1 + x2 | g)", frame)
    e = model.new_engine()
    lower = model.structure.theta.lower
    x0 = np.where(lower == 0.0, 1.0, 0.0)
    before = e.objective(x0, True)
    # a process started in the background (nohup ... &) inherits SIGINT ignored, and then
    # interrupt_main does nothing: Python's own handler for the test's duration
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.05, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    returned = []
    try:
        with pytest.raises(KeyboardInterrupt):  # without the interrupt: ~200 evaluations of ~1 ms or more
            returned.append(
                _core.bobyqa(
                    e, x0, lower, True, algorithm=nlopt.LN_BOBYQA, xtol_abs=0.0, ftol_abs=0.0, maxeval=1_000_000
                )
            )
            time.sleep(5)  # finished before the timer fired: the interrupt lands here instead
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert not returned, "the optimiser finished before the interrupt; it was not tested"
    assert time.perf_counter() - start < 5
    assert e.objective(x0, True) == before


def test_singular_warning_names_the_parameter(fits):
    with pytest.warns(mm.SingularFitWarning, match=r"school\.ses"):
        mm.lmer("mAch ~ ses * sector + (ses | school)", fits.data("hsb"), reml=False)


def test_boundary_optimum_beats_lme4_default(fits, load_reference):
    ref = load_reference("hsb_ses_sector_interaction.REML")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.SingularFitWarning)
        m = mm.lmer(ref["formula"], fits.data("hsb"))
    assert m.objective < ref["objective"] - 1e-5  # lme4 stopped 1.8e-5 short
    assert m.objective <= ref["tight_refit"]["objective_best"] + 1e-7
    assert m.is_singular
    assert m.converged
