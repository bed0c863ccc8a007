"""A forecast with the history it continues (`history_rows`): the training series' last rows as
the model kept them, with their times on the series' own axis, per series for a model of named
series; bounded, refused with a context, and published in the OpenAPI schema."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.ml.checkpoints import read_meta, write_meta
from app.ml.functions import generate, resolve_params
from tests.factories import (
    BUNDLED_MODELS,
    PANEL_SERIES,
    PANEL_SPEC,
    inline_repositories,
    make_settings,
    panel_csv,
    run_inline,
    train_on_panel,
)

QUICK = {"architecture": {"hidden_size": 4, "num_layers": 1}, "training": {"epochs": 1}}
DAYS = pd.date_range("2024-01-01", periods=120, freq="D")  # one daily series: a weekly season
DAILY = np.round(10 + np.sin(2 * np.pi * np.arange(120) / 7), 4)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding the bundled model, `earlier` (the bundled model as checkpoints were written
    before they kept rows beyond the lookback), a monthly panel's model `stores` and a daily
    series' model `daily`."""
    root: Path = tmp_path_factory.mktemp("history")
    shutil.copytree(BUNDLED_MODELS, root / "models", dirs_exist_ok=True)
    earlier = shutil.copytree(root / "models" / "sine", root / "models" / "earlier") / "1"
    meta = read_meta(earlier)
    kept_nothing = [replace(series, past=None) for series in meta.series]
    write_meta(earlier, replace(meta, name="earlier", series=kept_nothing))
    train_on_panel(root, PANEL_SPEC | QUICK)
    text = "date,value\n" + "".join(f"{d:%Y-%m-%d},{v}\n" for d, v in zip(DAYS, DAILY, strict=True))
    with TestClient(create_app(make_settings(root))) as client:
        answer = client.post("/v1/datasets", files={"file": ("d.csv", text.encode(), "text/csv")})
        assert answer.status_code == 201, answer.text
    spec = {"model_name": "daily", "data": {"dataset_id": answer.json()["id"]}} | QUICK
    spec["window"] = {"lookback": 10}  # under the 24 rows a checkpoint keeps at least
    assert run_inline(*inline_repositories(root), spec).error is None
    return root


@pytest.fixture(scope="module")
def client(root: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(root))) as client:
        yield client


def forecast(client: TestClient, name: str, **body: Any) -> dict[str, Any]:
    answer = client.post(f"/v1/models/{name}/forecast", json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def panel_values() -> dict[str, np.ndarray]:
    """Each series of the panel's CSV, by id."""
    frame = pd.read_csv(pd.io.common.StringIO(panel_csv()))
    return {name: rows["sales"].to_numpy() for name, rows in frame.groupby("unique_id")}


def test_each_series_answers_its_last_three_seasons_with_their_months(client: TestClient) -> None:
    body = forecast(client, "stores", horizon=3, levels=[80], history_rows=2_000)
    values = panel_values()
    for item in body["series"]:
        start, rows, _ = PANEL_SERIES[item["id"]]
        history = np.asarray(item["history"])
        assert history.shape == (36, 1)  # monthly: a season of 12, three of them kept
        np.testing.assert_allclose(history[:, 0], values[item["id"]][-36:], rtol=1e-12)
        months = pd.date_range(start, periods=rows, freq="MS")[-36:]
        assert item["history_timestamps"] == [month.strftime("%Y-%m-%d") for month in months]
        assert len(item["forecast"]) == len(item["timestamps"]) == 3
    assert (body["history"], body["history_timestamps"]) == (None, None)


def test_history_rows_takes_the_last_rows_of_the_series_asked(client: TestClient) -> None:
    body = forecast(client, "stores", horizon=2, series=["south"], history_rows=5)
    (item,) = body["series"]
    np.testing.assert_allclose(np.asarray(item["history"])[:, 0], panel_values()["south"][-5:])
    assert item["history_timestamps"][-1] == "2023-06-01"  # the 72nd month from 2017-07
    plain = forecast(client, "stores", horizon=2, series=["south"])["series"][0]
    assert (plain["history"], plain["history_timestamps"]) == (None, None)
    assert plain["forecast"] == item["forecast"]  # the history does not change the forecast


def test_one_series_answers_its_history_beside_the_forecast(client: TestClient) -> None:
    body = forecast(client, "daily", horizon=7, history_rows=100)
    history = np.asarray(body["history"])
    assert history.shape == (24, 1)  # three weeks are fewer than the 24 rows kept at least
    np.testing.assert_allclose(history[:, 0], DAILY[-24:], rtol=1e-12)
    assert body["history_timestamps"] == [f"{day:%Y-%m-%d}" for day in DAYS[-24:]]
    assert body["timestamps"][0] == "2024-04-30"  # the day after the last of the history
    assert body["series"] is None


def test_the_bundled_model_answers_the_rows_it_kept(client: TestClient) -> None:
    body = forecast(client, "sine", horizon=5, history_rows=50)
    sine = generate("sin", resolve_params("sin", {}))[:, 0]  # the series it was trained on
    # 24 rows, the least a checkpoint keeps (its lookback is 10), ending where training ended
    np.testing.assert_allclose(np.asarray(body["history"])[:, 0], sine[-24:], atol=1e-12)
    assert body["history_timestamps"] is None  # a function's series has no time axis


def test_a_model_written_before_rows_were_kept_answers_its_tail(client: TestClient) -> None:
    body = forecast(client, "earlier", horizon=5, history_rows=50)
    meta = client.get("/v1/models/earlier").json()["versions"][0]
    assert np.asarray(body["history"]).shape == (meta["lookback"], 1)
    assert body["history_timestamps"] is None


def test_history_is_refused_for_a_forecast_from_a_context(client: TestClient) -> None:
    context = list(np.sin(np.arange(10) / 10))
    answer = client.post(
        "/v1/models/sine/forecast", json={"horizon": 3, "context": context, "history_rows": 10}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("history_needs_training_series", "history_rows")
    over = client.post("/v1/models/sine/forecast", json={"horizon": 3, "history_rows": 2_001})
    assert (over.status_code, over.json()["error"]["field"]) == (422, "history_rows")


def test_the_history_counts_toward_the_answers_values(root: Path, tmp_path: Path) -> None:
    # 3 series x 2 steps = 6 forecast values fit a limit of 100; with 36 rows each they do not
    settings = make_settings(
        root, max_forecast_values=100, database_url=f"sqlite:///{tmp_path}/jobs.db"
    )  # the same models, beside the module's app
    with TestClient(create_app(settings)) as client:
        assert forecast(client, "stores", horizon=2)["series"]
        answer = client.post(
            "/v1/models/stores/forecast", json={"horizon": 2, "history_rows": 2_000}
        )
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] == "forecast_too_large"
        assert "108 values of history is 114 values" in error["message"]
        assert forecast(client, "stores", horizon=2, history_rows=30)["series"]  # 96 values


def test_the_schema_documents_the_history(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    asked = schemas["ForecastRequest"]["properties"]["history_rows"]
    assert (asked["minimum"], asked["maximum"], asked["default"]) == (0, 2_000, 0)
    for answer in ("ForecastResponse", "SeriesForecast"):
        properties = schemas[answer]["properties"]
        assert "the series' last rows before the forecast" in properties["history"]["description"]
        assert "history_timestamps" in properties
