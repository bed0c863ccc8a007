"""A deseasonalised global model over the API: the job divides each series by its seasons, the
checkpoint keeps them, and a forecast multiplies them back: checked against the same forecast
worked out by hand from the stored checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.jobs.table import JobStatus
from app.main import create_app
from app.ml.checkpoints import Checkpoint, load
from app.ml.data import Scaler
from app.ml.forecast import rollout
from app.ml.intervals import half_widths
from app.ml.season import Seasonality
from app.registry import CheckpointStore
from tests.factories import (
    PANEL_SERIES,
    PANEL_SPEC,
    inline_repositories,
    make_settings,
    run_inline,
    train_on_panel,
)

SPEC = PANEL_SPEC | {
    "model_name": "seasons",
    "training": PANEL_SPEC["training"] | {"deseasonalise": True},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Checkpoint]]:
    root: Path = tmp_path_factory.mktemp("seasons")
    train_on_panel(root, SPEC)
    store = CheckpointStore(make_settings(root).models_dir)
    checkpoint = load(store.version_dir("seasons", 1), torch.device("cpu"))
    with TestClient(create_app(make_settings(root))) as client:
        yield client, checkpoint


def factors(checkpoint: Checkpoint, number: int, first: int, rows: int) -> np.ndarray:
    """[rows, 1] series `number`'s stored seasonal factors from row `first` (1: none)."""
    seasonal = (checkpoint.meta.series or [])[number].seasonal
    return np.ones((rows, 1)) if seasonal is None else seasonal.factors(first, rows)


def by_hand(checkpoint: Checkpoint, number: int, steps: int) -> np.ndarray:
    """Series `number`'s forecast worked out from its stored tail, scaler and seasons."""
    entry = (checkpoint.meta.series or [])[number]
    lookback = checkpoint.model.config.lookback
    adjusted = entry.tail / factors(checkpoint, number, -lookback, lookback)
    scaled = torch.as_tensor(entry.scaler.transform(adjusted)[None], dtype=torch.float32)
    predicted = (
        rollout(checkpoint.model, scaled, steps, checkpoint.rollout_mode).double().numpy()[0]
    )
    return np.asarray(entry.scaler.inverse(predicted) * factors(checkpoint, number, 0, steps))


