"""Drift combination over the API: a job told the horizon serves each series whose validation
part the mean of the model's and the drift forecast beat by that mean, says so in its metrics
and in every forecast, and keeps the model's own figures; checked against the same forecast
worked out from the stored checkpoint and the uploaded rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient

from app.main import create_app
from app.ml import serving
from app.ml.checkpoints import Checkpoint, load
from app.registry import CheckpointStore
from tests.factories import make_settings, train_on_panel

# Lines of different slopes with a little noise: one epoch of a 4-unit model follows none of
# them, and the drift forecast follows each, so the validation parts combine some series.
SLOPES = {"up": 6.0, "down": -4.0, "steep": 15.0, "flat": 0.0, "wave": 0.0}
ROWS = 48
SPEC: dict[str, Any] = {
    "model_name": "lines",
    "forecast_horizon": 4,
    "architecture": {"hidden_size": 4, "num_layers": 1},
    "training": {"epochs": 1, "ensemble": 1, "min_steps": 0},
}


def lines_csv() -> str:
    """SLOPES as a long CSV (unique_id, ds, y) of ROWS months each; "wave" is a yearly wave."""
    rng = np.random.default_rng(3)
    frames = []
    t = np.arange(ROWS)
    for name, slope in SLOPES.items():
        wave = 40 * np.sin(2 * np.pi * t / 12) if name == "wave" else 0
        values = 500 + slope * t + wave + rng.normal(0, 1, ROWS)
        dates = pd.date_range("2018-01-01", periods=ROWS, freq="MS")
        frames.append(pd.DataFrame({"unique_id": name, "ds": dates, "y": values.round(3)}))
    return str(pd.concat(frames).to_csv(index=False))


def first_and_last(csv: str) -> dict[str, tuple[float, float]]:
    """Each series' first and last uploaded value, read back from the CSV."""
    frame = pd.read_csv(pd.io.common.StringIO(csv))
    return {
        str(key): (rows["y"].iloc[0], rows["y"].iloc[-1])
        for key, rows in frame.groupby("unique_id")
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Checkpoint]]:
    root: Path = tmp_path_factory.mktemp("lines")
    train_on_panel(root, SPEC, lines_csv())
    store = CheckpointStore(make_settings(root).models_dir)
    checkpoint = load(store.version_dir("lines", 1), torch.device("cpu"))
    with TestClient(create_app(make_settings(root))) as client:
        yield client, checkpoint


def job_metrics(client: TestClient) -> dict[str, Any]:
    """The metrics of the one job of the client's store, as its view shows them."""
    (job,) = client.get("/v1/jobs").json()["items"]
    metrics: dict[str, Any] = client.get(f"/v1/jobs/{job['id']}").json()["metrics"]
    return metrics


def test_the_validation_parts_choose_the_combined_series_and_the_job_names_them(
    trained: tuple[TestClient, Checkpoint],
) -> None:
    client, _ = trained
    metrics = job_metrics(client)
    rows = {row["id"]: row for row in metrics["series"]}
    chosen = [
        key
        for key, row in rows.items()
        if key != "wave"  # seasonal: a line is no partner for it
        and row["guards"]["validation"]["combined_mae"] < row["guards"]["validation"]["mae"]
    ]
    assert chosen, "no series combined: the test's lines no longer beat a one-epoch model"
    assert [key for key, row in rows.items() if row["combined_with"] == "drift"] == chosen
    assert rows["wave"]["combined_with"] is None
    combination = metrics["combination"]
    assert combination["combined_with"] == "drift"
    assert (combination["series_count"], combination["series"]) == (len(chosen), chosen)
    # The model's own test figures stay; the served ones take each combined series' mean.
    served = [
        row["guards"]["test"]["combined_mae" if key in chosen else "mae"]
        for key, row in rows.items()
    ]
    assert combination["served"]["mae"] == pytest.approx(np.mean(served), rel=1e-5)
    assert metrics["mean"]["mae"] == pytest.approx(
        np.mean([row["guards"]["test"]["mae"] for row in rows.values()]), rel=1e-5
    )


