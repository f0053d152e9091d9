"""The embedding API's checks of its arrays: codes recoded densely (no label per unused code), codes
that cannot be levels refused naming the term, one group name with two codings refused, a 1-D X
taken as one column, every length named in a mismatch, complex arrays refused."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

import mixedmodels as mm


@pytest.fixture(scope="module")
def sleep_arrays():
    sleep = mm.datasets.load("sleepstudy")
    n = len(sleep)
    x = np.column_stack([np.ones(n), sleep["Days"].to_numpy(dtype=float)])
    codes = sleep["Subject"].cat.codes.to_numpy().astype(np.int64)
    return sleep["Reaction"].to_numpy(), x, codes


@pytest.fixture(scope="module")
def reference(sleep_arrays):
    y, x, codes = sleep_arrays
    return mm.fit_arrays(y, x, [mm.GroupTerm("Subject", codes, x, ("(Intercept)", "Days"))])


def test_sparse_codes_are_recoded_without_a_label_per_code(sleep_arrays, reference):
    y, x, codes = sleep_arrays
    wide = codes * 23_500_000  # 18 distinct codes up to 4e8
    assert wide.max() == 399_500_000
    tracemalloc.start()
    try:
        m = mm.fit_arrays(y, x, [mm.GroupTerm("Subject", wide, x, ("(Intercept)", "Days"))])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6  # a label per possible code would take gigabytes
    assert m.objective == pytest.approx(reference.objective, rel=1e-12)
    assert m.ngroups == {"Subject": 18}
    assert m.ranef["Subject"].index[:3].tolist() == ["0", "23500000", "47000000"]


def test_labels_are_those_of_the_codes_that_occur(sleep_arrays, reference):
    y, x, codes = sleep_arrays
    labels = tuple(f"s{i}" for i in range(40))
    m = mm.fit_arrays(y, x, [mm.GroupTerm("Subject", codes * 2, x, ("(Intercept)", "Days"), labels)])
    assert m.ranef["Subject"].index.tolist() == [f"s{2 * i}" for i in range(18)]
    assert m.objective == pytest.approx(reference.objective, rel=1e-12)
    with pytest.raises(mm.DataError, match="20 level labels for codes up to 34 in 'Subject'"):
        mm.fit_arrays(y, x, [mm.GroupTerm("Subject", codes * 2, x, ("(Intercept)", "Days"), labels[:20])])
    with pytest.raises(mm.DataError, match="repeat a label"):
        mm.fit_arrays(y, x, [mm.GroupTerm("Subject", codes, x, ("(Intercept)", "Days"), ("a",) * 18)])


def test_whole_float_codes_are_taken(sleep_arrays, reference):
    y, x, codes = sleep_arrays
    m = mm.fit_arrays(y, x, [mm.GroupTerm("Subject", codes.astype(float), x, ("(Intercept)", "Days"))])
    assert m.objective == pytest.approx(reference.objective, rel=1e-12)


@pytest.mark.parametrize(
    ("transform", "match"),
    [
        (lambda c: c - 1, "codes of 'Subject' must be non-negative.*row position 0: -1"),
        (lambda c: c + 2**31, "codes of 'Subject' must be below 2\\*\\*31"),
        (lambda c: c + 0.5, "codes of 'Subject' must be whole numbers"),
        (lambda c: np.where(np.arange(len(c)) == 7, np.nan, c), "codes of 'Subject' have 1 missing.*row position 7"),
        (lambda c: np.where(np.arange(len(c)) == 3, np.inf, c), "codes of 'Subject' have 1 missing or non-finite"),
        (lambda c: c.astype(str), "codes of 'Subject' must be integers, got dtype <U"),
        (lambda c: c.astype(bool), "codes of 'Subject' must be integers, got dtype bool"),
    ],
)
def test_bad_codes_name_the_term(sleep_arrays, transform, match):
    y, x, codes = sleep_arrays
    with pytest.raises(mm.DataError, match=match):
        mm.fit_arrays(y, x, [mm.GroupTerm("Subject", transform(codes), x, ("(Intercept)", "Days"))])


def test_one_group_name_with_two_codings_is_refused(sleep_arrays):
    y, x, codes = sleep_arrays
    days = x[:, 1]
    same = [
        mm.GroupTerm("Subject", codes, np.ones(len(y)), ("(Intercept)",)),
        mm.GroupTerm("Subject", codes, days, ("Days",)),
    ]
    m = mm.fit_arrays(y, x, same)  # same name, same codes: one factor, two uncorrelated blocks
    assert m.theta_names == ("Subject.(Intercept)", "Subject.Days")
    other = [same[0], mm.GroupTerm("Subject", codes % 6, days, ("Days",))]
    with pytest.raises(mm.DataError, match="two terms name the group 'Subject' with different codes"):
        mm.fit_arrays(y, x, other)
    relabelled = [same[0], mm.GroupTerm("Subject", codes, days, ("Days",), tuple(f"s{i}" for i in range(18)))]
    with pytest.raises(mm.DataError, match="different level labels"):
        mm.fit_arrays(y, x, relabelled)


def test_one_dimensional_x_is_one_column(sleep_arrays):
    y, x, codes = sleep_arrays
    term = mm.GroupTerm("Subject", codes, np.ones(len(y)), "(Intercept)")  # one name as a string
    m1 = mm.fit_arrays(y, np.ones(len(y)), [term])
    m2 = mm.fit_arrays(y, np.ones((len(y), 1)), [term])
    assert m1.fixef.index.tolist() == ["x0"]
    assert m1.objective == pytest.approx(m2.objective, rel=1e-12)
    m3 = mm.fit_arrays(y, np.ones(len(y)), [term], fixed_names="(Intercept)")
    assert m3.fixef.index.tolist() == ["(Intercept)"]


def test_x_as_a_data_frame_names_the_columns(sleep_arrays):
    import pandas as pd

    y, x, codes = sleep_arrays
    frame = pd.DataFrame(x, columns=["(Intercept)", "Days"])
    m = mm.fit_arrays(y, frame, [mm.GroupTerm("Subject", codes, x, ("(Intercept)", "Days"))])
    assert m.fixef.index.tolist() == ["(Intercept)", "Days"]


def test_length_mismatches_name_every_array(sleep_arrays):
    y, x, codes = sleep_arrays
    term = mm.GroupTerm("Subject", codes[:-2], x[:-1], ("(Intercept)", "Days"))
    with pytest.raises(mm.DataError) as err:
        mm.fit_arrays(y, x[:-3], [term])
    msg = str(err.value)
    for part in ("y: 180 values", "X: 177 rows", "codes of 'Subject': 178 values", "z of 'Subject': 179 rows"):
        assert part in msg


def test_complex_arrays_are_refused(sleep_arrays):
    y, x, codes = sleep_arrays
    term = mm.GroupTerm("Subject", codes, x, ("(Intercept)", "Days"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way
        with pytest.raises(mm.DataError, match="y has complex values"):
            mm.fit_arrays(y + 1j, x, [term])
        with pytest.raises(mm.DataError, match="X has complex values"):
            mm.fit_arrays(y, x + 0j, [term])
        with pytest.raises(mm.DataError, match="z of 'Subject' has complex values"):
            mm.fit_arrays(y, x, [mm.GroupTerm("Subject", codes, x * 1j, ("(Intercept)", "Days"))])
    with pytest.raises(mm.DataError, match="X must be numeric"):
        mm.fit_arrays(y, np.array(["a"] * len(y)), [term])


@pytest.mark.parametrize(
    ("start", "match"),
    [
        ([np.nan, 0.0, 1.0], "start must be finite; it is not at Subject.\\(Intercept\\) \\(nan\\)"),
        ([1.0, np.inf, 1.0], "not at Subject.Days.\\(Intercept\\) \\(inf\\)"),
        (
            [1.0, 0.0],
            "start must be 3 numbers \\(Subject.\\(Intercept\\), Subject.Days.\\(Intercept\\), Subject.Days\\)",
        ),
        ("moments", "start must be None, 'lme4' or a sequence of numbers"),
        (["a", "b", "c"], "start must be None, 'lme4' or a sequence of numbers"),
    ],
)
def test_bad_start_is_refused_before_the_core(sleep_arrays, monkeypatch, start, match):
    y, x, codes = sleep_arrays
    term = mm.GroupTerm("Subject", codes, x, ("(Intercept)", "Days"))

    def no_core(*args, **kwargs):
        raise AssertionError("the core was reached")

    monkeypatch.setattr(mm.LinearMixedModel, "from_data", no_core)
    with pytest.raises(ValueError, match=match) as err:
        mm.fit_arrays(y, x, [term], start=start)
    assert isinstance(err.value, mm.ArgumentError)


def test_optimizer_and_options_reach_the_fit(sleep_arrays, reference):
    y, x, codes = sleep_arrays
    term = mm.GroupTerm("Subject", codes, x, ("(Intercept)", "Days"))
    m = mm.fit_arrays(y, x, [term], optimizer="cobyqa", optimizer_options={"final_tr_radius": 1e-7})
    assert m.objective == pytest.approx(reference.objective, rel=1e-9)
    assert m.optimizer_message.startswith("COBYQA")
    with pytest.raises(mm.ArgumentError, match="it takes 'initial_tr_radius', 'final_tr_radius'"):
        mm.fit_arrays(y, x, [term], optimizer="cobyqa", optimizer_options={"xtol_abs": 1e-9})


def test_terms_may_be_a_generator_and_names_must_be_distinct(sleep_arrays, reference):
    y, x, codes = sleep_arrays
    terms = (mm.GroupTerm("Subject", codes, x, ("(Intercept)", "Days")) for _ in range(1))
    assert mm.fit_arrays(y, x, terms).objective == pytest.approx(reference.objective, rel=1e-12)
    with pytest.raises(mm.DataError, match="the fixed-effect names repeat 'a'"):
        mm.fit_arrays(y, x, [mm.GroupTerm("Subject", codes, x, ("a", "b"))], fixed_names=["a", "a"])
