"""Prediction intervals through the API: `levels` on a forecast, what each band says of its
calibration, and the interval metrics and MASE of a training job, on models trained through the
real job path."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.jobs.table import JobStatus
from app.main import create_app
from app.ml.checkpoints import load
from app.ml.intervals import LEVELS, half_widths
from tests.factories import (
    BUNDLED_MODELS,
    PANEL_SPEC,
    inline_repositories,
    make_settings,
    run_inline,
    train_on_panel,
)

CALIBRATED = 12
# 800 rows: 80 validation rows, every one an origin; step k keeps the 80 - k + 1 inside them.
RESIDUALS = list(range(80, 80 - CALIBRATED, -1))
SPEC: dict[str, Any] = {
    "model_name": "noisy",
    "data": {"function": "sin_cos", "params": {"points": 800, "stop": 80, "noise": 0.05}},
    "window": {"lookback": 8, "horizon": 2},
    "architecture": {"hidden_size": 6, "num_layers": 1, "instance_norm": True},
    "training": {"epochs": 3, "interval_steps": CALIBRATED, "seed": 1},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store with `noisy`, trained by a job, and the bundled `sine` as a checkpoint written
    before intervals existed (its meta.json without them: the hash covers only the weights)."""
    root = tmp_path_factory.mktemp("intervals")
    settings, repos = inline_repositories(root)
    final = run_inline(settings, repos, SPEC)
    assert final.status == JobStatus.SUCCEEDED, final.error
    shutil.copytree(BUNDLED_MODELS, settings.models_dir, dirs_exist_ok=True)
    meta_path = settings.models_dir / "sine" / "1" / "meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["intervals"], meta["inputs"], meta["targets"]
    meta_path.write_text(json.dumps(meta))
    return root, final.id


@pytest.fixture
def api(trained: tuple[Path, str]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(trained[0]))) as client:
        yield client


def widths_of(root: Path) -> np.ndarray:
    """The job's half-widths on its series' original scale (stored in the model scale)."""
    checkpoint = load(make_settings(root).models_dir / "noisy" / "1", torch.device("cpu"))
    assert checkpoint.interval_widths is not None
    (series,) = checkpoint.meta.series
    return checkpoint.interval_widths * np.asarray(series.scaler.scale)


def post(client: TestClient, body: dict[str, Any], model: str = "noisy") -> Any:
    return client.post(f"/v1/models/{model}/forecast", json=body)


def test_checkpoint_of_the_job_holds_calibrated_widths(trained: tuple[Path, str]) -> None:
    widths = widths_of(trained[0])
    assert widths.shape == (len(LEVELS), CALIBRATED, 2)
    assert (widths > 0).all()
    assert (np.diff(widths, axis=0) >= 0).all()


