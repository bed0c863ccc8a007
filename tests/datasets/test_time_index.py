"""app.datasets time modules: time columns found, read and put on a regular axis (real pandas)."""

from __future__ import annotations

import ast
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import app.datasets
from app.core.errors import InvalidInput
from app.datasets import Limits
from app.datasets.csv_format import parse_csv
from app.datasets.gaps import MissingPolicy
from app.datasets.time_axis import TimeAxis
from app.datasets.time_cells import find_time_column, parse_times
from app.datasets.time_index import regularize

# The modules that read time columns and put rows on a regular axis.
TIME_MODULES = (
    "time_rules", "time_cells", "time_axis", "frequency", "time_grid", "gaps", "time_index",
)  # fmt: skip
OUTSIDE = "is outside the dates a dataset holds, from 1678-01-01 to 2262-04-11"


def lines_of(count: int) -> list[int]:
    """File lines of data rows: the header is line 1."""
    return list(range(2, 2 + count))


def place(
    cells: list[str],
    rows: list[list[float]] | None = None,
    *,
    freq: str | None = None,
    missing: MissingPolicy = "error",
    columns: tuple[str, ...] = ("y",),
) -> tuple[np.ndarray, TimeAxis, dict[str, int]]:
    """parse_times then regularize, as the CSV reader does; values default to 0, 1, 2, ..."""
    lines = lines_of(len(cells))
    kind, times = parse_times(cells, lines)
    matrix = (
        np.array(rows, dtype=np.float64)
        if rows is not None
        else np.arange(len(cells), dtype=np.float64).reshape(-1, 1)
    )
    return regularize(kind, times, matrix, list(columns), lines, freq=freq, missing=missing)


def refusal(call: Callable[..., object], *args: object, **kwargs: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)
    return caught.value


def iso_days(index: pd.DatetimeIndex) -> list[str]:
    return [str(day) for day in index.strftime("%Y-%m-%d")]


# --- parse_times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cells", "first"),
    [
        (["2020-01-31", "2020-02-01"], "2020-01-31T00:00"),
        (["2020-01-31T10:30:00", "2020-01-31T11:30:00"], "2020-01-31T10:30"),
        (["2020-01-31 10:30", "2020-01-31 11:30"], "2020-01-31T10:30"),
        (["2020-01-31T10:30:00.250", "2020-01-31T10:30:00.500"], "2020-01-31T10:30:00.250"),
        ([" 2020-01-31 ", "2020-02-01"], "2020-01-31T00:00"),
        (["1749", "1750"], "1749-01-01T00:00"),
        (["1749.0", "1750.0"], "1749-01-01T00:00"),
        (["1959-01", "1959-02"], "1959-01-01T00:00"),
        (["1959M01", "1959M02"], "1959-01-01T00:00"),
        (["1959M1", "1959m2"], "1959-01-01T00:00"),
        (["1959Q1", "1959Q2"], "1959-01-01T00:00"),
        (["1959-Q3", "1959-Q4"], "1959-07-01T00:00"),
        (["1959q4", "1960q1"], "1959-10-01T00:00"),
    ],
)
def test_reads_every_date_form_as_naive_utc_datetime64_ns(cells: list[str], first: str) -> None:
    kind, times = parse_times(cells, lines_of(len(cells)))
    assert kind == "dates"
    assert times.dtype == np.dtype("datetime64[ns]")
    assert times[0] == np.datetime64(first)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["0", "1", "2"], [0.0, 1.0, 2.0]),
        (["-1.5", "+0.5", ".25", "1e3"], [-1.5, 0.5, 0.25, 1000.0]),
        (["1749", "12.5"], [1749.0, 12.5]),  # one plain number: the years are numbers too
        (["1500", "1501"], [1500.0, 1501.0]),  # before 1678: datetime64[ns] cannot hold them
        (["17490", "17491"], [17490.0, 17491.0]),  # five digits are no year
    ],
)
def test_reads_plain_numbers_as_float64(cells: list[str], expected: list[float]) -> None:
    kind, times = parse_times(cells, lines_of(len(cells)))
    assert kind == "numbers"
    assert times.dtype == np.float64
    assert times.tolist() == expected


