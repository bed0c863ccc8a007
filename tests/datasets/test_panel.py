"""Many series in one dataset: long and wide CSV, JSON series, their limits, the stored round
trip through load_values and series_lengths, and season_length."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from app.core.errors import InvalidInput
from app.datasets import (
    DatasetRepository,
    Limits,
    SeriesPart,
    TimeAxis,
    create_dataset,
    load_values,
    season_length,
)
from app.datasets.csv_format import parse_csv
from app.datasets.json_panel import parse_series
from app.datasets.parsed import ParsedSeries
from app.datasets.schemas import DatasetUpload

LIMITS = Limits(max_rows=1000, max_columns=8, max_series=5, max_series_id_length=8)


def parse(text: str, limits: Limits = LIMITS, **options: str) -> ParsedSeries:
    return parse_csv(text.encode(), time_column=None, limits=limits, **options)  # type: ignore[arg-type]


def refusal(text: str, limits: Limits = LIMITS, **options: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse(text, limits, **options)
    return caught.value


# -- long CSV ---------------------------------------------------------------------------------


def test_long_csv_interleaved_ids_are_series_in_order_of_first_appearance() -> None:
    text = (
        "date,Unique_ID,y\n"
        "2024-01-03,b,30\n2024-01-01,a,1\n2024-01-02,b,20\n2024-01-02,a,2\n2024-01-04,b,40\n"
    )
    parsed = parse(text)
    assert parsed.columns == ["y"]
    assert parsed.matrix[:, 0].tolist() == [20.0, 30.0, 40.0, 1.0, 2.0]
    assert parsed.series == [
        SeriesPart("b", 3, TimeAxis("dates", "2024-01-02T00:00:00", "D", 3)),
        SeriesPart("a", 2, TimeAxis("dates", "2024-01-01T00:00:00", "D", 2)),
    ]
    assert parsed.time_axis is None


def test_a_pandas_long_frame_round_trips() -> None:
    frames = [
        pd.DataFrame(
            {
                "unique_id": name,
                "ds": pd.date_range(start, periods=length, freq="MS"),
                "y": np.arange(length, dtype=float) + offset,
                "x": np.arange(length, dtype=float) * 2,
            }
        )
        for name, start, length, offset in [("s1", "2020-01-01", 5, 0), ("s2", "2021-06-01", 3, 9)]
    ]
    parsed = parse(pd.concat(frames).to_csv(index=False))
    assert parsed.columns == ["y", "x"]
    assert [(part.id, part.rows) for part in parsed.series or []] == [("s1", 5), ("s2", 3)]
    assert [part.time_axis.freq for part in parsed.series or [] if part.time_axis] == ["MS", "MS"]
    expected = pd.concat(frames)[["y", "x"]].to_numpy()
    assert parsed.matrix.tolist() == expected.tolist()


def test_id_column_by_form_field_and_without_a_time_column_rows_stay_in_file_order() -> None:
    parsed = parse("shop,v\nx,3\ny,1\nx,2\n", id_column="shop")
    assert parsed.matrix[:, 0].tolist() == [3.0, 2.0, 1.0]
    assert parsed.series == [SeriesPart("x", 2, None), SeriesPart("y", 1, None)]


def test_a_one_row_series_takes_the_frequency_the_others_share() -> None:
    parsed = parse("id,time,v\na,1,1\na,2,2\na,3,3\nb,10,5\n")
    assert parsed.series is not None
    assert parsed.series[1] == SeriesPart("b", 1, TimeAxis("numbers", "10.0", "1.0", 1))


def test_different_inferred_frequencies_are_refused_naming_both_unless_freq_is_given() -> None:
    text = "id,date,v\na,2024-01-01,1\na,2024-01-02,2\nb,2024-01-01,1\nb,2024-02-01,2\n"
    error = refusal(text)
    assert (error.code, error.field) == ("mixed_frequencies", "freq")
    assert "'a'" in error.message
    assert "'D'" in error.message
    assert "'b'" in error.message
    assert "'MS'" in error.message
    parsed = parse(text, freq="D", missing="zero")
    assert [part.rows for part in parsed.series or []] == [2, 32]


def test_missing_applies_to_each_series_and_filled_counts_by_series() -> None:
    text = (
        "id,date,v\na,2024-01-01,1\na,2024-01-04,4\na,2024-01-05,5\n"
        "b,2024-01-01,5\nb,2024-01-02,\nb,2024-01-03,7\n"
    )
    parsed = parse(text, missing="interpolate")
    assert parsed.matrix[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0, 7.0]
    assert parsed.series_filled == [{"v": 2}, {"v": 1}]
    assert parsed.filled == {"v": 3}
    assert parse(text, missing="zero").matrix[:, 0].tolist()[:5] == [1.0, 0.0, 0.0, 4.0, 5.0]
    error = refusal(text)
    assert error.message.startswith("series 'a': line 3")


@pytest.mark.parametrize(
    ("text", "code", "mentions"),
    [
        (
            "id,date,v\na,2024-01-01,1\nb,2024-01-01,2\na,2024-01-01,3\n",
            "duplicate_time",
            ["'a'", "2024-01-01", "line 2", "line 4"],
        ),
        ("id,v\na,1\n,2\n", "invalid_series_id", ["line 3", "empty"]),
        ("id,v\na,1\n\u200bb,2\n", "invalid_series_id", ["line 3", "U+200B"]),
        ("id,v\na,1\nabcdefghi,2\n", "series_id_too_long", ["line 3", "FORECAST_MAX_SERIES_ID"]),
        ("id,v\n" + "".join(f"s{i},1\n" for i in range(6)), "too_many_series", ["at most 5"]),
    ],
)
def test_bad_long_files_are_refused(text: str, code: str, mentions: list[str]) -> None:
    error = refusal(text)
    assert (error.code, error.field) == (code, "file")
    for expected in mentions:
        assert expected in error.message, error.message


def test_rows_over_the_limit_count_every_series_and_stop_the_reading() -> None:
    limits = replace(LIMITS, max_rows=10)
    text = "id,v\n" + "".join(f"s{i % 3},{i}\n" for i in range(10))
    assert parse(text, limits).matrix.shape == (10, 1)
    error = refusal(text + "s0,1\n" + "not a number at all\n", limits)
    assert error.code == "too_many_rows"
    assert "at most 10 rows (FORECAST_MAX_DATASET_ROWS)" in error.message
    wide = "a,b\n" + "1,2\n" * 6  # 6 rows in the file, 12 in its two series
    assert refusal(wide, limits, layout="columns_are_series").code == "too_many_rows"
    gaps = "id,time,v\na,1,1\na,9,2\nb,1,1\nb,2,2\n"  # 9 + 2 rows once a's gaps are filled
    assert refusal(gaps, limits, missing="zero", freq="1").code == "too_many_rows"


# -- wide CSV ---------------------------------------------------------------------------------


def test_wide_columns_are_series_trimmed_at_their_ends() -> None:
    text = "date,north,south\n2024-01-01,,5\n2024-01-02,1,6\n2024-01-03,,7\n2024-01-04,3,\n"
    parsed = parse(text, layout="columns_are_series", missing="interpolate")
    assert parsed.columns == ["value"]
    assert parsed.matrix[:, 0].tolist() == [1.0, 2.0, 3.0, 5.0, 6.0, 7.0]
    assert [(p.id, p.rows, p.time_axis and p.time_axis.start) for p in parsed.series or []] == [
        ("north", 3, "2024-01-02T00:00:00"),
        ("south", 3, "2024-01-01T00:00:00"),
    ]
    assert parsed.series_filled == [{"value": 1}, {"value": 0}]
    assert refusal(text, layout="columns_are_series").message.startswith("series 'north': line")


def test_wide_limits_and_empty_columns_are_refused_before_storing() -> None:
    many = ",".join(f"c{i}" for i in range(6))
    assert refusal(f"{many}\n" + "1," * 5 + "1\n", layout="columns_are_series").code == (
        "too_many_series"
    )
    error = refusal("a,b\n1,\n2,\n", layout="columns_are_series")
    assert (error.code, error.field) == ("empty_series", "file")
    assert refusal("a,b\n1,2\n", layout="columns_are_series", id_column="a").field == "id_column"


# -- JSON -------------------------------------------------------------------------------------


def json_upload(body: dict[str, object], limits: Limits = LIMITS) -> ParsedSeries:
    return parse_series(DatasetUpload.model_validate(body), limits=limits)


def json_refusal(body: dict[str, object], limits: Limits = LIMITS) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        json_upload(body, limits)
    return caught.value


def test_json_series_flat_or_rows_with_shared_columns() -> None:
    parsed = json_upload(
        {
            "columns": ["y", "x"],
            "series": [
                {"id": "a", "start": "2024-01-01", "freq": "D", "values": [[1, 2], [3, 4]]},
                {"id": "b", "start": "2024-03-01", "freq": "D", "values": [[5, 6]]},
            ],
        }
    )
    assert parsed.matrix.tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert parsed.series == [
        SeriesPart("a", 2, TimeAxis("dates", "2024-01-01T00:00:00", "D", 2)),
        SeriesPart("b", 1, TimeAxis("dates", "2024-03-01T00:00:00", "D", 1)),
    ]
    flat = json_upload({"series": [{"id": "a", "values": [1, 2]}, {"id": "b", "values": [3]}]})
    assert (flat.columns, flat.series) == (
        ["value"],
        [SeriesPart("a", 2, None), SeriesPart("b", 1, None)],
    )


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"values": [1], "series": [{"id": "a", "values": [1]}]}, "values", "invalid_input"),
        ({"series": []}, "series", "empty_series"),
        ({"series": [{"id": "a", "values": []}]}, "series[0].values", "empty_series"),
        ({"series": [{"id": " ", "values": [1]}]}, "series[0].id", "invalid_series_id"),
        ({"series": [{"id": "123456789", "values": [1]}]}, "series[0].id", "series_id_too_long"),
        (
            {"series": [{"id": "a", "values": [1]}, {"id": "a", "values": [2]}]},
            "series[1].id",
            "duplicate_series_id",
        ),
        (
            {"series": [{"id": "a", "values": [1]}, {"id": "b", "values": [[2, 3]]}]},
            "series[1].values",
            "invalid_input",
        ),
        (
            {
                "series": [
                    {"id": "a", "values": [1], "start": "2024-01-01", "freq": "D"},
                    {"id": "b", "values": [1]},
                ]
            },
            "series[1].start",
            "invalid_input",
        ),
        (
            {
                "series": [
                    {"id": "a", "values": [1], "start": "2024-01-01", "freq": "D"},
                    {"id": "b", "values": [1], "start": "2024-01-01", "freq": "MS"},
                ]
            },
            "series[1].freq",
            "mixed_frequencies",
        ),
        (
            {"series": [{"id": "a", "values": [1], "start": "x", "freq": "D"}]},
            "series[0].start",
            "invalid_input",
        ),
        (
            {"series": [{"id": f"s{i}", "values": [1]} for i in range(6)]},
            "series",
            "too_many_series",
        ),
    ],
)
def test_bad_json_series_are_refused_naming_the_field(
    body: dict[str, object], field: str, code: str
) -> None:
    error = json_refusal(body)
    assert (error.field, error.code) == (field, code), error.message


def test_json_rows_over_the_limit_count_every_series() -> None:
    limits = replace(LIMITS, max_rows=10)
    body = {"series": [{"id": "a", "values": [1] * 6}, {"id": "b", "values": [1] * 5}]}
    error = json_refusal(body, limits)
    assert (error.field, error.code) == ("series", "too_many_rows")
    assert "FORECAST_MAX_DATASET_ROWS" in error.message


# -- storage ----------------------------------------------------------------------------------


def test_a_panel_round_trips_through_load_values(datasets: DatasetRepository) -> None:
    parsed = parse(
        "id,date,v,w\nb,2024-01-02,3,30\na,2024-01-05,1,10\nb,2024-01-03,4,40\na,2024-01-07,2,20\n",
        missing="ffill",
        freq="D",
    )
    row = create_dataset(
        datasets=datasets,
        name="panel",
        matrix=parsed.matrix,
        columns=parsed.columns,
        time_axis=parsed.time_axis,
        filled=parsed.filled,
        series=parsed.series,
        series_filled=parsed.series_filled,
    )
    loaded = load_values(datasets=datasets, dataset_id=row.id)
    assert loaded.values.tobytes() == parsed.matrix.tobytes()
    assert loaded.values[:, 0].tolist() == [3.0, 4.0, 1.0, 1.0, 2.0]
    assert loaded.columns == ["v", "w"]
    assert loaded.time_axis is None
    assert loaded.series == [
        SeriesPart("b", 2, TimeAxis("dates", "2024-01-02T00:00:00", "D", 2)),
        SeriesPart("a", 3, TimeAxis("dates", "2024-01-05T00:00:00", "D", 3)),
    ]
    assert datasets.series_lengths(row.id) == [("b", 2), ("a", 3)]
    stored = datasets.get(row.id)
    assert stored is not None
    assert (stored.rows, stored.filled) == (5, {"v": 1, "w": 1})
    assert stored.stats[0]["mean"] == float(np.mean(parsed.matrix[:, 0]))


def test_a_single_series_has_no_parts(datasets: DatasetRepository) -> None:
    row = create_dataset(datasets=datasets, name=None, matrix=np.ones((3, 1)), columns=["value"])
    assert load_values(datasets=datasets, dataset_id=row.id).series is None
    assert datasets.series_lengths(row.id) is None
    assert datasets.series_lengths("0" * 32) is None


def test_parts_that_do_not_add_up_are_not_stored(datasets: DatasetRepository) -> None:
    with pytest.raises(ValueError, match="add up"):
        create_dataset(
            datasets=datasets,
            name=None,
            matrix=np.ones((3, 1)),
            columns=["value"],
            series=[SeriesPart("a", 2, None)],
        )


# -- season_length ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("freq", "season"),
    [
        ("MS", 12), ("ME", 12), ("3MS", 4), ("QS-JAN", 4), ("QE-DEC", 4), ("W-SUN", 52),
        ("W-MON", 52), ("2W-SUN", 26), ("D", 7), ("B", 5), ("h", 24), ("2h", 12),
        ("30min", 48), ("15min", 96), ("5min", 288), ("min", 60), ("s", 60), ("YS-JAN", 1),
        ("YE-DEC", 1), ("7h", 1), ("1.0", 1), ("0.5", 1), (None, 1), ("not a freq", 1),
    ],
)  # fmt: skip
def test_season_length_of_common_frequencies(freq: str | None, season: int) -> None:
    assert season_length(freq) == season
