"""The core's coding of strings held by Arrow (`_core.string_codes`, behind `design.sorted_factorize`):
np.unique's levels and codes for any strings, in Arrow's string and large_string layouts, sliced or
in chunks; offsets that do not describe strings in the buffer are refused, never read."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedmodels import _core
from mixedmodels.design import sorted_factorize

pa = pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

# short ids (at most 8 bytes: compared by their head alone), longer ones sharing 8-byte prefixes,
# the empty string, NULs, and characters of 2 to 4 bytes in UTF-8
ALPHABET = st.sampled_from(["a", "b", "A", "0", "9", "\x00", "é", "\uffff", "\U0001f600", "_"])
WORDS = st.one_of(
    st.text(ALPHABET, max_size=4),
    st.builds(lambda s: "prefix__" + s, st.text(ALPHABET, max_size=6)),
    st.builds(lambda s: "abcdefgh" + s, st.text(ALPHABET, max_size=3)),
)


def _reference(values):
    raw = np.array(values, dtype=object)
    uniq, codes = np.unique(raw, return_inverse=True)
    return uniq.tolist(), codes.reshape(-1).tolist()


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(WORDS, min_size=1, max_size=30, unique=True),
    picks=st.lists(st.integers(0, 10_000), min_size=0, max_size=300),
    large=st.booleans(),
    cut=st.integers(0, 5),
)
def test_string_codes_are_np_unique(words, picks, large, cut):
    values = [words[i % len(words)] for i in picks]
    typ = pa.large_string() if large else pa.string()
    arr = pa.array(["x"] * cut + values + ["y"] * cut, type=typ).slice(cut, len(values))  # an offset into buffers
    uniq, codes = sorted_factorize(pd.array(arr, dtype=pd.ArrowDtype(typ)))
    ref_uniq, ref_codes = _reference(values)
    assert uniq.tolist() == ref_uniq
    assert codes.tolist() == ref_codes
    assert codes.dtype == np.int64


def test_chunked_and_many_distinct_strings():
    """Many distinct strings (the table grows several times) in a chunked array: np.unique's result."""
    r = np.random.default_rng(5)
    values = [f"{'x' * int(k % 11)}{k}" for k in r.integers(0, 30_000, 60_000)]
    chunked = pa.chunked_array([pa.array(values[:25_000]), pa.array(values[25_000:])])
    uniq, codes = sorted_factorize(pd.array(chunked, dtype=pd.ArrowDtype(pa.string())))
    ref_uniq, ref_codes = _reference(values)
    assert uniq.tolist() == ref_uniq
    assert codes.tolist() == ref_codes


def test_codes_do_not_depend_on_row_order():
    r = np.random.default_rng(6)
    values = np.array([f"id{k}" for k in r.integers(0, 500, 5000)], dtype=object)
    perm = r.permutation(len(values))
    uniq, codes = sorted_factorize(pd.array(values, dtype="string[pyarrow]"))
    uniq_p, codes_p = sorted_factorize(pd.array(values[perm], dtype="string[pyarrow]"))
    assert uniq.tolist() == uniq_p.tolist()
    assert codes[perm].tolist() == codes_p.tolist()


def test_string_codes_refuse_offsets_outside_the_buffer():
    data = np.frombuffer(b"abcdef", dtype=np.uint8)
    codes, first = _core.string_codes(np.array([0, 2, 2, 6], dtype=np.int32), data)
    assert codes.tolist() == [1, 0, 2]
    assert first.tolist() == [1, 0, 2]
    with pytest.raises(_core.InvalidInputError, match="string 1"):
        _core.string_codes(np.array([0, 3, 2], dtype=np.int64), data)  # decreasing
    with pytest.raises(_core.InvalidInputError, match="string 0"):
        _core.string_codes(np.array([0, 7], dtype=np.int32), data)  # beyond the bytes
    with pytest.raises(_core.InvalidInputError, match="negative"):
        _core.string_codes(np.array([-1, 2], dtype=np.int32), data)
    with pytest.raises(_core.InvalidInputError, match="int32 or int64"):
        _core.string_codes(np.array([0.0, 2.0]), data)
    with pytest.raises(_core.InvalidInputError, match="uint8"):
        _core.string_codes(np.array([0, 2], dtype=np.int32), np.zeros(6, dtype=np.int8))
    with pytest.raises(_core.InvalidInputError, match="n \\+ 1"):
        _core.string_codes(np.zeros(0, dtype=np.int32), data)
    empty_codes, empty_first = _core.string_codes(np.array([0], dtype=np.int32), data)
    assert empty_codes.size == 0
    assert empty_first.size == 0
