"""GET /v1/jobs/{id}/events in-process: the events carry what changed (the epochs added since
the previous event, the job as listed), one reader per job whatever its streams, the cap on open
streams; the history read a page at a time; the same 404 and 401 as the job's own route. (A job
trained and followed end to end: tests/e2e/test_job_events.py.)"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from app.core.db import utcnow
from app.jobs.feeds import WATCH_SECONDS
from app.jobs.repository import JobRepository
from app.jobs.table import JobRow, JobStatus
from forecast_client.events import Event, parse_events
from tests.conftest import AppFactory
from tests.factories import many_series_metrics, reads_of_jobs

KEY = "events-key-0123456789"
MOST_EVENT_BYTES = 4096


def epochs(first: int, last: int) -> list[dict[str, Any]]:
    """History rows for epochs first..last of one model."""
    return [
        {"member": 1, "epoch": n, "train_loss": 1 / n, "val_loss": 2 / n,
         "learning_rate": 0.001, "seconds": 0.0123456789}
        for n in range(first, last + 1)
    ]  # fmt: skip


def progress(epoch: int, epochs_planned: int = 1000) -> dict[str, Any]:
    return {
        "member": 1, "members": 1, "epoch": epoch, "epochs": epochs_planned,
        "fraction": epoch / epochs_planned, "train_loss": 1 / max(epoch, 1),
        "val_loss": 2 / max(epoch, 1), "best_val_loss": 2 / max(epoch, 1), "best_epoch": epoch,
        "learning_rate": 0.001, "elapsed_seconds": epoch * 0.0123,
        "eta_seconds": (epochs_planned - epoch) * 0.0123,
    }  # fmt: skip


def queued_job(jobs: JobRepository) -> str:
    """A job stored as queued (no worker takes it: the clients here run none)."""
    row = JobRow(
        id=uuid.uuid4().hex, model_name="events", status=JobStatus.QUEUED,
        spec={"model_name": "events", "data": {"function": "sin"}}, created_at=utcnow(),
        history=[], attempts=0,
    )  # fmt: skip
    jobs.add(row)
    return row.id


def running_job(jobs: JobRepository, history: list[dict[str, Any]]) -> tuple[str, str]:
    """A job taken by a worker (whose token this returns) with `history` written."""
    job_id, token = queued_job(jobs), uuid.uuid4().hex
    assert jobs.claim(job_id, token, "test-host:1")
    assert jobs.report_progress(job_id, token, progress=progress(len(history)), history=history)
    return job_id, token


def repository(client: TestClient) -> JobRepository:
    return client.app.state.jobs  # type: ignore[attr-defined,no-any-return]


@contextmanager
def events_of(client: TestClient, job_id: str) -> Iterator[Iterator[Event]]:
    """The job's events as they come (the stream is closed when the block ends)."""
    with client.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield parse_events(response.iter_lines())


def body(event: Event) -> dict[str, Any]:
    """An event's JSON, which must fit in MOST_EVENT_BYTES."""
    assert len(event.data.encode()) <= MOST_EVENT_BYTES, f"{len(event.data)} bytes"
    return dict(json.loads(event.data))


def apply(held: list[Any], change: dict[str, Any]) -> None:
    """What a client does with an event: its epochs go at their offset in the history it holds
    (an offset below its end: the job runs again, and its history starts again there)."""
    offset = change["new_epochs_offset"]
    assert offset <= len(held), "a gap: the client would read the epochs it lacks"
    del held[offset:]
    held += change["new_epochs"]


def history_pages(client: TestClient, job_id: str, until: int, limit: int = 7) -> list[Any]:
    """The job's history from its first epoch up to `until`, read a page at a time."""
    items: list[Any] = []
    while len(items) < until:
        page = client.get(f"/v1/jobs/{job_id}/history?offset={len(items)}&limit={limit}")
        assert page.status_code == 200, page.text
        items += page.json()["items"][: until - len(items)]
    return items


