"""/v1/jobs: submit a training job, poll it or follow its events, read its history, list,
cancel.

No `from __future__ import annotations` here: the submission's body is the model that
`make_router` is given, which a string annotation could not name.
"""

from collections.abc import AsyncIterator
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import StreamingResponse

from app.core.deps import SettingsDep
from app.core.errors import ServiceUnavailable, responses
from app.core.schemas import ID_PATTERN, ErrorBody
from app.core.strict_json import StrictJSONRoute
from app.datasets import DatasetsDep
from app.jobs import submit
from app.jobs.deps import FeedsDep, JobsDep, RunnerDep
from app.jobs.feeds import Stream
from app.jobs.schemas import HistoryPage, JobEvent, JobPage, JobRead, job_read, job_summary
from app.jobs.spec import TrainRequest
from app.jobs.table import JobRow, JobStatus


def _jobs_router() -> APIRouter:
    return APIRouter(
        prefix="/v1/jobs", tags=["jobs"], responses=responses(422), route_class=StrictJSONRoute
    )


HISTORY_PAGE = 10_000  # epochs a page of a job's history holds at most (about 1 MB)

router = _jobs_router()  # every route but the submission's, alike in every instance
JobId = Annotated[str, Path(pattern=ID_PATTERN, description="job id")]


@router.get("", response_model=JobPage, summary="List jobs")
def list_jobs(
    jobs: JobsDep,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> JobPage:
    """Jobs newest first, optionally of one status (without spec and loss history)."""
    rows, total = jobs.page(status=status, limit=limit, offset=offset)
    return JobPage(items=[job_summary(r) for r in rows], total=total, limit=limit, offset=offset)


def _existing_job(job_id: JobId, jobs: JobsDep) -> JobRow:
    """The job named in the path, or a 404 (before any stream starts)."""
    return submit.get_job(jobs=jobs, job_id=job_id)


ExistingJob = Annotated[JobRow, Depends(_existing_job)]


@router.get("/{job_id}", response_model=JobRead, responses=responses(404))
def read_job(
    row: ExistingJob,
    history: Annotated[
        bool,
        Query(
            description="false: leave the loss history out (`history` is empty; "
            "`history_length` counts its epochs, which /history pages through)"
        ),
    ] = True,
) -> JobRead:
    """Status, progress (epoch, losses, ETA), loss history, final metrics, model, error."""
    return job_read(row, history=history)


@router.get(
    "/{job_id}/history",
    response_model=HistoryPage,
    responses=responses(404),
    summary="Read a job's loss history, a page at a time",
)
def read_history(
    job_id: JobId,
    jobs: JobsDep,
    limit: Annotated[int, Query(ge=1, le=10**9)] = HISTORY_PAGE,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HistoryPage:
    """Up to `limit` epochs from `offset` on, in the order they ran (each model of an ensemble
    counts its epochs from 1), at most HISTORY_PAGE (10,000) a page: read on from `offset` plus
    the items received; `total` is the history's length. What a client following the job's
    events reads once, to hold the history before the epochs its events bring."""
    history = submit.job_history(jobs=jobs, job_id=job_id)
    limit = min(limit, HISTORY_PAGE)
    page = history[offset : offset + limit]
    return HistoryPage.model_validate(
        {"items": page, "total": len(history), "limit": limit, "offset": offset}
    )


async def _open_stream(job_id: JobId, feeds: FeedsDep) -> AsyncIterator[Stream | None]:
    """The job's event stream while its response lasts: None past the cap, 404 for no job."""
    async with feeds.stream(job_id) as stream:
        yield stream


class EventStream(StreamingResponse):
    """A `text/event-stream` of bytes written as they come (app.jobs.feeds writes the events)."""

    media_type = "text/event-stream"


RETRY_STREAM_SECONDS = 5  # a stream's 503 asks for this wait; clients poll meanwhile


class TooManyStreams(ServiceUnavailable):
    """As many event streams are open as the service serves."""

    code = "too_many_streams"
    headers = MappingProxyType({"Retry-After": str(RETRY_STREAM_SECONDS)})


def _event_schema() -> dict[str, Any]:
    """An event of the stream (OpenAPI 3.2's `itemSchema`): its data is a JobEvent's JSON."""
    data = JobEvent.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    data.pop("$defs", None)  # the models it names are the page's own components
    return {
        "type": "object",
        "required": ["event", "data", "id"],
        "properties": {
            "event": {"type": "string", "enum": ["progress", "end"]},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
            "id": {"type": "string", "description": "the event's number in its stream, from 1"},
        },
    }


STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The job's events, as `text/event-stream`",
        "content": {
            "text/event-stream": {"schema": {"type": "string"}, "itemSchema": _event_schema()}
        },
    },
    503: {
        "model": ErrorBody,
        "description": "As many streams are open as FORECAST_MAX_EVENT_STREAMS allows "
        "(`too_many_streams`): poll GET /v1/jobs/{job_id}, or try again after `Retry-After`",
        "headers": {
            "Retry-After": {"description": "seconds", "schema": {"type": "integer"}},
        },
    },
    **responses(404),
}


