"""What a job reports: its status, progress, loss history and metrics (the API's views)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.core.schemas import VIEW_SERIES, PageInfo, ReadSchema
from app.jobs.spec import JobSpec
from app.jobs.table import JobRow, JobStatus
from app.registry import MetricsRead


class ProgressRead(ReadSchema):
    """Where a running job is: which candidate configuration, or which model of its ensemble,
    fits (one after another), its epoch of at most `epochs`, and the share of the whole job
    done."""

    stage: Literal["search", "fit"] = Field(
        "fit",
        description="search: fitting candidate configurations (training.search_trials), "
        "member counting the candidates; fit: the job's model",
    )
    member: int = Field(1, description="the model being fitted, 1 to `members`")
    members: int = Field(
        1, description="models fitted one after another (an ensemble's, or the candidates')"
    )
    epoch: int = Field(description="the fitting model's last finished epoch")
    epochs: int = Field(description="most epochs each model runs")
    fraction: float = Field(ge=0.0, le=1.0, description="of every model's epochs")
    train_loss: float | None
    val_loss: float | None
    best_val_loss: float | None
    best_epoch: int = Field(description="the fitting model's best epoch so far")
    learning_rate: float
    elapsed_seconds: float
    eta_seconds: float | None = Field(description="at the current pace, if every epoch runs")


class EpochRead(ReadSchema):
    """One epoch of one model of the loss history (model scale)."""

    member: int = Field(1, description="the model of the ensemble, 1 to its size")
    epoch: int = Field(description="of that model")
    train_loss: float | None
    val_loss: float | None
    learning_rate: float
    seconds: float


class ModelRef(ReadSchema):
    """A model version a job produced."""

    name: str
    version: int


class JobSummary(ReadSchema):
    """A job as listed."""

    id: str
    model_name: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested: bool
    device: str | None
    worker: str | None = Field(description="host:pid of the process that last took the job")
    attempts: int = Field(description="times a worker took the job (a lost worker's job re-runs)")
    progress: ProgressRead | None
    metrics: MetricsRead | None
    model: ModelRef | None
    error: str | None = Field(description="why a job failed, in words a user can act on")


class JobRead(JobSummary):
    """A job in full: its resolved spec and loss history too."""

    spec: JobSpec
    history: list[EpochRead] = Field(
        description="every epoch so far (empty when asked for `history=false`)"
    )
    history_length: int = Field(description="epochs in the loss history")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "8d96f30e464a449c9010cec9e716199d",
                    "model_name": "my-sine",
                    "status": "running",
                    "created_at": "2026-11-23T19:23:17Z",
                    "started_at": "2026-11-23T19:23:17Z",
                    "finished_at": None,
                    "cancel_requested": False,
                    "device": "cpu",
                    "worker": "gpu-host-1:4121",
                    "attempts": 1,
                    "progress": {
                        "member": 1,
                        "members": 1,
                        "epoch": 11,
                        "epochs": 100,
                        "fraction": 0.11,
                        "train_loss": 9.3e-07,
                        "val_loss": 2.8e-07,
                        "best_val_loss": 1.1e-07,
                        "best_epoch": 8,
                        "learning_rate": 0.0015,
                        "elapsed_seconds": 3.2,
                        "eta_seconds": 25.6,
                    },
                    "metrics": None,
                    "model": None,
                    "error": None,
                    "spec": {"model_name": "my-sine", "data": {"function": "sin"}},
                    "history_length": 1,
                    "history": [
                        {
                            "member": 1,
                            "epoch": 1,
                            "train_loss": 4.1e-05,
                            "val_loss": 2.2e-06,
                            "learning_rate": 0.003,
                            "seconds": 0.31,
                        }
                    ],
                }
            ]
        }
    }


class JobPage(PageInfo):
    """A page of jobs, newest first."""

    items: list[JobSummary]


class HistoryPage(PageInfo):
    """A page of a job's loss history, in the order the epochs ran."""

    items: list[EpochRead]


class JobEvent(JobSummary):
    """One event of a job's stream: the job as listed (metrics without each series' scores)
    and the epochs its history gained since the stream's previous event."""

    history_length: int = Field(description="epochs in the loss history, these included")
    new_epochs: list[EpochRead] = Field(
        description="epochs added since the previous event (none in a stream's first)"
    )
    new_epochs_offset: int = Field(
        description="where `new_epochs` start in the history: history_length minus their "
        "count; below the epochs a client holds, the history restarted there (a re-run job)"
    )


def _job_fields(row: JobRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "model_name": row.model_name,
        "status": row.status,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "cancel_requested": row.cancel_requested,
        "device": row.device,
        "worker": row.worker,
        "attempts": row.attempts,
        "progress": row.progress,
        "metrics": row.metrics,
        "model": (
            {"name": row.model_name, "version": row.model_version}
            if row.model_version is not None
            else None
        ),
        "error": row.error,
    }


def job_summary(row: JobRow) -> JobSummary:
    """A job row as listed: a global model's per-series scores and the intervals' residual
    count per step (up to one per forecast step) are left to the job's page."""
    fields = _job_fields(row)
    if isinstance(row.metrics, dict):
        fields["metrics"] = _listed_metrics(row.metrics)
    return JobSummary.model_validate(fields)


def _listed_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """`metrics` without what grows with the series or the horizon."""
    listed = {**metrics, "series": None} if "series" in metrics else dict(metrics)
    intervals = metrics.get("intervals")
    if isinstance(intervals, dict) and "residuals" in intervals:
        listed["intervals"] = {**intervals, "residuals": None}
    return listed


def job_read(row: JobRow, *, history: bool = True) -> JobRead:
    """A job row in full (its loss history left out unless `history`), but for the scores of
    its series past the first VIEW_SERIES: its model version's series route pages them."""
    fields = _job_fields(row)
    metrics = row.metrics
    if isinstance(metrics, dict) and isinstance(metrics.get("series"), list):
        fields["metrics"] = {**metrics, "series": metrics["series"][:VIEW_SERIES]}
    return JobRead.model_validate(
        {
            **fields,
            "spec": row.spec,
            "history": row.history if history else [],
            "history_length": len(row.history),
        }
    )
