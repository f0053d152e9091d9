"""GLM families and links against R's stats family objects (tests/data/families_reference.json, written
by tests/data/families_reference.R with R 4.2), and the families' parsing, checks and codings."""

from __future__ import annotations

import copy
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixedmodels.exceptions import ArgumentError, DataError
from mixedmodels.families import (
    Binomial,
    Family,
    Gamma,
    Gaussian,
    InverseGaussian,
    Link,
    Poisson,
    binomial_counts,
    binomial_response,
    family,
)

REFERENCE = json.loads((Path(__file__).parent / "data" / "families_reference.json").read_text())
RTOL = 1e-12  # the formulas are R's; what differs is libm's last bits (and R's long-double sums)

LINK_NAMES = ["logit", "probit", "cloglog", "cauchit", "log", "identity", "inverse", "sqrt", "1/mu^2"]
FAMILY_CASES = [(name, i) for name, cases in REFERENCE["families"].items() for i in range(len(cases))]


def close(actual, expected, rtol=RTOL):
    """Equal to rtol, with R's Inf and NaN where R has them (json reads them as inf and nan)."""
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rtol, atol=0)


# ---------------------------------------------------------------------------------------------- links


@pytest.mark.parametrize("name", LINK_NAMES)
def test_link_against_r(name):
    ref = REFERENCE["links"][name]
    link = Link(name)
    close(link.linkinv(ref["eta"]), ref["linkinv"])
    close(link.mu_eta(ref["eta"]), ref["mu_eta"])
    close(link.linkfun(ref["mu"]), ref["linkfun"])
    for case in ref["valid_eta"]:
        assert link.valid_eta(case["eta"]) is case["valid"]


def test_the_reference_covers_the_clamps():
    eta = REFERENCE["links"]["logit"]["eta"]
    assert min(eta) < -30 < 30 < max(eta)  # logit's thresholds, probit's and cauchit's clamps, cloglog's 700
    assert max(eta) > 700
    assert REFERENCE["meta"]["R"].startswith("R version 4.")


def test_link_clamps_hold_at_the_extremes():
    eps = np.finfo(float).eps
    assert Link("logit").linkinv([-1000.0]).item() == eps / (1 + eps)
    assert Link("logit").mu_eta([1000.0]).item() == eps
    assert Link("probit").linkinv([-1000.0]).item() > 0
    assert Link("probit").mu_eta([1000.0]).item() == eps
    assert Link("cauchit").mu_eta([1e300]).item() == eps
    assert Link("cloglog").linkinv([-1000.0, 1000.0]).tolist() == [eps, 1 - eps]
    assert Link("cloglog").mu_eta([1000.0]).item() == eps
    assert Link("log").linkinv([-1000.0]).item() == eps


def test_link_keeps_the_input_shape():
    assert Link("logit").linkinv(0.0).shape == ()
    assert Link("logit").linkinv(0.0).item() == 0.5
    assert Link("log").mu_eta(np.zeros((2, 3))).shape == (2, 3)
    assert Link("identity").mu_eta([1.0, 2.0]).tolist() == [1.0, 1.0]


def test_identity_link_returns_copies():
    eta = np.array([1.0, 2.0])
    out = Link("identity").linkinv(eta)
    out[0] = 99.0
    assert eta[0] == 1.0


def test_logit_linkfun_stops_outside_the_unit_interval_as_r():
    with pytest.raises(ArgumentError, match=r"logit link: value 1\.5 out of range \(0, 1\)"):
        Link("logit").linkfun([0.5, 1.5])


def test_other_links_give_nan_outside_their_domain():
    assert np.isnan(Link("probit").linkfun([1.5])).all()
    assert np.isnan(Link("cauchit").linkfun([-0.5])).all()
    assert np.isnan(Link("log").linkfun([-1.0])).all()


def test_unknown_link():
    with pytest.raises(ArgumentError, match=r"unknown link 'logistic'; the links are 'logit', 'probit'"):
        Link("logistic")