def test_a_combined_series_is_forecast_by_the_mean_of_the_model_and_its_drift(
    trained: tuple[TestClient, Checkpoint],
) -> None:
    client, checkpoint = trained
    answer = client.post("/v1/models/lines/forecast", json={"horizon": 6, "levels": [80]})
    assert answer.status_code == 200, answer.text
    items = {item["id"]: item for item in answer.json()["series"]}
    combined = {key for key, item in items.items() if item["combined_with"] == "drift"}
    assert combined == set(job_metrics(client)["combination"]["series"])
    # The model alone, from the same checkpoint with no series combined
    alone_meta = replace(
        checkpoint.meta, series=[replace(entry, drift=None) for entry in checkpoint.meta.series]
    )
    alone = replace(checkpoint, meta=alone_meta)
    numbers = list(range(len(SLOPES)))
    model = serving.forecast(alone, serving.continuing(alone, numbers), 6, [80])
    ends = first_and_last(lines_csv())
    for number, key in enumerate(checkpoint.series_positions):
        values = np.asarray(items[key]["forecast"])[:, 0]
        own = model.values[number, :, 0]
        if key not in combined:
            np.testing.assert_allclose(values, own, rtol=1e-5, atol=1e-3)
            continue
        first, last = ends[key]
        line = last + (last - first) / (ROWS - 1) * np.arange(1, 7)
        np.testing.assert_allclose(values, (own + line) / 2, rtol=1e-5, atol=1e-3)
        band = items[key]["intervals"][0]
        lower, upper = model.bounds[80]
        shift = values - own  # the band moves with the forecast, its width unchanged
        np.testing.assert_allclose(np.asarray(band["lower"])[:, 0], lower[number, :, 0] + shift,
                                   rtol=1e-5, atol=1e-3)  # fmt: skip
        np.testing.assert_allclose(np.asarray(band["upper"])[:, 0], upper[number, :, 0] + shift,
                                   rtol=1e-5, atol=1e-3)  # fmt: skip


def test_a_given_context_is_forecast_by_the_model_alone(
    trained: tuple[TestClient, Checkpoint],
) -> None:
    client, checkpoint = trained
    context = [[500.0 + 6 * row] for row in range(checkpoint.model.config.lookback)]
    answer = client.post("/v1/models/lines/forecast", json={"horizon": 3, "context": context})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["combined_with"] is None
    plan = serving.given(checkpoint, [np.asarray(context)])
    expected = serving.forecast(checkpoint, plan, 3, []).values[0]
    np.testing.assert_allclose(body["forecast"], expected, rtol=1e-5, atol=1e-3)


def test_drift_combination_off_serves_the_model_alone(tmp_path: Path) -> None:
    spec = SPEC | {"training": SPEC["training"] | {"drift_combination": False}}
    train_on_panel(tmp_path, spec, lines_csv())
    with TestClient(create_app(make_settings(tmp_path))) as client:
        metrics = job_metrics(client)
        assert metrics.get("combination") is None
        assert {row["combined_with"] for row in metrics["series"]} == {None}
        answer = client.post("/v1/models/lines/forecast", json={"horizon": 2}).json()
        assert {item["combined_with"] for item in answer["series"]} == {None}


def test_one_unnamed_series_says_beside_its_forecast_whether_it_is_combined(
    tmp_path: Path,
) -> None:
    values = 200 + 5 * np.arange(60) + np.random.default_rng(1).normal(0, 1, 60)
    csv = "y\n" + "".join(f"{value:.3f}\n" for value in values)
    train_on_panel(tmp_path, SPEC | {"model_name": "line"}, csv)
    checkpoint = load(CheckpointStore(make_settings(tmp_path).models_dir).version_dir("line", 1),
                      torch.device("cpu"))  # fmt: skip
    combined = checkpoint.meta.series[0].drift is not None
    with TestClient(create_app(make_settings(tmp_path))) as client:
        body = client.post("/v1/models/line/forecast", json={"horizon": 3}).json()
        assert body["combined_with"] == ("drift" if combined else None)
        assert job_metrics(client)["combination"]["series"] == ([0] if combined else [])
    assert combined, "a one-epoch model of a clean line no longer loses to the line's drift"