def test_years_beside_dates_are_dates() -> None:
    kind, times = parse_times(["1999", "2000-06-01"], [2, 3])
    assert kind == "dates"
    assert times.tolist() == [pd.Timestamp("1999-01-01").value, pd.Timestamp("2000-06-01").value]


def test_zoned_datetimes_are_normalised_to_utc() -> None:
    kind, times = parse_times(["2020-03-01T10:00+02:00", "2020-03-01T11:00+02:00"], [2, 3])
    assert kind == "zoned dates"
    assert times[0] == np.datetime64("2020-03-01T08:00")


def test_offsets_may_differ_and_naive_cells_beside_zoned_ones_are_utc() -> None:
    cells = [
        "2020-03-01T10:00+02:00",
        "2020-03-01T09:00+00:00",
        "2020-03-01T10:00",
        "2020-03-01T11:00Z",
    ]
    kind, times = parse_times(cells, lines_of(4))
    assert kind == "zoned dates"
    assert [str(t)[11:16] for t in times] == ["08:00", "09:00", "10:00", "11:00"]


def test_naive_datetimes_are_dates_read_as_utc() -> None:
    kind, times = parse_times(["2020-03-01T10:00", "2020-03-01T11:00"], [2, 3])
    assert kind == "dates"
    assert times[0] == np.datetime64("2020-03-01T10:00")


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (["2020-01-01", "nope"], "line 3: time value 'nope' is not a time"),
        (["2020-01-01", "01/02/2020"], "line 3: time value '01/02/2020' is not a time"),
        (["1959Q1", "1959Q5"], "line 3: time value '1959Q5' is not a time"),
        (["1959M01", "1959M13"], "line 3: time value '1959M13' is not a time"),
        (["1959Q1", "0000Q1"], "line 3: time value '0000Q1' is not a time"),
        (["1959Q1", "1500Q1"], f"line 3: time '1500Q1' {OUTSIDE}"),
        (["1959Q1", "2262Q3"], f"line 3: time '2262Q3' {OUTSIDE}"),  # past 2262-04-11
        (["2020-01-01", "1500-01-01"], f"line 3: time '1500-01-01' {OUTSIDE}"),
        (["1959-01", "1677-12"], f"line 3: time '1677-12' {OUTSIDE}"),
        (["1959M01", "1677M12"], f"line 3: time '1677M12' {OUTSIDE}"),
        (["2020-01-01", "2262-04-11T01:00"], f"line 3: time '2262-04-11T01:00' {OUTSIDE}"),
        (["1", "nan"], "line 3: time value 'nan' is not a time"),
        (["1", "1e400"], "line 3: time value '1e400' is not finite"),
        (["1", " "], "line 3: the time is empty"),
    ],
)
def test_an_unreadable_cell_is_named_by_line_and_value(cells: list[str], message: str) -> None:
    error = refusal(parse_times, cells, lines_of(len(cells)))
    assert error.field == "file"
    assert error.message.startswith(message)


def test_numbers_after_dates_are_refused_naming_both() -> None:
    error = refusal(parse_times, ["2020-01-01", "2020-01-02", "5.5"], [2, 3, 4])
    assert error.field == "file"
    assert error.message.startswith(
        "line 4: time value '5.5' is a number, but line 2's '2020-01-01' is a date"
    )


def test_dates_after_numbers_are_refused_and_years_count_as_either() -> None:
    error = refusal(parse_times, ["1749", "0.5", "1959Q1"], [2, 3, 4])
    assert error.message.startswith(
        "line 4: time value '1959Q1' is a date, but line 3's '0.5' is a number"
    )


# --- find_time_column ----------------------------------------------------------------------


def test_a_named_time_column_is_used_and_an_absent_one_refused() -> None:
    assert find_time_column(["a", "when", "b"], "when") == 1
    error = refusal(find_time_column, ["a", "b"], "when")
    assert error.field == "time_column"
    assert "'when'" in error.message


@pytest.mark.parametrize(
    ("header", "found"),
    [
        (["value", "date"], 1),
        (["YEAR", "SUNACTIVITY"], 0),  # statsmodels' sunspots
        (["x", " Timestamp ", "ds"], 1),  # case-insensitive, stripped; the first one wins
        (["quarter", "gdp"], 0),
        (["a", "b"], None),
    ],
)
def test_known_time_names_are_found(header: list[str], found: int | None) -> None:
    assert find_time_column(header, None) == found


