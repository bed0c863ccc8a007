"""A global model over the API: a long-format upload of several series, one job, forecasts per
series with their own timestamps, cold starts, and the refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.factories import (
    PANEL_SERIES,
    PANEL_SPEC,
    panel_csv,
    serve_panel_model,
)


def upload(client: TestClient, text: str) -> dict[str, Any]:
    answer = client.post("/v1/datasets", files={"file": ("p.csv", text.encode(), "text/csv")})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    yield from serve_panel_model(tmp_path_factory.mktemp("panel"), PANEL_SPEC)


def test_the_job_reports_each_series_and_their_means(trained: tuple[TestClient, str]) -> None:
    client, job_id = trained
    metrics = client.get(f"/v1/jobs/{job_id}").json()["metrics"]
    assert (metrics["series_count"], metrics["season_length"]) == (3, 12)
    assert [row["id"] for row in metrics["series"]] == list(PANEL_SERIES)
    assert metrics["mean"]["mase"] < 1  # a clean seasonal wave beats the last value
    for name in ("mase_seasonal", "smape"):
        assert metrics["mean"][name] is not None
    listed = client.get("/v1/jobs").json()["items"][0]["metrics"]
    assert listed["series"] is None  # kept out of listings
    assert listed["mean"] == metrics["mean"]
    version = client.get("/v1/models/stores").json()["versions"][0]
    assert (version["series_count"], version["metrics"]["series_count"]) == (3, 3)
    assert version["metrics"]["series"] == metrics["series"]  # read from the series' file


def test_a_versions_series_scores_are_paged(trained: tuple[TestClient, str]) -> None:
    client, job_id = trained
    every = client.get(f"/v1/jobs/{job_id}").json()["metrics"]["series"]
    page = client.get("/v1/models/stores/versions/1/series?limit=2&offset=1").json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert page["items"] == every[1:3]
    assert client.get("/v1/models/stores/versions/1/series?offset=5").json()["items"] == []
    missing = client.get("/v1/models/stores/versions/9/series")
    assert missing.status_code == 404
    assert client.get("/v1/models/stores/versions/1/series?limit=1001").status_code == 422


def test_every_series_is_continued_from_its_own_tail_with_its_own_timestamps(
    trained: tuple[TestClient, str],
) -> None:
    client, _ = trained
    answer = client.post("/v1/models/stores/forecast", json={"horizon": 4, "levels": [90]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["forecast"], body["forecasts"], body["timestamps"]) == (None, None, None)
    assert [item["id"] for item in body["series"]] == list(PANEL_SERIES)
    for item in body["series"]:
        start, rows, level = PANEL_SERIES[item["id"]]
        after = pd.date_range(start, periods=rows + 4, freq="MS")[rows:]
        assert item["timestamps"] == [stamp.strftime("%Y-%m-%d") for stamp in after]
        values = np.asarray(item["forecast"])
        assert values.shape == (4, 1)
        # each series on its own level: within the band its wave spans
        assert np.all(np.abs(values - level) < 0.4 * level)
        (interval,) = item["intervals"]
        width = np.asarray(interval["upper"]) - np.asarray(interval["lower"])
        assert np.all(width > 0)
        assert np.all(width < 0.5 * level)  # scaled by the series' own spread


def test_a_client_asking_for_ndjson_gets_the_answer_a_series_a_line(
    trained: tuple[TestClient, str],
) -> None:
    client, _ = trained
    request = {"horizon": 3, "levels": [80]}
    whole = client.post("/v1/models/stores/forecast", json=request).json()
    answer = client.post(
        "/v1/models/stores/forecast", json=request, headers={"Accept": "application/x-ndjson"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    head, *items = [json.loads(line) for line in answer.text.splitlines()]
    assert head == whole | {"series": None}
    assert items == whole["series"]  # the same answer, one series a line
    single = client.post(
        "/v1/models/stores/forecast",
        json={"horizon": 2, "context": [[1.0]] * 30},
        headers={"Accept": "application/x-ndjson"},
    )
    assert single.status_code == 200, single.text
    (line,) = single.text.splitlines()  # no per-series part: the answer is its one line
    assert json.loads(line)["forecast"] is not None


def test_chosen_series_come_in_the_order_asked(trained: tuple[TestClient, str]) -> None:
    client, _ = trained
    both = client.post("/v1/models/stores/forecast", json={"horizon": 2}).json()["series"]
    answer = client.post(
        "/v1/models/stores/forecast", json={"horizon": 2, "series": ["east", "north"]}
    )
    assert answer.status_code == 200, answer.text
    chosen = answer.json()["series"]
    assert [item["id"] for item in chosen] == ["east", "north"]
    by_id = {item["id"]: item["forecast"] for item in both}
    np.testing.assert_allclose(chosen[0]["forecast"], by_id["east"], rtol=1e-6)


def test_a_series_the_model_never_saw_is_forecast_from_its_context(
    trained: tuple[TestClient, str],
) -> None:
    client, _ = trained
    t = np.arange(24)
    context = (70_000 * (1 + 0.2 * np.sin(2 * np.pi * t / 12))).tolist()
    answer = client.post(
        "/v1/models/stores/forecast", json={"horizon": 3, "context": context, "levels": [80]}
    )
    assert answer.status_code == 200, answer.text
    predicted = np.asarray(answer.json()["forecast"])[:, 0]
    assert np.all(np.abs(predicted - 70_000) < 0.4 * 70_000)  # its own level, not the panel's


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"horizon": 2, "series": ["west"]}, "series[0]", "unknown_series"),
        ({"horizon": 2, "series": ["east", "east"]}, "series[1]", "duplicate_series"),
    ],
)
def test_unknown_and_repeated_series_are_named(
    trained: tuple[TestClient, str], body: dict[str, Any], field: str, code: str
) -> None:
    client, _ = trained
    answer = client.post("/v1/models/stores/forecast", json=body)
    assert answer.status_code == 422, answer.text
    assert (answer.json()["error"]["field"], answer.json()["error"]["code"]) == (field, code)


def test_series_and_a_context_together_are_refused(trained: tuple[TestClient, str]) -> None:
    client, _ = trained
    answer = client.post(
        "/v1/models/stores/forecast",
        json={"horizon": 2, "series": ["east"], "context": [1.0] * 12},
    )
    assert answer.status_code == 422


def test_a_one_series_model_has_no_series(models_client: TestClient) -> None:
    answer = models_client.post("/v1/models/sine/forecast", json={"horizon": 2, "series": ["a"]})
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "not_a_panel_model"


def test_a_series_too_short_to_split_is_named_at_submission(client: TestClient) -> None:
    text = panel_csv() + "".join(f"tiny,2020-0{m}-01,1.0\n" for m in range(1, 8))
    dataset = upload(client, text)
    answer = client.post("/v1/jobs", json=PANEL_SPEC | {"data": {"dataset_id": dataset["id"]}})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "series_too_short"
    assert "series 'tiny' (7 rows)" in error["message"]
    stateful = PANEL_SPEC | {
        "data": {"dataset_id": upload(client, panel_csv())["id"]},
        "window": {"lookback": 12},
        "training": {"stateful": True},
    }
    answer = client.post("/v1/jobs", json=stateful)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "training.stateful"
