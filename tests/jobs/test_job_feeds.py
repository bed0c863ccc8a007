"""JobFeeds on a real store, in one event loop: streams that start together share one read of
their job, a finished job is read once for every later stream, and a stream whose client stops
reading skips to the job's latest state rather than queueing without end."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import Engine, event

from app.core.db import utcnow
from app.jobs.events import Event
from app.jobs.feeds import BACKLOG, JobFeeds, Stream
from app.jobs.repository import JobRepository
from app.jobs.table import JobRow, JobStatus
from forecast_client.events import parse_events
from tests.factories import inline_repositories, reads_of_jobs


def finished_job(jobs: JobRepository) -> str:
    now = utcnow()
    row = JobRow(
        id=uuid.uuid4().hex, model_name="feeds", status=JobStatus.SUCCEEDED,
        spec={"model_name": "feeds", "data": {"function": "sin"}}, created_at=now,
        started_at=now, finished_at=now, history=[], attempts=1,
    )  # fmt: skip
    jobs.add(row)
    return row.id


async def first_event(feeds: JobFeeds, job_id: str) -> dict[str, Any]:
    """Open a stream of the job and return its first event's kind and data."""
    async with feeds.stream(job_id) as stream:
        assert stream is not None
        async for chunk in stream.wire():
            (parsed,) = parse_events(chunk.decode().splitlines())
            return {"kind": parsed.kind} | json.loads(parsed.data)
    raise AssertionError("the stream ended without an event")


def test_streams_that_start_together_share_one_read_and_a_finished_job_is_kept(
    tmp_path: Path,
) -> None:
    _, repos = inline_repositories(tmp_path)
    job_id = finished_job(repos.jobs)
    firsts: list[dict[str, Any]] = []

    async def main() -> list[int]:
        feeds = JobFeeds(repos.jobs, max_streams=100)
        counts = []
        async with feeds.running():
            seen, record = reads_of_jobs()
            try:
                for _ in range(2):
                    async with anyio.create_task_group() as streams:
                        for _ in range(20):
                            streams.start_soon(lambda: collect(feeds))
                    counts.append(len(seen))
            finally:
                event.remove(Engine, "before_cursor_execute", record)
        return counts

    async def collect(feeds: JobFeeds) -> None:
        firsts.append(await first_event(feeds, job_id))

    assert anyio.run(main) == [1, 1]  # one read for the first twenty, none for the next
    assert {(first["kind"], first["status"]) for first in firsts} == {("end", "succeeded")}
    assert len(firsts) == 40


def test_a_stream_whose_client_stops_reading_skips_to_the_latest_state() -> None:
    async def main() -> list[Event]:
        stream = Stream(Event("progress", "first"))
        changes = [Event("progress", f"change {n}") for n in range(BACKLOG)]
        stream.put(changes[: BACKLOG // 2], latest=Event("progress", "latest half"))
        stream.put(changes[BACKLOG // 2 :], latest=Event("progress", "latest"))
        stream.close()
        return [
            next(parse_events_of(chunk)) async for chunk in stream.wire() if chunk != b": ping\n\n"
        ]

    sent = anyio.run(main)
    assert [e.body for e in sent] == ["latest"]  # its client reads the epochs it missed


def parse_events_of(chunk: bytes) -> Any:
    for parsed in parse_events(chunk.decode().splitlines()):
        yield Event(parsed.kind, parsed.data)
