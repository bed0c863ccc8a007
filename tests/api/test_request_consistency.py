"""Requests that repeat or overreach are refused with a message that names what is wrong: a level
or a series asked for twice, held-out rows a series cannot hold."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from fastapi.testclient import TestClient

from app.ml.checkpoints import read_meta, write_meta
from tests.conftest import AppFactory
from tests.factories import PANEL_SPEC, train_on_panel


def test_a_level_given_twice_is_refused_naming_it(models_client: TestClient) -> None:
    answer = models_client.post(
        "/v1/models/sine/forecast", json={"horizon": 3, "levels": [80, 95, 80]}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["field"] == "levels"
    assert "80 twice" in error["message"]
    schema = models_client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["ForecastRequest"]["properties"]["levels"]["uniqueItems"] is True


def test_a_series_asked_for_twice_is_named(tmp_path: Path, make_client: AppFactory) -> None:
    train_on_panel(tmp_path, PANEL_SPEC)
    client = make_client()
    store = client.app.state.checkpoints.root  # type: ignore[attr-defined]
    shutil.copytree(tmp_path / "models", store, dirs_exist_ok=True)
    answer = client.post(
        "/v1/models/stores/forecast", json={"horizon": 2, "series": ["east", "north", "east"]}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("duplicate_series", "series[2]")
    assert error["message"] == "series 'east' is asked for twice (first at series[0])"


def test_held_out_rows_longer_than_the_series_are_refused_in_words(client: TestClient) -> None:
    answer = client.post(
        "/v1/jobs",
        json={
            "model_name": "short",
            "data": {"values": [float(value) for value in range(30)]},
            "training": {"validation_rows": 20, "test_rows": 15},
        },
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["field"], error["code"]) == ("training.validation_rows", "series_too_short")
    assert error["message"].startswith("30 rows cannot hold 20 validation and 15 test rows")
    assert "-" not in error["message"].split(";")[0]  # no negative row count


def test_a_requested_series_id_is_read_as_the_dataset_stores_ids(
    tmp_path: Path, make_client: AppFactory
) -> None:
    """Surrounding spaces go, as when the dataset was uploaded; an axis that a stored model
    kept from before frequencies were checked answers no timestamps rather than an error."""
    train_on_panel(tmp_path, PANEL_SPEC)
    folder = tmp_path / "models" / "stores" / "1"
    meta = read_meta(folder)
    north, *others = meta.series
    assert north.id == "north"
    assert north.time_axis is not None
    stored = replace(north, time_axis=north.time_axis | {"freq": "1ns"})  # once let through
    write_meta(folder, replace(meta, series=[stored, *others]))
    client = make_client()
    store = client.app.state.checkpoints.root  # type: ignore[attr-defined]
    shutil.copytree(tmp_path / "models", store, dirs_exist_ok=True)
    answer = client.post(
        "/v1/models/stores/forecast", json={"horizon": 2, "series": [" east\t", "north"]}
    )
    assert answer.status_code == 200, answer.text
    east, north = answer.json()["series"]
    assert (east["id"], north["id"]) == ("east", "north")
    assert east["timestamps"] is not None
    assert north["timestamps"] is None