def test_link_equality_hash_pickle_and_immutability():
    assert Link("logit") == Link("logit")
    assert Link("logit") != Link("probit")
    assert len({Link("log"), Link("log"), Link("sqrt")}) == 2
    for name in LINK_NAMES:
        assert pickle.loads(pickle.dumps(Link(name))) == Link(name)
    with pytest.raises(AttributeError):
        Link("logit").name = "probit"  # type: ignore[misc]


def test_link_rejects_non_numeric_input():
    with pytest.raises(ArgumentError, match="eta must be numeric"):
        Link("logit").linkinv(["a"])


# ---------------------------------------------------------------------------------------------- families


@pytest.mark.parametrize(("name", "i"), FAMILY_CASES, ids=[f"{n}-{i}" for n, i in FAMILY_CASES])
def test_family_against_r(name, i):
    case = REFERENCE["families"][name][i]
    fam = family(name)
    y, n, mu, wt = case["y"], case["n"], case["mu"], case["wt"]
    close(fam.variance(mu), case["variance"])
    close(fam.dev_resids(y, mu, wt), case["dev_resids"])
    close(fam.dev_resids(y, mu, wt).sum(), case["dev"])
    close(fam.aic(y, n, mu, wt, case["dev"]), case["aic"])
    assert fam.valid_mu(mu) is case["valid_mu"]
    close(fam.mustart(y, wt), case["mustart"])
    if fam.dispersion_free:
        close(fam.loglik_saturated(y, wt, n=n), case["loglik_saturated"])
    else:
        for sat in case["saturated"]:
            phi = sat["dispersion"]
            close(fam.loglik_saturated(y, wt, dispersion=phi), sat["loglik_saturated"])
            # -2 log p(y | mu) = deviance / phi - 2 loglik_saturated: R's log-likelihood at mu
            close(fam.loglik_saturated(y, wt, dispersion=phi) - case["dev"] / (2 * phi), sat["loglik"])


@pytest.mark.parametrize("name", ["binomial", "poisson"])
def test_aic_is_the_deviance_plus_the_saturated_loglik(name):
    """For the families without a dispersion, -2 log p(y | mu) = deviance - 2 loglik_saturated: what
    turns lme4's nAGQ > 1 deviance (from deviance residuals) into a -2 log-likelihood."""
    fam = family(name)
    checked = 0
    for case in REFERENCE["families"][name]:
        y, n, wt = (np.asarray(case[k], dtype=float) for k in ("y", "n", "wt"))
        counts = (n if np.any(n > 1) else wt) * y if name == "binomial" else y
        if not np.all(counts == np.rint(counts)):
            continue  # R's aic rounds non-integer successes; a non-integer count has no density
        expected = -case["aic"] / 2
        close(fam.loglik_saturated(y, wt, n=n) - case["dev"] / 2, expected, rtol=1e-11)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("name", list(REFERENCE["glm"]))
def test_glm_aic_against_r(name):
    """R's glm(): aic = family$aic(y, n, mu, prior weights, deviance) + 2 rank, at R's fitted values."""
    g = REFERENCE["glm"][name]
    fam = family(name)
    dev = fam.dev_resids(g["y"], g["mu"], g["prior_weights"]).sum()
    close(dev, g["deviance"])
    close(fam.aic(g["y"], np.ones(len(g["y"])), g["mu"], g["prior_weights"], dev) + 2 * g["rank"], g["aic"])


def test_binomial_aic_counts_totals_as_r():
    """With cbind() responses R passes n = totals; then prior weights beyond the totals scale each row."""
    fam = Binomial()
    y, n, mu = np.array([0.2, 0.5]), np.array([5.0, 10.0]), np.array([0.3, 0.4])
    one = fam.aic(y, n, mu, n, 0.0)
    assert fam.aic(y, None, mu, n, 0.0) == pytest.approx(one, rel=1e-15)  # m = wt = n
    assert fam.aic(y, n, mu, 2 * n, 0.0) == pytest.approx(2 * one, rel=1e-15)  # wt / m = 2


def test_binomial_deviance_at_the_boundary():
    fam = Binomial()
    assert fam.dev_resids([0.0, 1.0], [0.0, 1.0], [1.0, 1.0]).tolist() == [0.0, 0.0]
    assert fam.dev_resids([1.0], [0.0], [1.0]).tolist() == [np.inf]
    assert fam.aic([0.0, 1.0], None, [0.0, 1.0], [1.0, 1.0], 0.0) == 0.0


