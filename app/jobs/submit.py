"""Training jobs: check a request can train, queue it; read and cancel jobs."""

from __future__ import annotations

import uuid

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import AppError, Conflict, InvalidInput, NotFound
from app.datasets import DatasetRepository, Limits
from app.jobs import auto, sources
from app.jobs.configs import ml_configs
from app.jobs.executors import JobRunner
from app.jobs.repository import JobRepository
from app.jobs.spec import DatasetData, FunctionData, TrainRequest
from app.jobs.table import JobRow, JobStatus
from app.ml.cost import training_bytes
from app.ml.data import Split, split_problems, window_starts
from app.ml.device import DeviceUnavailable, resolve_device
from app.ml.forecast import state_rollout_possible
from app.ml.model import LSTMConfig
from app.ml.roles import ColumnRoles, UnknownColumns
from app.ml.sequences import SEQUENCE_NEEDS, sequence_span, sequences_too_long
from app.ml.train import (
    DESEASONALISE_NEEDS,
    STATEFUL_NEEDS,
    TrainConfig,
    deseasonalise_possible,
    member_lookbacks,
    split_of,
    stateful_possible,
)


def _check_trainable(
    request: TrainRequest,
    data: FunctionData | DatasetData,
    *,
    datasets: DatasetRepository,
    settings: Settings,
) -> None:
    """422 unless the spec can train: device (where jobs run on this host), series length,
    split, memory. A queue's workers check their own device when they take the job."""
    if settings.broker_url is None:
        try:
            resolve_device(request.device)
        except DeviceUnavailable as exc:
            raise InvalidInput(str(exc), field="device", code="device_unavailable") from None
    rows, columns = sources.data_shape(datasets=datasets, data=data)
    model_config, train_config = _check_roles(request, columns, settings)
    if rows > settings.max_dataset_rows:
        raise InvalidInput(
            f"{rows} rows; at most {settings.max_dataset_rows} are allowed", field="data"
        )
    lengths = sources.series_lengths(datasets=datasets, data=data)
    train_rows = _check_splits(request, model_config, train_config, rows, lengths)
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


def _check_splits(
    request: TrainRequest,
    model_config: LSTMConfig,
    config: TrainConfig,
    rows: int,
    lengths: list[tuple[str, int]] | None,
) -> int:
    """422 unless the series of `rows` rows (every series of `lengths`, when there are many,
    each named) splits into training, validation and test parts that each hold a window; the
    most training rows of a series."""
    window, training = request.window, request.training
    if lengths is not None and training.stateful:
        raise InvalidInput(STATEFUL_NEEDS, field="training.stateful")
    most = 0
    for series_id, length in lengths or [("", rows)]:
        split = split_of(config, length)
        problems = split_problems(length, split, window.lookback, window.horizon)
        if problems:
            named = "" if lengths is None else f"series {series_id!r} ({length} rows): "
            raise InvalidInput(
                named + "; ".join(problems), field="window.lookback", code="series_too_short"
            )
        if training.sequence_steps and not _holds_sequences(model_config, config, split):
            named = "" if lengths is None else f"series {series_id!r} ({length} rows): "
            span = sequence_span(model_config, config.sequence_steps)
            raise InvalidInput(
                named + sequences_too_long(config.sequence_steps, model_config.lookback, span),
                field="training.sequence_steps",
                code="series_too_short",
            )
        if training.folds > split.test:
            named = "" if lengths is None else f"series {series_id!r}: "
            raise InvalidInput(
                f"{named}{training.folds} backtest folds need as many test rows; the test part "
                f"has {split.test}: raise training.test_rows or use fewer folds",
                field="training.folds",
            )
        most = max(most, split.train)
    return most


def _holds_sequences(model_config: LSTMConfig, config: TrainConfig, split: Split) -> bool:
    """Whether the training and validation parts of `split` each hold a training sequence."""
    lookback, span = model_config.lookback, sequence_span(model_config, config.sequence_steps)
    return bool(
        window_starts(0, split.train, lookback, span).size
        and window_starts(split.val_start, split.test_start, lookback, span).size
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


def _check_roles(
    request: TrainRequest, columns: list[str], settings: Settings
) -> tuple[LSTMConfig, TrainConfig]:
    """422 unless `inputs` and `targets` name columns of the data, in a usable combination;
    the request's model and fit configs for data with these `columns`."""
    try:
        roles = ColumnRoles.named(columns, request.inputs, request.targets)
    except UnknownColumns as exc:
        raise InvalidInput(
            f"{exc.unknown} are not columns of the data; it has {columns}",
            field=exc.role,
            code="unknown_column",
        ) from None
    window, arch = request.window, request.architecture
    if arch.instance_norm and window.lookback < 2:
        raise InvalidInput(
            "instance normalisation needs a lookback of at least 2 rows (a single row "
            "normalises to zero)",
            field="architecture.instance_norm",
        )
    if arch.instance_norm and not roles.residual_possible:
        raise InvalidInput(
            "instance normalisation needs every target among the inputs",
            field="architecture.instance_norm",
        )
    model_config, train_config, _ = ml_configs(request, columns, settings)
    if request.training.stateful and not stateful_possible(model_config):
        raise InvalidInput(STATEFUL_NEEDS, field="training.stateful")
    if request.training.sequence_steps and (
        request.training.stateful or not state_rollout_possible(model_config)
    ):
        raise InvalidInput(SEQUENCE_NEEDS, field="training.sequence_steps")
    try:
        member_lookbacks(train_config, model_config)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="training.ensemble_lookbacks") from None
    if request.training.deseasonalise and not deseasonalise_possible(roles):
        raise InvalidInput(DESEASONALISE_NEEDS, field="training.deseasonalise")
    return model_config, train_config
