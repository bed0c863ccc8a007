"""/v1/jobs: submit a training job, poll it, list, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from app.api.deps import RunnerDep, SettingsDep, StoreDep
from app.api.errors import responses
from app.db import JobStatus
from app.schemas.common import ID_PATTERN
from app.schemas.jobs import JobPage, JobRead, TrainRequest, job_read, job_summary
from app.services import training

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], responses=responses(422))
JobId = Annotated[str, Path(pattern=ID_PATTERN, description="job id")]


@router.post(
    "",
    status_code=202,
    response_model=JobRead,
    responses=responses(400, 413, 422, 503),
    summary="Submit a training job",
)
def create_job(
    body: TrainRequest,
    response: Response,
    store: StoreDep,
    runner: RunnerDep,
    settings: SettingsDep,
) -> JobRead:
    """Queue a training job; poll the `Location` it answers with.

    Only `model_name` and `data` are required: `{"model_name": "sine", "data": {"function":
    "sin"}}` trains on sin(x) with the defaults shown in the schema. A spec that cannot train
    (unknown parameter, series too short for the window and split, ...) is a 422 and queues nothing.
    """
    row = training.submit_training(store=store, runner=runner, settings=settings, request=body)
    response.headers["Location"] = f"/v1/jobs/{row.id}"
    return job_read(row)


@router.get("", response_model=JobPage, summary="List jobs")
def list_jobs(
    store: StoreDep,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> JobPage:
    """Jobs newest first, optionally of one status (without spec and loss history)."""
    rows, total = store.list_jobs(status=status, limit=limit, offset=offset)
    return JobPage(items=[job_summary(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/{job_id}", response_model=JobRead, responses=responses(404))
def read_job(job_id: JobId, store: StoreDep) -> JobRead:
    """Status, progress (epoch, losses, ETA), loss history, final metrics, model, error."""
    return job_read(training.get_job(store=store, job_id=job_id))


@router.post(
    "/{job_id}/cancel",
    response_model=JobRead,
    responses={
        202: {"model": JobRead, "description": "Running: it stops within an epoch"},
        **responses(404, 409),
    },
    summary="Cancel a job",
)
def cancel_job(job_id: JobId, response: Response, store: StoreDep) -> JobRead:
    """A queued job is cancelled at once (200); a running one is asked to stop (202) and does
    so within one epoch, freeing its worker; a finished job answers 409."""
    row = training.cancel_job(store=store, job_id=job_id)
    if row.status == JobStatus.RUNNING:
        response.status_code = 202
    return job_read(row)
