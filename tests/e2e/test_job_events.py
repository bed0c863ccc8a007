"""GET /v1/jobs/{id}/events on the real server: a job followed live from its first view to its
end, and streams that end when the server stops."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.client.events import Event, parse_events
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


def test_events_follow_a_job_from_its_first_view_to_its_end(server: Server) -> None:
    job_id = server.http.post("/v1/jobs", json=SMALL_JOB).json()["id"]

    events = list(stream(server, job_id))

    assert events[0].kind == "progress"  # submitted, not yet finished
    assert [event.id for event in events] == [str(n) for n in range(1, len(events) + 1)]
    assert [event.kind for event in events[:-1]] == ["progress"] * (len(events) - 1)
    assert events[-1].kind == "end"
    views = [json.loads(event.data) for event in events]
    assert views[-1] == server.http.get(f"/v1/jobs/{job_id}").json()
    assert views[-1]["status"] == "succeeded"
    epochs = [view["progress"]["epoch"] for view in views if view["progress"]]
    assert epochs == sorted(epochs)
    assert any(view["status"] == "running" and view["progress"] for view in views)
    assert len({event.data for event in events}) == len(events)  # only changes, the end once
    assert all(json.loads(event.data)["status"] != "succeeded" for event in events[:-1])


def test_a_finished_job_streams_its_final_view_once_as_end(server: Server) -> None:
    job_id = server.http.post("/v1/jobs", json=SMALL_JOB).json()["id"]
    final = server.wait_for(job_id, {"succeeded"})

    events = list(stream(server, job_id))

    assert [(event.kind, event.id) for event in events] == [("end", "1")]
    assert json.loads(events[0].data) == final


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
