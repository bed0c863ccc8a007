"""An ensemble through the job path: one version, its members' median served."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.jobs.table import JobStatus
from app.main import create_app
from app.ml.config import member_seed
from tests.factories import inline_repositories, make_settings, run_inline


def test_an_ensemble_job_saves_one_version_that_forecasts_with_intervals(
    tmp_path: Path,
) -> None:
    settings, repos = inline_repositories(tmp_path)
    spec = {
        "model_name": "trio",
        "data": {"function": "sin", "params": {"points": 400, "stop": 40}},
        "architecture": {"hidden_size": 8, "num_layers": 1},
        "training": {"epochs": 3, "ensemble": 3},
    }
    final = run_inline(settings, repos, spec)
    assert final.status == JobStatus.SUCCEEDED, final.error
    assert final.metrics is not None
    assert final.metrics["ensemble"] == 3
    assert final.metrics["rollout_mode"] == "window"
    with TestClient(create_app(make_settings(tmp_path))) as client:
        model = client.get("/v1/models/trio").json()
        assert [version["version"] for version in model["versions"]] == [1]
        assert model["versions"][0]["metrics"]["ensemble"] == 3
        answer = client.post("/v1/models/trio/forecast", json={"horizon": 5, "levels": [90]})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        forecast = np.asarray(body["forecast"])
        assert forecast.shape == (5, 1)
        (interval,) = body["intervals"]
        assert np.all(np.asarray(interval["lower"]) <= forecast)
        job = client.get(f"/v1/jobs/{final.id}").json()
        # every member's epochs, member by member
        assert [(entry["member"], entry["epoch"]) for entry in job["history"]] == [
            (member, epoch) for member in (1, 2, 3) for epoch in (1, 2, 3)
        ]
        progress = job["progress"]
        assert (progress["member"], progress["members"], progress["epoch"]) == (3, 3, 3)
        assert (progress["epochs"], progress["fraction"]) == (3, 1.0)
        members = job["metrics"]["members"]
        assert [member["seed"] for member in members] == [member_seed(0, n) for n in range(3)]
        assert all(member["epochs_run"] == 3 for member in members)
        assert job["metrics"]["best_epoch"] is None  # one per member, above


@pytest.mark.parametrize("members", [0, 17])
def test_an_ensemble_size_out_of_range_is_refused(client: TestClient, members: int) -> None:
    answer = client.post(
        "/v1/jobs",
        json={"model_name": "x", "data": {"function": "sin"}, "training": {"ensemble": members}},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "training.ensemble"


def test_a_refitted_job_with_a_backtest_reports_both_and_serves_the_refitted_model(
    tmp_path: Path,
) -> None:
    settings, repos = inline_repositories(tmp_path)
    spec = {
        "model_name": "refit",
        "data": {"function": "sin", "params": {"points": 300, "stop": 30}},
        "forecast_horizon": 6,
        "architecture": {"hidden_size": 8, "num_layers": 1},
        "training": {"epochs": 3, "ensemble": 2, "refit": True, "folds": 3, "min_steps": 0},
    }
    final = run_inline(settings, repos, spec)
    assert final.status == JobStatus.SUCCEEDED, final.error
    with TestClient(create_app(make_settings(tmp_path))) as client:
        job = client.get(f"/v1/jobs/{final.id}").json()
        metrics = job["metrics"]
        assert (metrics["ensemble"], metrics["refit_members"]) == (2, 2)
        backtest = metrics["backtest"]
        assert (backtest["folds"], backtest["steps"]) == (3, 6)
        assert [fold["fold"] for fold in backtest["per_fold"]] == [1, 2, 3]
        assert all(fold["mean"]["mase"] is not None for fold in backtest["per_fold"])
        # The test part holds the three folds: the horizon's rows and a row per extra fold.
        assert (
            job["spec"]["training"]["test_rows"] == job["spec"]["training"]["validation_rows"] + 2
        )
        answer = client.post("/v1/models/refit/forecast", json={"horizon": 6, "levels": [90]})
        assert answer.status_code == 200, answer.text


def test_member_lookbacks_through_the_api(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    spec = {
        "model_name": "windows",
        "data": {"function": "sin", "params": {"points": 300, "stop": 30}},
        "window": {"lookback": 12},
        "architecture": {"hidden_size": 8, "num_layers": 1},
        "training": {"epochs": 2, "ensemble": 2, "ensemble_lookbacks": [6, 12]},
    }
    final = run_inline(settings, repos, spec)
    assert final.status == JobStatus.SUCCEEDED, final.error
    with TestClient(create_app(make_settings(tmp_path))) as client:
        answer = client.post("/v1/models/windows/forecast", json={"horizon": 4})
        assert answer.status_code == 200, answer.text
        wrong = spec | {"training": spec["training"] | {"ensemble_lookbacks": [6, 10]}}
        refused = client.post("/v1/jobs", json=wrong | {"model_name": "wrong"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "training.ensemble_lookbacks"
