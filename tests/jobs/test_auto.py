"""The configuration chosen for a forecast horizon: window, chunk, held-out rows and season,
stored in the job's spec, with explicit settings winning."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.datasets import LoadedSeries
from app.jobs.auto import (
    ENSEMBLE,
    PATIENCE_STEPS,
    STEPS_ALLOWED,
    WindowPlan,
    default_horizon,
    epoch_counts,
    plan_window,
)
from tests.factories import panel_csv


@pytest.mark.parametrize(
    ("horizon", "season", "shortest", "plan"),
    [
        (18, 12, 48, WindowPlan(lookback=24, chunk=6, holdout=6, test=6)),  # M3 monthly
        (8, 4, 16, WindowPlan(lookback=10, chunk=2, holdout=2, test=2)),  # M3 quarterly
        (6, 1, 14, WindowPlan(lookback=8, chunk=2, holdout=2, test=2)),  # M3 yearly
        (8, 1, 63, WindowPlan(lookback=24, chunk=8, holdout=8, test=8)),  # M3 other
        (18, 12, 144, WindowPlan(lookback=54, chunk=18, holdout=18, test=18)),  # airpassengers
        (
            50,
            1,
            10_000,
            WindowPlan(lookback=150, chunk=50, holdout=1000, test=1000),
        ),  # the sin task
    ],
)
def test_the_window_fits_the_shortest_series(
    horizon: int, season: int, shortest: int, plan: WindowPlan
) -> None:
    chosen = plan_window(horizon, season, shortest)
    assert chosen == plan
    assert horizon % plan.chunk == 0
    # the shortest series keeps a training window of lookback + chunk before its held-out rows
    assert shortest - 2 * plan.holdout >= plan.lookback + plan.chunk


def test_no_window_fits_a_series_of_three_rows() -> None:
    assert plan_window(2, 1, 3) is None


def submit(client: TestClient, body: dict[str, Any]) -> Any:
    answer = client.post("/v1/jobs", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()["spec"]


def test_a_monthly_panel_gets_its_season_from_the_frequency(client: TestClient) -> None:
    files = {"file": ("p.csv", panel_csv().encode(), "text/csv")}
    dataset = client.post("/v1/datasets", files=files).json()
    spec = submit(
        client,
        {"model_name": "auto", "data": {"dataset_id": dataset["id"]}, "forecast_horizon": 6},
    )
    assert (spec["forecast_horizon"], spec["season_length"]) == (6, 12)
    assert spec["window"] == {"lookback": 24, "horizon": 6, "patch": 1}
    assert spec["architecture"]["instance_norm"] is True
    training = spec["training"]
    assert (training["validation_rows"], training["test_rows"]) == (7, 7)  # 10% of 72 rows
    assert (training["min_steps"], training["interval_steps"]) == (0, 6)  # no floor
    assert training["drift_combination"] is True
    assert training["ensemble"] == ENSEMBLE


def test_explicit_settings_win(client: TestClient) -> None:
    spec = submit(
        client,
        {
            "model_name": "auto",
            "data": {"function": "sin", "params": {"points": 600}},
            "forecast_horizon": 20,
            "season_length": 5,
            "window": {"lookback": 30},
            "architecture": {"instance_norm": False},
            "training": {"validation_rows": 40, "epochs": 7},
        },
    )
    assert spec["season_length"] == 5
    assert spec["window"] == {"lookback": 30, "horizon": 20, "patch": 1}
    assert spec["architecture"]["instance_norm"] is False
    training = spec["training"]
    assert (training["validation_rows"], training["test_rows"], training["epochs"]) == (40, 60, 7)


def test_a_numeric_index_gets_its_season_from_the_autocorrelation(client: TestClient) -> None:
    values = [10 + (i % 7) * 3 + 0.01 * i for i in range(140)]  # weekly pattern, daily rows
    spec = submit(
        client,
        {"model_name": "auto", "data": {"values": values}, "forecast_horizon": 7},
    )
    assert spec["season_length"] == 7
    assert spec["window"]["lookback"] == 21  # three chunks of 7


def test_a_request_without_a_horizon_is_unchanged(client: TestClient) -> None:
    spec = submit(client, {"model_name": "plain", "data": {"function": "sin"}})
    assert (spec["forecast_horizon"], spec["season_length"]) == (None, None)
    assert spec["window"] == {"lookback": 10, "horizon": 1, "patch": 1}
    assert spec["training"]["validation_rows"] is None


def test_a_series_too_short_for_any_window_is_refused(client: TestClient) -> None:
    answer = client.post(
        "/v1/jobs",
        json={"model_name": "auto", "data": {"values": [1.0, 2.0, 3.0]}, "forecast_horizon": 2},
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "forecast_horizon"
    assert client.get("/v1/datasets").json()["total"] == 0  # the inline values are not kept


def test_backtest_folds_lengthen_the_test_part_by_a_row_each() -> None:
    assert plan_window(6, 1, 40, folds=3) == WindowPlan(lookback=18, chunk=6, holdout=6, test=8)
    # Where the two rows leave too little training room, a smaller chunk is chosen.
    assert plan_window(6, 1, 30) == WindowPlan(lookback=12, chunk=6, holdout=6, test=6)
    assert plan_window(6, 1, 30, folds=3) == WindowPlan(lookback=10, chunk=3, holdout=3, test=5)


def test_folds_are_refused_when_the_test_part_cannot_hold_them(client: TestClient) -> None:
    answer = client.post(
        "/v1/jobs",
        json={
            "model_name": "folds",
            "data": {"function": "sin", "params": {"points": 200}},
            "training": {"test_rows": 3, "folds": 4},
        },
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "training.folds"


def test_a_short_series_gets_the_epochs_for_its_allowance_of_steps(client: TestClient) -> None:
    values = [10 + (i % 12) + 0.1 * i for i in range(120)]
    spec = submit(
        client, {"model_name": "short", "data": {"values": values}, "forecast_horizon": 6}
    )
    window, training = spec["window"], spec["training"]
    held_out = training["validation_rows"] + training["test_rows"]
    windows = 120 - held_out - window["lookback"] - window["horizon"] + 1
    per_epoch = -(-windows // training["batch_size"])  # a step or two
    assert per_epoch <= 2
    assert training["epochs"] == -(-STEPS_ALLOWED // per_epoch)
    assert training["lr_decay_patience"] == -(-PATIENCE_STEPS // per_epoch)
    explicit = submit(
        client,
        {
            "model_name": "short",
            "data": {"values": values},
            "forecast_horizon": 6,
            "training": {"epochs": 50},
        },
    )
    assert explicit["training"]["epochs"] == 50


def test_epoch_counts_scale_with_the_steps_of_an_epoch() -> None:
    window = {"lookback": 24, "horizon": 6}
    defaults = {"epochs": 100, "lr_decay_patience": 3, "early_stopping_patience": 10}
    training = {"validation_rows": 10, "test_rows": 10, "batch_size": 64,
                "validation_fraction": 0.1, "test_fraction": 0.1}  # fmt: skip
    training |= defaults
    assert epoch_counts([100_000], window, training) == defaults  # 1,560 steps an epoch
    # 151 windows: 3 steps an epoch
    assert epoch_counts([200], window, training) == {
        "epochs": 334, "lr_decay_patience": 15, "early_stopping_patience": 45,
    }  # fmt: skip


def upload_monthly(client: TestClient, rows: int) -> str:
    """A monthly series of `rows` rows as a dataset; its id."""
    text = "ds,y\n" + "".join(
        f"{2000 + n // 12}-{n % 12 + 1:02d}-01,{100 + 10 * (n % 12) + n}\n" for n in range(rows)
    )
    answer = client.post("/v1/datasets", files={"file": ("m.csv", text.encode(), "text/csv")})
    assert answer.status_code == 201, answer.text
    dataset_id: str = answer.json()["id"]
    return dataset_id


def test_a_plain_request_on_dated_data_is_configured_for_its_frequency(
    client: TestClient,
) -> None:
    spec = submit(
        client, {"model_name": "plain", "data": {"dataset_id": upload_monthly(client, 96)}}
    )
    assert (spec["forecast_horizon"], spec["season_length"]) == (18, 12)  # M4's monthly horizon
    # two held-out parts of 18 leave 60 rows: a lookback of 42 before a chunk of 18
    assert spec["window"] == {"lookback": 42, "horizon": 18, "patch": 1}
    training = spec["training"]
    assert (training["ensemble"], training["drift_combination"]) == (ENSEMBLE, True)
    assert (training["validation_rows"], training["interval_steps"]) == (18, 18)
    given = submit(
        client,
        {
            "model_name": "plain",
            "data": {"dataset_id": upload_monthly(client, 96)},
            "training": {"validation_fraction": 0.2, "ensemble": 1},
        },
    )
    training = given["training"]
    assert (training["validation_rows"], training["test_rows"], training["ensemble"]) == (
        None, 18, 1,
    )  # fmt: skip
    assert given["window"]["lookback"] == 96 - 19 - 18 - 18  # what the 20% left room for


def test_a_plain_request_without_dates_takes_a_tenth_of_its_rows() -> None:
    loaded = LoadedSeries(np.zeros((240, 1)), ["y"], None)
    assert default_horizon(loaded, 240) == 24


def test_a_plain_request_on_a_function_keeps_the_plain_defaults(client: TestClient) -> None:
    sine = submit(client, {"model_name": "plain", "data": {"function": "sin"}})
    assert (sine["forecast_horizon"], sine["training"]["ensemble"]) == (None, 1)
    assert sine["window"]["lookback"] == 10
