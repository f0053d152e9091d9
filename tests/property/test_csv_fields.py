"""The streamed CSV reader's count of each line's fields (`stream._check_csv_fields`) refuses a file
exactly where pandas.read_csv refuses it for a line with too many fields, whatever the block size,
with quoted values (commas, newlines and doubled quotes inside), quotes inside a field, lines of
whitespace (blank to pandas) and gzip or bz2 compression (pandas infers it from the name; the raw
bytes had been counted)."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixedmodels import stream
from mixedmodels.exceptions import DataError

row = st.one_of(
    st.lists(
        st.sampled_from(["1", "2.5", "", "a", '"1,5"', '""', '"a""b"', '"x\ny,z"', 'a"b']), min_size=0, max_size=5
    ).map(",".join),
    st.sampled_from(["  ", "\t", " \t "]),
)


@settings(max_examples=300, deadline=None)
@given(
    header=st.integers(1, 4),
    rows=st.lists(row, max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    last=st.booleans(),
    block=st.integers(1, 40),
    compression=st.sampled_from(["", ".gz", ".bz2"]),
)
def test_refused_as_pandas_refuses(tmp_path_factory, header, rows, newline, last, block, compression):
    lines = [",".join("abcd"[:header]), *rows]
    text = newline.join(lines) + (newline if last else "")
    path = Path(tmp_path_factory.mktemp("csv")) / f"d.csv{compression}"
    raw = text.encode()
    path.write_bytes(gzip.compress(raw) if compression == ".gz" else bz2.compress(raw) if compression else raw)
    try:
        pd.read_csv(path)
        pandas_refuses = False
    except pd.errors.ParserError as e:
        pandas_refuses = "Expected" in str(e)
    mp = pytest.MonkeyPatch()
    mp.setattr(stream, "CSV_CHECK_BLOCK", block)
    try:
        stream._check_csv_fields(path, len(pd.read_csv(path, nrows=0).columns))
        refused = False
    except (DataError, pd.errors.ParserError):
        refused = True
    finally:
        mp.undo()
    assert refused == pandas_refuses
