"""Live job events: a Server-Sent Events stream of one job's view, an event on every change.

The job store is the single source of truth, so the stream watches the job's row (a short read
every `WATCH_SECONDS`) and sends its view when it differs from the last one sent: a progress
write or a status change. The first event goes out at once; a finished job's final view is
sent once, as the `end` event that ends its stream. Keep-alive comments (`: ping`) are
FastAPI's, every 15 s of silence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from fastapi.sse import ServerSentEvent

from app.core.stopping import shutting_down
from app.jobs.repository import JobRepository
from app.jobs.schemas import job_read
from app.jobs.table import JobRow, JobStatus

WATCH_SECONDS = 0.25  # how stale a progress event may be; each tick is one primary-key read


def _state(row: JobRow) -> tuple[object, ...]:
    """What of a row its view can change with, cheap to compare: the view itself (its loss
    history and spec) is built only when this differs. The spec never changes, the history
    only grows, and metrics come with the status."""
    return (
        row.status, row.started_at, row.finished_at, row.cancel_requested, row.attempts,
        row.worker, row.device, row.progress, row.model_version, row.error, len(row.history),
    )  # fmt: skip


def _event(kind: str, number: int, body: str) -> ServerSentEvent:
    return ServerSentEvent(event=kind, id=str(number), raw_data=body)


async def job_events(jobs: JobRepository, row: JobRow) -> AsyncIterator[ServerSentEvent]:
    """`progress` events with the job's view (as GET /v1/jobs/{id}) now and on each change
    while it runs; its final view once, as `end`, when it has finished."""
    seen: tuple[object, ...] | None = None
    number = 0
    current: JobRow | None = row
    while current is not None:
        finished = JobStatus(current.status).finished
        if finished or _state(current) != seen:
            seen = _state(current)
            number += 1
            body = job_read(current).model_dump_json()  # one line: SSE data may not span lines
            yield _event("end" if finished else "progress", number, body)
        if finished:
            return
        if shutting_down.is_set():
            return  # let the server stop; the client polls from here
        await anyio.sleep(WATCH_SECONDS)
        current = await anyio.to_thread.run_sync(jobs.get, row.id)  # the blocking read off-loop
