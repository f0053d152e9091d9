"""From data to numbers: names, levels, missing values, rank deficiency, checks."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.exceptions import DataError, FormulaError
from mixedmodels.model import LinearMixedModel


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    n = 60
    g = np.repeat(np.arange(6), 10)
    return pd.DataFrame(
        {
            "y": rng.normal(size=n) + g,
            "x": rng.normal(size=n),
            "f": pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["mid", "lo", "hi"]),
            "g": g,
            "h": rng.choice(["p", "q", "r"], n),
        }
    )


def build_design(formula, data):
    """The model of a formula on data: its parts materialised and its checks (on A) passed."""
    return LinearMixedModel.from_formula(formula, data)


def test_r_names_and_category_order(small):
    d = build_design("y ~ x * f + (1 | g)", small)
    assert d.structure.fixed_names == ("(Intercept)", "x", "flo", "fhi", "x:flo", "x:fhi")


def test_numeric_grouping_is_a_factor(small):
    d = build_design("y ~ x + (1 | g)", small)
    assert list(d.structure.factors[0].levels) == ["0", "1", "2", "3", "4", "5"]


def test_categorical_on_the_left_of_the_bar(small):
    d = build_design("y ~ 1 + (0 + f | g)", small)
    assert d.structure.factors[0].columns == ("fmid", "flo", "fhi")
    d2 = build_design("y ~ 1 + (1 + f | g)", small)
    assert d2.structure.factors[0].columns == ("(Intercept)", "flo", "fhi")
    assert len(d2.structure.theta.names) == 6


def test_interaction_grouping_levels(small):
    d = build_design("y ~ 1 + (1 | g:h)", small)
    f = d.structure.factors[0]
    assert f.name == "g:h"
    assert all(":" in lvl for lvl in f.levels)
    # first variable varies slowest, as R's ':' on factors
    firsts = [int(lvl.split(":")[0]) for lvl in f.levels]
    assert firsts == sorted(firsts)


def test_missing_rows_are_dropped(small):
    df = small.copy()
    df.loc[[1, 5, 7], "x"] = np.nan
    df.loc[9, "g"] = np.nan
    df.loc[11, "h"] = None  # unused column: does not drop
    d = build_design("y ~ x + (1 | g)", df)
    assert d.nobs == 56
    assert d.data.n_dropped == 4
    m = mm.lmer("y ~ x + (1 | g)", df)
    assert "4 observations deleted due to missingness" in str(m.summary())
    assert m.fitted().index.tolist() == [i for i in range(60) if i not in (1, 5, 7, 9)]


def test_unused_categories_are_dropped(small):
    df = small.copy()
    df["f"] = df["f"].cat.add_categories(["never"])
    d = build_design("y ~ f + (1 | g)", df)
    assert d.structure.fixed_names == ("(Intercept)", "flo", "fhi")


def test_rank_deficient_columns_are_dropped(small):
    df = small.assign(x2=2 * small["x"])
    with pytest.warns(mm.MixedModelsWarning, match="dropping 1 column: x2"):
        d = build_design("y ~ x + x2 + (1 | g)", df)
    assert d.structure.fixed_names == ("(Intercept)", "x")


@pytest.mark.parametrize(
    ("formula", "error", "match"),
    [
        ("y ~ xx + (1 | g)", FormulaError, "no column 'xx' \\(did you mean 'x'"),
        ("y ~ x + (1 | gg)", FormulaError, "no column 'gg'"),
        ("y ~ x", FormulaError, "no random-effects term"),
    ],
)
def test_formula_errors(small, formula, error, match):
    with pytest.raises(error, match=match):
        build_design(formula, small)


def test_data_errors(small):
    with pytest.raises(DataError, match="no rows"):
        build_design("y ~ x + (1 | g)", small.iloc[:0])
    with pytest.raises(DataError, match="constant"):
        build_design("y ~ x + (1 | g)", small.assign(y=1.0))
    with pytest.raises(DataError, match="non-finite"):
        build_design("y ~ x + (1 | g)", small.assign(x=np.where(small.index == 3, np.inf, small["x"])))
    with pytest.raises(DataError, match="at least 2"):
        build_design("y ~ x + (1 | g)", small.assign(g=1))
    with pytest.raises(DataError, match="less than the number of observations"):
        build_design("y ~ x + (1 | g)", small.assign(g=np.arange(60)))
    with pytest.raises(DataError, match="every row has a missing value"):
        build_design("y ~ x + (1 | g)", small.assign(x=np.nan))
    with pytest.raises(DataError, match="DataFrame"):
        build_design("y ~ x + (1 | g)", {"y": [1]})  # type: ignore[arg-type]
    with pytest.raises(DataError, match="more than one column named 'x'"):
        build_design("y ~ x + (1 | g)", pd.concat([small, small[["x"]]], axis=1))
    # a repeated column the model does not use is no problem
    build_design("y ~ x + (1 | g)", pd.concat([small, small[["h"]]], axis=1))


def test_lme4_term_order_and_theta_names():
    d = build_design("strength ~ 1 + (1 | batch/cask)", mm.datasets.load("pastes"))
    assert d.structure.theta.names == ("cask:batch.(Intercept)", "batch.(Intercept)")
    assert [f.name for f in d.structure.factors] == ["cask:batch", "batch"]


PLAIN = ["x", "1 + x", "0 + x", "x - 1", "x + z", "z + x - 1", "1", "0 + x + z", "x + 0 + z"]
NOT_PLAIN = ["-0 + x", "x:z", "x*z", "np.log(x)", "I(x**2)", "f", "b", "x + f", "x - z", "C(x)", "x + x"]


@pytest.mark.parametrize("rhs", PLAIN)
def test_plain_terms_match_formulaic(rhs):
    """The fast path for numeric columns and the intercept gives formulaic's matrix and names, and
    its lazily built spec replays the same encoding on new data."""
    import formulaic

    from mixedmodels.design import LazySpec, _Columns, _materialise
    from mixedmodels.names import r_name

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=20), "z": rng.integers(0, 5, 20), "f": list("ab") * 10})
    df["b"] = df.x > 0
    x, keys, names, spec = _materialise(rhs, _Columns(df), "test")
    assert isinstance(spec, LazySpec)
    ref = formulaic.model_matrix(rhs, df, na_action="ignore")
    assert keys == tuple(ref.model_spec.column_names)
    assert names == tuple(r_name(c) for c in ref.model_spec.column_names)
    np.testing.assert_array_equal(x, ref.to_numpy(dtype=float))
    new = df.iloc[:5].assign(x=lambda d: d.x * 2)
    replay = spec.get_model_matrix(new, output="numpy")
    np.testing.assert_array_equal(np.asarray(replay), np.asarray(ref.model_spec.get_model_matrix(new, output="numpy")))


@pytest.mark.parametrize("rhs", NOT_PLAIN)
def test_other_terms_go_to_formulaic(rhs):
    from mixedmodels.design import _Columns, _plain_terms

    df = pd.DataFrame({"x": [1.0, 2.0], "z": [1, 2], "f": ["a", "b"], "b": [True, False]})
    assert _plain_terms(rhs, _Columns(df)) is None


def test_fit_keeps_its_rows_when_data_changes_later(small):
    """The design holds a copy-on-write view of the rows: editing the data frame after the fit
    changes neither the fitted model's frame nor its predictions."""
    d = small.copy()
    m = mm.lmer("y ~ x + (1 | g)", d)
    frame_before = m.model.data.frame("test")["x"].to_numpy().copy()
    d.loc[:, "x"] = 0.0
    np.testing.assert_array_equal(m.model.data.frame("test")["x"].to_numpy(), frame_before)
    np.testing.assert_allclose(m.fitted()[:5], m.predict(small.iloc[:5]), rtol=1e-12)


