"""A job's events, built from its row: what changed since a stream's previous event.

Each event is the job as listed (metrics without each series' scores), the length of its loss
history, and the epochs the history gained since the previous event, at `new_epochs_offset`. A
stream's first event carries no epochs: a client reads the history it lacks once
(GET /v1/jobs/{id}/history) and then appends every event's `new_epochs`. So an event's size
grows with none of the history, the series or the streams; it is built and serialised once per
change, in a worker thread (app.jobs.feeds), and copied to every stream of the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.sse import format_sse_event

from app.jobs.schemas import JobEvent, JobSummary, job_summary
from app.jobs.table import JobRow, JobStatus

# 200 bytes an epoch at most: a progress event stays under about 3 KB however fast they run
EPOCHS_PER_EVENT = 10


@dataclass(frozen=True)
class Event:
    """One event, serialised: `progress` or `end`, and its JSON on one line."""

    kind: str
    body: str


@dataclass(frozen=True)
class Snapshot:
    """A job as its streams last saw it, and the first event of a stream that starts there."""

    state: tuple[object, ...]
    summary: JobSummary
    length: int  # epochs in its history
    attempts: int  # a new attempt starts a new history
    finished: bool
    first: Event


def _state(row: JobRow) -> tuple[object, ...]:
    """What of a row its events change with, cheap to compare: the history only grows within an
    attempt, and metrics come with the status."""
    return (
        row.status, row.started_at, row.finished_at, row.cancel_requested, row.attempts,
        row.worker, row.device, row.progress, row.model_version, row.error, len(row.history),
    )  # fmt: skip


def _event(summary: JobSummary, kind: str, epochs: list[dict[str, Any]], offset: int) -> Event:
    fields = dict(summary) | {
        "history_length": offset + len(epochs),
        "new_epochs": epochs,
        "new_epochs_offset": offset,
    }
    return Event(kind, JobEvent.model_validate(fields).model_dump_json())  # one line


def snapshot(row: JobRow) -> Snapshot:
    """The job as a stream that starts now sees it."""
    summary, length = job_summary(row), len(row.history)
    finished = JobStatus(row.status).finished
    first = _event(summary, "end" if finished else "progress", [], length)
    return Snapshot(_state(row), summary, length, row.attempts, finished, first)


def changes(row: JobRow, before: Snapshot) -> tuple[Snapshot, list[Event]]:
    """The job now, and the events that take a stream from `before` to it (none if nothing
    changed): its new epochs, EPOCHS_PER_EVENT at most an event, the last with the job as it is
    now and those before it with the job as `before` saw it; a finished job's `end` comes after
    its last epochs, carrying none."""
    if _state(row) == before.state:
        return before, []
    after = snapshot(row)
    same_run = after.attempts == before.attempts and after.length >= before.length
    start = before.length if same_run else 0  # a re-run job's history starts again from 0
    starts = range(start, after.length, EPOCHS_PER_EVENT)
    current = not after.finished and len(starts) > 0  # the last epochs bring the job as it is
    events = [
        _event(
            after.summary if current and at == starts[-1] else before.summary,
            "progress",
            row.history[at : at + EPOCHS_PER_EVENT],
            at,
        )
        for at in starts
    ]
    if not current:
        events.append(after.first)
    return after, events


def wire(event: Event, number: int) -> bytes:
    """The event as the stream sends it, with its `id`."""
    return format_sse_event(data_str=event.body, event=event.kind, id=str(number))