def test_an_unnamed_first_column_of_times_is_the_index() -> None:
    """pandas' to_csv() writes the index first under an empty name: read by its cells."""
    limits = Limits(max_rows=100, max_columns=8, max_series=1, max_series_id_length=8)
    dated = parse_csv(b",a\n2020-01-01,1\n2020-01-02,2\n", time_column=None, limits=limits)
    assert dated.columns == ["a"]
    assert dated.time_axis == TimeAxis("dates", "2020-01-01T00:00:00", "D", 2)
    ranged = parse_csv(b",a\n0,1\n1,2\n2,3\n", time_column=None, limits=limits)
    assert ranged.time_axis == TimeAxis("numbers", "0.0", "1.0", 3)  # a RangeIndex
    with pytest.raises(InvalidInput, match="column 1 has an empty name"):
        parse_csv(b",a\nx,1\ny,2\n", time_column=None, limits=limits)
    with pytest.raises(InvalidInput, match="is not a number"):  # a named column is a value
        parse_csv(b"v,a\n2020-01-01,1\n2020-01-02,2\n", time_column=None, limits=limits)


def read_csv_text(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def test_pandas_to_csv_with_a_monthly_index_round_trips() -> None:
    index = pd.date_range("1959-01-01", periods=24, freq="MS")
    frame = pd.DataFrame({"a": np.arange(24.0), "b": np.arange(24.0) * 2}, index=index)
    header, rows = read_csv_text(frame.to_csv())
    assert header[0] == ""  # pandas' unnamed index
    column = 0
    cells = [row[column] for row in rows]
    kind, times = parse_times(cells, lines_of(len(rows)))
    matrix = np.array([[float(c) for c in row[1:]] for row in rows])
    values, axis, filled = regularize(
        kind, times, matrix, header[1:], lines_of(len(rows)), freq=None, missing="error"
    )
    assert (axis.kind, axis.freq, axis.length) == ("dates", "MS", 24)
    assert axis.labels() == iso_days(index)
    assert np.array_equal(values, frame.to_numpy())
    assert filled == {"a": 0, "b": 0}


def test_pandas_to_csv_with_a_range_index_is_a_numeric_axis() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    header, rows = read_csv_text(frame.to_csv())
    assert header[0] == ""
    _, axis, _ = place([row[0] for row in rows])
    assert axis == TimeAxis("numbers", "0.0", "1.0", 3)


def test_statsmodels_year_column_of_floats_is_a_yearly_axis() -> None:
    cells = [f"{year}.0" for year in range(1700, 1710)]
    _, axis, _ = place(cells)
    assert axis == TimeAxis("dates", "1700-01-01T00:00:00", "YS-JAN", 10)
    assert axis.continued(1) == ["1710-01-01"]


# --- frequency inference -------------------------------------------------------------------

WEEKLY = [f"W-{day}" for day in ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")]
QUARTERLY = ["QS-JAN", "QS-FEB", "QS-MAR", "QE-DEC", "QE-NOV", "QE-OCT"]
YEARLY = ["YS-JAN", "YS-JUL", "YE-DEC", "YE-JUN"]


@pytest.mark.parametrize(
    "alias",
    ["h", "30min", "15min", "6h", "D", "2D", "B", *WEEKLY, "MS", "ME", *QUARTERLY, *YEARLY],
)
def test_infers_the_frequency_with_or_without_gaps(alias: str) -> None:
    index = pd.date_range("2021-01-01", periods=30, freq=alias)
    cells = [str(t.isoformat()) for t in index]
    _, axis, filled = place(cells)
    assert (axis.freq, axis.length, filled) == (alias, 30, {"y": 0})
    kept = [cell for i, cell in enumerate(cells) if i not in (3, 4, 17)]
    _, gapped, filled = place(kept, missing="zero")
    assert (gapped.freq, gapped.length, filled) == (alias, 30, {"y": 3})


def test_a_full_monday_to_friday_week_is_daily_but_two_are_business_daily() -> None:
    assert place(iso_days(pd.date_range("2024-01-01", periods=5)))[1].freq == "D"
    assert place(iso_days(pd.bdate_range("2024-01-01", periods=10)))[1].freq == "B"


def test_month_start_and_month_end_are_told_apart() -> None:
    assert place(["2020-01-01", "2020-02-01", "2020-03-01"])[1].freq == "MS"
    assert place(["2020-01-31", "2020-02-29", "2020-03-31"])[1].freq == "ME"
    assert place(["1959Q1", "1959Q2", "1959Q3"])[1].freq == "QS-JAN"
    assert place(["1959M01", "1959M02", "1959M04"], missing="zero")[1].freq == "MS"


@pytest.mark.parametrize(
    ("cells", "start", "step", "length"),
    [
        (["1", "2", "3", "5"], "1.0", "1.0", 5),
        (["0", "0.5", "1.0", "2.0"], "0.0", "0.5", 5),
        (["0.1", "0.2", "0.30000000000000004", "0.4"], "0.1", "0.1", 4),
        (["-3", "-1", "1", "3"], "-3.0", "2.0", 4),
    ],
)
def test_infers_a_numeric_step(cells: list[str], start: str, step: str, length: int) -> None:
    _, axis, _ = place(cells, missing="zero")
    assert axis == TimeAxis("numbers", start, step, length)


def test_a_given_freq_overrides_the_inferred_one() -> None:
    days = iso_days(pd.bdate_range("2024-01-01", periods=10))
    values, axis, filled = place(days, freq="D", missing="ffill")
    assert (axis.freq, axis.length, filled) == ("D", 12, {"y": 2})
    assert values[5:7, 0].tolist() == [4.0, 4.0]  # the weekend carries Friday forward
    hours = ["2024-01-01T00:00", "2024-01-01T01:00", "2024-01-01T02:00"]
    assert place(hours, freq="30min", missing="zero")[1].length == 5


def test_a_given_alias_is_canonical() -> None:
    weekly = iso_days(pd.date_range("2024-01-07", periods=3, freq="W-SUN"))
    assert place(weekly, freq="W")[1].freq == "W-SUN"
    quarterly = ["2024-01-01", "2024-04-01", "2024-07-01"]
    assert place(quarterly, freq="QS")[1].freq == "QS-JAN"


def test_a_given_numeric_step_and_bad_ones() -> None:
    assert place(["0", "1", "2"], freq="0.5", missing="zero")[1].length == 5
    for bad in ("D", "0", "-1", "x"):
        error = refusal(place, ["0", "1", "2"], freq=bad)
        assert error.field == "freq"
        assert "positive number" in error.message


PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3


@pytest.mark.parametrize(
    ("alias", "hint"),
    [
        ("XYZ", ""),
        ("2X", ""),
        pytest.param(
            "M",
            "(Please use 'ME' instead.)",
            marks=pytest.mark.skipif(
                not PANDAS_3, reason="pandas 2 still reads 'M' (deprecated) as 'ME'"
            ),
        ),
    ],
)
def test_an_unknown_alias_is_refused_on_freq(alias: str, hint: str) -> None:
    error = refusal(place, ["2020-01-01", "2020-02-01"], freq=alias)
    assert error.field == "freq"
    assert error.message.startswith(f"freq {alias!r} is not a pandas frequency alias")
    assert error.message.endswith(hint)


def test_times_off_a_given_freq_are_refused_on_freq() -> None:
    error = refusal(place, ["2020-01-01", "2020-02-01", "2020-02-15"], freq="MS")
    assert error.field == "freq"
    assert error.message == (
        "line 4: time 2020-02-15 does not fall on freq 'MS' counted from the first time "
        "2020-01-01 (line 2)"
    )
    error = refusal(place, ["2020-01-04", "2020-01-11"], freq="W-SUN")  # Saturdays
    assert error.message == "line 2: time 2020-01-04 does not fall on freq 'W-SUN'"


def test_one_time_needs_a_freq() -> None:
    assert refusal(place, ["2020-01-01"]).field == "freq"
    _, axis, _ = place(["2020-01-01"], freq="MS")
    assert axis.continued(2) == ["2020-02-01", "2020-03-01"]
    assert place(["7"], freq="1")[1] == TimeAxis("numbers", "7.0", "1.0", 1)


# --- order, repeats, irregular spacing ----------------------------------------------------


def test_rows_are_ordered_by_time() -> None:
    values, axis, _ = place(
        ["2020-03-01", "2020-01-01", "2020-02-01"], [[3.0, 30.0], [1.0, 10.0], [2.0, 20.0]],
        columns=("a", "b"),
    )  # fmt: skip
    assert axis.labels() == ["2020-01-01", "2020-02-01", "2020-03-01"]
    assert values.tolist() == [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]


@pytest.mark.parametrize(
    "cells",
    [["2020-01-02", "2020-01-01", "2020-01-03", "2020-01-01"], ["2", "1", "3", "1.0"]],
)
def test_a_repeated_time_names_both_lines(cells: list[str]) -> None:
    error = refusal(place, cells, missing="zero")
    assert error.message == "time repeated on line 3 and line 5; times must be unique"


def test_the_same_instant_in_two_zones_is_a_repeat() -> None:
    error = refusal(place, ["2020-01-01T10:00+01:00", "2020-01-01T09:00Z"])
    assert "line 2 and line 3" in error.message


def test_a_time_off_the_spacing_is_irregular_whatever_the_policy() -> None:
    cells = ["2020-01-01", "2020-02-01", "2020-03-01", "2020-03-15", "2020-04-01"]
    for missing in ("error", "interpolate", "ffill", "zero"):
        error = refusal(place, cells, missing=missing)
        assert (error.field, error.code) == ("file", "irregular_time_index")
        assert error.message == (
            "line 5: time 2020-03-15 breaks the regular spacing that the times take from "
            "2020-01-01 (line 2), 'MS' (monthly, first day); the time before it is 2020-03-01 "
            "(line 4)"
        )


def test_irregular_hours_and_numbers_name_the_break_and_the_spacing() -> None:
    hours = ["2020-01-01T00:00", "2020-01-01T01:00", "2020-01-01T02:00", "2020-01-01T02:20"]
    error = refusal(place, hours)
    assert error.message.startswith("line 5: time 2020-01-01T02:20:00 breaks the regular spacing")
    assert "'h' (every 1 hour)" in error.message
    error = refusal(place, ["0", "1", "2", "3", "3.5"])
    assert error.code == "irregular_time_index"
    assert error.message == (
        "line 6: time 3.5 breaks the regular spacing that the times take from 0.0 (line 2), "
        "a step of 1.0; the time before it is 3.0 (line 5)"
    )


def test_a_first_time_off_the_spacing_of_the_others_is_irregular() -> None:
    error = refusal(place, ["2020-01-15", "2020-02-01", "2020-03-01", "2020-04-01"])
    assert (error.field, error.code) == ("file", "irregular_time_index")
    assert error.message == (
        "line 2: the first time 2020-01-15 is off the spacing of the times after it, "
        "'MS' (monthly, first day)"
    )


def test_a_missing_time_is_irregular_under_the_error_policy() -> None:
    error = refusal(place, ["2020-01-01", "2020-02-01", "2020-05-01", "2020-06-01"])
    assert (error.field, error.code) == ("file", "irregular_time_index")
    assert error.message.startswith(
        "line 4: time 2020-05-01 follows 2020-02-01 (line 3), but the spacing is 'MS' "
        "(monthly, first day): 2 times missing from 2020-03-01"
    )
    error = refusal(place, ["0", "0.5", "1.5"])
    assert error.message.startswith("line 4: time 1.5 follows 0.5 (line 3), but the spacing is")


def test_times_too_sparse_for_their_spacing_are_refused() -> None:
    minutes = ["2020-01-01T00:00", "2020-01-01T00:01", "2020-01-01T00:02", "2021-01-01T00:00"]
    error = refusal(place, minutes, missing="zero")
    assert (error.field, error.code) == ("file", "irregular_time_index")
    assert "too sparse" in error.message
    error = refusal(place, ["2020-01-01", "2021-01-01"], freq="min", missing="zero")
    assert error.field == "freq"


# --- missing values ------------------------------------------------------------------------

NAN = float("nan")


def test_an_empty_cell_is_refused_under_the_error_policy() -> None:
    error = refusal(
        place, ["1", "2", "3"], [[1.0, 2.0], [3.0, NAN], [5.0, 6.0]], columns=("a", "x")
    )
    assert error.field == "file"
    assert error.message.startswith("line 3, column 'x': is empty; ")


def test_interpolation_is_linear_in_time() -> None:
    # January has 31 days and February 29 (2020): the March point is 60 days after January's.
    values, _, filled = place(
        ["2020-01-01", "2020-02-01", "2020-03-01"], [[0.0], [NAN], [60.0]], missing="interpolate"
    )
    assert values[:, 0].tolist() == [0.0, 31.0, 60.0]
    assert filled == {"y": 1}


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("interpolate", [1.0, 1.0, 2.0, 3.0, 3.0, 3.0]),  # the edges take the nearest value
        ("ffill", [1.0, 1.0, 1.0, 3.0, 3.0, 3.0]),  # the first row is filled backwards
        ("zero", [0.0, 1.0, 0.0, 3.0, 0.0, 0.0]),
    ],
)
def test_each_policy_fills_empty_cells_and_inserted_times(
    missing: MissingPolicy, expected: list[float]
) -> None:
    # Six hours: 00:00 empty, 01:00 = 1, 02:00 empty, 03:00 = 3, 04:00 missing, 05:00 empty.
    cells = ["2020-01-01T00:00", "2020-01-01T01:00", "2020-01-01T02:00", "2020-01-01T03:00"]
    cells.append("2020-01-01T05:00")
    rows = [[NAN, 10.0], [1.0, 11.0], [NAN, 12.0], [3.0, 13.0], [NAN, 15.0]]
    values, axis, filled = place(cells, rows, missing=missing, columns=("a", "b"))
    assert axis.length == 6
    assert values[:, 0].tolist() == expected
    assert filled == {"a": 4, "b": 1}
    assert not np.isnan(values).any()
    assert values.dtype == np.float64