def test_poisson_aic_of_a_non_integer_count_is_infinite_as_r():
    assert Poisson().aic([1.5], None, [1.0], [1.0], 0.0) == np.inf


def test_saturated_loglik_is_accurate_for_large_counts():
    """Loader's saddle point: log dpois(y, y) = -log(2 pi y) / 2 - stirlerr(y), no cancellation."""
    for y in (1e4, 1e6, 1e9):
        expected = -0.5 * np.log(2 * np.pi * y) - 1 / (12 * y)
        assert Poisson().loglik_saturated([y]) == pytest.approx(expected, rel=1e-14)


def test_saturated_loglik_needs_the_dispersion_of_families_with_one():
    for fam in (Gamma(), InverseGaussian(), Gaussian()):
        with pytest.raises(ArgumentError, match=f"the {fam.name} family depends on its dispersion: pass dispersion="):
            fam.loglik_saturated([1.0, 2.0])
        with pytest.raises(ArgumentError, match="dispersion must be finite and positive"):
            fam.loglik_saturated([1.0, 2.0], dispersion=0.0)
        with pytest.raises(ArgumentError, match="dispersion must be a number"):
            fam.loglik_saturated([1.0, 2.0], dispersion="big")  # type: ignore[arg-type]


def test_saturated_loglik_of_families_without_dispersion_refuses_one():
    assert Poisson().loglik_saturated([1.0], dispersion=1.0) == Poisson().loglik_saturated([1.0])
    with pytest.raises(ArgumentError, match="the binomial family has no dispersion parameter"):
        Binomial().loglik_saturated([1.0], dispersion=2.0)


def test_gaussian_saturated_loglik_takes_weights_as_precisions():
    one = Gaussian().loglik_saturated([0.0], [1.0], dispersion=2.0)
    assert Gaussian().loglik_saturated([0.0], [4.0], dispersion=2.0) == pytest.approx(one + np.log(2), rel=1e-15)
    assert Gaussian().loglik_saturated([0.0, 1.0], [0.0, 1.0], dispersion=1.0) == -np.inf  # R: dnorm(sd = Inf)


def test_gaussian_mustart_stops_where_r_cannot_start():
    with pytest.raises(DataError, match=r"cannot find valid starting values.*log link needs y > 0; not at row 1 "):
        Gaussian(link="log").mustart([1.0, 0.0, 2.0])
    with pytest.raises(DataError, match=r"inverse link needs y != 0; not at rows 0, 2 \(0-based positions\)"):
        Gaussian(link="inverse").mustart([0.0, 1.0, 0.0])
    assert Gaussian().mustart([-1.0, 0.0]).tolist() == [-1.0, 0.0]
    assert Gaussian(link="inverse").mustart([-1.0, 2.0]).tolist() == [-1.0, 2.0]


def test_binomial_mustart_takes_y_as_zero_where_the_weight_is():
    assert Binomial().mustart([0.7], [0.0]).tolist() == [0.5]
    assert Binomial().mustart([1.0, 0.0]).tolist() == [0.75, 0.25]


# ---------------------------------------------------------------------------------------------- identity


FAMILY_TABLE = [
    (Binomial, "binomial", "logit", True, ("logit", "probit", "cloglog", "cauchit", "log")),
    (Poisson, "poisson", "log", True, ("log", "identity", "sqrt")),
    (Gamma, "Gamma", "inverse", False, ("inverse", "log", "identity")),
    (InverseGaussian, "inverse.gaussian", "1/mu^2", False, ("inverse", "log", "identity", "1/mu^2")),
    (Gaussian, "gaussian", "identity", False, ("inverse", "log", "identity")),
]


@pytest.mark.parametrize(("cls", "name", "canonical", "fixed", "links"), FAMILY_TABLE)
def test_family_attributes(cls, name, canonical, fixed, links):
    fam = cls()
    assert fam.name == name
    assert fam.link == Link(canonical)
    assert fam.canonical is True
    assert fam.dispersion_free is fixed
    assert fam.allowed_links == links
    for link in links:
        other = cls(link=link)
        assert other.link.name == link
        assert other.canonical is (link == canonical)
        assert family(name, link=link) == other


