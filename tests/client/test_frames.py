"""What the client sends for pandas objects and arrays, and how it reads forecasts and event
streams (pure functions: no server)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from forecast_client.events import Event, parse_events
from forecast_client.frames import forecast_frame, history_frame, upload_of


def read_back(content: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(content))


def test_a_series_with_dates_is_sent_with_its_time_index() -> None:
    index = pd.date_range("2020-01-01", periods=3, freq="D")
    upload = upload_of(pd.Series([1.0, 2.0, 3.0], index=index, name="load"))
    sent = read_back(upload.content)
    assert list(sent.columns) == ["Unnamed: 0", "load"]  # pandas' unnamed index column
    assert list(sent["Unnamed: 0"]) == ["2020-01-01", "2020-01-02", "2020-01-03"]
    assert upload.form == {}


def test_a_named_index_names_the_time_column_and_a_range_index_is_dropped() -> None:
    named = pd.DataFrame({"y": [1.0, 2.0]}, index=pd.Index([1990, 1991], name="when"))
    assert upload_of(named).form == {"time_column": "when"}
    plain = upload_of(pd.DataFrame({"y": [1.0, 2.0]}))
    assert list(read_back(plain.content).columns) == ["y"]


def test_a_dict_of_series_is_a_long_panel_with_ids() -> None:
    index = pd.date_range("2020-01-01", periods=2, freq="MS")
    upload = upload_of(
        {"a": pd.Series([1.0, 2.0], index=index), "b": pd.Series([3.0], index=index[:1])}
    )
    sent = read_back(upload.content)
    assert list(sent.columns) == ["unique_id", "time", "value"]
    assert list(sent["unique_id"]) == ["a", "a", "b"]
    assert upload.form == {"id_column": "unique_id"}


@pytest.mark.parametrize(
    ("array", "columns"),
    [(np.arange(4.0), ["value"]), (np.ones((3, 2)), ["value_0", "value_1"])],
)
def test_arrays_are_sent_as_columns(array: np.ndarray, columns: list[str]) -> None:
    assert list(read_back(upload_of(array).content).columns) == columns


def test_a_three_dimensional_array_is_refused() -> None:
    with pytest.raises(ValueError, match="1 or 2 dimensions"):
        upload_of(np.ones((2, 2, 2)))


RESPONSE = {"model": "m", "version": 2, "columns": ["y"], "horizon": 2}


def test_several_contexts_are_numbered_with_their_own_bounds() -> None:
    response = RESPONSE | {
        "forecasts": [[[1.0], [2.0]], [[10.0], [20.0]]],
        "intervals": [
            {"level": 90, "lower": [[[0.5], [1.5]], [[9.0], [19.0]]],
             "upper": [[[1.5], [2.5]], [[11.0], [21.0]]]},
        ],
    }  # fmt: skip
    frame = forecast_frame(response)
    assert frame.index.names == ["context", "step"]
    assert frame.loc[1]["y_lo_90"].tolist() == [9.0, 19.0]
    assert frame.attrs["levels"] == [90]


def test_numeric_timestamps_stay_numbers_and_none_give_steps() -> None:
    numeric = forecast_frame(RESPONSE | {"forecast": [[1.0], [2.0]], "timestamps": ["11", "12"]})
    assert numeric.index.tolist() == [11, 12]
    steps = forecast_frame(RESPONSE | {"forecast": [[1.0], [2.0]]})
    assert (steps.index.name, steps.index.tolist()) == ("step", [1, 2])


def test_history_without_times_is_numbered_up_to_step_0() -> None:
    answer = RESPONSE | {
        "forecast": [[4.0], [5.0]], "history": [[1.0], [2.0], [3.0]], "history_timestamps": None,
    }  # fmt: skip
    history = history_frame(forecast_frame(answer))
    assert history is not None
    assert (history.index.name, history.index.tolist()) == ("step", [-2, -1, 0])
    assert history["y"].tolist() == [1.0, 2.0, 3.0]
    assert history_frame(forecast_frame(RESPONSE | {"forecast": [[4.0], [5.0]]})) is None


def test_history_of_many_series_is_indexed_by_series_and_time() -> None:
    answer = RESPONSE | {
        "series": [
            {"id": "a", "forecast": [[3.0], [4.0]], "timestamps": ["2020-03-01", "2020-04-01"],
             "history": [[1.0], [2.0]], "history_timestamps": ["2020-01-01", "2020-02-01"]},
            {"id": "b", "forecast": [[9.0], [9.5]], "timestamps": ["2021-01-01", "2021-02-01"],
             "history": [[8.0]], "history_timestamps": ["2020-12-01"]},
        ]
    }  # fmt: skip
    forecast = forecast_frame(answer)
    history = history_frame(forecast)
    assert history is not None
    assert history.index.names == ["series", "time"]
    assert history.loc["a"].index.tolist() == list(pd.to_datetime(["2020-01-01", "2020-02-01"]))
    assert history.loc["b"]["y"].tolist() == [8.0]
    # The history rides in attrs as plain lists, so frames holding it still concatenate.
    assert len(pd.concat([forecast, forecast])) == 8


def test_events_skip_comments_join_data_lines_and_drop_a_cut_event() -> None:
    lines = [": ping", "", "event: progress", "id: 1", "data: {", "data: }", "",
             "event: end", "data: {\"cut\": true}"]  # fmt: skip
    assert list(parse_events(lines)) == [Event("progress", "1", "{\n}")]
