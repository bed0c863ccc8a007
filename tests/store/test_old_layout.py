"""A store and a models/ folder written before the reorganisation by domain are read unchanged.

The SQL fixture is a dump of a SQLite store that the earlier layout (main at c36443d) wrote: a
succeeded job (the bundled model's request), an uploaded two-column dataset and a job queued
on it. The models/ folder is the bundled one, written by the same earlier code.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.core.db import make_engine, make_session_factory
from app.datasets import load_values
from app.jobs.repository import open_repositories
from app.main import create_app
from app.migrations import current_revision
from tests.factories import BUNDLED_MODELS, make_settings
from tests.store.test_migrations import HEAD

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "old_layout_store.sql"
SUCCEEDED, QUEUED = "5a505bd4c610467eacc26ab2ed7e4207", "889d35f28a8d42fc899655ce95c6a445"
DATASET = "63ab8d17f0d0454885c85a8d1cddfa1e"


@pytest.fixture
def old_root(tmp_path: Path) -> Path:
    """The earlier layout's database and models/ folder, side by side under `tmp_path`."""
    with sqlite3.connect(tmp_path / "forecast.db") as connection:
        connection.executescript(FIXTURE.read_text())
    shutil.copytree(BUNDLED_MODELS, tmp_path / "models")
    return tmp_path


@pytest.fixture
def client(old_root: Path) -> Iterator[TestClient]:
    settings = make_settings(old_root, database_url=f"sqlite:///{old_root}/forecast.db")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_store_is_upgraded_in_place(old_root: Path, client: TestClient) -> None:
    """Written at revision 0002; the service's start brings it to head, rows kept."""
    engine = make_engine(f"sqlite:///{old_root}/forecast.db")
    try:
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()
    assert client.get("/v1/datasets").json()["total"] == 1


def test_old_jobs_read_with_their_spec_history_metrics_and_model(client: TestClient) -> None:
    listed = client.get("/v1/jobs").json()
    assert listed["total"] == 2
    assert {job["id"]: job["status"] for job in listed["items"]} == {
        SUCCEEDED: "succeeded",
        QUEUED: "queued",
    }
    job = client.get(f"/v1/jobs/{SUCCEEDED}").json()
    assert job["spec"]["data"] == {
        "function": "sin",
        "params": {"start": 0.0, "stop": 100.0, "points": 10000, "noise": 0.0, "seed": 0},
    }
    assert job["model"] == {"name": "sine", "version": 1}
    assert job["progress"]["fraction"] == 1.0
    assert len(job["history"]) == job["metrics"]["epochs_run"] > 0
    assert job["metrics"]["rollout_mode"] in ("window", "state")
    assert job["metrics"]["one_step"]["mse"] < 1e-6
    assert job["metrics"]["intervals"]["coverage"].keys() == {"50", "80", "90", "95", "98", "99"}


def test_an_old_dataset_reads_back_value_for_value(client: TestClient, old_root: Path) -> None:
    found = client.get(f"/v1/datasets/{DATASET}").json()
    assert (found["name"], found["columns"], found["length"]) == ("load", ["load", "temp"], 120)
    engine = make_engine(f"sqlite:///{old_root}/forecast.db")
    try:
        _, datasets = open_repositories(make_session_factory(engine), old_root / "datasets")
        values, columns, time_axis, series = load_values(datasets=datasets, dataset_id=DATASET)
    finally:
        engine.dispose()
    x = np.linspace(0, 20, 120)
    expected = np.stack([np.round(np.sin(x), 6), np.round(np.cos(x), 6)], 1)
    assert columns == ["load", "temp"]
    assert values.tobytes() == expected.tobytes()
    assert time_axis is None  # stored before datasets had one
    assert series is None  # and before they held many series: one series


def test_an_old_dataset_upgraded_to_head_is_a_single_series(
    client: TestClient, old_root: Path
) -> None:
    """0004 adds the series column and 0005 the files; an old row keeps its values and a NULL
    series, so it reads as one series."""
    found = client.get(f"/v1/datasets/{DATASET}").json()
    assert (found["series_count"], found["series"]) == (1, None)
    engine = make_engine(f"sqlite:///{old_root}/forecast.db")
    try:
        assert current_revision(engine) == "0005"
        _, datasets = open_repositories(make_session_factory(engine), old_root / "datasets")
        assert datasets.series_lengths(DATASET) is None
    finally:
        engine.dispose()


def test_the_old_models_folder_lists_and_forecasts(client: TestClient) -> None:
    model = client.get("/v1/models/sine").json()
    assert [(v["version"], v["readable"]) for v in model["versions"]] == [(1, True)]
    answer = client.post("/v1/models/sine/forecast", json={"horizon": 5, "levels": [80]})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["forecast"]) == 5
    assert np.isfinite(answer.json()["forecast"]).all()


def test_old_rows_keep_their_rules(client: TestClient) -> None:
    """The queued job still guards its dataset; cancelling it frees the dataset."""
    assert client.delete(f"/v1/datasets/{DATASET}").status_code == 409
    assert client.post(f"/v1/jobs/{QUEUED}/cancel").json()["status"] == "cancelled"
    assert client.delete(f"/v1/datasets/{DATASET}").status_code == 204
    assert client.post(f"/v1/jobs/{SUCCEEDED}/cancel").status_code == 409
