"""A job that searches its configuration: the trials in its view, the winner served."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.jobs.table import JobStatus
from app.main import create_app
from tests.factories import inline_repositories, make_settings, run_inline


def test_a_searching_job_shows_its_trials_and_serves_the_winner(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    spec = {
        "model_name": "chosen",
        "data": {"function": "x_sin", "params": {"points": 240, "stop": 24}},
        "forecast_horizon": 6,
        "architecture": {"hidden_size": 8, "num_layers": 1},
        "training": {"epochs": 3, "ensemble": 2, "search_trials": 3, "search_budget": 0},
    }
    final = run_inline(settings, repos, spec)
    assert final.status == JobStatus.SUCCEEDED, final.error
    with TestClient(create_app(make_settings(tmp_path))) as client:
        job = client.get(f"/v1/jobs/{final.id}").json()
        found = job["metrics"]["search"]
        assert [trial["trial"] for trial in found["trials"]] == [1, 2, 3]
        assert found["trials"][0]["lookback"] == job["spec"]["window"]["lookback"]
        scores = [trial["score"] for trial in found["trials"]]
        won = found["trials"][found["winner"] - 1]
        assert won["score"] == min(scores)
        assert found["origins"] >= 1
        assert found["steps"] >= 1
        # the history is the model's: its two members' epochs, not the candidates'
        assert {entry["member"] for entry in job["history"]} == {1, 2}
        progress = job["progress"]
        assert (progress["stage"], progress["fraction"]) == ("fit", 1.0)
        members = job["metrics"]["members"]
        assert sorted(m["lookback"] for m in members) == sorted(found["ensemble_lookbacks"])
        model = client.get("/v1/models/chosen").json()
        assert model["versions"][0]["lookback"] == max(found["ensemble_lookbacks"])
        answer = client.post("/v1/models/chosen/forecast", json={"horizon": 6})
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("field", "value"), [("search_trials", 33), ("loss", "huber")])
def test_a_search_or_loss_out_of_range_is_refused(
    client: TestClient, field: str, value: object
) -> None:
    answer = client.post(
        "/v1/jobs",
        json={"model_name": "x", "data": {"function": "sin"}, "training": {field: value}},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == f"training.{field}"
