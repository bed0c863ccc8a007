"""Training jobs: submit, read, cancel, and `run_training_job`, the body every runner executes."""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import torch

from app.config import Settings
from app.db import JobRow, JobStatus, utcnow
from app.errors import AppError, Conflict, InvalidInput, NotFound
from app.ml import checkpoints
from app.ml.data import Split, split_problems
from app.ml.device import DeviceUnavailable, resolve_device
from app.ml.model import LSTMConfig
from app.ml.train import (
    STATEFUL_NEEDS,
    Columns,
    EpochStats,
    TrainConfig,
    TrainingCancelled,
    TrainingDiverged,
    stateful_possible,
    train,
)
from app.schemas.jobs import DatasetData, FunctionData, TrainRequest
from app.services import sources
from app.services.heartbeat import Heartbeat, worker_name
from app.services.models import ModelStore
from app.services.series import Limits
from app.store import Store

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_SECONDS = 0.5  # at most two progress writes (and cancel checks) a second


class JobRunner(Protocol):
    """Where queued jobs run: local processes or a queue's workers."""

    def submit(self, job_id: str) -> None:
        """Job `job_id` was queued (or re-queued): have a worker claim and run it."""
        ...


class _JobLost(Exception):
    """The job is no longer ours to write (marked interrupted or failed elsewhere)."""


# Floats kept per batch element, time step, hidden unit and layer while training an LSTM:
# gates, cell and hidden states and their gradients, rounded up.
_ACTIVATION_FLOATS = 16


def _check_trainable(
    request: TrainRequest, data: FunctionData | DatasetData, *, store: Store, settings: Settings
) -> None:
    """422 unless the spec can train: device (where jobs run on this host), series length,
    split, memory. A queue's workers check their own device when they take the job."""
    if settings.broker_url is None:
        try:
            resolve_device(request.device)
        except DeviceUnavailable as exc:
            raise InvalidInput(str(exc), field="device", code="device_unavailable") from None
    rows, columns = sources.data_shape(store=store, data=data)
    _check_roles(request, columns, settings)
    if rows > settings.max_dataset_rows:
        raise InvalidInput(
            f"{rows} rows; at most {settings.max_dataset_rows} are allowed", field="data"
        )
    window, training = request.window, request.training
    split = Split.of(rows, training.validation_fraction, training.test_fraction)
    problems = split_problems(rows, split, window.lookback, window.horizon)
    if problems:
        raise InvalidInput("; ".join(problems), field="window.lookback", code="series_too_short")
    batch_bytes = training_bytes(request, split.train, len(columns))
    if batch_bytes > settings.max_train_memory_mb * 2**20:
        raise InvalidInput(
            f"training would need about {batch_bytes / 2**20:,.0f} MB (activations of a batch, "
            "its input windows, and the weights with their gradients and optimizer state); the "
            f"limit is {settings.max_train_memory_mb} MB (FORECAST_MAX_TRAIN_MEMORY_MB): use a "
            "smaller batch, window or model",
            field="training.batch_size",
            code="job_too_large",
        )


