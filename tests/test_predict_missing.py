"""predict() on newdata with missing values, and include_re=None (a review against lme4's predict).

A row missing a value of the fixed part or a term gets NaN, whatever the column's kind: a numeric
NaN gave NaN already, but a missing level of a categorical variable was formulaic's error ("cast to
nan"). A missing grouping level is a new level (the population-level prediction), as in lme4.
include_re=None is refused: lme4's re.form = NULL means every random effect, so a translation from
R would silently have meant the opposite.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def cake_fit():
    return mm.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mm.datasets.load("cake"))


@pytest.fixture(scope="module")
def cbpp_fit():
    return mm.glmer(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", mm.datasets.load("cbpp"), family="binomial"
    )


def _with_missing(d: pd.DataFrame, column: str, row: int) -> pd.DataFrame:
    d = d.copy()
    d[column] = d[column].astype(object)
    d.loc[d.index[row], column] = None
    return d


@pytest.mark.parametrize("column", ["recipe", "temperature"])
def test_a_missing_value_gives_nan_there_only(cake_fit, column):
    ck = mm.datasets.load("cake").head(5)
    full = cake_fit.predict(ck)
    got = cake_fit.predict(_with_missing(ck, column, 2))
    assert np.isnan(got.iloc[2])
    np.testing.assert_allclose(got.drop(index=ck.index[2]).to_numpy(), full.drop(index=ck.index[2]).to_numpy())
    assert got.index.equals(ck.index)


def test_a_missing_grouping_level_is_a_new_level(cake_fit):
    # lme4's predict: "the unconditional (population-level) values for data with previously unobserved
    # levels (or NAs)" with allow.new.levels = TRUE, an error without
    ck = mm.datasets.load("cake").head(3)
    missing = _with_missing(ck, "replicate", 0)
    got = cake_fit.predict(missing)
    assert got.iloc[0] == pytest.approx(cake_fit.predict(ck, include_re=False).iloc[0])
    np.testing.assert_allclose(got.iloc[1:].to_numpy(), cake_fit.predict(ck).iloc[1:].to_numpy())
    with pytest.raises(mm.DataError, match="was not in the fit"):
        cake_fit.predict(missing, allow_new_levels=False)


def test_intervals_and_standard_errors_keep_the_rows(cake_fit):
    ck = mm.datasets.load("cake").head(4)
    got = cake_fit.predict(_with_missing(ck, "recipe", 1), include_re=False, se_fit=True, interval="prediction")
    full = cake_fit.predict(ck, include_re=False, se_fit=True, interval="prediction")
    assert list(got.columns) == list(full.columns)
    assert got.iloc[1].isna().all()
    np.testing.assert_allclose(got.drop(index=ck.index[1]).to_numpy(), full.drop(index=ck.index[1]).to_numpy())


def test_every_row_missing(cake_fit):
    ck = mm.datasets.load("cake").head(2).assign(recipe=None)
    assert cake_fit.predict(ck).isna().all()


def test_glmer_response_scale_and_se(cbpp_fit):
    cb = mm.datasets.load("cbpp").head(3)
    got = cbpp_fit.predict(_with_missing(cb, "period", 1), type="response", se_fit=True)
    full = cbpp_fit.predict(cb, type="response", se_fit=True)
    assert got.iloc[1].isna().all()
    np.testing.assert_allclose(got.iloc[[0, 2]].to_numpy(), full.iloc[[0, 2]].to_numpy())


def test_include_re_none_is_refused(cake_fit, cbpp_fit):
    ck = mm.datasets.load("cake").head(2)
    with pytest.raises(mm.ArgumentError, match="re.form = NULL"):
        cake_fit.predict(ck, include_re=None)
    with pytest.raises(mm.ArgumentError, match="include_re=None is ambiguous"):
        cbpp_fit.predict(mm.datasets.load("cbpp").head(2), include_re=None)


def test_an_unseen_level_names_its_column(cake_fit):
    # formulaic's own words had been passed on: no column, and "they are being cast to nan"
    ck = mm.datasets.load("cake").head(2)
    ck = ck.assign(recipe=ck["recipe"].astype(object))
    ck.loc[ck.index[0], "recipe"] = "Z"
    with pytest.raises(mm.DataError, match="not fitted with in column 'recipe': 'Z'") as e:
        cake_fit.predict(ck)
    assert "cast to nan" not in str(e.value)


def test_text_where_the_fit_had_numbers_names_the_column():
    # formulaic had made a factor of it: "Term `Days` has generated too many columns ..."
    d = mm.datasets.load("sleepstudy")
    m = mm.lmer("Reaction ~ Days + (Days | Subject)", d)
    with pytest.raises(mm.DataError, match="column 'Days' of newdata holds text"):
        m.predict(d.head(3).assign(Days=["0", "1", "2"]))


def test_kinds_that_predict_takes_and_refuses():
    s = mm.datasets.load("sleepstudy")
    s = s.assign(Sid=s.Subject.astype(int), Dt=s.Days.astype(str))
    # grouping ids as strings where the fit had numbers, and text inside factor(): taken, as lme4 (a review)
    m = mm.lmer("Reaction ~ Days + (Days | Sid)", s)
    np.testing.assert_allclose(m.predict(s.head(3).assign(Sid=lambda d: d.Sid.astype(str))), m.predict(s.head(3)))
    m2 = mm.lmer("Reaction ~ factor(Days) + (1 | Subject)", s)
    np.testing.assert_allclose(m2.predict(s.head(3).assign(Days=lambda d: d.Days.astype(str))), m2.predict(s.head(3)))
    # numbers where the fit had text: refused (formulaic had read them as numbers, a wrong prediction; lme4 refuses)
    m3 = mm.lmer("Reaction ~ Dt + (1 | Subject)", s)
    with pytest.raises(mm.DataError, match="column 'Dt' of newdata holds numbers where the fit's held text"):
        m3.predict(s.head(3).assign(Dt=lambda d: d.Days))
