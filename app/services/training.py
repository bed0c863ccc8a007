"""Training jobs: submit, read, cancel, and `run_training_job`, the body every runner executes."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from app.config import Settings
from app.db import JobRow, JobStatus, utcnow
from app.errors import AppError, Conflict, InvalidInput, NotFound
from app.ml import checkpoints
from app.ml.data import Split, split_problems
from app.ml.device import DeviceUnavailable, resolve_device
from app.ml.functions import CATALOG, FunctionParamError, generate, resolve_params
from app.ml.model import LSTMConfig
from app.ml.train import EpochStats, TrainConfig, TrainingCancelled, TrainingDiverged, train
from app.schemas.jobs import DatasetData, FunctionData, InlineData, TrainRequest
from app.services import datasets
from app.services.models import ModelStore
from app.services.series import Limits, to_matrix
from app.store import Store

logger = logging.getLogger(__name__)
PROGRESS_INTERVAL_SECONDS = 0.5  # at most two progress writes (and cancel checks) a second


class JobRunner(Protocol):
    """Where queued jobs run; `notify` says a new job is waiting."""

    def notify(self) -> None: ...


class _JobLost(Exception):
    """The job is no longer ours to write (marked interrupted or failed elsewhere)."""


def _limits(settings: Settings) -> Limits:
    return Limits(settings.max_dataset_rows, settings.max_dataset_columns)


def _function_params(data: FunctionData) -> dict[str, float]:
    try:
        return resolve_params(data.function, data.params)
    except FunctionParamError as exc:
        raise InvalidInput(exc.message, field=f"data.params.{exc.param}") from None


def data_shape(*, store: Store, data: Any, limits: Limits) -> tuple[int, int]:
    """(rows, columns) of a job's series, checked without generating or loading it."""
    if isinstance(data, FunctionData):
        params = _function_params(data)
        return int(params["points"]), len(CATALOG[data.function].columns)
    if isinstance(data, DatasetData):
        shape = store.dataset_shape(data.dataset_id)
        if shape is None:
            raise InvalidInput(f"no dataset {data.dataset_id!r}", field="data.dataset_id")
        return shape
    matrix, _ = to_matrix(data.values, data.columns, field="data.values", limits=limits)
    return matrix.shape  # type: ignore[return-value]


def load_series(*, store: Store, data: Any, limits: Limits) -> tuple[np.ndarray, list[str]]:
    """A job's series [rows, columns] float64 and its column names."""
    if isinstance(data, FunctionData):
        return generate(data.function, _function_params(data)), list(CATALOG[data.function].columns)
    if isinstance(data, DatasetData):
        return datasets.load_values(store=store, dataset_id=data.dataset_id)
    assert isinstance(data, InlineData)
    return to_matrix(data.values, data.columns, field="data.values", limits=limits)


