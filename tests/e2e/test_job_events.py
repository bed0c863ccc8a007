"""GET /v1/jobs/{id}/events on the real server: a job followed live from its first event to its
end, its history held from the events, no event over 4 KB, the cap on streams, and streams that
end when the server stops."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from forecast_client.events import Event, parse_events
from tests.e2e.server import Server
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

SMALL_JOB = {
    "model_name": "events",
    "data": {"function": "sin", "params": {"points": 2000, "stop": 200.0}},
    "training": {"epochs": 6, "early_stopping_patience": 0},
}


def stream(server: Server, job_id: str) -> Iterator[Event]:
    """The job's events as they come; ends when the server closes the stream."""
    with server.http.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield from parse_events(response.iter_lines())


def follow(server: Server, job_id: str) -> tuple[list[Event], list[dict[str, Any]]]:
    """The job's events to its end, and the history a client holds from them: what it lacked at
    the first event read once from /history, then each event's new epochs at their offset."""
    events, held = [], []
    for event in stream(server, job_id):
        events.append(event)
        change = json.loads(event.data)
        offset = change["new_epochs_offset"]
        if offset > len(held):  # read once: the epochs before the stream's first event
            page = server.http.get(f"/v1/jobs/{job_id}/history?offset={len(held)}").json()
            held += page["items"][: offset - len(held)]
        del held[offset:]
        held += change["new_epochs"]
    return events, held


def listed(view: dict[str, Any]) -> dict[str, Any]:
    """A job's view as its events show it: no spec or history, metrics without each series
    or the per-step residual counts of its intervals."""
    fields = {k: v for k, v in view.items() if k not in ("spec", "history")}
    metrics = fields["metrics"]
    if metrics is not None:
        fields["metrics"] = metrics | {"series": None}
        if metrics.get("intervals") is not None:
            fields["metrics"]["intervals"] = metrics["intervals"] | {"residuals": None}
    return fields


def test_events_follow_a_job_from_its_first_view_to_its_end(server: Server) -> None:
    job_id = server.http.post("/v1/jobs", json=SMALL_JOB).json()["id"]

    events, held = follow(server, job_id)

    assert events[0].kind == "progress"  # submitted, not yet finished
    assert [event.id for event in events] == [str(n) for n in range(1, len(events) + 1)]
    assert [event.kind for event in events[:-1]] == ["progress"] * (len(events) - 1)
    assert events[-1].kind == "end"
    changes = [json.loads(event.data) for event in events]
    final = server.http.get(f"/v1/jobs/{job_id}").json()
    assert final["status"] == "succeeded"
    assert held == final["history"]
    assert len(held) == 6
    end = changes[-1]
    assert {k: v for k, v in end.items() if not k.startswith("new_epochs")} == listed(final)
    epochs = [change["progress"]["epoch"] for change in changes if change["progress"]]
    assert epochs == sorted(epochs)
    assert any(change["status"] == "running" and change["progress"] for change in changes)
    assert len({event.data for event in events}) == len(events)  # only changes, the end once
    assert all(change["status"] != "succeeded" for change in changes[:-1])


def test_no_event_of_a_300_epoch_job_is_over_4_kb(server: Server) -> None:
    job = SMALL_JOB | {
        "data": {"function": "sin", "params": {"points": 400, "stop": 40.0}},
        "training": {"epochs": 300, "early_stopping_patience": 0},
    }
    job_id = server.http.post("/v1/jobs", json=job).json()["id"]

    events, held = follow(server, job_id)

    final = server.http.get(f"/v1/jobs/{job_id}").json()
    assert final["status"] == "succeeded"
    assert len(held) == 300
    assert held == final["history"]
    sizes = [len(event.data.encode()) for event in events]
    assert max(sizes) <= 4096, sizes


def test_a_finished_job_streams_its_final_view_once_as_end(server: Server) -> None:
    job_id = server.http.post("/v1/jobs", json=SMALL_JOB).json()["id"]
    final = server.wait_for(job_id, {"succeeded"})

    events = list(stream(server, job_id))

    assert [(event.kind, event.id) for event in events] == [("end", "1")]
    end = json.loads(events[0].data)
    assert (end["new_epochs"], end["new_epochs_offset"]) == ([], len(final["history"]))
    assert {k: v for k, v in end.items() if not k.startswith("new_epochs")} == listed(final)


def test_a_stream_that_closes_frees_its_place_under_the_cap(tmp_path: Path) -> None:
    server = Server(tmp_path, workers=0, max_event_streams=1).start()  # jobs stay queued
    try:
        job_id = server.http.post("/v1/jobs", json=SMALL_JOB).json()["id"]
        with httpx.Client(base_url=str(server.http.base_url), timeout=30) as other:
            with other.stream("GET", f"/v1/jobs/{job_id}/events") as held:
                assert held.status_code == 200
                with server.http.stream("GET", f"/v1/jobs/{job_id}/events") as refused:
                    assert refused.status_code == 503
                    assert json.loads(refused.read())["error"]["code"] == "too_many_streams"

        def opens() -> bool:  # the server sees the client go when its connection closes
            with server.http.stream("GET", f"/v1/jobs/{job_id}/events") as again:
                return again.status_code == 200

        wait_until(opens, message="the closed stream's place to be free again")
    finally:
        server.stop()


def test_events_of_an_unknown_job_answer_as_reading_it(server: Server) -> None:
    unknown = "0" * 32
    response = server.http.get(f"/v1/jobs/{unknown}/events")
    assert response.status_code == 404
    assert response.json() == server.http.get(f"/v1/jobs/{unknown}").json()
    assert response.json()["error"]["code"] == "not_found"


def test_stopping_the_server_ends_an_open_stream(tmp_path: Path) -> None:
    server = Server(tmp_path, workers=0).start()  # the job stays queued: its stream never ends
    process = server.process
    assert process is not None
    try:
        job_id = server.http.post("/v1/jobs", json=SMALL_JOB).json()["id"]
        events = stream(server, job_id)
        assert next(events).kind == "progress"

        process.send_signal(signal.SIGTERM)

        wait_until(
            lambda: process.poll() is not None,
            message=lambda: f"the server to stop with a stream open: {server.log()}",
        )  # uvicorn waits for open responses: the stream must end for it to stop
        assert [event.kind for event in events] == []  # closed, with no `end`: not finished
        assert "Application shutdown complete" in server.log()
    finally:
        if process.poll() is None:
            process.kill()
        server.stop()