@router.get(
    "/{job_id}/events",
    response_class=EventStream,
    responses=STREAM_RESPONSES,
    summary="Follow a job live (Server-Sent Events)",
)
async def stream_job_events(
    stream: Annotated[Stream | None, Depends(_open_stream)], feeds: FeedsDep
) -> Response:
    """`text/event-stream`: an `event: progress` at once and on every change of the job while it
    runs, then, once, `event: end` with the finished job, and the stream closes (a job finished
    already: only `end`). Each event's data is one line of JSON: the job as listed (metrics
    without each series' scores), `history_length`, and `new_epochs`, the epochs added since
    the previous event (at most 10; none in the first or in `end`), at `new_epochs_offset` in
    the history: read the history once from `/history`, then put each event's epochs at their
    offset (an offset below the epochs held: the job runs again, its history restarts there).
    Each event has an `id`; a `: ping` comment comes after 15 s of silence. Past
    FORECAST_MAX_EVENT_STREAMS open streams, a 503 with `Retry-After`. Clients that lose the
    stream poll the job instead."""
    if stream is None:
        raise TooManyStreams(
            f"{feeds.max_streams} event streams are open, the most this service serves "
            "(FORECAST_MAX_EVENT_STREAMS): poll the job, or try again later"
        )
    # Neither a proxy nor a cache may hold events back (nginx buffers unless told not to).
    return EventStream(
        stream.wire(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.post(
    "/{job_id}/cancel",
    response_model=JobRead,
    responses={
        202: {"model": JobRead, "description": "Running: it stops within an epoch"},
        **responses(404, 409),
    },
    summary="Cancel a job",
)
def cancel_job(job_id: JobId, response: Response, jobs: JobsDep) -> JobRead:
    """A queued job is cancelled at once (200); a running one is asked to stop (202) and does
    so within one epoch, freeing its worker; a finished job answers 409."""
    row = submit.cancel_job(jobs=jobs, job_id=job_id)
    if row.status == JobStatus.RUNNING:
        response.status_code = 202
    return job_read(row)


def make_router(train_request: type[TrainRequest]) -> APIRouter:
    """Every /v1/jobs route; submissions validated, and published, as `train_request`: the
    model with this instance's limits (app.jobs.spec.train_request_model)."""
    submissions = _jobs_router()

    @submissions.post(
        "",
        status_code=202,
        response_model=JobRead,
        responses=responses(400, 413, 422, 503),
        summary="Submit a training job",
    )
    def create_job(
        body: train_request,  # type: ignore[valid-type]  # built from the settings
        response: Response,
        jobs: JobsDep,
        datasets: DatasetsDep,
        runner: RunnerDep,
        settings: SettingsDep,
    ) -> JobRead:
        """Queue a training job; poll the `Location` it answers with.

        Only `model_name` and `data` are required: `{"model_name": "sine", "data":
        {"function": "sin"}}` trains on sin(x) with the defaults shown in the schema. A spec
        that cannot train (unknown parameter, series too short for the window and split, ...)
        is a 422 and queues nothing.
        """
        row = submit.submit_training(
            jobs=jobs, datasets=datasets, runner=runner, settings=settings, request=body
        )
        response.headers["Location"] = f"/v1/jobs/{row.id}"
        return job_read(row)

    jobs = APIRouter()
    jobs.include_router(submissions)
    jobs.include_router(router)  # the routes alike in every instance
    return jobs
