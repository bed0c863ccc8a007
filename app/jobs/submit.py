"""Training jobs: check a request can train, queue it; read and cancel jobs."""

from __future__ import annotations

import uuid
from typing import Any

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import AppError, Conflict, InvalidInput, NotFound
from app.datasets import DatasetRepository, Limits
from app.jobs import auto, sources
from app.jobs.configs import ml_configs
from app.jobs.executors import JobRunner
from app.jobs.repository import JobRepository
from app.jobs.spec import DatasetData, FunctionData, TrainRequest, request_field
from app.jobs.table import JobRow, JobStatus
from app.ml.config import TrainConfig
from app.ml.cost import training_bytes
from app.ml.device import DeviceUnavailable, resolve_device
from app.ml.feasibility import problems
from app.ml.model import ModelConfig
from app.ml.problems import Infeasible, Problem
from app.ml.roles import ColumnRoles, UnknownColumns


def _refusal(problem: Problem) -> InvalidInput:
    """The 422 of a problem: its message, at the request's field."""
    return InvalidInput(problem.message, field=request_field(problem.field), code=problem.code)


def _configs(
    request: TrainRequest, columns: list[str], settings: Settings
) -> tuple[ModelConfig, TrainConfig, ColumnRoles]:
    """The request's `ml` configs for data with these `columns`; 422 unless `inputs` and
    `targets` name columns of the data and the model config can be built."""
    try:
        return ml_configs(request, columns, settings)
    except UnknownColumns as exc:
        raise InvalidInput(
            f"{exc.unknown} are not columns of the data; it has {columns}",
            field=exc.role,
            code="unknown_column",
        ) from None
    except Infeasible as exc:
        raise _refusal(exc.problem) from None


def _check_trainable(
    request: TrainRequest,
    data: FunctionData | DatasetData,
    *,
    datasets: DatasetRepository,
    settings: Settings,
) -> None:
    """422 unless the spec can train: device (where jobs run on this host), columns, the `ml`
    feasibility rules on every series, memory. A queue's workers check their own device when
    they take the job."""
    if settings.broker_url is None:
        try:
            resolve_device(request.device)
        except DeviceUnavailable as exc:
            raise InvalidInput(str(exc), field="device", code="device_unavailable") from None
    rows, columns = sources.data_shape(datasets=datasets, data=data)
    model_config, train_config, roles = _configs(request, columns, settings)
    if rows > settings.max_dataset_rows:
        raise InvalidInput(
            f"{rows} rows; at most {settings.max_dataset_rows} are allowed", field="data"
        )
    series = sources.series_lengths(datasets=datasets, data=data)
    found = problems(model_config, train_config, roles, series)
    if found:
        raise _refusal(found[0])
    train_rows = max(train_config.split(length).train for _, length in series)
    batch_bytes = training_bytes(model_config, train_config, train_rows, len(columns))
    if batch_bytes > settings.max_train_memory_mb * 2**20:
        raise InvalidInput(
            f"training would need about {batch_bytes / 2**20:,.0f} MB (activations of a batch, "
            "its input windows, and the weights with their gradients and optimizer state); the "
            f"limit is {settings.max_train_memory_mb} MB (FORECAST_MAX_TRAIN_MEMORY_MB): use a "
            "smaller batch, window or model",
            field="training.batch_size",
            code="job_too_large",
        )


def submit_training(
    *,
    jobs: JobRepository,
    datasets: DatasetRepository,
    runner: JobRunner,
    settings: Settings,
    request: TrainRequest,
) -> JobRow:
    """Check that the spec can train, then queue it with its data source resolved.

    Function parameters are stored with every default filled in; inline values are stored as a
    dataset, so the job and its checkpoint carry only the dataset's id.
    """
    data = request.data
    inline = not isinstance(data, FunctionData | DatasetData)
    if isinstance(data, FunctionData):
        data = sources.resolve_function(data)
    elif not isinstance(data, DatasetData):
        limits = Limits.of(settings)
        data = sources.store_inline(
            datasets=datasets, data=data, model_name=request.model_name, limits=limits
        )
    try:
        spec = auto.configure(request, data, datasets=datasets)
        _check_trainable(spec, data, datasets=datasets, settings=settings)
    except InvalidInput:
        if inline and isinstance(data, DatasetData):  # a refused job leaves nothing behind
            datasets.delete_unused(data.dataset_id)
        raise
    spec = spec.model_copy(update={"data": data})
    row = JobRow(
        id=uuid.uuid4().hex,
        model_name=request.model_name,
        status=JobStatus.QUEUED,
        spec=spec.model_dump(mode="json"),
        dataset_id=data.dataset_id if isinstance(data, DatasetData) else None,
        created_at=utcnow(),
        history=[],
        attempts=0,
    )
    jobs.add(row)
    try:
        runner.submit(row.id)
    except AppError as exc:  # the queue is down: the job must not wait for a message never sent
        jobs.fail_queued(row.id, f"could not be queued: {exc.message}")
        raise
    return row


def get_job(*, jobs: JobRepository, job_id: str) -> JobRow:
    """One job, or NotFound."""
    row = jobs.get(job_id)
    if row is None:
        raise NotFound(f"no job {job_id!r}", field="job_id")
    return row


def job_history(*, jobs: JobRepository, job_id: str) -> list[dict[str, Any]]:
    """One job's loss history, or NotFound."""
    history = jobs.history(job_id)
    if history is None:
        raise NotFound(f"no job {job_id!r}", field="job_id")
    return history


def cancel_job(*, jobs: JobRepository, job_id: str) -> JobRow:
    """Cancel a queued job now, or ask a running one to stop; Conflict if already finished."""
    before = get_job(jobs=jobs, job_id=job_id)
    if JobStatus(before.status).finished:
        raise Conflict(
            f"job {job_id!r} already {before.status}", field="job_id", code="job_finished"
        )
    row = jobs.request_cancel(job_id)
    assert row is not None
    if JobStatus(row.status).finished and row.status != JobStatus.CANCELLED:
        raise Conflict(f"job {job_id!r} already {row.status}", field="job_id", code="job_finished")
    return row