def test_events_carry_the_epochs_added_since_the_last_one_never_the_whole_history(
    client: TestClient,
) -> None:
    jobs = repository(client)
    job_id, token = running_job(jobs, epochs(1, 300))
    with events_of(client, job_id) as stream:
        first = body(next(stream))
        assert (first["history_length"], first["new_epochs_offset"]) == (300, 300)
        assert first["new_epochs"] == []
        assert "history" not in first
        assert first["progress"]["epoch"] == 300
        held = history_pages(client, job_id, until=first["new_epochs_offset"])

        assert jobs.report_progress(job_id, token, progress=progress(303), history=epochs(1, 303))
        second = body(next(stream))
        assert second["new_epochs"] == epochs(301, 303)
        assert (second["new_epochs_offset"], second["history_length"]) == (300, 303)
        assert second["progress"]["epoch"] == 303
        apply(held, second)

        # Forty epochs in one write (fast epochs): several events of at most 10 epochs each.
        assert jobs.report_progress(job_id, token, progress=progress(343), history=epochs(1, 343))
        while len(held) < 343:
            change = body(next(stream))
            assert change["new_epochs_offset"] == len(held)
            assert 0 < len(change["new_epochs"]) <= 10
            apply(held, change)
        assert change["progress"]["epoch"] == 343  # the last brings the job as it is now

        assert jobs.finish(
            job_id, token, JobStatus.SUCCEEDED, metrics=many_series_metrics(3),
            history=epochs(1, 345), progress=progress(345),
        )  # fmt: skip
        rest = list(stream)
    ends = [body(e) for e in rest]
    assert [e.kind for e in rest] == ["progress", "end"]  # the last epochs, then the end
    assert ends[-1]["new_epochs"] == []
    for change in ends:
        apply(held, change)
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert held == job["history"] == epochs(1, 345)
    assert ends[-1]["status"] == "succeeded"
    assert ends[-1]["metrics"]["series_count"] == 3
    assert ends[-1]["metrics"]["series"] is None
    assert {k: v for k, v in ends[-1].items() if k in job and k != "metrics"} == {
        k: v for k, v in job.items() if k in ends[-1] and k != "metrics"
    }


def test_a_finished_many_series_job_streams_one_small_end(client: TestClient) -> None:
    jobs = repository(client)
    job_id, token = running_job(jobs, epochs(1, 299))
    metrics = many_series_metrics(10_000)
    assert jobs.finish(job_id, token, JobStatus.SUCCEEDED, metrics=metrics, history=epochs(1, 300))

    with events_of(client, job_id) as stream:
        events = list(stream)

    assert [(e.kind, e.id) for e in events] == [("end", "1")]
    end = body(events[0])  # not the 2 MB view: the summary of the metrics, no history
    assert (end["history_length"], end["new_epochs"], end["new_epochs_offset"]) == (300, [], 300)
    assert end["metrics"]["series"] is None
    assert end["metrics"]["mean"]["mae"] == metrics["mean"]["mae"]
    view = client.get(f"/v1/jobs/{job_id}").json()  # the first series' scores: the rest paged
    shown = [row["id"] for row in view["metrics"]["series"]]
    assert shown == [row["id"] for row in metrics["series"][:100]]
    assert view["metrics"]["series_count"] == 10_000


def test_the_history_reads_a_page_at_a_time(client: TestClient) -> None:
    jobs = repository(client)
    job_id, _ = running_job(jobs, epochs(1, 30))

    page = client.get(f"/v1/jobs/{job_id}/history?offset=10&limit=5").json()
    assert page["items"] == epochs(11, 15)
    assert (page["total"], page["limit"], page["offset"]) == (30, 5, 10)
    assert client.get(f"/v1/jobs/{job_id}/history").json()["items"] == epochs(1, 30)
    past = client.get(f"/v1/jobs/{job_id}/history?offset=40").json()
    assert (past["items"], past["total"]) == ([], 30)
    assert client.get(f"/v1/jobs/{job_id}/history?limit=0").status_code == 422
    large = client.get(f"/v1/jobs/{job_id}/history?limit=50000").json()  # a page of what's asked
    assert (len(large["items"]), large["limit"]) == (30, 10_000)
    missing = client.get(f"/v1/jobs/{'a' * 32}/history")
    assert (missing.status_code, missing.json()["error"]["field"]) == (404, "job_id")


