"""plot_forecast draws the history a forecast was answered with before it (pure: no server)."""

from __future__ import annotations

from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecast_client import plot_forecast
from forecast_client.frames import forecast_frame

ANSWER: dict[str, Any] = {"model": "m", "version": 1, "columns": ["y"], "horizon": 3}


def lines(forecast: pd.DataFrame, **kwargs: Any) -> dict[str, Any]:
    ax = plot_forecast(forecast, ax=Figure().subplots(), **kwargs)
    return {str(line.get_label()): line for line in ax.get_lines()}


def test_without_times_the_forecast_continues_the_answered_history() -> None:
    forecast = forecast_frame(
        ANSWER | {"forecast": [[4.0], [5.0], [6.0]], "history": [[1.0], [2.0], [3.0]],
                  "history_timestamps": None}
    )  # fmt: skip
    drawn = lines(forecast)
    assert list(drawn["history"].get_xdata()) == [-2, -1, 0]
    assert list(drawn["history"].get_ydata()) == [1.0, 2.0, 3.0]
    assert list(drawn["forecast"].get_xdata()) == [1, 2, 3]


def test_a_series_of_a_panel_is_drawn_after_its_own_history_with_legible_dates() -> None:
    forecast = forecast_frame(
        ANSWER | {"horizon": 2, "series": [
            {"id": "a", "forecast": [[3.0], [4.0]], "timestamps": ["2020-03-01", "2020-04-01"],
             "history": [[1.0], [2.0]], "history_timestamps": ["2020-01-01", "2020-02-01"]},
            {"id": "b", "forecast": [[9.0], [9.5]], "timestamps": ["2021-01-01", "2021-02-01"],
             "history": [[7.0], [8.0]], "history_timestamps": ["2020-11-01", "2020-12-01"]},
        ]}
    )  # fmt: skip
    ax = plot_forecast(forecast, series="b", ax=Figure().subplots())
    drawn = {str(line.get_label()): line for line in ax.get_lines()}
    assert list(drawn["history"].get_ydata()) == [7.0, 8.0]
    history_end = mdates.date2num(np.datetime64("2020-12-01"))
    assert mdates.date2num(drawn["forecast"].get_xdata()[0]) > history_end
    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)


def test_a_history_given_is_drawn_instead_of_the_answered_one() -> None:
    forecast = forecast_frame(
        ANSWER | {"forecast": [[4.0], [5.0], [6.0]], "history": [[3.0]], "history_timestamps": None}
    )  # fmt: skip
    given = pd.Series([0.5, 1.5], index=pd.Index([9, 10]))
    drawn = lines(forecast, history=given)
    assert list(drawn["history"].get_ydata()) == [0.5, 1.5]
    assert list(drawn["forecast"].get_xdata()) == [11, 12, 13]