def test_nullable_columns_missing_rows_are_dropped(small):
    """A missing value in a nullable (extension) integer or float column drops its row, as NaN does."""
    d = small.assign(x2=pd.array(np.arange(60) % 7, dtype="Int64"), y2=pd.array(small["y"].to_numpy(), dtype="Float64"))
    d.loc[4, "x2"] = pd.NA
    d.loc[9, "y2"] = pd.NA
    design = build_design("y2 ~ x2 + (1 | g)", d)
    assert design.nobs == 58
    assert design.data.n_dropped == 2
    assert np.isfinite(design.data.rows("test").x).all()


@pytest.mark.parametrize(
    "raw",
    [
        np.array(["b", "a", "c", "a", "B", "10", "9"], dtype=object),
        np.array([3, 1, 2, 3, -5, 0], dtype=np.int64),
        np.array([0.3, 0.1 + 0.2, -0.0, 0.0, 1e300, -1e-300]),
        np.array([True, False, True]),
        np.array([1, 2.0, 1.0, 3], dtype=object),
        np.array([], dtype=object),
    ],
)
def test_hash_factorisation_is_np_unique(raw):
    """Grouping columns are coded by hashing and sorting only the distinct values (issue 19):
    the same levels and codes as np.unique, at a fraction of its time on many strings."""
    from mixedmodels.design import sorted_factorize

    uniq, codes = sorted_factorize(raw)
    ref_uniq, ref_codes = np.unique(raw, return_inverse=True)
    assert uniq.tolist() == ref_uniq.tolist()
    assert codes.tolist() == ref_codes.reshape(-1).tolist()