def test_a_job_view_can_leave_its_history_out(client: TestClient) -> None:
    jobs = repository(client)
    job_id, _ = running_job(jobs, epochs(1, 300))

    whole = client.get(f"/v1/jobs/{job_id}").json()
    brief = client.get(f"/v1/jobs/{job_id}?history=false")

    assert (len(whole["history"]), whole["history_length"]) == (300, 300)
    assert (brief.json()["history"], brief.json()["history_length"]) == ([], 300)
    assert len(brief.content) <= MOST_EVENT_BYTES
    assert {k: v for k, v in brief.json().items() if k != "history"} == {
        k: v for k, v in whole.items() if k != "history"
    }


def test_a_re_run_job_starts_its_history_again_in_its_events(client: TestClient) -> None:
    jobs = repository(client)
    job_id, _ = running_job(jobs, epochs(1, 5))
    with events_of(client, job_id) as stream:
        first = body(next(stream))
        held = history_pages(client, job_id, until=first["new_epochs_offset"])
        later = utcnow() + timedelta(seconds=1)
        reaped = jobs.reap_stale(later, max_attempts=2, timeout=1.0)
        assert reaped.requeued == [job_id]  # its worker was lost: it runs again, from epoch 1
        token = uuid.uuid4().hex
        assert jobs.claim(job_id, token, "test-host:2")
        assert jobs.report_progress(job_id, token, progress=progress(2), history=epochs(1, 2))
        change = first
        while change["attempts"] != 2 or change["history_length"] != 2:
            change = body(next(stream))
            apply(held, change)
    assert held == epochs(1, 2)


def test_streams_of_one_job_share_one_reader(client: TestClient) -> None:
    job_id = queued_job(repository(client))
    streams = 20
    with ExitStack() as stack:
        for _ in range(streams):
            assert next(stack.enter_context(events_of(client, job_id))).kind == "progress"
        seen, record = reads_of_jobs()
        try:
            window = 2.0
            time.sleep(window)
        finally:
            event.remove(Engine, "before_cursor_execute", record)
    ticks = window / WATCH_SECONDS
    assert len(seen) <= ticks + 2, f"{len(seen)} reads of the job in {ticks:g} ticks"


def test_streams_past_the_cap_answer_503_and_a_closed_one_frees_its_place(
    make_client: AppFactory,
) -> None:
    client = make_client(max_event_streams=2)
    job_id = queued_job(repository(client))
    with ExitStack() as held:
        for _ in range(2):
            assert next(held.enter_context(events_of(client, job_id))).kind == "progress"
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as refused:
            assert refused.status_code == 503
            error = refused.read() and refused.json()["error"]
        assert error["code"] == "too_many_streams"
        assert "FORECAST_MAX_EVENT_STREAMS" in error["message"]
        assert refused.headers["retry-after"].isdigit()
        assert client.get(f"/v1/jobs/{job_id}").status_code == 200  # other routes still answer
    with events_of(client, job_id) as again:  # the two closed: room again
        assert next(again).kind == "progress"


def test_events_of_unknown_job_is_404_naming_the_job(client: TestClient) -> None:
    response = client.get(f"/v1/jobs/{'a' * 32}/events")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["field"] == "job_id"


def test_events_with_a_malformed_id_is_422(client: TestClient) -> None:
    response = client.get("/v1/jobs/not-an-id!/events")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "job_id"


def test_events_need_the_api_key_when_keys_are_set(make_client: AppFactory) -> None:
    keyed = make_client(api_keys=KEY)
    response = keyed.get(f"/v1/jobs/{'a' * 32}/events")
    assert response.status_code == 401
    authorised = keyed.get(
        f"/v1/jobs/{'a' * 32}/events", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert authorised.status_code == 404


def test_the_schema_documents_the_stream_its_cap_and_its_json_errors(client: TestClient) -> None:
    answers = client.get("/openapi.json").json()["paths"]["/v1/jobs/{job_id}/events"]["get"][
        "responses"
    ]
    assert list(answers["200"]["content"]) == ["text/event-stream"]
    assert {status: list(answers[status]["content"]) for status in ("404", "422", "503")} == {
        "404": ["application/json"],
        "422": ["application/json"],
        "503": ["application/json"],
    }
    assert "Retry-After" in answers["503"]["headers"]


@pytest.mark.parametrize("path", ["/v1/jobs/{job_id}/history"])
def test_the_schema_documents_the_history_pages(client: TestClient, path: str) -> None:
    operation = client.get("/openapi.json").json()["paths"][path]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"job_id", "offset", "limit"}