def forecast(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/v1/models/seasons/forecast", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_the_seasonal_series_keep_their_seasons(trained: tuple[TestClient, Checkpoint]) -> None:
    _, checkpoint = trained
    assert checkpoint.meta.deseasonalise_season == 12
    seasonal = {entry.id: entry.seasonal is not None for entry in checkpoint.meta.series or []}
    # "south" trains on 43 rows, under four seasons of a clean wave: its autocorrelations at
    # every lag are high, so the test's band (Bartlett's) is wide, and it is left as it is.
    assert seasonal == {"north": True, "south": False, "east": True}


def test_a_forecast_multiplies_the_seasons_back(trained: tuple[TestClient, Checkpoint]) -> None:
    client, checkpoint = trained
    body = forecast(client, {"horizon": 15, "levels": [90]})
    for number, item in enumerate(body["series"]):
        expected = by_hand(checkpoint, number, 15)
        np.testing.assert_allclose(np.asarray(item["forecast"]), expected, rtol=1e-5)
        # The intervals widen and narrow with the season: in step with the factors.
        (interval,) = item["intervals"]
        half = (np.asarray(interval["upper"]) - np.asarray(interval["lower"])) / 2
        widths = checkpoint.interval_widths
        assert widths is not None
        spread = (checkpoint.meta.series or [])[number].scaler.scale[0]
        expected = half_widths(widths, 90, 15) * spread * factors(checkpoint, number, 0, 15)
        np.testing.assert_allclose(half, expected, rtol=1e-6)


def test_the_metrics_are_on_the_original_scale(trained: tuple[TestClient, Checkpoint]) -> None:
    client, checkpoint = trained
    metrics = client.get(f"/v1/jobs/{checkpoint.meta.job_id}").json()["metrics"]
    assert metrics["mean"]["mase"] < 1  # the seasons come back: better than the last value
    levels = [level for _, _, level in PANEL_SERIES.values()]
    for row, level in zip(metrics["series"], levels, strict=True):
        assert row["mae"] < 0.2 * level  # on each series' own scale, not the model's


def test_a_context_is_divided_by_its_own_seasons(trained: tuple[TestClient, Checkpoint]) -> None:
    """A series the model never saw, given whole: its seasons and its scale come from its own
    rows, worked out here by hand, and its forecast multiplies its seasons back."""
    client, checkpoint = trained
    t = np.arange(60)
    context = (40 * (1 + 0.25 * np.sin(2 * np.pi * (t + 4) / 12)) + 0.05 * t)[:, None]
    seasons = Seasonality.fit(context, 12)
    assert seasons is not None
    continued = seasons.rephased(60)
    adjusted = context / continued.factors(-60, 60)
    scaler = Scaler.fit(checkpoint.meta.series[0].scaler.kind, adjusted)
    lookback = checkpoint.model.config.lookback
    scaled = torch.as_tensor(scaler.transform(adjusted[-lookback:])[None], dtype=torch.float32)
    predicted = rollout(checkpoint.model, scaled, 6, checkpoint.rollout_mode).double().numpy()[0]
    expected = scaler.inverse(predicted) * continued.factors(0, 6)
    body = forecast(client, {"horizon": 6, "context": context.tolist()})
    np.testing.assert_allclose(np.asarray(body["forecast"]), expected, rtol=1e-5)


def test_a_model_with_known_covariates_cannot_deseasonalise(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        answer = client.post(
            "/v1/jobs",
            json={
                "model_name": "covariates",
                "data": {"function": "sin_cos"},
                "targets": ["cos"],
                "training": {"deseasonalise": True},
            },
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "training.deseasonalise"


def test_a_one_series_model_continues_its_own_seasons(tmp_path: Path) -> None:
    t = np.arange(240)
    values = (50 + 0.1 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12))
    values = values + np.random.default_rng(1).normal(0, 0.5, len(t))
    settings, repos = inline_repositories(tmp_path)
    spec = {
        "model_name": "one",
        "data": {"values": values.tolist()},
        "season_length": 12,
        "window": {"lookback": 24, "horizon": 6},
        "architecture": {"hidden_size": 8, "num_layers": 1},
        "training": {"epochs": 3, "deseasonalise": True},
    }
    final = run_inline(settings, repos, spec)
    assert final.status == JobStatus.SUCCEEDED, final.error
    checkpoint = load(
        CheckpointStore(settings.models_dir).version_dir("one", 1), torch.device("cpu")
    )
    (series,) = checkpoint.meta.series
    seasonal = series.seasonal
    assert seasonal is not None
    assert checkpoint.meta.deseasonalise_season == 12
    adjusted = series.tail / seasonal.factors(-24, 24)
    scaler = series.scaler
    scaled = torch.as_tensor(scaler.transform(adjusted)[None], dtype=torch.float32)
    predicted = rollout(checkpoint.model, scaled, 12).double().numpy()[0]
    expected = scaler.inverse(predicted) * seasonal.factors(0, 12)
    with TestClient(create_app(make_settings(tmp_path))) as client:
        answer = client.post("/v1/models/one/forecast", json={"horizon": 12})
        assert answer.status_code == 200, answer.text
        np.testing.assert_allclose(np.asarray(answer.json()["forecast"]), expected, rtol=1e-5)
        # The same rows sent as a context: divided by seasons of their own, which the rows
        # show as well as the training rows did.
        context = values[-120:, None].tolist()
        given = client.post("/v1/models/one/forecast", json={"horizon": 12, "context": context})
        assert given.status_code == 200, given.text
        np.testing.assert_allclose(np.asarray(given.json()["forecast"]), expected, rtol=0.05)
