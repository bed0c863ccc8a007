"""One series is a panel of one: the same rows uploaded as a plain CSV and as a long CSV with one
id train, with the same seed, to the same model, with metrics of one layout and the same
forecasts (each answered in its dataset's own shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from fastapi.testclient import TestClient

from app.jobs.table import JobRow, JobStatus
from app.main import create_app
from app.ml.checkpoints import load
from app.registry.checkpoint_store import CheckpointStore
from tests.factories import inline_repositories, make_settings, run_inline, untimed

ROWS = 120
SPEC: dict[str, Any] = {
    "window": {"lookback": 12, "horizon": 3},
    "architecture": {"hidden_size": 8, "num_layers": 1},
    "training": {"epochs": 4, "seed": 3, "interval_steps": 6},
}


def frame() -> pd.DataFrame:
    """Ten years of a monthly wave with noise."""
    t = np.arange(ROWS)
    noise = np.random.default_rng(5).normal(0, 1.0, ROWS)
    values = (100 + 10 * np.sin(2 * np.pi * t / 12) + 0.2 * t + noise).round(3)
    return pd.DataFrame({"ds": pd.date_range("2015-01-01", periods=ROWS, freq="MS"), "y": values})


def upload(client: TestClient, csv: str) -> str:
    answer = client.post("/v1/datasets", files={"file": ("d.csv", csv.encode(), "text/csv")})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def trained(root: Path) -> tuple[JobRow, JobRow]:
    """Jobs of the same spec and seed on the rows as a plain CSV and as a one-id long CSV."""
    with TestClient(create_app(make_settings(root))) as client:
        plain = upload(client, frame().to_csv(index=False))
        one_id = upload(client, frame().assign(unique_id="shop").to_csv(index=False))
    settings, repos = inline_repositories(root)
    jobs = []
    for name, dataset in (("plain", plain), ("panel", one_id)):
        final = run_inline(
            settings, repos, SPEC | {"model_name": name, "data": {"dataset_id": dataset}}
        )
        assert final.status == JobStatus.SUCCEEDED, final.error
        jobs.append(final)
    return jobs[0], jobs[1]


def unnamed(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """Metrics without what differs between two datasets of the same rows (the series' id, also
    where the guards name the losing series: by index when it has none) and two runs
    (seconds)."""
    found = untimed(metrics)
    guards = {
        split: {**record, "losing": {
            baseline: {**losing, "series": [None for _ in losing["series"]]}
            for baseline, losing in record["losing"].items()
        }} if isinstance(record, dict) else record
        for split, record in found["guards"].items()
    }  # fmt: skip
    return {**found, "guards": guards, "series": [{**row, "id": None} for row in found["series"]]}


def test_a_plain_csv_and_a_one_id_long_csv_train_to_the_same_model(tmp_path: Path) -> None:
    plain, panel = trained(tmp_path)
    assert unnamed(plain.metrics) == unnamed(panel.metrics)
    assert plain.metrics is not None
    assert plain.metrics["series_count"] == 1
    assert [row["id"] for row in plain.metrics["series"]] == [None]
    assert panel.metrics is not None
    assert [row["id"] for row in panel.metrics["series"]] == ["shop"]
    store = CheckpointStore(make_settings(tmp_path).models_dir)
    cpu = torch.device("cpu")
    first, second = (load(store.version_dir(name, 1), cpu) for name in ("plain", "panel"))
    for key, value in first.model.state_dict().items():
        torch.testing.assert_close(second.model.state_dict()[key], value, rtol=0, atol=0)
    assert first.series_ids is None
    assert second.series_ids == ["shop"]

    with TestClient(create_app(make_settings(tmp_path))) as client:
        view = client.get("/v1/models/plain").json()["versions"][0]["metrics"]
        assert view["rollout"] == view["mean"]  # one series: its scores under both names
        body = {"horizon": 9, "levels": [90]}
        alone = client.post("/v1/models/plain/forecast", json=body).json()
        (series,) = client.post("/v1/models/panel/forecast", json=body).json()["series"]
        assert series["id"] == "shop"
        np.testing.assert_allclose(series["forecast"], alone["forecast"], rtol=1e-4)
        assert series["timestamps"] == alone["timestamps"]
        assert series["timestamps"][0] == "2025-01-01"
        np.testing.assert_allclose(
            series["intervals"][0]["upper"], alone["intervals"][0]["upper"], rtol=1e-4
        )
        # A context of the same series: scaled by the one training series' statistics.
        context = {"horizon": 4, "context": frame()["y"].tolist()[-30:]}
        given = [client.post(f"/v1/models/{name}/forecast", json=context).json()
                 for name in ("plain", "panel")]  # fmt: skip
        np.testing.assert_allclose(given[1]["forecast"], given[0]["forecast"], rtol=1e-4)


def test_a_horizon_chooses_the_same_settings_for_one_series_named_or_not(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        specs = []
        for csv in (frame().to_csv(index=False),
                    frame().assign(unique_id="shop").to_csv(index=False)):  # fmt: skip
            job = client.post(
                "/v1/jobs",
                json={"model_name": "h", "data": {"dataset_id": upload(client, csv)},
                      "forecast_horizon": 6},
            )  # fmt: skip
            assert job.status_code == 202, job.text
            specs.append(
                {
                    key: job.json()["spec"][key]
                    for key in ("window", "architecture", "training", "season_length")
                }
            )
    assert specs[0] == specs[1]
    assert specs[0]["season_length"] == 12
