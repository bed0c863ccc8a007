"""Which series a job combines with their drift forecast, and what it records of them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from app.ml import combination
from app.ml.config import TrainConfig
from app.ml.evaluation import combined, drift
from app.ml.fitted import SeriesScores
from app.ml.prepare import Panel, Prepared
from app.ml.roles import ColumnRoles


def scored(model: float, mixed: float, naive: float = 4.0) -> SeriesScores:
    """Scores with these MAEs: the model's, its combination's and the naive forecast's."""

    def of(mae: float) -> dict[str, float]:
        return {"mse": mae**2, "rmse": mae, "mae": mae, "smape": 10 * mae}

    return SeriesScores(6, 100.0, of(model), of(naive), of(naive), of(3.0), of(mixed))


def test_a_series_is_combined_where_allowed_and_the_combination_won_its_validation_part() -> None:
    validation = [scored(2.0, 1.0), scored(1.0, 2.0), scored(2.0, 1.0), scored(2.0, 2.0)]
    allowed = [True, True, False, True, True]  # the fifth was not measured: out of time
    assert combination.chosen(validation, allowed) == [True, False, False, False, False]


def test_the_record_names_the_combined_series_and_scores_them_as_served() -> None:
    test = [scored(2.0, 1.0), scored(1.0, 3.0), scored(4.0, 2.0)]
    record = combination.record([True, False, True], test, ["a", "b", None])
    assert record["combined_with"] == "drift"
    assert (record["series_count"], record["series"]) == (2, ["a", 2])
    assert record["served"]["mae"] == pytest.approx((1.0 + 1.0 + 2.0) / 3)
    assert record["served"]["mase"] == pytest.approx((1.0 + 1.0 + 2.0) / 3 / 4.0)


def test_the_combination_keeps_half_the_series_line() -> None:
    history = np.array([[10.0], [12.0], [13.0], [16.0]])  # slope 2 through first and last
    model = np.array([[16.0], [16.0], [16.0]])
    np.testing.assert_allclose(drift(history, 3)[:, 0], [18.0, 20.0, 22.0])
    np.testing.assert_allclose(combined(model, drift(history, 3))[:, 0], [17.0, 18.0, 19.0])


def test_only_series_without_a_season_may_be_combined() -> None:
    t = np.arange(96.0)
    wave = 100 + 20 * np.sin(2 * np.pi * t / 12)  # passes the seasonality test at 12
    line = 100 + 3 * t + np.random.default_rng(0).normal(0, 1, 96)  # a trend, no season
    panel = Panel(np.r_[wave, line][:, None], (96, 96), ("wave", "line"), season=12)
    data = Prepared.of(panel, TrainConfig(), ColumnRoles.of(1), torch.device("cpu"))
    assert combination.eligible(data) == [False, True]
    yearly = Prepared.of(replace(panel, season=1), TrainConfig(), ColumnRoles.of(1),
                         torch.device("cpu"))  # fmt: skip
    assert combination.eligible(yearly) == [True, True]  # no season: nothing to test