@pytest.mark.parametrize("dtype", ["str", "string"])
def test_hash_factorisation_of_string_arrays_sorts_by_code_points(dtype):
    """A pandas string array (Arrow's when pyarrow is installed, whose sort orders the distinct
    labels) gets np.unique's levels: code points, also beyond the BMP, the empty string and NULs."""
    from mixedmodels.design import sorted_factorize

    labels = ["b", "", "\x00", "a\x00", "a", "\uffff", "\U0001f600", "e\u0301", "é", "Z", "10", "9"]
    labels += [f"id{i}" for i in range(100)]  # enough labels for Arrow's sort
    raw = np.array(labels * 3, dtype=object)[np.random.default_rng(2).permutation(3 * len(labels))]
    uniq, codes = sorted_factorize(pd.array(raw, dtype=dtype))
    ref_uniq, ref_codes = np.unique(raw, return_inverse=True)
    assert uniq.tolist() == ref_uniq.tolist() == sorted(labels)
    assert codes.tolist() == ref_codes.reshape(-1).tolist()


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_string_grouping_columns_are_coded_alike(dtype):
    """Grouping ids as objects, pandas strings or Arrow strings (what read_csv gives) get the same
    levels, in np.unique's order (code points: 'B' < 'a' < 'b' < 'é'), and the same fit."""
    r = np.random.default_rng(3)
    ids = np.array(["b", "a", "B", "é", "a2", "10", "9"], dtype=object)
    g = ids[r.integers(0, len(ids), 300)]
    df = pd.DataFrame({"y": r.normal(size=300) + np.repeat(r.normal(size=30), 10), "g": g})
    base = mm.lmer("y ~ 1 + (1 | g)", df.assign(g=df["g"].astype(object)))
    fit = mm.lmer("y ~ 1 + (1 | g)", df.assign(g=df["g"].astype(dtype)))
    assert list(fit.ranef["g"].index) == sorted(set(g.tolist())) == list(base.ranef["g"].index)
    assert fit.objective == base.objective


def test_string_levels_whose_order_is_not_rs_are_named():
    """Labels mixing case sort by code point here (R's order under LC_COLLATE=C) but ignoring case in
    R's usual UTF-8 locales: the reference level would differ from R's without a word."""
    import warnings

    rng = np.random.default_rng(1)
    y = rng.normal(size=30) + np.repeat(2.0 * rng.normal(size=6), 5)
    d = pd.DataFrame({"f": ["Beta", "alpha", "Gamma"] * 10, "g": np.repeat(np.arange(6), 5), "y": y})
    with warnings.catch_warnings():
        with pytest.warns(mm.MixedModelsWarning, match=r"levels of 'f' are ordered by code point.*'alpha'"):
            m = mm.lmer("y ~ f + (1 | g)", d)
        assert list(m.fixef.index) == ["(Intercept)", "fGamma", "falpha"]
        d["f"] = pd.Categorical(d["f"], categories=["alpha", "Beta", "Gamma"])  # the order chosen: no warning
        warnings.simplefilter("error", mm.MixedModelsWarning)
        assert list(mm.lmer("y ~ f + (1 | g)", d).fixef.index) == ["(Intercept)", "fBeta", "fGamma"]
        d["f"] = d["f"].astype(str).str.lower()  # one case: the orders agree
        mm.lmer("y ~ f + (1 | g)", d)


