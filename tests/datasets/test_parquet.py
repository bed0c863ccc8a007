"""Parquet uploads read as the same table written as CSV reads, with typed columns, and are
refused as plainly."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from app.core.errors import InvalidInput
from app.datasets.csv_format import parse_csv
from app.datasets.parquet_format import is_parquet, parse_parquet
from app.datasets.parsed import ParsedSeries
from app.datasets.values import Limits

LIMITS = Limits(max_rows=10_000, max_columns=64, max_series=1_000, max_series_id_length=64)


def parquet(frame: pd.DataFrame, *, index: bool = False) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=index)
    return out.getvalue()


def both(frame: pd.DataFrame, **options: Any) -> tuple[ParsedSeries, ParsedSeries]:
    csv = frame.to_csv(index=False).encode()
    return (
        parse_parquet(parquet(frame), time_column=None, limits=LIMITS, **options),
        parse_csv(csv, time_column=None, limits=LIMITS, **options),
    )


def assert_same(by_parquet: ParsedSeries, by_csv: ParsedSeries) -> None:
    assert by_parquet.matrix.tobytes() == by_csv.matrix.tobytes()
    for field in ("columns", "time_axis", "filled", "series", "series_filled"):
        assert getattr(by_parquet, field) == getattr(by_csv, field), field


def long_panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    parts = []
    for k in range(40):
        start = pd.Timestamp("2001-01-01") + pd.DateOffset(months=int(rng.integers(0, 24)))
        length = int(rng.integers(5, 40))
        parts.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{k}",
                    "ds": pd.date_range(start, periods=length, freq="MS"),
                    "y": rng.normal(size=length),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def test_a_long_panel_with_timestamps_reads_as_its_csv() -> None:
    by_parquet, by_csv = both(long_panel())
    assert by_parquet.series is not None
    assert len(by_parquet.series) == 40
    assert_same(by_parquet, by_csv)


def test_dates_years_zoned_times_and_a_pandas_index_read_as_csv_does() -> None:
    days = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=6).date, "v": np.arange(6.0)})
    assert_same(*both(days))
    years = pd.DataFrame({"year": np.arange(1990, 1996), "v": np.arange(6.0)})
    assert_same(*both(years))
    zoned = pd.DataFrame(
        {"time": pd.date_range("2020-01-01 06:00", periods=6, freq="h", tz="UTC"), "v": 1.0}
    )
    assert_same(*both(zoned))
    indexed = pd.DataFrame({"v": np.arange(6.0)}, index=pd.date_range("2020-01-01", periods=6))
    read = parse_parquet(parquet(indexed, index=True), time_column=None, limits=LIMITS)
    assert read.time_axis is not None
    assert read.time_axis.freq == "D"


def test_gaps_and_missing_values_are_filled_as_csv_fills_them() -> None:
    frame = long_panel().drop(index=[3, 4, 50])
    frame.loc[7, "y"] = np.nan
    assert_same(*both(frame, missing="interpolate"))


def test_a_wide_file_of_series_reads_as_its_csv() -> None:
    wide = pd.DataFrame(
        {
            "ds": pd.date_range("2020-01-01", periods=5),
            "a": [1.0, 2, 3, 4, 5],
            "b": [np.nan, 1, 2, 3, np.nan],
        }
    )
    assert_same(*both(wide, layout="columns_are_series"))


def refused(data: bytes, **options: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse_parquet(data, time_column=None, limits=LIMITS, **options)
    return caught.value


def test_what_csv_refuses_parquet_refuses_naming_the_row_and_column() -> None:
    frame = pd.DataFrame({"ds": pd.date_range("2020-01-01", periods=4), "y": [1.0, np.inf, 3, 4]})
    assert refused(parquet(frame)).message == "line 2, column 'y': value is not finite"
    frame["y"] = [1.0, 2.0, None, 4.0]
    assert refused(parquet(frame)).message.startswith("line 3, column 'y': is empty")
    texts = io.BytesIO()  # text values, typed as Arrow's string whatever pandas would write
    pq.write_table(pa.table({"y": pa.array(["1", "2"], pa.string())}), texts)
    assert refused(texts.getvalue()).message == (
        "column 'y' holds string; value columns hold numbers"
    )
    repeated = pd.DataFrame({"ds": pd.to_datetime(["2020-01-01", "2020-01-01"]), "y": [1.0, 2.0]})
    assert "time repeated on line 1 and line 2" in refused(parquet(repeated)).message
    no_id = pd.DataFrame({"unique_id": ["a", None], "y": [1.0, 2.0]})
    assert refused(parquet(no_id)).message == "line 2: the series id is empty (column 'unique_id')"


def test_rows_over_the_limit_are_refused_before_they_are_read() -> None:
    small = Limits(max_rows=10, max_columns=4, max_series=5, max_series_id_length=8)
    data = parquet(pd.DataFrame({"y": np.zeros(11)}))
    with pytest.raises(InvalidInput, match="more than 10 rows"):
        parse_parquet(data, time_column=None, limits=small)


def test_a_file_that_only_looks_like_parquet_is_refused_plainly() -> None:
    data = parquet(pd.DataFrame({"y": [1.0, 2.0]}))
    assert is_parquet(data)
    assert not is_parquet(b"y\n1\n")
    assert not is_parquet(b"PAR1")
    spooled = io.BytesIO(data)
    assert is_parquet(spooled)
    assert spooled.tell() == 0  # left where a reader starts
    assert not is_parquet(io.BytesIO(b"PAR1"))
    assert not is_parquet(io.BytesIO(b"a,b\n1,2\n"))
    broken = data[:4] + b"\0" * 20 + data[-8:]
    assert refused(broken).message.startswith("the file is not a readable Parquet file")
    assert refused(b"PAR1nonsensePAR1").field == "file"


def test_nested_time_values_are_refused_naming_the_column() -> None:
    table = pa.table({"ds": pa.array([[1], [2]]), "y": [1.0, 2.0]})
    out = io.BytesIO()
    pq.write_table(table, out)
    assert refused(out.getvalue()).message.startswith("column 'ds' holds list<element: int64>")