def test_a_column_without_values_is_refused() -> None:
    error = refusal(place, ["1", "2"], [[1.0, NAN], [2.0, NAN]], missing="zero", columns=("a", "b"))
    assert (error.field, error.message) == ("file", "column 'b' has no values to fill from")


def test_a_co2_like_weekly_series_with_gaps_uploads_with_interpolation() -> None:
    weeks = pd.date_range("1958-03-29", periods=120, freq="W-SAT")
    level = 315.0 + 0.02 * np.arange(120) + np.sin(np.arange(120) / 8)
    removed = {5, 6, 7, 40, 41, 90}
    kept = [i for i in range(120) if i not in removed]
    cells = iso_days(weeks[kept])
    rows = [[level[i]] for i in kept]
    rows[20][0] = rows[60][0] = NAN  # empty cells too
    values, axis, filled = place(cells, rows, missing="interpolate", columns=("co2",))
    assert axis == TimeAxis("dates", "1958-03-29T00:00:00", "W-SAT", 120)
    assert axis.labels() == iso_days(weeks)
    assert filled == {"co2": len(removed) + 2}
    assert not np.isnan(values).any()
    present = [i for i in kept if i not in (kept[20], kept[60])]
    assert np.array_equal(values[present, 0], level[present])
    expected = np.interp(np.arange(120), present, level[present])  # weeks are evenly spaced
    assert np.allclose(values[:, 0], expected)
    assert axis.continued(2) == ["1960-07-16", "1960-07-23"]


