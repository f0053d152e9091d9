"""lmer takes the tables users have (issue 15, item 5) and answers statsmodels' keywords with the
lme4 term to write."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import mixedmodels as mm

SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep(fits):
    return fits.data("sleepstudy")


@pytest.fixture(scope="module")
def reference(fits):
    return fits.fit(SLEEP, "sleepstudy")


def _plain(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "Reaction": frame.Reaction.to_numpy(float),
        "Days": frame.Days.to_numpy(float),
        "Subject": frame.Subject.astype(str).to_numpy(),
    }


def test_a_dict_of_columns(sleep, reference):
    m = mm.lmer(SLEEP, _plain(sleep))
    assert m.objective == pytest.approx(reference.objective, rel=1e-12)


def test_a_structured_array(sleep, reference):
    cols = _plain(sleep)
    arr = np.zeros(len(sleep), dtype=[("Reaction", "f8"), ("Days", "f8"), ("Subject", "U8")])
    for k, v in cols.items():
        arr[k] = v
    assert mm.lmer(SLEEP, arr).objective == pytest.approx(reference.objective, rel=1e-12)


def test_a_pyarrow_table(sleep, reference):
    table = pa.table(_plain(sleep))
    assert mm.lmer(SLEEP, table).objective == pytest.approx(reference.objective, rel=1e-12)


def test_columns_of_different_lengths_are_named(sleep):
    cols = _plain(sleep)
    cols["Days"] = cols["Days"][:-1]
    with pytest.raises(mm.DataError, match="one length; they have Reaction: 180, Days: 179, Subject: 180"):
        mm.lmer(SLEEP, cols)


def test_a_plain_array_points_to_fit_arrays(sleep):
    with pytest.raises(mm.DataError, match="fit_arrays"):
        mm.lmer(SLEEP, np.zeros((10, 3)))


@pytest.mark.parametrize(
    ("keywords", "term"),
    [
        ({"groups": "Subject"}, "(1 | Subject)"),
        ({"groups": "Subject", "re_formula": "~Days"}, "(1 + Days | Subject)"),
        ({"groups": "Subject", "re_formula": "0 + Days"}, "(0 + Days | Subject)"),
    ],
)
def test_statsmodels_keywords_show_the_lme4_term(sleep, keywords, term):
    with pytest.raises(mm.ArgumentError, match=re.escape(f"write {term} in the formula")):
        mm.lmer("Reaction ~ Days", sleep, **keywords)


def test_an_unknown_keyword_is_a_type_error(sleep):
    with pytest.raises(TypeError, match="unexpected keyword argument 'familly'"):
        mm.lmer(SLEEP, sleep, familly="binomial")


def test_arrow_backed_strings_are_factors_in_any_column_order():
    # read_csv(dtype_backend="pyarrow") strings in the fixed part: formulaic had read them as numbers
    # (a bare ValueError), in one column order and not another
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    d = pd.DataFrame(
        {
            "y": rng.normal(size=60),
            "x": rng.normal(size=60),
            "f": rng.choice(list("abc"), 60),
            "g": rng.choice(list("pqrstu"), 60),
        }
    )
    ref = mm.lmer("y ~ x + f + (1 | g)", d)
    a = d.convert_dtypes(dtype_backend="pyarrow")
    for cols in (["y", "x", "f", "g"], ["y", "x", "g", "f"]):
        m = mm.lmer("y ~ x + f + (1 | g)", a[cols])
        assert m.objective == pytest.approx(ref.objective, rel=1e-12)
        assert list(m.fixef.index) == ["(Intercept)", "x", "fb", "fc"]
        np.testing.assert_allclose(m.predict(a.head(5)).to_numpy(), ref.predict(d.head(5)).to_numpy(), rtol=1e-10)


def test_multiindex_columns_are_a_data_error():
    d = mm.datasets.load("sleepstudy")
    d.columns = pd.MultiIndex.from_tuples([(c, "v") for c in d.columns])
    with pytest.raises(mm.DataError, match="MultiIndex"):
        mm.lmer("Reaction ~ Days + (1 | Subject)", d)


def test_numbers_held_as_objects_warn_that_they_are_a_factor():
    import decimal
    import warnings

    d = mm.datasets.load("sleepstudy")
    as_decimals = d.assign(Days=d.Days.astype(object).map(lambda v: decimal.Decimal(int(v))))
    with pytest.warns(mm.MixedModelsWarning, match="'Days' holds numbers as Python objects"):
        mm.lmer("Reaction ~ Days + (1 | Subject)", as_decimals)
    labels = d.assign(Days=d.Days.astype(str))  # strings that read as numbers: text on purpose, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.MixedModelsWarning)
        mm.lmer("Reaction ~ Days + (1 | Subject)", labels)


@pytest.mark.parametrize("dtype", ["string", "string[pyarrow]"])
def test_pandas_string_columns_with_missing_values_are_factors(dtype):
    # convert_dtypes()' StringDtype with pd.NA had been formulaic's bare "could not convert string to float"
    rng = np.random.default_rng(0)
    d = pd.DataFrame(
        {
            "y": rng.normal(size=60),
            "x": rng.normal(size=60),
            "f": rng.choice(["odd", "even", "zero"], 60),
            "g": rng.choice(list("pqrstu"), 60),
        }
    )
    d.loc[3, "f"] = None
    ref = mm.lmer("y ~ x + f + (1 | g)", d)
    typed = d.astype({"f": dtype})
    m = mm.lmer("y ~ x + f + (1 | g)", typed)
    assert m.objective == ref.objective
    np.testing.assert_allclose(m.predict(typed.head(5)).to_numpy(), ref.predict(d.head(5)).to_numpy(), equal_nan=True)


def test_a_column_named_by_an_integer_says_so():
    # the hint had been "the data has no column '1' (did you mean '1'?)"
    d = mm.datasets.load("sleepstudy").rename(columns={"Subject": 1})
    with pytest.raises(mm.DataError, match="column 1 has a name of type int, not a string"):
        mm.lmer("Reaction ~ Days + (1 | `1`)", d)


@pytest.mark.filterwarnings("ignore::mixedmodels.MixedModelsWarning")  # (labels of mixed case: R's order differs)
@pytest.mark.filterwarnings("ignore::mixedmodels.SingularFitWarning")
def test_default_strings_in_the_fixed_part_are_the_factor_of_objects_and_categoricals():
    # pandas' default strings (read_csv's from pandas 3) are coded by the core at hash speed in a plain
    # fixed part (design._text_categorical): the fit, its names and its predictions are those of the
    # same column as Python objects or as the Categorical formulaic makes of it, and a formula that
    # is not plain (an interaction, a missing value) is formulaic's as before
    rng = np.random.default_rng(3)
    n = 90
    labels = np.array(["b", "a", "c", "B", "ä"], dtype=object)
    d = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "f": pd.array(labels[rng.integers(0, 5, n)], dtype=pd.StringDtype(na_value=np.nan)),
            "g": rng.choice(list("pqrstu"), n).astype(object),
        }
    )
    objects = d.assign(f=d.f.astype(object))
    categorical = d.assign(f=pd.Categorical(d.f.astype(object)))
    for formula in ("y ~ x + f + (1 | g)", "y ~ f + (1 + f | g)", "y ~ x * f + (1 | g)"):
        ref = mm.lmer(formula, categorical)
        for frame in (d, objects):
            m = mm.lmer(formula, frame)
            assert m.objective == ref.objective
            assert list(m.fixef.index) == list(ref.fixef.index)
            np.testing.assert_array_equal(m.fixef.to_numpy(), ref.fixef.to_numpy())
            np.testing.assert_array_equal(m.predict(d.head(7)).to_numpy(), ref.predict(d.head(7)).to_numpy())
    assert "f[T.B]" not in mm.lmer("y ~ x + f + (1 | g)", d).fixef.index  # R's names: fB, fa, ...
    missing = d.copy()
    missing.loc[4, "f"] = np.nan
    m = mm.lmer("y ~ x + f + (1 | g)", missing)
    assert m.nobs == n - 1
    assert m.objective == mm.lmer("y ~ x + f + (1 | g)", missing.assign(f=missing.f.astype(object))).objective
