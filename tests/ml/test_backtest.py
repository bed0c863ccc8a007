"""The rolling-origin backtest: folds placed in the test part, scored from scratch, for one
series and for many."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.ml.backtest import fold_plan
from app.ml.config import TrainConfig
from app.ml.data import Split
from app.ml.forecast import forecast
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.train import train

CPU = torch.device("cpu")
TINY = ModelConfig(n_features=1, lookback=12, horizon=3, hidden_size=8, num_layers=1)


@pytest.mark.parametrize(
    ("test_rows", "folds", "wanted", "plan"),
    [
        (10, 3, 4, (4, 3)),  # origins at rows 0, 3, 6 of the test part; the last ends it
        (10, 1, 4, (4, 0)),
        (5, 3, 4, (3, 1)),  # shortened so that every fold has an origin of its own
        (4, 4, 9, (1, 1)),
    ],
)
def test_fold_plan(test_rows: int, folds: int, wanted: int, plan: tuple[int, int]) -> None:
    steps, stride = fold_plan(test_rows, folds, wanted)
    assert (steps, stride) == plan
    assert steps + (folds - 1) * stride <= test_rows


def test_more_folds_than_test_rows_are_refused() -> None:
    with pytest.raises(ValueError, match="5 folds need at least 5 test rows"):
        fold_plan(4, 5, 2)


def test_each_fold_scores_the_forecast_from_its_own_origin() -> None:
    x = np.arange(300) * 0.25
    series = (5 + np.sin(x) + 0.1 * np.sin(7 * x))[:, None]
    config = TrainConfig(
        epochs=3, batch_size=32, test_rows=20, validation_rows=20, folds=3, interval_steps=6
    )
    result = train(Panel.of_series(series), TINY, config, device=CPU)
    report = result.metrics["backtest"]
    assert isinstance(report, dict)
    assert (report["folds"], report["steps"], report["stride"]) == (3, 6, 7)
    assert [fold["rows_from_end"] for fold in report["per_fold"]] == [20, 13, 6]
    split = Split.sized(300, 20, 20)
    for fold in report["per_fold"]:
        origin = 300 - fold["rows_from_end"]
        assert origin >= split.test_start  # no fold scores rows that chose anything
        # The same forecast made from scratch through the serving path, in the mode served.
        scaler = result.series[0].scaler
        predicted = forecast(
            result.model, (scaler, scaler), series[None, :origin], 6, result.rollout_mode, CPU
        )[0]
        actual = series[origin : origin + 6]
        assert fold["mean"]["mae"] == pytest.approx(np.mean(np.abs(predicted - actual)), rel=1e-5)
        naive = np.mean(np.abs(actual - series[origin - 1]))
        assert fold["naive"]["mae"] == pytest.approx(naive)
        assert fold["mean"]["mase"] == pytest.approx(fold["mean"]["mae"] / naive)


def test_a_panel_folds_average_over_series() -> None:
    x = np.arange(120) * 0.3
    panel = np.concatenate([np.sin(x), 3 + 2 * np.cos(x)])[:, None]
    config = TrainConfig(epochs=2, batch_size=32, test_rows=8, validation_rows=8, folds=2,
                         interval_steps=4)  # fmt: skip
    result = train(Panel(panel, (120, 120), ("a", "b")), TINY, config, device=CPU)
    report = result.metrics["backtest"]
    assert isinstance(report, dict)
    assert [fold["rows_from_end"] for fold in report["per_fold"]] == [8, 4]
    for fold in report["per_fold"]:
        origin = 120 - fold["rows_from_end"]
        maes = []
        for number, scaler in enumerate(entry.scaler for entry in result.series):
            values = panel[number * 120 : (number + 1) * 120]
            predicted = forecast(
                result.model, (scaler, scaler), values[None, :origin], 4, result.rollout_mode,
                CPU,
            )[0]  # fmt: skip
            maes.append(np.mean(np.abs(predicted - values[origin : origin + 4])))
        assert fold["mean"]["mae"] == pytest.approx(np.mean(maes), rel=1e-5)


def test_folds_beyond_the_test_rows_are_refused() -> None:
    config = TrainConfig(epochs=1, test_rows=3, folds=4)
    with pytest.raises(ValueError, match="4 backtest folds need as many test rows"):
        train(Panel.of_series(np.sin(np.arange(200) * 0.2)[:, None]), TINY, config)
