"""/v1/models: the registry of saved checkpoints."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.ml.checkpoint_meta import META_FILE
from app.ml.checkpoints import SUMMARY_FILE
from app.registry import CheckpointStore


def test_list_models_shows_bundled_and_trained(models_client: TestClient) -> None:
    response = models_client.get("/v1/models")
    assert response.status_code == 200
    items = {m["name"]: m for m in response.json()["items"]}
    assert {"sine", "tiny-sine", "pair"} <= set(items)
    assert items["pair"]["columns"] == ["sin", "cos"]
    assert items["sine"]["versions"] == [1]


def test_read_model_gives_metrics_spec_and_where_loaded(models_client: TestClient) -> None:
    before = models_client.get("/v1/models/tiny-sine")
    assert before.status_code == 200
    version = before.json()["versions"][0]
    assert before.json()["latest"] == 1
    assert version["loaded_on"] is None
    assert version["lookback"] == 10
    assert version["spec"]["model_name"] == "tiny-sine"
    assert len(version["weights_sha256"]) == 64
    assert version["metrics"]["one_step"]["mse"] < version["metrics"]["naive_one_step"]["mse"]
    models_client.post("/v1/models/tiny-sine/forecast", json={"horizon": 3})
    after = models_client.get("/v1/models/tiny-sine").json()
    assert after["versions"][0]["loaded_on"] == "cpu"


def test_delete_version_then_model(models_client: TestClient) -> None:
    models_client.post("/v1/models/pair/forecast", json={"horizon": 1})  # cached, then deleted
    assert models_client.delete("/v1/models/pair/versions/1").status_code == 204
    assert models_client.get("/v1/models/pair").status_code == 404
    assert models_client.post("/v1/models/pair/forecast", json={"horizon": 1}).status_code == 404
    assert models_client.delete("/v1/models/pair/versions/1").status_code == 404
    assert models_client.delete("/v1/models/tiny-sine").status_code == 204
    names = {m["name"] for m in models_client.get("/v1/models").json()["items"]}
    assert "tiny-sine" not in names
    assert models_client.delete("/v1/models/tiny-sine").status_code == 404


def test_model_names_outside_the_pattern_are_422(models_client: TestClient) -> None:
    for name in ("Sine", "a.b", "x" * 65, "%2e%2e"):
        assert models_client.get(f"/v1/models/{name}").status_code == 422, name
        assert models_client.delete(f"/v1/models/{name}").status_code == 422, name
    # An encoded slash becomes another path segment: no route, so nothing reaches the disk.
    assert models_client.delete("/v1/models/sine%2f..").status_code in (404, 405)
    assert models_client.get("/v1/models/sine").status_code == 200


def test_deleted_version_numbers_are_never_reused(models_client: TestClient) -> None:
    models = models_client.app.state.checkpoints  # type: ignore[attr-defined]
    source = models.version_dir("tiny-sine", 1)

    # Publish a copy as version 2, delete it, publish again: the new one is 3, not 2 again.
    def publish() -> int:
        return models.save(
            "tiny-sine", lambda folder: shutil.copytree(source, folder, dirs_exist_ok=True)
        )

    assert publish() == 2
    assert models_client.delete("/v1/models/tiny-sine/versions/2").status_code == 204
    assert publish() == 3
    assert models_client.get("/v1/models/tiny-sine").json()["latest"] == 3


def test_an_unreadable_version_is_reported_without_hiding_the_others(
    models_client: TestClient,
) -> None:
    models = models_client.app.state.checkpoints  # type: ignore[attr-defined]
    (models.version_dir("pair", 1) / "meta.json").write_text("{not json")
    response = models_client.get("/v1/models/pair")
    assert response.status_code == 200
    version = response.json()["versions"][0]
    assert version["readable"] is False
    assert "meta.json" in version["error"]
    assert models_client.get("/v1/models").status_code == 200


def test_stray_folders_in_the_store_are_ignored(models_client: TestClient) -> None:
    models = models_client.app.state.checkpoints  # type: ignore[attr-defined]
    (models.model_dir("sine") / "\u00b2").mkdir()  # str.isdigit() is true for this
    (models.root / "Not-A-Model").mkdir()
    assert models_client.get("/v1/models").status_code == 200
    assert models_client.get("/v1/models/sine").json()["versions"][0]["version"] == 1


def test_the_listing_reads_each_versions_summary_not_its_per_series_state(
    models_client: TestClient, settings: Settings
) -> None:
    folder = CheckpointStore(settings.models_dir).version_dir("pair", 1)
    (folder / META_FILE).write_text("{ not the metadata")  # what the listing must not read
    items = {m["name"]: m for m in models_client.get("/v1/models").json()["items"]}
    assert items["pair"]["columns"] == ["sin", "cos"]
    assert models_client.get("/v1/models/pair").json()["versions"][0]["readable"] is False
    assert items["sine"]["columns"] == ["sin"]  # bundled before summaries: from its meta.json
    assert not (CheckpointStore(settings.models_dir).version_dir("sine", 1) / SUMMARY_FILE).exists()