def test_a_term_formulaic_codes_otherwise_than_r_is_named():
    """recipe:temperature without main effects: R's model.matrix codes both factors by all their
    indicators (dropping an aliased column), formulaic adds contrast-coded margins; the same column
    space (fit, predictions, tests), other coefficients under R's names (temperature185:recipeA)."""
    cake = mm.datasets.load("cake")
    with pytest.warns(mm.MixedModelsWarning, match="the term recipe:temperature lacks a main effect"):
        m = mm.lmer("angle ~ recipe:temperature + (1 | recipe:replicate)", cake)
    full = mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", cake)  # R's coding: no warning
    np.testing.assert_allclose(m.fitted(), full.fitted(), rtol=1e-9)
    for formula in ("angle ~ recipe / temperature", "angle ~ 0 + recipe:temperature", "angle ~ temp:recipe"):
        mm.lmer(formula + " + (1 | recipe:replicate)", cake)  # R codes these as formulaic does: no warning


@pytest.mark.parametrize(("term", "name"), [("sector", "sector"), ("factor(sector)", "factor(sector)")])
def test_a_factor_of_one_level_is_refused_as_r_refuses_it(term, name):
    # R: "contrasts can be applied only to factors with 2 or more levels"; it had left the model silently
    import mixedmodels as mm

    hsb = mm.datasets.load("hsb")
    public = hsb[hsb["sector"] == "Public"]
    with pytest.raises(mm.DataError, match=f"the factor '{re.escape(name)}' of the fixed part has one level"):
        mm.lmer(f"mAch ~ ses + {term} + (1 | school)", public)
    with pytest.raises(mm.DataError, match="of \\(0 \\+ sector \\| school\\) has one level"):
        mm.lmer("mAch ~ ses + (0 + sector | school)", public)
    # streamed, from the levels the first pass saw in every chunk: of a column, and of a factor made
    # in the formula (which had left the model silently)
    streamed = [public.iloc[:2000], public.iloc[2000:]]
    with pytest.raises(mm.DataError, match=f"the factor '{re.escape(name)}' of the fixed part has one level"):
        mm.lmer(f"mAch ~ ses + {term} + (1 | school)", streamed)
    with pytest.raises(mm.DataError, match=re.escape(f"the factor '{name}' of (0 + {name} | school) has one level")):
        mm.lmer(f"mAch ~ ses + (0 + {term} | school)", streamed)
    # one chunk's single level is not the data's
    chunks = [hsb.iloc[:3000], hsb.iloc[3000:]]
    whole = mm.lmer(f"mAch ~ ses + {term} + (1 | school)", hsb)
    fit = mm.lmer(f"mAch ~ ses + {term} + (1 | school)", chunks)
    assert f"{name}Catholic" in fit.fixef.index
    assert fit.objective == pytest.approx(whole.objective, rel=1e-10)
    if term == "sector":
        ordered = hsb.sort_values("sector")  # the first chunk all 'Public'
        fit = mm.lmer(f"mAch ~ ses + {term} + (1 | school)", [ordered.iloc[:3000], ordered.iloc[3000:]])
        assert fit.objective == pytest.approx(whole.objective, rel=1e-10)


def test_a_logical_factor_always_true_is_an_aliased_column_as_in_r():
    # R keeps both levels of a logical: the TRUE column is all ones, aliased with the intercept and
    # dropped (lme4: "fixed-effect model matrix is rank deficient"); it is not refused
    import mixedmodels as mm

    hsb = mm.datasets.load("hsb")
    with pytest.warns(mm.MixedModelsWarning, match="ses > -10TRUE"):
        m = mm.lmer("mAch ~ ses + (ses > -10) + (1 | school)", hsb)
    assert list(m.fixef.index) == ["(Intercept)", "ses"]
    assert m.objective == pytest.approx(mm.lmer("mAch ~ ses + (1 | school)", hsb).objective, rel=1e-12)


@pytest.mark.parametrize("terms", ["(1 | Subject) + (1 | Subject)", "(1 | Subject) + (1 + Days | Subject)"])
def test_a_column_in_two_terms_of_one_factor_warns(terms):
    # only the sum of the two variances is identified; lme4 says "nearly unidentifiable" from its Hessian
    import mixedmodels as mm

    with pytest.warns(mm.MixedModelsWarning, match="'\\(Intercept\\)' of grouping factor 'Subject' is in two"):
        mm.lmer(f"Reaction ~ Days + {terms}", mm.datasets.load("sleepstudy"))


def test_uncorrelated_terms_do_not_warn():
    import mixedmodels as mm

    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.MixedModelsWarning)
        mm.lmer("Reaction ~ Days + (Days || Subject)", mm.datasets.load("sleepstudy"))