def submit_training(
    *, store: Store, runner: JobRunner, settings: Settings, request: TrainRequest
) -> JobRow:
    """Check that the spec can train, then queue it."""
    rows, columns = data_shape(store=store, data=request.data, limits=_limits(settings))
    if rows > settings.max_dataset_rows:
        raise InvalidInput(
            f"{rows} rows; at most {settings.max_dataset_rows} are allowed", field="data"
        )
    split = Split.of(rows, request.training.validation_fraction, request.training.test_fraction)
    problems = split_problems(rows, split, request.window.lookback, request.window.horizon)
    if problems:
        raise InvalidInput("; ".join(problems), field="window.lookback", code="series_too_short")
    row = JobRow(
        id=uuid.uuid4().hex,
        model_name=request.model_name,
        status=JobStatus.QUEUED,
        spec=request.model_dump(mode="json"),
        dataset_id=request.data.dataset_id if isinstance(request.data, DatasetData) else None,
        created_at=utcnow(),
        history=[],
    )
    store.add_job(row)
    runner.notify()
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
    """Turns epoch stats into job-row writes, at most every PROGRESS_INTERVAL_SECONDS."""

    def __init__(
        self, store: Store, job_id: str, token: str, on_epoch: Callable[[float], None] | None
    ) -> None:
        self.store, self.job_id, self.token, self.on_epoch = store, job_id, token, on_epoch
        self.history: list[dict[str, Any]] = []
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
        if self.on_epoch is not None:
            self.on_epoch(stats.seconds)
        now = time.monotonic()
        if now - self.last_write < PROGRESS_INTERVAL_SECONDS and stats.epoch < stats.epochs:
            return
        self.last_write = now
        progress = {
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
        if not self.store.report_progress(
            self.job_id, self.token, progress=finite_or_none(progress), history=self.history
        ):
            raise _JobLost

    def should_stop(self) -> bool:
        """Whether a client asked to cancel; checked against the store at most twice a second."""
        now = time.monotonic()
        if now - self.last_check < PROGRESS_INTERVAL_SECONDS:
            return False
        self.last_check = now
        return self.store.cancel_requested(self.job_id)


def _configs(spec: TrainRequest, n_features: int) -> tuple[LSTMConfig, TrainConfig]:
    arch, training = spec.architecture, spec.training
    model_config = LSTMConfig(
        n_features=n_features,
        lookback=spec.window.lookback,
        horizon=spec.window.horizon,
        hidden_size=arch.hidden_size,
        num_layers=arch.num_layers,
        dropout=arch.dropout,
        dense_layers=tuple(arch.dense_layers),
        residual=arch.residual,
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
    )
    return model_config, train_config


def _train_and_save(
    row: JobRow, token: str, *, store: Store, models: ModelStore, settings: Settings,
    reporter: _ProgressReporter,
) -> None:  # fmt: skip
    spec = TrainRequest.model_validate(row.spec)
    device = resolve_device(spec.device)
    store.set_device(row.id, token, str(device))
    series, columns = load_series(store=store, data=spec.data, limits=_limits(settings))
    model_config, train_config = _configs(spec, series.shape[1])
    result = train(series, model_config, train_config, device, reporter, reporter.should_stop)
    metrics = finite_or_none(
        {
            **result.metrics,
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "stop_reason": result.stop_reason,
            "train_seconds": result.seconds,
        }
    )
    extra = {"name": row.model_name, "job_id": row.id, "created_at": utcnow().isoformat()}
    extra |= {"spec": row.spec, "metrics": metrics, "device": str(device)}
    version = models.save(
        row.model_name,
        lambda folder: checkpoints.write(
            folder, result.model, result.scaler, result.rollout_mode, columns, result.tail, extra
        ),
    )
    if not store.finish(row.id, token, JobStatus.SUCCEEDED, metrics=metrics, model_version=version):
        models.delete_version(row.model_name, version)  # the job was taken from us meanwhile


def run_training_job(
    job_id: str,
    token: str,
    *,
    store: Store,
    models: ModelStore,
    settings: Settings,
    on_epoch: Callable[[float], None] | None = None,
) -> None:
    """Train a claimed job to its end state. Never raises: every outcome is written to the row."""
    row = store.get_job(job_id)
    if row is None or row.status != JobStatus.RUNNING or row.run_token != token:
        return
    torch.set_num_threads(settings.train_threads)
    reporter = _ProgressReporter(store, job_id, token, on_epoch)
    try:
        _train_and_save(
            row, token, store=store, models=models, settings=settings, reporter=reporter
        )
    except _JobLost:
        logger.info("job %s was taken over while running; stopping", job_id)
    except TrainingCancelled:
        store.finish(job_id, token, JobStatus.CANCELLED)
    except (TrainingDiverged, DeviceUnavailable, ValueError) as exc:
        store.finish(job_id, token, JobStatus.FAILED, error=str(exc))
    except AppError as exc:
        store.finish(job_id, token, JobStatus.FAILED, error=exc.message)
    except Exception as exc:  # noqa: BLE001 - the job, not the worker, must record the failure
        logger.exception("job %s failed", job_id)
        store.finish(
            job_id, token, JobStatus.FAILED, error=f"internal error: {type(exc).__name__}: {exc}"
        )
