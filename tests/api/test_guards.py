"""Guards over the API: a job's metrics compare each series with the naive, seasonal naive and
drift forecasts on its validation and test parts; a forecast answers the warnings of the model
and of each series it continues; listings keep a panel's per-series comparisons out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.jobs.table import JobStatus
from tests.api.test_job_events import repository, running_job
from tests.factories import PANEL_SERIES, many_series_metrics, serve_panel_model

# One epoch of a 4-unit model: a job of seconds that loses to a clean yearly wave somewhere.
TINY_PANEL: dict[str, Any] = {
    "model_name": "tiny-stores",
    "window": {"lookback": 12, "horizon": 3},
    "architecture": {"hidden_size": 4, "num_layers": 1},
    "training": {"epochs": 1, "validation_fraction": 0.2, "test_fraction": 0.2},
}
SPLITS = ("validation", "test")
BASELINES = ("naive", "seasonal_naive", "drift")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    yield from serve_panel_model(tmp_path_factory.mktemp("guards"), TINY_PANEL)


def losses(guards: dict[str, Any], season: int) -> list[tuple[str, str]]:
    """(split, baseline) of every loss a series' guards record that a warning says, in the
    warnings' order: with a season of 1 the seasonal naive forecast is the naive one, said once."""
    warned = BASELINES if season > 1 else ("naive", "drift")
    return [
        (split, baseline)
        for split in SPLITS
        for baseline in warned
        if baseline in guards[split]["loses_to"]
    ]


def test_each_series_forecast_carries_the_warnings_of_its_series(
    trained: tuple[TestClient, str],
) -> None:
    client, job_id = trained
    metrics = client.get(f"/v1/jobs/{job_id}").json()["metrics"]
    rows = {row["id"]: row for row in metrics["series"]}
    answer = client.post("/v1/models/tiny-stores/forecast", json={"horizon": 2})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["warnings"] == metrics["warnings"]  # the model's, as its job recorded them
    assert [item["id"] for item in body["series"]] == list(PANEL_SERIES)
    warned = []
    for item in body["series"]:
        guards = rows[item["id"]]["guards"]
        lost = losses(guards, metrics["season_length"])
        assert len(item["warnings"]) == len(lost)
        for (split, baseline), warning in zip(lost, item["warnings"], strict=True):
            mae, other = guards[split]["mae"], guards[split]["baselines"][baseline]
            assert warning.endswith(f"on the {split} part: MAE {mae:.6g} against {other:.6g}")
            # the job names the series among those losing to that baseline on that split
            assert item["id"] in metrics["guards"][split]["losing"][baseline]["series"]
            assert any(repr(item["id"]) in line for line in metrics["warnings"])
        if lost:
            warned.append(item["id"])
    assert warned  # one epoch of four units loses to some simple forecast of some series
    alone = client.post(
        "/v1/models/tiny-stores/forecast", json={"horizon": 2, "series": [warned[0]]}
    ).json()
    (item,) = alone["series"]
    assert item["warnings"] == next(s for s in body["series"] if s["id"] == warned[0])["warnings"]


def test_the_listing_leaves_each_series_comparison_to_the_job_page(
    trained: tuple[TestClient, str],
) -> None:
    client, job_id = trained
    listed = client.get("/v1/jobs").json()["items"][0]
    assert listed["id"] == job_id
    metrics = listed["metrics"]
    assert metrics["series"] is None
    assert set(metrics["guards"]) == {"listed_at_most", *SPLITS}
    assert metrics["guards"]["test"]["series_measured"] == len(PANEL_SERIES)
    assert metrics["drift"]["mae"] > 0


def test_listings_stay_the_same_size_however_many_series_lose(client: TestClient) -> None:
    jobs = repository(client)
    sizes = {}
    for series in (60, 6_000):
        job_id, token = running_job(jobs, [])
        metrics = many_series_metrics(series)
        assert jobs.finish(job_id, token, JobStatus.SUCCEEDED, metrics=metrics)
        (listed,) = [j for j in client.get("/v1/jobs").json()["items"] if j["id"] == job_id]
        losing = listed["metrics"]["guards"]["test"]["losing"]["naive"]
        assert losing["count"] == series - series // 3  # every third series wins
        assert len(losing["series"]) == listed["metrics"]["guards"]["listed_at_most"] == 20
        sizes[series] = len(json.dumps({**listed, "id": None, "created_at": None}))
        page = client.get(f"/v1/jobs/{job_id}").json()["metrics"]
        assert len(page["series"]) == min(series, 100)  # the first series' comparisons
        assert page["series"][1]["guards"]["test"]["loses_to"] == ["naive"]
    assert abs(sizes[6_000] - sizes[60]) < 200  # only the counts' digits differ
    assert sizes[6_000] < 12_000


def test_a_model_of_one_series_answers_its_own_warnings(models_client: TestClient) -> None:
    (version,) = models_client.get("/v1/models/tiny-sine").json()["versions"]
    metrics = version["metrics"]
    (row,) = metrics["series"]
    assert len(metrics["warnings"]) == len(losses(row["guards"], metrics["season_length"]))
    body = models_client.post("/v1/models/tiny-sine/forecast", json={"horizon": 3}).json()
    assert body["warnings"] == metrics["warnings"]
    assert body["series"] is None