# --- TimeAxis ------------------------------------------------------------------------------


def test_a_month_end_axis_continues_through_leap_february() -> None:
    axis = TimeAxis("dates", "2023-11-30T00:00:00", "ME", 3)
    assert axis.labels() == ["2023-11-30", "2023-12-31", "2024-01-31"]
    assert axis.continued(2) == ["2024-02-29", "2024-03-31"]


def test_weekly_quarterly_and_numeric_axes_continue() -> None:
    weekly = TimeAxis("dates", "2024-01-06T00:00:00", "W-SAT", 2)
    assert weekly.labels() == ["2024-01-06", "2024-01-13"]
    assert weekly.continued(1) == ["2024-01-20"]
    quarterly = TimeAxis("dates", "2023-12-31T00:00:00", "QE-DEC", 2)
    assert quarterly.continued(2) == ["2024-06-30", "2024-09-30"]
    numeric = TimeAxis("numbers", "0.1", "0.1", 3)
    assert numeric.labels() == ["0.1", "0.2", "0.3"]
    assert numeric.continued(2) == ["0.4", "0.5"]
    assert numeric.continued(0) == []
    with pytest.raises(ValueError, match="negative"):
        numeric.continued(-1)


def test_sub_daily_axes_write_datetimes_and_zoned_ones_their_offset() -> None:
    cells = ["2020-03-29T00:00+01:00", "2020-03-29T01:00+01:00", "2020-03-29T03:00+02:00"]
    _, axis, _ = place(cells)  # the clocks went forward: hourly all the same in UTC
    assert axis == TimeAxis("dates", "2020-03-28T23:00:00+00:00", "h", 3)
    assert axis.labels()[1] == "2020-03-29T00:00:00+00:00"
    assert axis.continued(1) == ["2020-03-29T02:00:00+00:00"]
    naive = TimeAxis("dates", "2020-01-01T00:00:00", "h", 1)
    assert naive.labels() == ["2020-01-01T00:00:00"]  # an hourly axis: times even at midnight


