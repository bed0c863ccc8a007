"""app.datasets.csv_format.parse_csv and the stored values' exact round trip."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.core.errors import InvalidInput, NotFound
from app.datasets import DatasetRepository, Limits, create_dataset, load_values
from app.datasets.csv_format import parse_csv

LIMITS = Limits(max_rows=1000, max_columns=8, max_series=100, max_series_id_length=64)


def parse(text: str | bytes, time_column: str | None = None) -> tuple[np.ndarray, list[str]]:
    data = text.encode() if isinstance(text, str) else text
    series = parse_csv(data, time_column=time_column, limits=LIMITS)
    return series.matrix, series.columns


def rejection(text: str | bytes, time_column: str | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse(text, time_column)
    return caught.value


def test_parses_numeric_columns_in_file_order_without_a_time_column() -> None:
    matrix, columns = parse("a,b\n3,30\n1,10\n2,20\n")
    assert columns == ["a", "b"]
    assert matrix.dtype == np.float64
    assert matrix.tolist() == [[3.0, 30.0], [1.0, 10.0], [2.0, 20.0]]


def test_numeric_time_column_orders_rows_and_is_dropped() -> None:
    matrix, columns = parse("time,a,b\n3,30,300\n1,10,100\n2,20,200\n")
    assert columns == ["a", "b"]
    assert matrix.tolist() == [[10.0, 100.0], [20.0, 200.0], [30.0, 300.0]]


def test_iso_dates_order_rows_chronologically_not_alphabetically() -> None:
    text = "date,load\n2024-02-01,2\n2023-12-01,0\n2024-01-01,1\n2024-03-01,3\n"
    matrix, columns = parse(text)
    assert columns == ["load"]
    assert matrix[:, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_iso_datetimes_with_offsets_are_ordered_by_instant() -> None:
    # 01:00+02:00 is 23:00Z the day before, so it comes first: half-hourly in UTC.
    text = (
        "timestamp,v\n"
        "2024-01-01T00:30:00Z,3\n"
        "2024-01-01T01:00:00+02:00,1\n"
        "2023-12-31T23:30:00+00:00,2\n"
        "2024-01-01T00:00:00Z,2.5\n"
    )
    matrix, _ = parse(text)
    assert matrix[:, 0].tolist() == [1.0, 2.0, 2.5, 3.0]


@pytest.mark.parametrize("name", ["time", "timestamp", "date", "datetime", "ds", "Time", "DS"])
def test_time_column_is_detected_by_name_in_any_case(name: str) -> None:
    matrix, columns = parse(f"x,{name}\n5,2\n4,1\n")
    assert columns == ["x"]
    assert matrix[:, 0].tolist() == [4.0, 5.0]


def test_named_time_column_is_used_and_a_column_called_time_stays_a_value() -> None:
    matrix, columns = parse("time,t\n1,20\n2,10\n", time_column="t")
    assert columns == ["time"]
    assert matrix[:, 0].tolist() == [2.0, 1.0]


def test_order_is_stable_for_values_already_in_time_order() -> None:
    times = np.arange(50)
    text = "time,v\n" + "".join(f"{t},{t * 0.5}\n" for t in times)
    matrix, _ = parse(text)
    assert matrix[:, 0].tolist() == (times * 0.5).tolist()


def test_shuffled_rows_come_back_in_time_order() -> None:
    rng = np.random.default_rng(7)
    order = rng.permutation(200)
    text = "ds,v,w\n" + "".join(f"{t},{t * 1.5},{-t}\n" for t in order)
    matrix, columns = parse(text)
    assert columns == ["v", "w"]
    assert matrix[:, 0].tolist() == (np.arange(200) * 1.5).tolist()
    assert matrix[:, 1].tolist() == (-np.arange(200.0)).tolist()


def test_utf8_byte_order_mark_crlf_and_quoted_cells_are_accepted() -> None:
    matrix, columns = parse('\ufeff"a","b"\r\n"1.5",2\r\n3,"-4e2"\r\n'.encode())
    assert columns == ["a", "b"]
    assert matrix.tolist() == [[1.5, 2.0], [3.0, -400.0]]


def test_header_names_and_cells_are_stripped_of_spaces() -> None:
    matrix, columns = parse(" a , b \n 1 , 2 \n")
    assert columns == ["a", "b"]
    assert matrix.tolist() == [[1.0, 2.0]]


def test_blank_lines_are_skipped() -> None:
    matrix, _ = parse("a\n1\n\n2\n\n")
    assert matrix[:, 0].tolist() == [1.0, 2.0]


def test_non_numeric_cell_names_line_and_column() -> None:
    error = rejection("a,b\n1,2\n3,abc\n")
    assert error.field == "file"
    assert error.message == "line 3, column 'b': 'abc' is not a number"


def test_line_numbers_count_blank_lines() -> None:
    error = rejection("a,b\n1,2\n\n3,x\n")
    assert "line 4" in error.message
    assert "'b'" in error.message


def test_empty_cell_names_line_and_column() -> None:
    error = rejection("a,b\n1,2\n3, \n")
    assert error.field == "file"
    assert error.message.startswith("line 3, column 'b': is empty; to fill empty cells")
    assert "missing=interpolate, ffill or zero" in error.message


def test_ragged_row_names_line_and_both_widths() -> None:
    error = rejection("a,b\n1,2\n3\n")
    assert error.field == "file"
    assert error.message == "line 3 has 1 cells; the header has 2"


def test_empty_file_and_header_only_are_rejected() -> None:
    assert "empty" in rejection("").message
    assert "no rows" in rejection("a,b\n").message
    assert "no rows" in rejection("a,b\n\n\n").message


def test_time_column_alone_leaves_no_value_columns() -> None:
    error = rejection("time\n1\n2\n")
    assert error.field == "file"
    assert "no value columns" in error.message


def test_unknown_time_column_is_named() -> None:
    error = rejection("a,b\n1,2\n", time_column="when")
    assert error.field == "time_column"
    assert "'when'" in error.message


def test_repeated_time_value_is_rejected() -> None:
    error = rejection("time,a\n1,1\n2,2\n1,3\n")
    assert error.field == "time_column"
    assert "repeated" in error.message


def test_the_same_instant_written_with_two_offsets_is_a_repeat() -> None:
    error = rejection("time,a\n2024-01-01T02:00:00+02:00,1\n2024-01-01T00:00:00Z,2\n")
    assert "repeated" in error.message


def test_time_cell_that_is_no_number_or_date_names_its_line() -> None:
    error = rejection("time,a\n1,1\nyesterday,2\n")
    assert error.field == "file"
    assert "line 3" in error.message
    assert "yesterday" in error.message


def test_non_finite_time_value_names_its_line() -> None:
    error = rejection("time,a\n1,1\ninf,2\n")
    assert error.message.startswith("line 3: time value 'inf' is not a time")


def test_rows_over_the_limit_are_rejected_naming_the_limit() -> None:
    limits = replace(LIMITS, max_rows=10)
    text = "a\n" + "1\n" * 10
    assert parse_csv(text.encode(), time_column=None, limits=limits)[0].shape == (10, 1)
    with pytest.raises(InvalidInput) as caught:
        parse_csv((text + "1\n").encode(), time_column=None, limits=limits)
    assert caught.value.field == "file"
    assert "10 rows" in caught.value.message


def test_time_column_does_not_count_against_the_column_limit() -> None:
    limits = replace(LIMITS, max_rows=10, max_columns=2)
    series = parse_csv(b"time,a,b\n1,2,3\n2,3,4\n", time_column=None, limits=limits)
    assert series.columns == ["a", "b"]
    with pytest.raises(InvalidInput) as caught:
        parse_csv(b"a,b,c\n1,2,3\n", time_column=None, limits=limits)
    assert "at most 2" in caught.value.message


def test_not_utf8_is_rejected() -> None:
    error = rejection(b"a\n1\n\xff\xfe\n")
    assert error.field == "file"
    assert "UTF-8" in error.message


def test_stored_values_round_trip_bit_for_bit(datasets: DatasetRepository) -> None:
    # Values chosen to expose any text or float32 detour: 0.1, -0.0, a subnormal, the limit.
    text = "time,a,b\n4,5e-324,1e15\n1,0.1,-0.0\n3,-1e15,123456789.123456789\n2,1e-300,2.5\n"
    matrix, columns = parse(text)
    row = create_dataset(datasets=datasets, name="exact", matrix=matrix, columns=columns)
    loaded, loaded_columns, _, _ = load_values(datasets=datasets, dataset_id=row.id)
    assert loaded_columns == ["a", "b"]
    assert loaded.dtype == np.float64
    assert loaded.shape == (4, 2)
    assert loaded.tobytes() == matrix.tobytes()
    assert loaded[:, 0].tolist() == [0.1, 1e-300, -1e15, 5e-324]
    assert np.signbit(loaded[0, 1])  # -0.0 keeps its sign


def test_stored_stats_match_numpy_on_the_parsed_matrix(datasets: DatasetRepository) -> None:
    matrix, columns = parse("a,b\n0.1,10\n0.7,-3.5\n-2.5,2.25\n3.25,0.001\n")
    row = create_dataset(datasets=datasets, name=None, matrix=matrix, columns=columns)
    stored = datasets.get(row.id)
    assert stored is not None
    assert stored.rows == 4
    for index, stat in enumerate(stored.stats):
        assert stat["name"] == columns[index]
        assert stat["min"] == float(np.min(matrix[:, index]))
        assert stat["max"] == float(np.max(matrix[:, index]))
        assert stat["mean"] == float(np.mean(matrix[:, index]))
        assert stat["std"] == float(np.std(matrix[:, index]))


def test_loading_an_unknown_dataset_is_not_found(datasets: DatasetRepository) -> None:
    with pytest.raises(NotFound):
        load_values(datasets=datasets, dataset_id="0" * 32)


@pytest.mark.parametrize("cell", ["١٢٣", "１２３", "1_000", "0x10", "1e", "--1", "½"])
def test_only_ascii_decimal_numbers_are_numbers(cell: str) -> None:
    error = rejection(f"a,b\n1,2\n{cell},3\n")
    assert error.message == f"line 3, column 'a': {cell!r} is not a number"


@pytest.mark.parametrize(("cell", "value"), [(" 12 ", 12.0), ("+1.5e3", 1500.0), (".5", 0.5)])
def test_ascii_numbers_in_every_usual_form_are_read(cell: str, value: float) -> None:
    matrix, _ = parse(f"a\n{cell}\n")
    assert matrix[0, 0] == value


def test_one_leading_byte_order_mark_is_stripped_and_no_other() -> None:
    matrix, columns = parse("\ufeffa,b\n1,2\n".encode())
    assert columns == ["a", "b"]
    error = rejection("\ufeff\ufeffa,b\n1,2\n".encode())
    assert "U+FEFF" in error.message
    assert "U+FEFF" in rejection("a,\ufeffb\n1,2\n").message


def test_a_time_column_of_numbers_and_dates_is_refused() -> None:
    error = rejection("time,a\n1,1\n2020-01-02,2\n")
    assert error.message.startswith("line 3: time value '2020-01-02' is a date, but line 2's")
    error = rejection("date,a\n2020-01-01,1\n1577923200,2\n")
    assert error.message.startswith("line 3: time value '1577923200' is a number, but line 2's")


def test_numbers_too_big_for_a_float_are_not_finite() -> None:
    assert rejection("time,a\n1e400,1\n2,2\n").message.startswith("line 2: time value '1e400'")
    assert rejection("a\n1e400\n").message == "line 2, column 'a': value is not finite"


@pytest.mark.parametrize("cell", ["2020-01-01", "2020-01-01T06:00", "1959-01", "1959M01", "1959Q1"])
def test_a_time_under_another_column_name_says_to_name_the_time_column(cell: str) -> None:
    error = rejection(f"day,y\n{cell},1\n")
    assert error.message.startswith(f"line 2, column 'day': {cell!r} is not a number, but a time")
    assert "time_column" in error.message
