"""A dataset's view (one entry per series: 10,000 of them held /healthz for seconds) is built and
written as JSON in a worker thread, never on the event loop, whether uploaded or read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.errors import MAX_DETAILS
from app.datasets.schemas import DatasetRead
from tests.api.test_datasets import upload_csv, upload_json

SERIES = 50


def on_event_loop() -> bool:
    """Whether the calling thread runs an event loop (a worker thread does not)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """(what, whether on the event loop) of every view built and written from now on."""
    seen: list[tuple[str, bool]] = []
    from_row, dump_json = DatasetRead.from_row.__func__, DatasetRead.model_dump_json  # type: ignore[attr-defined]

    def spied_from_row(cls: type[DatasetRead], *args: Any, **kwargs: Any) -> DatasetRead:
        seen.append(("from_row", on_event_loop()))
        return from_row(cls, *args, **kwargs)  # type: ignore[no-any-return]

    def spied_dump_json(self: DatasetRead, *args: Any, **kwargs: Any) -> str:
        seen.append(("model_dump_json", on_event_loop()))
        return dump_json(self, *args, **kwargs)

    monkeypatch.setattr(DatasetRead, "from_row", classmethod(spied_from_row))
    monkeypatch.setattr(DatasetRead, "model_dump_json", spied_dump_json)
    return seen


def long_csv() -> str:
    rows = (f"s{i},2024-01-0{day},{i + day}\n" for i in range(SERIES) for day in (1, 2, 3))
    return "unique_id,ds,y\n" + "".join(rows)


def json_series() -> dict[str, Any]:
    return {
        "series": [
            {"id": f"s{i}", "start": "2024-01-01", "freq": "D", "values": [i, i + 1, i + 2]}
            for i in range(SERIES)
        ]
    }


UPLOADS: dict[str, Callable[[TestClient], Any]] = {
    "csv": lambda client: upload_csv(client, long_csv()),
    "json": lambda client: upload_json(client, json_series()),
}


@pytest.mark.parametrize("kind", sorted(UPLOADS))
def test_an_upload_answers_with_a_view_built_off_the_event_loop(
    client: TestClient, calls: list[tuple[str, bool]], kind: str
) -> None:
    response = UPLOADS[kind](client)
    assert response.status_code == 201, response.text
    assert len(response.json()["series"]) == SERIES
    assert response.headers["location"] == f"/v1/datasets/{response.json()['id']}"
    assert response.headers["content-type"] == "application/json"
    assert ("from_row", False) in calls
    assert ("model_dump_json", False) in calls  # written as JSON in the thread too
    assert all(not on_loop for _, on_loop in calls), calls


def test_reading_a_dataset_builds_its_view_off_the_event_loop(
    client: TestClient, calls: list[tuple[str, bool]]
) -> None:
    created = upload_json(client, json_series()).json()
    calls.clear()
    read = client.get(f"/v1/datasets/{created['id']}")
    assert read.status_code == 200, read.text
    assert read.json() == created
    assert ("model_dump_json", False) in calls
    assert all(not on_loop for _, on_loop in calls), calls


def test_a_body_of_many_bad_values_answers_a_short_list(client: TestClient) -> None:
    """300,000 bad values are one problem repeated: the answer lists twenty fields and counts
    the rest, instead of growing with the body (it was 20.9 MB, its errors read on the loop)."""
    answer = client.post("/v1/datasets", json={"values": ["x"] * 300_000})
    assert answer.status_code == 422
    details = answer.json()["error"]["details"]
    assert len(details) == MAX_DETAILS + 1
    assert details[-1]["message"].startswith("and ")
    assert len(answer.content) < 10_000