def test_an_axis_can_continue_past_datetime64_ns() -> None:
    axis = TimeAxis("dates", "2261-01-01T00:00:00", "YS-JAN", 2)
    assert axis.continued(2) == ["2263-01-01", "2264-01-01"]


@pytest.mark.parametrize(
    "axis",
    [
        TimeAxis("dates", "2020-01-31T00:00:00", "ME", 12),
        TimeAxis("dates", "2020-01-01T00:00:00+00:00", "30min", 48),
        TimeAxis("numbers", "1749.0", "1.0", 3),
    ],
)
def test_an_axis_round_trips_through_json(axis: TimeAxis) -> None:
    assert TimeAxis.from_json(json.loads(json.dumps(axis.to_json()))) == axis


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "days", "start": "2020-01-01T00:00:00", "freq": "D", "length": 1},
        {"kind": "dates", "start": "now", "freq": "D", "length": 1},
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "M", "length": 1},
        {"kind": "dates", "start": "2020-01-02T00:00:00", "freq": "MS", "length": 1},
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "-1D", "length": 1},
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "D", "length": 0},
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "D", "length": True},
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "D", "length": "1"},
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "D"},
        {"kind": "numbers", "start": "x", "freq": "1.0", "length": 1},
        {"kind": "numbers", "start": "0.0", "freq": "0", "length": 1},
        {"kind": "numbers", "start": "Infinity", "freq": "1.0", "length": 1},
    ],
)
def test_a_malformed_axis_is_a_value_error(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each entry fails its own way
        TimeAxis.from_json(data)


# --- purity --------------------------------------------------------------------------------


@pytest.mark.parametrize("module", TIME_MODULES)
def test_the_time_modules_import_no_web_or_database_library(module: str) -> None:
    path = Path(app.datasets.__file__).parent / f"{module}.py"
    tree = ast.parse(path.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    allowed = {"__future__", "math", "re", "warnings", "dataclasses", "datetime", "decimal"}
    allowed |= {"collections.abc", "functools"}
    allowed |= {"typing", "numpy", "pandas", "pandas.tseries.frequencies", "app.core.errors"}
    allowed |= {f"app.datasets.{sibling}" for sibling in TIME_MODULES}
    assert imported <= allowed


@pytest.mark.parametrize(
    "axis",
    [
        TimeAxis("dates", "2020-01-31T00:00:00", "ME", 14),
        TimeAxis("dates", "2020-01-01T00:00:00+00:00", "30min", 50),
        TimeAxis("dates", "2024-01-05T00:00:00", "B", 9),
        TimeAxis("dates", "2020-01-01T06:00:00", "D", 3),
        TimeAxis("dates", "2024-01-07T00:00:00", "W-SUN", 5),
        TimeAxis("numbers", "0.1", "0.1", 7),
    ],
)
def test_each_point_is_written_as_the_labels_write_it(axis: TimeAxis) -> None:
    assert [axis.point(index) for index in range(axis.length)] == axis.labels()
