"""/v1/jobs: submit a training job, poll it or follow its events, list, cancel.

No `from __future__ import annotations` here: the submission's body is the model that
`make_router` is given, which a string annotation could not name.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from app.core.deps import SettingsDep
from app.core.errors import responses
from app.core.schemas import ID_PATTERN
from app.core.strict_json import StrictJSONRoute
from app.datasets import DatasetsDep
from app.jobs import events, submit
from app.jobs.deps import JobsDep, RunnerDep
from app.jobs.schemas import JobPage, JobRead, job_read, job_summary
from app.jobs.spec import TrainRequest
from app.jobs.table import JobRow, JobStatus


def _jobs_router() -> APIRouter:
    return APIRouter(
        prefix="/v1/jobs", tags=["jobs"], responses=responses(422), route_class=StrictJSONRoute
    )


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
def read_job(row: ExistingJob) -> JobRead:
    """Status, progress (epoch, losses, ETA), loss history, final metrics, model, error."""
    return job_read(row)


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    responses=responses(404),
    summary="Follow a job live (Server-Sent Events)",
)
async def stream_job_events(row: ExistingJob, jobs: JobsDep) -> AsyncIterator[ServerSentEvent]:
    """`text/event-stream`: an `event: progress` at once and on every change of the job while it
    runs (its data is the job as `GET /v1/jobs/{job_id}` returns it, on one line), then, once,
    `event: end` with the finished job, and the stream closes (a job finished already: only
    `end`). Each event has an `id`; a `: ping`
    comment comes after 15 s of silence. Clients that lose the stream poll the job instead."""
    async for event in events.job_events(jobs, row):
        yield event


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