@pytest.mark.parametrize(("cls", "name", "canonical", "fixed", "links"), FAMILY_TABLE)
def test_family_pickles_copies_and_compares(cls, name, canonical, fixed, links):
    for link in links:
        fam = cls(link=link)
        back = pickle.loads(pickle.dumps(fam))
        assert back == fam
        assert type(back) is cls
        assert hash(back) == hash(fam)
        assert copy.deepcopy(fam) == fam
        assert copy.copy(fam) == fam
        assert eval(repr(fam)) == fam  # the repr builds the family


def test_family_equality_is_by_family_and_link():
    assert Binomial() == family("binomial") == Binomial(link=Link("logit"))
    assert Binomial() != Binomial(link="probit")
    assert Gamma(link="log") != Gaussian(link="log")
    assert Binomial() != "binomial"
    assert len({Binomial(), family("binomial"), Poisson(), Binomial("probit")}) == 3


def test_family_repr_and_str():
    assert repr(Binomial(link="probit")) == "Binomial(link='probit')"
    assert str(InverseGaussian()) == "Family: inverse.gaussian, link: 1/mu^2"


def test_family_is_immutable():
    fam = Binomial()
    with pytest.raises(AttributeError, match="immutable"):
        fam.link = Link("probit")  # type: ignore[misc]
    with pytest.raises(AttributeError, match="immutable"):
        fam.anything = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="immutable"):
        del fam.link  # type: ignore[misc]


def test_family_is_abstract():
    with pytest.raises(TypeError):
        Family()  # type: ignore[abstract]


def test_family_delegates_to_its_link():
    fam = Binomial(link="cloglog")
    eta = np.array([-3.0, 0.0, 2.0])
    assert fam.linkinv(eta).tolist() == fam.link.linkinv(eta).tolist()
    assert fam.mu_eta(eta).tolist() == fam.link.mu_eta(eta).tolist()
    assert fam.linkfun([0.5]).tolist() == fam.link.linkfun([0.5]).tolist()
    assert Gamma().valid_eta([1.0, 0.0]) is False


# ---------------------------------------------------------------------------------------------- family()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("binomial", Binomial()),
        ("binomial()", Binomial()),
        ("Binomial", Binomial()),
        ("binomial(link = 'probit')", Binomial("probit")),
        ('binomial(link = "cauchit")', Binomial("cauchit")),
        ("binomial(link=probit)", Binomial("probit")),
        ("binomial('cloglog')", Binomial("cloglog")),
        ("binomial(log)", Binomial("log")),
        (" poisson ( link = 'sqrt' ) ", Poisson("sqrt")),
        ("poisson", Poisson()),
        ("Gamma", Gamma()),
        ("gamma", Gamma()),
        ("Gamma(link = 'log')", Gamma("log")),
        ("inverse.gaussian", InverseGaussian()),
        ("inverse_gaussian", InverseGaussian()),
        ("inverse.gaussian(link = '1/mu^2')", InverseGaussian()),
        ("inverse.gaussian(link=1/mu^2)", InverseGaussian()),
        ("inverse.gaussian(inverse)", InverseGaussian("inverse")),
        ("gaussian", Gaussian()),
        ("gaussian(link = 'log')", Gaussian("log")),
    ],
)
def test_family_reads_r_spellings(spec, expected):
    fam = family(spec)
    assert fam == expected
    assert type(fam) is type(expected)


def test_family_other_forms():
    fam = Poisson(link="identity")
    assert family(fam) is fam
    assert family() == Gaussian()
    assert family(None, link="log") == Gaussian("log")
    assert family(Binomial) == Binomial()
    assert family(Binomial, link="probit") == Binomial("probit")
    assert family("binomial", link=Link("probit")) == Binomial("probit")
    assert family("binomial(link = 'probit')", link="probit") == Binomial("probit")


