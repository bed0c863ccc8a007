"""Real series as people keep them, end to end: a CSV exactly as pandas' `to_csv()` writes it
(an unnamed date index), a job on it, and a forecast whose timestamps continue the index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.server import Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("time-series"), workers=1).start()
    yield running
    running.stop()


def test_a_pandas_csv_trains_and_forecasts_with_timestamps(server: Server) -> None:
    index = pd.date_range("2010-01-01", periods=120, freq="MS")
    frame = pd.DataFrame({"sales": 10 + np.sin(np.arange(120) * 2 * np.pi / 12)}, index=index)
    upload = server.http.post(
        "/v1/datasets", files={"file": ("sales.csv", frame.to_csv().encode(), "text/csv")}
    )
    assert upload.status_code == 201, upload.text
    dataset = upload.json()
    assert dataset["columns"] == ["sales"]  # the index is the time axis, not a column
    assert dataset["time"] == {
        "kind": "dates", "start": "2010-01-01", "end": "2019-12-01", "freq": "MS",
    }  # fmt: skip
    job = server.http.post(
        "/v1/jobs",
        json={
            "model_name": "monthly-sales",
            "data": {"dataset_id": dataset["id"]},
            "window": {"lookback": 12},
            "training": {"epochs": 3},
        },
    ).json()
    finished = server.wait_for(job["id"], {"succeeded", "failed"})
    assert finished["status"] == "succeeded", finished["error"]
    forecast = server.http.post("/v1/models/monthly-sales/forecast", json={"horizon": 6}).json()
    assert forecast["timestamps"] == [f"2020-0{month}-01" for month in range(1, 7)]
    assert len(forecast["forecast"]) == 6


def test_a_weekly_series_with_gaps_uploads_with_interpolation(
    server: Server, tmp_path: Path
) -> None:
    """Like statsmodels' co2: weekly on Saturdays, weeks missing and values empty."""
    index = pd.date_range("1958-03-29", periods=200, freq="W-SAT")
    co2 = pd.Series(315 + 0.02 * np.arange(200), index=index, name="co2")
    co2.iloc[[5, 6, 50]] = np.nan
    csv = co2.drop(index[[20, 21, 22]]).to_frame().to_csv()
    refused = server.http.post(
        "/v1/datasets", files={"file": ("co2.csv", csv.encode(), "text/csv")}
    )
    assert refused.status_code == 422
    accepted = server.http.post(
        "/v1/datasets",
        files={"file": ("co2.csv", csv.encode(), "text/csv")},
        data={"missing": "interpolate"},
    )
    assert accepted.status_code == 201, accepted.text
    dataset = accepted.json()
    assert dataset["time"]["freq"] == "W-SAT"
    assert dataset["length"] == 200
    assert dataset["filled"] == {"co2": 6}  # 3 empty cells and 3 missing weeks