def training_bytes(request: TrainRequest, train_rows: int, n_columns: int) -> int:
    """A generous estimate of a training run's memory: one batch's activations and windows,
    and 4 copies of the weights (the weights, their gradients and Adam's two moments)."""
    window, training, arch = request.window, request.training, request.architecture
    n_in = len(request.inputs or ()) or n_columns
    n_out = len(request.targets or ()) or n_columns
    batch, steps = training.batch_size, window.lookback // window.patch
    rows_per_sample = window.lookback + window.horizon
    if training.stateful:  # streams of consecutive rows, backpropagated tbptt steps at a time
        batch = min(batch, max(1, (train_rows - 1) // 2))
        steps = min(training.tbptt, max(1, train_rows // batch))
        rows_per_sample = train_rows // batch + 1
    activations = _ACTIVATION_FLOATS * batch * steps * arch.hidden_size * arch.num_layers
    windows = 3 * batch * rows_per_sample * n_columns  # gathered rows and their column picks
    width, weights = n_in * window.patch, 0
    for _ in range(arch.num_layers):
        weights += 4 * arch.hidden_size * (width + arch.hidden_size + 2)
        width = arch.hidden_size
    for size in arch.dense_layers:
        weights += (width + 1) * size
        width = size
    weights += (width + 1) * window.horizon * n_out
    if arch.highway:
        weights += (window.lookback * n_in + 1) * window.horizon * n_out
    return 4 * (activations + windows + 4 * weights)


def submit_training(
    *, store: Store, runner: JobRunner, settings: Settings, request: TrainRequest
) -> JobRow:
    """Check that the spec can train, then queue it with its data source resolved.

    Function parameters are stored with every default filled in; inline values are stored as a
    dataset, so the job and its checkpoint carry only the dataset's id.
    """
    data = request.data
    if isinstance(data, FunctionData):
        data = sources.resolve_function(data)
        _check_trainable(request, data, store=store, settings=settings)
    elif isinstance(data, DatasetData):
        _check_trainable(request, data, store=store, settings=settings)
    else:
        limits = Limits.of(settings)
        data = sources.store_inline(
            store=store, data=data, model_name=request.model_name, limits=limits
        )
        try:
            _check_trainable(request, data, store=store, settings=settings)
        except InvalidInput:
            store.delete_unused_dataset(data.dataset_id)  # a refused job leaves nothing behind
            raise
    spec = request.model_copy(update={"data": data})
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
    store.add_job(row)
    try:
        runner.submit(row.id)
    except AppError as exc:  # the queue is down: the job must not wait for a message never sent
        store.fail_queued(row.id, f"could not be queued: {exc.message}")
        raise
    return row


def get_job(*, store: Store, job_id: str) -> JobRow:
    """One job, or NotFound."""
    row = store.get_job(job_id)
    if row is None:
        raise NotFound(f"no job {job_id!r}", field="job_id")
    return row


def cancel_job(*, store: Store, job_id: str) -> JobRow:
    """Cancel a queued job now, or ask a running one to stop; Conflict if already finished."""
    before = get_job(store=store, job_id=job_id)
    if JobStatus(before.status).finished:
        raise Conflict(
            f"job {job_id!r} already {before.status}", field="job_id", code="job_finished"
        )
    row = store.request_cancel(job_id)
    assert row is not None
    if JobStatus(row.status).finished and row.status != JobStatus.CANCELLED:
        raise Conflict(f"job {job_id!r} already {row.status}", field="job_id", code="job_finished")
    return row


def finite_or_none(value: Any) -> Any:
    """Replace NaN and infinities in nested dicts and lists with None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    return value


class _ProgressReporter:
    """Turns epoch stats into job-row writes, at most every PROGRESS_INTERVAL_SECONDS; the last
    epochs are written with the job's final state. Raises _JobLost once the job is not ours."""

    def __init__(
        self,
        store: Store,
        job_id: str,
        token: str,
        on_epoch: Callable[[float], None] | None,
        lost: threading.Event,
    ) -> None:
        self.store, self.job_id, self.token, self.on_epoch = store, job_id, token, on_epoch
        self.lost = lost
        self.history: list[dict[str, Any]] = []
        self.progress: dict[str, Any] | None = None
        self.last_write = self.last_check = 0.0

    def __call__(self, stats: EpochStats) -> None:
        self.history.append(
            finite_or_none(
                {
                    "epoch": stats.epoch,
                    "train_loss": stats.train_loss,
                    "val_loss": stats.val_loss,
                    "learning_rate": stats.learning_rate,
                    "seconds": stats.seconds,
                }
            )
        )
        self.progress = finite_or_none(
            {
                "epoch": stats.epoch,
                "epochs": stats.epochs,
                "fraction": stats.epoch / stats.epochs,
                "train_loss": stats.train_loss,
                "val_loss": stats.val_loss,
                "best_val_loss": stats.best_val_loss,
                "best_epoch": stats.best_epoch,
                "learning_rate": stats.learning_rate,
                "elapsed_seconds": stats.elapsed_seconds,
                "eta_seconds": stats.elapsed_seconds / stats.epoch * (stats.epochs - stats.epoch),
            }
        )
        if self.on_epoch is not None:
            self.on_epoch(stats.seconds)
        if self.lost.is_set():
            raise _JobLost
        now = time.monotonic()
        if now - self.last_write < PROGRESS_INTERVAL_SECONDS:
            return
        self.last_write = now
        if not self.store.report_progress(
            self.job_id, self.token, progress=self.progress, history=self.history
        ):
            raise _JobLost

    def should_stop(self) -> bool:
        """Whether a client asked to cancel; checked against the store at most twice a second."""
        if self.lost.is_set():
            raise _JobLost
        now = time.monotonic()
        if now - self.last_check < PROGRESS_INTERVAL_SECONDS:
            return False
        self.last_check = now
        return self.store.cancel_requested(self.job_id)

    def final_progress(self, status: JobStatus) -> dict[str, Any] | None:
        """Progress as the job ends: a finished success is complete, with nothing left to wait."""
        if self.progress is None or status != JobStatus.SUCCEEDED:
            return self.progress
        return self.progress | {"fraction": 1.0, "eta_seconds": 0.0}


def _check_roles(request: TrainRequest, columns: list[str], settings: Settings) -> None:
    """422 unless `inputs` and `targets` name columns of the data, in a usable combination."""
    for field, names in (("inputs", request.inputs), ("targets", request.targets)):
        unknown = [name for name in names or [] if name not in columns]
        if unknown:
            raise InvalidInput(
                f"{unknown} are not columns of the data; it has {columns}",
                field=field,
                code="unknown_column",
            )
    inputs, targets = request.inputs or columns, request.targets or columns
    window, arch = request.window, request.architecture
    if arch.instance_norm and window.lookback < 2:
        raise InvalidInput(
            "instance normalisation needs a lookback of at least 2 rows (a single row "
            "normalises to zero)",
            field="architecture.instance_norm",
        )
    if request.architecture.instance_norm and not set(targets) <= set(inputs):
        raise InvalidInput(
            "instance normalisation needs every target among the inputs",
            field="architecture.instance_norm",
        )
    model_config, _, _ = _configs(request, columns, settings)
    if request.training.stateful and not stateful_possible(model_config):
        raise InvalidInput(STATEFUL_NEEDS, field="training.stateful")


def _columns(spec: TrainRequest, names: list[str]) -> Columns:
    """Positions of the spec's input and target columns in a series with columns `names`."""
    return Columns(
        tuple(names.index(name) for name in spec.inputs or ()),
        tuple(names.index(name) for name in spec.targets or ()),
    )


def _configs(
    spec: TrainRequest, names: list[str], settings: Settings
) -> tuple[LSTMConfig, TrainConfig, Columns]:
    arch, training = spec.architecture, spec.training
    columns = _columns(spec, names)
    inputs, targets = columns.resolve(len(names))
    model_config = LSTMConfig(
        n_features=len(inputs),
        target_inputs=columns.target_inputs(len(names)),
        lookback=spec.window.lookback,
        horizon=spec.window.horizon,
        patch=spec.window.patch,
        hidden_size=arch.hidden_size,
        num_layers=arch.num_layers,
        dropout=arch.dropout,
        dense_layers=tuple(arch.dense_layers),
        residual=arch.residual and set(targets) <= set(inputs),  # only a fed-in column
        instance_norm=arch.instance_norm,
        highway=arch.highway,
    )
    train_config = TrainConfig(
        epochs=training.epochs,
        batch_size=training.batch_size,
        learning_rate=training.learning_rate,
        optimizer=training.optimizer,
        weight_decay=training.weight_decay,
        early_stopping_patience=training.early_stopping_patience,
        min_delta=training.min_delta,
        min_relative_delta=training.min_relative_delta,
        lr_decay_patience=training.lr_decay_patience,
        grad_clip=training.grad_clip,
        seed=training.seed,
        scaling=training.scaling,
        val_fraction=training.validation_fraction,
        test_fraction=training.test_fraction,
        time_limit_seconds=settings.max_train_seconds,
        interval_steps=training.interval_steps,
        stateful=training.stateful,
        tbptt=training.tbptt,
    )
    return model_config, train_config, columns


def _train_and_save(
    row: JobRow, token: str, *, store: Store, models: ModelStore, settings: Settings,
    reporter: _ProgressReporter,
) -> tuple[dict[str, Any], int]:  # fmt: skip
    """Train, then publish a new version unless cancelled meanwhile; (metrics, version)."""
    spec = TrainRequest.model_validate(row.spec)
    # "auto" means this host's choice: FORECAST_DEVICE of the process that trains (a GPU
    # worker's cuda, a CPU worker's cpu), itself "auto" (a GPU if there is one) by default.
    device = resolve_device(settings.device if spec.device == "auto" else spec.device)
    store.set_device(row.id, token, str(device))
    series, columns = sources.load_series(store=store, data=spec.data)
    model_config, train_config, roles = _configs(spec, columns, settings)
    result = train(
        series, model_config, train_config, device, reporter, reporter.should_stop, roles
    )
    metrics = finite_or_none(
        {
            **result.metrics,
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "stop_reason": result.stop_reason,
            "train_seconds": result.seconds,
        }
    )
    if store.cancel_requested(row.id):  # asked after the last epoch: publish nothing
        raise TrainingCancelled
    if not store.heartbeat(row.id, token):  # re-queued or taken meanwhile: publish nothing
        raise _JobLost
    extra: dict[str, Any] = {"name": row.model_name, "job_id": row.id, "spec": row.spec}
    extra |= {"created_at": utcnow().isoformat(), "metrics": metrics, "device": str(device)}
    version = models.save(
        row.model_name,
        lambda folder: checkpoints.write(
            folder,
            result.model,
            result.scaler,
            result.rollout_mode,
            columns,
            result.tail,
            extra,
            result.interval_widths,
            (spec.inputs or columns, spec.targets or columns),
        ),
    )
    return metrics, version


def run_training_job(
    job_id: str,
    token: str,
    *,
    store: Store,
    models: ModelStore,
    settings: Settings,
    on_epoch: Callable[[float], None] | None = None,
) -> None:
    """Train a claimed job to its end state. Never raises: every outcome is written to the row,
    with the whole loss history and the last progress."""
    row = store.get_job(job_id)
    if row is None or row.status != JobStatus.RUNNING or row.run_token != token:
        return
    torch.set_num_threads(settings.train_threads)
    with Heartbeat(store, job_id, token, settings.heartbeat_seconds) as heartbeat:
        reporter = _ProgressReporter(store, job_id, token, on_epoch, heartbeat.lost)
        status, outcome = _outcome(
            row, token, store=store, models=models, settings=settings, reporter=reporter
        )
    if status is None:
        return
    written = store.finish(
        job_id, token, status, history=reporter.history, progress=reporter.final_progress(status),
        **outcome,
    )  # fmt: skip
    if not written and "model_version" in outcome:  # the job was taken from us meanwhile
        models.delete_version(row.model_name, outcome["model_version"])


def _outcome(
    row: JobRow, token: str, *, store: Store, models: ModelStore, settings: Settings,
    reporter: _ProgressReporter,
) -> tuple[JobStatus | None, dict[str, Any]]:  # fmt: skip
    """Train and save, turning every ending into (final status, row fields); (None, {}) when
    the job was taken from this worker and must not be written."""
    job_id = row.id
    outcome: dict[str, Any] = {}
    try:
        metrics, version = _train_and_save(
            row, token, store=store, models=models, settings=settings, reporter=reporter
        )
        status, outcome = JobStatus.SUCCEEDED, {"metrics": metrics, "model_version": version}
    except _JobLost:
        logger.info("job %s was taken over while running; stopping", job_id)
        return None, {}
    except TrainingCancelled:
        status = JobStatus.CANCELLED
    except (TrainingDiverged, DeviceUnavailable, ValueError) as exc:
        status, outcome = JobStatus.FAILED, {"error": str(exc)}
    except AppError as exc:
        status, outcome = JobStatus.FAILED, {"error": exc.message}
    except Exception as exc:  # noqa: BLE001 - the job, not the worker, must record the failure
        logger.exception("job %s failed", job_id)
        status, outcome = (
            JobStatus.FAILED,
            {"error": f"internal error: {type(exc).__name__}: {exc}"},
        )
    return status, outcome


def run_job(
    job_id: str,
    *,
    store: Store,
    models: ModelStore,
    settings: Settings,
    on_epoch: Callable[[float], None] | None = None,
) -> bool:
    """Claim a queued job for this process and train it to its end; False (doing nothing) if
    it was not queued: already taken, cancelled or finished. A queue may deliver a job twice;
    only the first claim runs it."""
    token = uuid.uuid4().hex
    if not store.claim(job_id, token, worker_name()):
        return False
    run_training_job(
        job_id, token, store=store, models=models, settings=settings, on_epoch=on_epoch
    )
    return True
