"""Deleting versions while other clients list and forecast them: every answer is a 200 or a
404, and a listing never shows a version half deleted (a hostile probe found 500s here)."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.factories import BUNDLED_MODELS

VERSIONS = 60
MakeClient = Callable[..., TestClient]


def test_versions_deleted_under_readers_are_404s_never_500s(make_client: MakeClient) -> None:
    client = make_client()
    root = client.app.state.checkpoints.root  # type: ignore[attr-defined]
    for version in range(1, VERSIONS + 1):
        shutil.copytree(BUNDLED_MODELS / "sine" / "1", root / "race" / str(version))
    statuses: Counter[int] = Counter()
    half_deleted: list[object] = []
    done = threading.Event()

    def delete_all() -> None:
        for version in range(1, VERSIONS + 1):
            assert client.delete(f"/v1/models/race/versions/{version}").status_code == 204
        done.set()

    def read() -> None:
        version = 1
        while not done.is_set():
            listing = client.get("/v1/models/race")
            statuses[listing.status_code] += 1
            if listing.status_code == 200:
                half_deleted.extend(v for v in listing.json()["versions"] if not v["readable"])
                version = listing.json()["latest"]
            forecast = client.post(
                "/v1/models/race/forecast", json={"horizon": 2, "version": version}
            )
            statuses[forecast.status_code] += 1
            statuses[client.get("/v1/models").status_code] += 1

    readers = [threading.Thread(target=read) for _ in range(6)]
    for thread in readers:
        thread.start()
    delete_all()
    for thread in readers:
        thread.join(timeout=120)
    assert set(statuses) <= {200, 404}, statuses
    assert statuses[200] > 0
    assert half_deleted == []


def test_a_vanished_version_reads_as_not_found_without_a_server_path(
    make_client: MakeClient,
) -> None:
    client = make_client()
    root = client.app.state.checkpoints.root  # type: ignore[attr-defined]
    shutil.copytree(BUNDLED_MODELS / "sine" / "1", root / "gone" / "1")
    (root / "gone" / "1" / "meta.json").unlink()  # as if removed behind the service's back
    listing = client.get("/v1/models/gone").json()
    assert listing["versions"][0]["readable"] is False
    assert listing["versions"][0]["error"] == "meta.json is missing"
    answer = client.post("/v1/models/gone/forecast", json={"horizon": 2})
    assert answer.status_code == 404
    assert str(root) not in answer.text