def test_forecast_with_levels_brackets_it_symmetrically(
    api: TestClient, trained: tuple[Path, str]
) -> None:
    horizon = CALIBRATED + 5  # past the calibrated steps the last width is kept
    response = post(api, {"horizon": horizon, "levels": [80, 95]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["interval_calibrated_steps"] == CALIBRATED
    forecast = np.asarray(body["forecast"])
    assert forecast.shape == (horizon, 2)
    assert [entry["level"] for entry in body["intervals"]] == [80, 95]
    widths = widths_of(trained[0])
    for entry in body["intervals"]:
        lower, upper = np.asarray(entry["lower"]), np.asarray(entry["upper"])
        assert lower.shape == upper.shape == (horizon, 2)
        assert (lower < forecast).all()
        assert (forecast < upper).all()
        np.testing.assert_allclose(upper - forecast, forecast - lower, atol=1e-9)
        half = half_widths(widths, entry["level"], horizon)
        np.testing.assert_allclose(upper - forecast, half, atol=1e-9)
        np.testing.assert_allclose(
            half[CALIBRATED:], np.repeat(half[CALIBRATED - 1 : CALIBRATED], 5, 0)
        )
    eighty, ninety_five = body["intervals"]
    assert (np.asarray(ninety_five["upper"]) >= np.asarray(eighty["upper"])).all()
    assert (np.asarray(ninety_five["lower"]) <= np.asarray(eighty["lower"])).all()


def test_each_band_says_how_far_it_is_calibrated(
    api: TestClient, trained: tuple[Path, str]
) -> None:
    """69 to 80 residuals a step: enough for 98% (49), not for 99% (99)."""
    coverage = api.get(f"/v1/jobs/{trained[1]}").json()["metrics"]["intervals"]["coverage"]
    body = post(api, {"horizon": CALIBRATED, "levels": [80, 98, 99]}).json()
    assert body["interval_residuals"] == RESIDUALS
    eighty, ninety_eight, ninety_nine = body["intervals"]
    assert (eighty["calibrated_steps"], eighty["note"]) == (CALIBRATED, None)
    assert (ninety_eight["calibrated_steps"], ninety_eight["note"]) == (CALIBRATED, None)
    assert ninety_nine["calibrated_steps"] == 0
    assert ninety_nine["note"] == (
        "steps 1-12: the largest error seen in calibration, not a calibrated 99% interval (80 "
        "residuals or fewer a step: at most a 98% interval; 99% needs 99)"
    )
    assert [entry["test_coverage"] for entry in body["intervals"]] == [
        coverage[level] for level in ("80", "98", "99")
    ]  # what the job measured on the test part, by level
    longer = post(api, {"horizon": CALIBRATED + 3, "levels": [80]}).json()
    assert longer["interval_residuals"] == RESIDUALS  # the calibrated steps it reaches
    (entry,) = longer["intervals"]
    assert entry["calibrated_steps"] == CALIBRATED
    assert entry["note"] == "steps 13-15: step 12's width, kept past the calibrated steps"
    shorter = post(api, {"horizon": 2, "levels": [99]}).json()
    assert shorter["interval_residuals"] == RESIDUALS[:2]
    assert shorter["intervals"][0]["note"].startswith("steps 1-2: the largest error seen")


def test_levels_do_not_change_the_forecast(api: TestClient) -> None:
    plain = post(api, {"horizon": 6}).json()
    with_levels = post(api, {"horizon": 6, "levels": [50, 99]}).json()
    assert with_levels["forecast"] == plain["forecast"]
    assert plain["intervals"] == []
    assert plain["interval_calibrated_steps"] == CALIBRATED
    assert plain["interval_residuals"] is None  # no levels asked: no counts either


def test_levels_in_any_order_answer_one_entry_each_in_ascending_order(api: TestClient) -> None:
    response = post(api, {"horizon": 3, "levels": [99, 50, 90]})
    assert response.status_code == 200
    assert [entry["level"] for entry in response.json()["intervals"]] == [50, 90, 99]
    every = post(api, {"horizon": 3, "levels": list(LEVELS)})
    assert [entry["level"] for entry in every.json()["intervals"]] == list(LEVELS)


def test_intervals_of_batched_contexts_are_shaped_like_the_forecasts(
    api: TestClient, trained: tuple[Path, str]
) -> None:
    x = np.linspace(0, 0.7, 8)
    contexts = [np.stack([np.sin(x + s), np.cos(x + s)], 1).tolist() for s in (0.0, 1.0, 2.0)]
    response = post(api, {"horizon": 4, "contexts": contexts, "levels": [95]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["forecast"] is None
    forecasts = np.asarray(body["forecasts"])
    assert forecasts.shape == (3, 4, 2)
    (entry,) = body["intervals"]
    lower, upper = np.asarray(entry["lower"]), np.asarray(entry["upper"])
    assert lower.shape == upper.shape == (3, 4, 2)
    half = half_widths(widths_of(trained[0]), 95, 4)
    for i in range(3):  # the same widths around each context's forecast
        np.testing.assert_allclose(upper[i] - forecasts[i], half, atol=1e-9)
        np.testing.assert_allclose(forecasts[i] - lower[i], half, atol=1e-9)
    single = post(api, {"horizon": 4, "context": contexts[1], "levels": [95]}).json()
    np.testing.assert_allclose(single["intervals"][0]["upper"], upper[1], atol=1e-6)


@pytest.mark.parametrize("levels", [[81], [80, 100], [0], [-95], ["ninety"], [95.5]])
def test_a_level_outside_the_list_is_422_naming_levels(api: TestClient, levels: list[Any]) -> None:
    response = post(api, {"horizon": 3, "levels": levels})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"].startswith("levels"), error


def test_levels_must_be_a_list(api: TestClient) -> None:
    response = post(api, {"horizon": 3, "levels": 80})
    assert response.status_code == 422
    assert response.json()["error"]["field"].startswith("levels")


def test_a_model_without_calibrated_intervals_is_422_intervals_unavailable(
    api: TestClient,
) -> None:
    response = post(api, {"horizon": 5, "levels": [80]}, model="sine")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "intervals_unavailable"
    assert error["field"] == "levels"
    assert "sine" in error["message"]
    plain = post(api, {"horizon": 5}, model="sine")  # without levels it still forecasts
    assert plain.status_code == 200
    assert plain.json()["intervals"] == []
    assert plain.json()["interval_calibrated_steps"] is None
    assert post(api, {"horizon": 5, "levels": []}, model="sine").status_code == 200


def test_job_metrics_carry_interval_coverage_and_mase(
    api: TestClient, trained: tuple[Path, str]
) -> None:
    job = api.get(f"/v1/jobs/{trained[1]}").json()
    assert job["status"] == "succeeded"
    assert job["spec"]["training"]["interval_steps"] == CALIBRATED
    assert job["spec"]["architecture"]["instance_norm"] is True
    metrics = job["metrics"]
    intervals = metrics["intervals"]
    assert intervals["calibrated_steps"] == CALIBRATED
    assert intervals["residuals"] == RESIDUALS
    assert intervals["calibrated_steps_by_level"] == {
        "50": 12, "80": 12, "90": 12, "95": 12, "98": 12, "99": 0
    }  # fmt: skip
    assert intervals["test_steps"] == CALIBRATED
    assert intervals["test_rollouts"] == 80  # every test row an origin
    assert intervals["test_values"] == sum(RESIDUALS)
    assert set(intervals["coverage"]) == {str(level) for level in LEVELS}
    for value in intervals["coverage"].values():
        assert 0 <= value <= 100
    for key in ("one_step", "rollout"):
        model, naive = metrics[key], metrics[f"naive_{key}"]
        assert math.isclose(model["mase"], model["mae"] / naive["mae"], rel_tol=1e-12)
    # Listings leave the count per step (as many as the horizon) to the job's page.
    (listed,) = [item for item in api.get("/v1/jobs").json()["items"] if item["id"] == job["id"]]
    assert listed["metrics"]["intervals"] == intervals | {"residuals": None}
    # The model's description shows the same metrics.
    (version,) = api.get("/v1/models/noisy").json()["versions"]
    assert version["metrics"]["intervals"] == intervals
    assert version["metrics"]["one_step"]["mase"] == metrics["one_step"]["mase"]


def test_instance_norm_model_is_saved_with_its_config(trained: tuple[Path, str]) -> None:
    checkpoint = load(make_settings(trained[0]).models_dir / "noisy" / "1", torch.device("cpu"))
    assert checkpoint.model.config.instance_norm is True
    assert checkpoint.rollout_mode == "window"


def test_session_models_trained_by_jobs_have_intervals(models_client: TestClient) -> None:
    response = post(models_client, {"horizon": 40, "levels": [90]}, model="tiny-sine")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["interval_calibrated_steps"] == 60  # 600 points: the 60 validation rows
    assert body["interval_residuals"] == list(range(60, 20, -1))
    forecast = np.asarray(body["forecast"])
    (entry,) = body["intervals"]
    assert np.asarray(entry["lower"]).shape == forecast.shape == (40, 1)
    assert (np.asarray(entry["upper"]) >= forecast).all()


def test_interval_bounds_count_towards_the_forecast_values_limit(
    trained: tuple[Path, str],
) -> None:
    settings = make_settings(trained[0], max_forecast_values=25)
    with TestClient(create_app(settings)) as client:
        alone = post(client, {"horizon": 5})  # 5 steps x 2 columns = 10 values
        assert alone.status_code == 200, alone.text
        bounded = post(client, {"horizon": 5, "levels": [80, 95]})  # x (1 + 2 x 2) = 50
        assert bounded.status_code == 422
        error = bounded.json()["error"]
        assert error["code"] == "forecast_too_large"
        assert "50 values" in error["message"]


def test_a_checkpoint_of_the_earlier_layout_serves_the_bands_it_stored(tmp_path: Path) -> None:
    """A one-series checkpoint of format 1 kept its half-widths on the series' own scale: the
    bands it serves are those widths, as before."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "format1_sine_meta.json"
    folder = make_settings(tmp_path).models_dir / "old" / "1"
    folder.mkdir(parents=True)
    shutil.copy(BUNDLED_MODELS / "sine" / "1" / "weights.safetensors", folder)
    stored = json.loads(fixture.read_text())
    (folder / "meta.json").write_text(json.dumps(stored | {"name": "old"}))
    with TestClient(create_app(make_settings(tmp_path))) as client:
        answer = client.post("/v1/models/old/forecast", json={"horizon": 30, "levels": [95]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    forecast, (entry,) = np.asarray(body["forecast"]), body["intervals"]
    widths = np.asarray(stored["intervals"]["half_widths"])
    expected = half_widths(widths, 95, 30)
    np.testing.assert_allclose(np.asarray(entry["upper"]) - forecast, expected, rtol=1e-9)
    np.testing.assert_allclose(forecast - np.asarray(entry["lower"]), expected, rtol=1e-9)
    # Saved before residuals were counted: whether each step is calibrated is unknown.
    assert body["interval_residuals"] is None
    assert entry["calibrated_steps"] is None
    assert entry["note"].startswith("steps 1-30: unknown whether a calibrated 95% interval")


def test_the_bundled_model_says_its_counts_are_unknown(models_client: TestClient) -> None:
    response = post(models_client, {"horizon": 3, "levels": [80]}, model="sine")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["interval_calibrated_steps"] == 200
    assert body["interval_residuals"] is None
    (entry,) = body["intervals"]
    assert entry["calibrated_steps"] is None
    assert "the model was saved before its residuals were counted" in entry["note"]


def test_a_horizon_is_calibrated_whole_and_says_where_residuals_run_short(
    tmp_path: Path,
) -> None:
    """`forecast_horizon: 12` on 120 rows: 12 validation rows, every one an origin, so step k
    has 13 - k residuals; 80% is calibrated for the 9 steps with 4 or more."""
    settings, repos = inline_repositories(tmp_path)
    spec = {
        "model_name": "short",
        "data": {"function": "sin", "params": {"points": 120, "stop": 60, "noise": 0.1}},
        "forecast_horizon": 12,
        "training": {"epochs": 2, "ensemble": 1, "min_steps": 0},
    }
    final = run_inline(settings, repos, spec)
    assert final.status == JobStatus.SUCCEEDED, final.error
    assert final.spec["training"]["validation_rows"] == 12
    assert final.metrics is not None
    assert final.metrics["intervals"]["calibrated_steps"] == 12
    with TestClient(create_app(settings)) as client:
        body = post(client, {"horizon": 12, "levels": [80, 90, 95]}, model="short").json()
    assert body["interval_calibrated_steps"] == 12
    assert body["interval_residuals"] == list(range(12, 0, -1))
    marks = [(entry["calibrated_steps"], entry["note"]) for entry in body["intervals"]]
    assert [steps for steps, _ in marks] == [9, 4, 0]
    assert marks[0][1].startswith("steps 10-12: the largest error seen in calibration")
    assert marks[2][1].startswith("steps 1-12: the largest error seen in calibration")
    assert "12 residuals or fewer a step: at most a 92% interval; 95% needs 19" in marks[2][1]


def test_every_series_of_a_panel_carries_its_bands_marks(tmp_path: Path) -> None:
    train_on_panel(tmp_path, PANEL_SPEC | {"training": PANEL_SPEC["training"] | {"epochs": 2}})
    with TestClient(create_app(make_settings(tmp_path))) as client:
        body = post(client, {"horizon": 3, "levels": [50, 95]}, model="stores").json()
    residuals = body["interval_residuals"]
    assert len(residuals) == 3
    # Three parts of 19, 14 and 17 rows, every row an origin.
    assert residuals == [19 + 14 + 17 - 3 * k for k in range(3)]
    for item in body["series"]:
        fifty, ninety_five = item["intervals"]
        assert (fifty["calibrated_steps"], fifty["note"]) == (3, None)
        assert (ninety_five["calibrated_steps"], ninety_five["note"]) == (3, None)
