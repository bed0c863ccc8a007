"""Guards: the drift forecast, each series against the naive, seasonal naive and drift forecasts
on its validation and test parts, the bounded record and warnings of a panel, and a trained
model that loses on one series' test part only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.ml.config import TrainConfig
from app.ml.evaluation import drift
from app.ml.fitted import SeriesScores
from app.ml.guards import (
    MAX_LISTED,
    guard_record,
    model_warnings,
    series_guards,
    series_warnings,
)
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.train import train

CPU = torch.device("cpu")


def maes(model: float, naive: float, seasonal: float, drifting: float) -> SeriesScores:
    """Scores with these MAEs (the other scores are not read by the guards)."""

    def of(mae: float) -> dict[str, float]:
        return {"mse": mae**2, "rmse": mae, "mae": mae, "smape": 0.0}

    mixed = of((model + drifting) / 2)  # the combination's, as if their errors never cancel
    return SeriesScores(10, 100.0, of(model), of(naive), of(seasonal), of(drifting), mixed)


def test_drift_continues_the_line_through_the_first_and_last_values() -> None:
    history = np.array([[1.0, 10.0], [3.0, 0.0], [2.0, 5.0], [7.0, 4.0]])  # slopes 2 and -2
    np.testing.assert_allclose(drift(history, 3), [[9.0, 2.0], [11.0, 0.0], [13.0, -2.0]])
    np.testing.assert_array_equal(drift(history[:1], 2), [[1.0, 10.0], [1.0, 10.0]])  # one row
    flat = np.full((5, 1), 4.0)
    np.testing.assert_array_equal(drift(flat, 3), np.full((3, 1), 4.0))  # no slope: the naive


def test_a_series_losing_only_on_test_gets_a_test_warning_naming_it() -> None:
    validation = [maes(1.0, 2.0, 1.5, 3.0), maes(1.0, 2.0, 1.5, 3.0)]
    test = [maes(1.0, 2.0, 1.5, 3.0), maes(9.0, 2.0, 1.5, 8.0)]  # "b" loses to all three
    guards = series_guards({"validation": validation, "test": test})
    assert guards[1]["validation"]["loses_to"] == []
    assert guards[1]["test"] == {
        "mae": 9.0,
        "baselines": {"naive": 2.0, "seasonal_naive": 1.5, "drift": 8.0},
        "loses_to": ["naive", "seasonal_naive", "drift"],
        "combined_mae": 8.5,
    }
    record = guard_record(guards, ["a", "b"])
    assert record["validation"]["losing"]["drift"] == {"count": 0, "series": []}
    assert record["test"]["series_measured"] == 2
    assert record["test"]["losing"]["seasonal_naive"] == {"count": 1, "series": ["b"]}

    warnings = model_warnings(validation, guards, ["a", "b"], season=12)
    assert warnings == [
        "the model loses to the naive forecast on the test parts of 1 of 2 series: "
        "'b' (MAE 9 against 2)",
        "the model loses to the seasonal naive (season 12) forecast on the test parts of 1 of "
        "2 series: 'b' (MAE 9 against 1.5)",
        "the model loses to the drift forecast on the test parts of 1 of 2 series: "
        "'b' (MAE 9 against 8)",
    ]  # the mean over series wins on validation: no mean warning
    assert series_warnings(guards[1], 12) == [
        "the model loses to the naive forecast on the test part: MAE 9 against 2",
        "the model loses to the seasonal naive (season 12) forecast on the test part: "
        "MAE 9 against 1.5",
        "the model loses to the drift forecast on the test part: MAE 9 against 8",
    ]
    assert series_warnings(guards[0], 12) == []


def test_a_panel_whose_mean_wins_still_names_its_losing_series() -> None:
    validation = [maes(1.0, 5.0, 5.0, 5.0), maes(3.0, 2.0, 2.0, 2.0)]  # mean 2 against 3.5
    guards = series_guards({"validation": validation, "test": validation})
    warnings = model_warnings(validation, guards, [None, None], season=1)
    # a season of 1: the seasonal naive is the naive forecast, warned of once
    assert warnings == [
        "the model loses to the naive forecast on the validation parts of 1 of 2 series: "
        "series 1 (MAE 3 against 2)",
        "the model loses to the drift forecast on the validation parts of 1 of 2 series: "
        "series 1 (MAE 3 against 2)",
        "the model loses to the naive forecast on the test parts of 1 of 2 series: "
        "series 1 (MAE 3 against 2)",
        "the model loses to the drift forecast on the test parts of 1 of 2 series: "
        "series 1 (MAE 3 against 2)",
    ]
    assert guard_record(guards, [None, None])["test"]["losing"]["naive"]["series"] == [1]


def test_one_series_keeps_the_validation_warning_as_worded_before() -> None:
    validation, test = [maes(2.0, 3.0, 1.0, 3.0)], [maes(1.0, 3.0, 2.0, 3.0)]
    guards = series_guards({"validation": validation, "test": test})
    assert model_warnings(validation, guards, [None], season=12) == [
        "the model loses to the seasonal naive (season 12) forecast on the validation part: "
        "MAE 2 against 1"
    ]


def test_the_record_and_warnings_of_a_large_panel_stay_bounded() -> None:
    count = 5_000
    losing = [maes(2.0, 1.0, 3.0, 3.0)] * count  # every series loses to the naive forecast
    guards = series_guards({"validation": losing, "test": losing[: count // 2]})
    ids = [f"store-{n:05d}" for n in range(count)]
    record = guard_record(guards, ids)
    assert record["validation"]["losing"]["naive"]["count"] == count
    assert record["validation"]["losing"]["naive"]["series"] == ids[:MAX_LISTED]
    assert record["test"]["series_measured"] == count // 2  # a job out of time measures fewer
    assert len(str(record)) < 2_000
    warnings = model_warnings(losing, guards, ids, season=12)
    assert len(warnings) == 2  # naive on each split
    assert warnings[0].endswith(f"'store-00019' (MAE 2 against 1), and {count - 20} more "
                                "(each series' `guards`)")  # fmt: skip
    assert sum(len(warning) for warning in warnings) < 4_000


def test_a_series_that_stops_moving_in_its_test_part_is_warned_of() -> None:
    """Two sine waves of a period the season does not name; "stops" holds its last validation
    value through its test part, where the last value is exact and a model continuing the wave
    obviously loses, while on validation it beats the naive and drift forecasts."""
    t = np.arange(200)
    wave = np.sin(2 * np.pi * t / 9.5)
    stops = wave.copy()
    stops[160:] = stops[159]  # the test part (the last 20%) holds the last validation value
    panel = Panel(np.concatenate([wave, stops])[:, None], (200, 200), ("moves", "stops"))
    model = ModelConfig(n_features=1, lookback=20, horizon=5, hidden_size=16, num_layers=1)
    config = TrainConfig(epochs=30, batch_size=32, validation_fraction=0.2, test_fraction=0.2)
    metrics = train(panel, model, config, device=CPU).metrics
    guards = metrics["guards"]
    assert isinstance(guards, dict)
    for baseline in ("naive", "drift"):
        assert guards["validation"]["losing"][baseline]["count"] == 0
        assert "stops" in guards["test"]["losing"][baseline]["series"]
    warnings = metrics["warnings"]
    assert isinstance(warnings, list)
    (naive,) = [line for line in warnings if "naive forecast on the test parts" in line]
    assert "'stops' (MAE " in naive
    assert not any("validation" in line for line in warnings)
    rows = metrics["series"]
    assert isinstance(rows, list)
    stopped = rows[1]["guards"]["test"]
    assert stopped["baselines"]["naive"] == pytest.approx(0.0, abs=1e-12)
    assert stopped["mae"] > 0.1