def test_family_errors():
    with pytest.raises(ArgumentError, match=r"unknown family 'tweedie'; the families are binomial, poisson, Gamma, "):
        family("tweedie")
    with pytest.raises(ArgumentError, match=r"negative binomial family needs its theta: .*NegativeBinomial\(theta\)"):
        family("negbin")
    with pytest.raises(ArgumentError, match="quasi families cannot be used in glmer"):
        family("quasipoisson")
    with pytest.raises(ArgumentError, match="quasi families cannot be used in glmer"):
        family("quasibinomial(link = 'logit')")
    with pytest.raises(
        ArgumentError,
        match=r"link 'identity' not available for the binomial family; available links are 'logit', 'probit', "
        r"'cloglog', 'cauchit', 'log'",
    ):
        family("binomial(link = 'identity')")
    with pytest.raises(ArgumentError, match=r"link 'logit' not available for the Gamma family"):
        family("Gamma", link="logit")
    with pytest.raises(ArgumentError, match=r"link 'probit' not available for the poisson family"):
        Poisson(link="probit")
    with pytest.raises(ArgumentError, match="link= cannot be given with a Family"):
        family(Binomial(), link="probit")
    with pytest.raises(ArgumentError, match="two links given"):
        family("binomial(link = 'logit')", link="probit")
    with pytest.raises(ArgumentError, match="cannot read the family"):
        family("binomial(link = make.link('probit'))")
    with pytest.raises(ArgumentError, match="family must be a family name"):
        family(3)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="link must be a link name or a Link"):
        Binomial(link=3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- check_response


def test_check_response_accepts_the_supports():
    Binomial().check_response([0.0, 1.0, 0.5, 0.25], [1, 1, 2, 4])
    Poisson().check_response([0.0, 3.0, 2.0])
    with pytest.raises(DataError, match="non-integer counts"):  # R warns and its likelihood is 0 there
        Poisson().check_response([0.0, 3.0, 2.5])
    Gamma().check_response([0.1, 3.0])
    InverseGaussian().check_response([0.1, 3.0])
    Gaussian().check_response([-1.0, 0.0, 3.0])


def test_check_response_names_rows_by_position():
    with pytest.raises(DataError, match=r"^y values must be 0 <= y <= 1 .*: rows 1, 3 \(0-based positions\)$"):
        Binomial().check_response([0.0, 1.5, 1.0, -0.5])


def test_check_response_names_rows_by_label():
    idx = pd.Index([10, 20, 30])
    with pytest.raises(DataError, match=r"negative values not allowed for the 'Poisson' family: row 20$"):
        Poisson().check_response([1.0, -1.0, 2.0], rows=idx)
    with pytest.raises(DataError, match=r"not allowed for the 'Gamma' family: rows 'a', 'c'$"):
        Gamma().check_response([0.0, 1.0, -2.0], rows=["a", "b", "c"])
    with pytest.raises(DataError, match=r"not allowed for the 'Gamma' family: row 'z'$"):
        Gamma().check_response([1.0, -2.0], rows=(label for label in ["y", "z"]))  # a one-pass iterable


def test_check_response_lists_the_first_rows_and_counts_the_rest():
    y = np.full(12, -1.0)
    with pytest.raises(DataError, match=r"rows 0, 1, 2, 3, 4 and 7 more \(0-based positions\)$"):
        Poisson().check_response(y)


def test_check_response_binomial_successes_must_be_integers():
    with pytest.raises(DataError, match=r"non-integer number of successes \(weights \* y\).*: row 1 "):
        Binomial().check_response([1.0, 0.5], [1.0, 1.0])
    with pytest.raises(DataError, match=r"non-integer number of successes.*: row 0 "):
        Binomial().check_response([1.0], [0.5])
    Binomial().check_response([1 / 3, 2 / 3], [3.0, 3.0])  # 1 and 2 successes, to rounding
    Binomial().check_response([0.1 * 3], [10.0])


def test_check_response_binomial_ignores_rows_of_zero_weight_as_r():
    Binomial().check_response([0.5, 7.0], [2.0, 0.0])


def test_check_response_positive_families():
    with pytest.raises(DataError, match=r"positive values only are allowed for the 'inverse.gaussian' family: row 1 "):
        InverseGaussian().check_response([1.0, 0.0])
    with pytest.raises(DataError, match=r"non-positive values not allowed for the 'Gamma' family: row 0 "):
        Gamma().check_response([-3.0, 1.0])


def test_check_response_non_finite_values_and_weights():
    with pytest.raises(DataError, match=r"the response must be finite \(not NaN or infinite\): rows 1, 2 "):
        Gaussian().check_response([0.0, np.nan, np.inf])
    with pytest.raises(DataError, match=r"the weights must be finite and non-negative: rows 0, 2 "):
        Gaussian().check_response([0.0, 1.0, 2.0], [-1.0, 1.0, np.nan])


def test_check_response_reports_every_problem():
    with pytest.raises(DataError) as info:
        Binomial().check_response([np.nan, 2.0, 0.5, 1.0], [1.0, 1.0, 1.0, -1.0], rows=["a", "b", "c", "d"])
    message = str(info.value)
    assert "the response must be finite (not NaN or infinite): row 'a'" in message
    assert "the weights must be finite and non-negative: row 'd'" in message
    assert "y values must be 0 <= y <= 1" in message
    assert ": row 'b'" in message
    assert "non-integer number of successes (weights * y) in a binomial model: row 'c'" in message


def test_check_response_argument_errors():
    with pytest.raises(ArgumentError, match="y must be one-dimensional"):
        Poisson().check_response(np.zeros((2, 2)))
    with pytest.raises(ArgumentError, match=r"wt must have one value per row \(3\)"):
        Poisson().check_response([1.0, 2.0, 3.0], [1.0, 1.0])
    with pytest.raises(ArgumentError, match=r"rows must have one label per row \(2\)"):
        Poisson().check_response([1.0, 2.0], rows=["a"])
    with pytest.raises(ArgumentError, match="y must be numeric"):
        Poisson().check_response(["a", "b"])


# ---------------------------------------------------------------------------------------------- responses


def test_binomial_response_numbers_and_booleans():
    y, wt = binomial_response([0, 1, 1])
    assert y.dtype == np.float64
    assert y.tolist() == [0.0, 1.0, 1.0]
    assert wt.tolist() == [1.0, 1.0, 1.0]
    y, wt = binomial_response(np.array([True, False]))
    assert y.tolist() == [1.0, 0.0]
    y, wt = binomial_response([0.25, 0.5], wt=[4, 2])
    assert y.tolist() == [0.25, 0.5]
    assert wt.tolist() == [4.0, 2.0]
    y, _ = binomial_response(pd.Series([True, False, True]))
    assert y.tolist() == [1.0, 0.0, 1.0]


def test_binomial_response_strings_take_the_first_sorted_level_as_failure():
    y, _ = binomial_response(["yes", "no", "yes"])
    assert y.tolist() == [1.0, 0.0, 1.0]
    y, _ = binomial_response(np.array(["b", "a", "c", "a"]))  # more than two levels: all but the first succeed
    assert y.tolist() == [1.0, 0.0, 1.0, 0.0]
    y, _ = binomial_response(pd.Series(["dead", "alive"], dtype=object))
    assert y.tolist() == [1.0, 0.0]


def test_binomial_response_categorical_keeps_its_level_order():
    cat = pd.Categorical(["no", "yes", "no"], categories=["yes", "no"])
    y, wt = binomial_response(cat)
    assert y.tolist() == [1.0, 0.0, 1.0]
    assert wt.tolist() == [1.0, 1.0, 1.0]
    y, _ = binomial_response(pd.Series(cat))
    assert y.tolist() == [1.0, 0.0, 1.0]
    unused_first = pd.Categorical(["b", "b"], categories=["a", "b"])  # as R: factor(c("b","b"), levels = c("a","b"))
    assert binomial_response(unused_first)[0].tolist() == [1.0, 1.0]


def test_binomial_response_missing_values():
    with pytest.raises(DataError, match=r"the response has missing values: row 1 \(0-based position\)"):
        binomial_response(pd.Categorical(["a", None, "b"]))
    with pytest.raises(DataError, match=r"the response has missing values: row 'r2'"):
        binomial_response(["a", "b", None], rows=["r0", "r1", "r2"])


def test_binomial_response_two_columns_are_cbind():
    y, wt = binomial_response(np.array([[1, 3], [0, 0], [2, 2]]), wt=[1.0, 1.0, 2.0])
    assert y.tolist() == [0.25, 0.0, 0.5]
    assert wt.tolist() == [4.0, 0.0, 8.0]  # R: weights <- weights * n


def test_binomial_response_rejects_other_values():
    with pytest.raises(ArgumentError, match="must be one-dimensional"):
        binomial_response(np.zeros((2, 3)))
    with pytest.raises(ArgumentError, match="must be numbers"):
        binomial_response(np.array(["a", 1], dtype=object))
    with pytest.raises(ArgumentError, match=r"wt must have one value per row \(2\)"):
        binomial_response([0, 1], wt=[1, 2, 3])


def test_binomial_counts():
    y, wt = binomial_counts([1, 0, 3, 0], [3, 0, 0, 5])
    assert y.tolist() == [0.25, 0.0, 1.0, 0.0]
    assert wt.tolist() == [4.0, 0.0, 3.0, 5.0]
    Binomial().check_response(y, wt)
    with pytest.raises(DataError, match=r"the successes must be non-negative integer counts: row 1 "):
        binomial_counts([1, -1], [1, 2])
    with pytest.raises(DataError, match=r"the failures must be non-negative integer counts: row 'b'"):
        binomial_counts([1, 1], [1, 0.5], rows=["a", "b"])
    with pytest.raises(ArgumentError, match="the same length"):
        binomial_counts([1, 2], [1])


def test_binomial_counts_give_r_saturated_loglik():
    """lme4's cbind() response: y = s / n, weights n; the saturated log-likelihood is sum log dbinom(s, n, s / n)."""
    case = REFERENCE["families"]["binomial"][1]
    n = np.asarray(case["n"])
    y, wt = binomial_counts(np.rint(n * np.asarray(case["y"])), n - np.rint(n * np.asarray(case["y"])))
    close(y, case["y"])
    close(Binomial().loglik_saturated(y, wt), case["loglik_saturated"])
    close(Binomial().loglik_saturated(y, wt, n=n), case["loglik_saturated"])


@pytest.mark.parametrize("fam", [cls(link=link) for cls, _, _, _, links in FAMILY_TABLE for link in links], ids=repr)
def test_no_floating_point_warnings_at_the_edges(fam):
    """As R, IEEE arithmetic is silent: infinities and NaN come back, no RuntimeWarning."""
    values = np.array([-np.inf, -1e308, -1.0, 0.0, 1e-320, 0.5, 1.0, 2.0, 1e308, np.inf, np.nan])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if fam.link.name != "logit":
            fam.linkfun(values)
        fam.linkinv(values)
        fam.mu_eta(values)
        fam.valid_eta(values)
        fam.variance(values)
        fam.valid_mu(values)
        for y in values:
            fam.dev_resids(y, values, 1.0)
            fam.aic(np.full_like(values, y), None, values, np.ones_like(values), 1.0)
        if not (fam.name == "gaussian" and fam.link.name != "identity"):
            fam.mustart(values, np.ones_like(values))
        dispersion = None if fam.dispersion_free else 1.0
        fam.loglik_saturated(values, np.ones_like(values), dispersion=dispersion)


@pytest.mark.parametrize("large", [False, True])
def test_poisson_saturated_term_does_not_depend_on_row_order(large):
    """Summed over the distinct counts in increasing order: with whole weights (their sums per count
    exact) bitwise the same for any order of the rows, whether the counts are binned (small) or
    hashed (beyond the binning's range)."""
    rng = np.random.default_rng(3)
    y = rng.poisson(4.0, 5000).astype(float) + (3e7 if large else 0.0)
    w = rng.integers(0, 3, y.size).astype(float)
    p = Poisson()
    value = p.aic_less_deviance(y, None, w)
    for _ in range(3):
        order = rng.permutation(y.size)
        assert p.aic_less_deviance(y[order], None, w[order]) == value
    assert value == pytest.approx(float(Family.aic_less_deviance(p, y, None, w)), rel=1e-12)
