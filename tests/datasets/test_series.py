"""app.datasets.values: the checks shared by JSON uploads, inline job data and contexts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from app.core.config import Settings
from app.core.errors import InvalidInput
from app.datasets.values import (
    MAX_ABS_VALUE,
    Limits,
    check_columns,
    check_values,
    column_stats,
    default_columns,
    to_matrix,
)

LIMITS = Limits(max_rows=100, max_columns=8, max_series=1, max_series_id_length=8)


def test_flat_list_becomes_one_column_named_value() -> None:
    matrix, names = to_matrix([1.0, 2.5, -3.0], None, field="values", limits=LIMITS)
    assert names == ["value"]
    assert matrix.dtype == np.float64
    assert matrix.shape == (3, 1)
    assert matrix[:, 0].tolist() == [1.0, 2.5, -3.0]


def test_rows_without_names_get_value_1_value_2_and_so_on() -> None:
    matrix, names = to_matrix([[1, 2, 3], [4, 5, 6]], None, field="values", limits=LIMITS)
    assert names == ["value_1", "value_2", "value_3"]
    assert matrix.shape == (2, 3)
    assert matrix.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_rows_keep_the_given_column_names_in_order() -> None:
    matrix, names = to_matrix([[1, 2], [3, 4]], ["load", "temp"], field="values", limits=LIMITS)
    assert names == ["load", "temp"]
    assert matrix.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_flat_list_with_one_given_name_uses_that_name() -> None:
    matrix, names = to_matrix([1, 2], ["load"], field="values", limits=LIMITS)
    assert names == ["load"]
    assert matrix.shape == (2, 1)


def test_default_columns_names_one_column_value_and_several_value_n() -> None:
    assert default_columns(1) == ["value"]
    assert default_columns(2) == ["value_1", "value_2"]
    assert default_columns(4)[-1] == "value_4"


def test_empty_values_are_rejected_as_no_rows() -> None:
    with pytest.raises(InvalidInput) as caught:
        to_matrix([], None, field="values", limits=LIMITS)
    assert caught.value.field == "values"
    assert caught.value.status_code == 422
    assert caught.value.code == "invalid_input"
    assert "no rows" in caught.value.message


def test_rows_with_no_values_are_rejected() -> None:
    with pytest.raises(InvalidInput) as caught:
        to_matrix([[], []], None, field="values", limits=LIMITS)
    assert caught.value.field == "values"
    assert "no values" in caught.value.message


def test_ragged_row_is_rejected_naming_the_row_and_both_widths() -> None:
    with pytest.raises(InvalidInput) as caught:
        to_matrix([[1, 2], [3, 4], [5]], None, field="data.values", limits=LIMITS)
    assert caught.value.field == "data.values[2]"
    assert "row 3" in caught.value.message
    assert "1 values" in caught.value.message
    assert "expected 2" in caught.value.message


def test_rows_wider_than_the_column_names_are_rejected() -> None:
    with pytest.raises(InvalidInput) as caught:
        to_matrix([[1, 2], [3, 4]], ["only"], field="values", limits=LIMITS)
    assert caught.value.field == "values[0]"
    assert "row 1 has 2 values" in caught.value.message
    assert "expected 1" in caught.value.message


def test_flat_list_with_two_column_names_is_a_width_mismatch() -> None:
    with pytest.raises(InvalidInput) as caught:
        to_matrix([1, 2, 3], ["a", "b"], field="values", limits=LIMITS)
    assert caught.value.field == "values[0]"
    assert "expected 2" in caught.value.message


def test_values_at_the_magnitude_limit_are_accepted() -> None:
    matrix, _ = to_matrix([MAX_ABS_VALUE, -MAX_ABS_VALUE, 0.0], None, field="v", limits=LIMITS)
    assert matrix[:, 0].tolist() == [1e15, -1e15, 0.0]


@pytest.mark.parametrize("huge", [1e15 * 1.0000001, -2e15, 1e300])
def test_values_over_1e15_in_size_are_rejected_naming_row_and_column(huge: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_matrix([[1.0, 2.0], [3.0, huge]], ["a", "b"], field="values", limits=LIMITS)
    assert caught.value.field == "values"
    assert "row 2" in caught.value.message
    assert "'b'" in caught.value.message
    assert "1e+15" in caught.value.message


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values_are_rejected_naming_row_and_column(bad: float) -> None:
    with pytest.raises(InvalidInput) as caught:
        to_matrix([1.0, 2.0, bad, 4.0], None, field="values", limits=LIMITS)
    assert caught.value.field == "values"
    assert "row 3" in caught.value.message
    assert "'value'" in caught.value.message
    assert "not finite" in caught.value.message


def test_check_values_names_the_first_bad_cell_in_row_order() -> None:
    matrix = np.array([[1.0, 2.0], [3.0, np.inf], [np.nan, 5.0]])
    with pytest.raises(InvalidInput) as caught:
        check_values(matrix, ["x", "y"], "file")
    assert caught.value.field == "file"
    assert caught.value.message == "row 2, column 'y': value is not finite"


def test_check_values_returns_a_clean_matrix_unchanged() -> None:
    matrix = np.array([[1.0, -2.0], [0.0, 1e15]])
    assert check_values(matrix, ["x", "y"], "file") is matrix


def test_limits_are_the_settings_they_are_built_from() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        max_dataset_rows=20,
        max_dataset_columns=3,
        max_series=7,
        max_series_id_length=9,
    )
    assert Limits.of(settings) == Limits(
        max_rows=20, max_columns=3, max_series=7, max_series_id_length=9
    )


def test_rows_over_the_limit_are_rejected_naming_the_limit() -> None:
    limits = replace(LIMITS, max_rows=10)
    to_matrix(list(range(10)), None, field="values", limits=limits)  # exactly at the limit
    with pytest.raises(InvalidInput) as caught:
        to_matrix(list(range(11)), None, field="values", limits=limits)
    assert caught.value.field == "values"
    assert "11 rows" in caught.value.message
    assert "at most 10" in caught.value.message


def test_columns_over_the_limit_are_rejected_naming_the_limit() -> None:
    limits = replace(LIMITS, max_rows=10, max_columns=2)
    to_matrix([[1, 2]], None, field="values", limits=limits)  # exactly at the limit
    with pytest.raises(InvalidInput) as caught:
        to_matrix([[1, 2, 3]], None, field="values", limits=limits)
    assert caught.value.field == "values"  # no `columns` was sent: the rows are at fault
    assert "3 columns" in caught.value.message
    assert "at most 2" in caught.value.message


def test_check_columns_rejects_an_empty_name_by_position() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_columns(["a", "  ", "c"], "columns", LIMITS)
    assert caught.value.field == "columns"
    assert caught.value.message == "column 2 has an empty name"


def test_check_columns_rejects_a_duplicate_name() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_columns(["a", "b", "a"], "file", LIMITS)
    assert caught.value.field == "file"
    assert "duplicate" in caught.value.message
    assert "'a'" in caught.value.message


def test_check_columns_rejects_a_name_over_64_characters() -> None:
    check_columns(["x" * 64], "columns", LIMITS)
    with pytest.raises(InvalidInput) as caught:
        check_columns(["ok", "x" * 65], "columns", LIMITS)
    assert "column 2" in caught.value.message
    assert "64" in caught.value.message


def test_check_columns_returns_the_names_as_a_list() -> None:
    assert check_columns(("a", "b"), "columns", LIMITS) == ["a", "b"]


def test_column_stats_match_numpy_exactly() -> None:
    matrix = np.array([[0.1, 10.0], [0.7, -3.5], [-2.5, 2.25], [3.25, 1e-3], [1e3, 7.0]])
    stats = column_stats(matrix, ["a", "b"])
    assert [s["name"] for s in stats] == ["a", "b"]
    for index, stat in enumerate(stats):
        column = matrix[:, index]
        assert stat["min"] == float(np.min(column))
        assert stat["max"] == float(np.max(column))
        assert stat["mean"] == float(np.mean(column))
        assert stat["std"] == float(np.std(column))  # population std (ddof=0)
