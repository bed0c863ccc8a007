"""A running job's progress: epoch stats turned into rate-limited writes of its row."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from app.jobs.repository import JobRepository
from app.jobs.table import JobStatus
from app.ml.fit import EpochStats

PROGRESS_INTERVAL_SECONDS = 0.5  # at most two progress writes (and cancel checks) a second


class JobLost(Exception):
    """The job is no longer ours to write (marked interrupted or failed elsewhere)."""


def finite_or_none(value: Any) -> Any:
    """Replace NaN and infinities in nested dicts and lists with None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    return value


def epoch_row(stats: EpochStats) -> dict[str, Any]:
    """The loss history's line of one epoch of one of the job's models."""
    return {
        "member": stats.member,
        "epoch": stats.epoch,
        "train_loss": finite_or_none(stats.train_loss),
        "val_loss": finite_or_none(stats.val_loss),
        "learning_rate": finite_or_none(stats.learning_rate),
        "seconds": stats.seconds,
    }


class ProgressReporter:
    """Turns epoch stats into job-row writes, at most every PROGRESS_INTERVAL_SECONDS; the last
    epochs are written with the job's final state. Raises JobLost once the job is not ours."""

    def __init__(
        self,
        jobs: JobRepository,
        job_id: str,
        token: str,
        on_epoch: Callable[[float], None] | None,
        lost: threading.Event,
    ) -> None:
        self.jobs, self.job_id, self.token, self.on_epoch = jobs, job_id, token, on_epoch
        self.lost = lost
        self.history: list[dict[str, Any]] = []
        self.progress: dict[str, Any] | None = None
        self.last_write = self.last_check = 0.0
        self.trials = 0  # candidate configurations fitted before the job's model, at most
        self.members = 1  # models of the job's ensemble

    def begin(self, epochs: int, members: int, learning_rate: float, trials: int = 0) -> None:
        """Write epoch 0 at once, before the series is loaded and prepared: a client polling a
        long job sees it has started. `trials` candidates are fitted first, one model each."""
        self.trials, self.members = trials, members
        self.progress = {
            "stage": "search" if trials else "fit",
            "member": 1,
            "members": trials or members,
            "epoch": 0,
            "epochs": epochs,
            "fraction": 0.0,
            "train_loss": None,
            "val_loss": None,
            "best_val_loss": None,
            "best_epoch": 0,
            "learning_rate": learning_rate,
            "elapsed_seconds": 0.0,
            "eta_seconds": None,
        }
        self.last_write = time.monotonic()
        if not self.jobs.report_progress(
            self.job_id, self.token, progress=self.progress, history=self.history
        ):
            raise JobLost

    def __call__(self, stats: EpochStats) -> None:
        if stats.stage == "fit":  # a candidate's epochs are its trial's, not the model's
            self.history.append(epoch_row(stats))
        fraction = self.fraction(stats)
        self.progress = finite_or_none(
            {
                "stage": stats.stage,
                "member": stats.member,
                "members": stats.members,
                "epoch": stats.epoch,
                "epochs": stats.epochs,
                "fraction": fraction,
                "train_loss": stats.train_loss,
                "val_loss": stats.val_loss,
                "best_val_loss": stats.best_val_loss,
                "best_epoch": stats.best_epoch,
                "learning_rate": stats.learning_rate,
                "elapsed_seconds": stats.elapsed_seconds,
                "eta_seconds": stats.elapsed_seconds / fraction * (1 - fraction),
            }
        )
        if self.on_epoch is not None:
            self.on_epoch(stats.seconds)
        if self.lost.is_set():
            raise JobLost
        now = time.monotonic()
        if now - self.last_write < PROGRESS_INTERVAL_SECONDS:
            return
        self.last_write = now
        if not self.jobs.report_progress(
            self.job_id, self.token, progress=self.progress, history=self.history
        ):
            raise JobLost

    def fraction(self, stats: EpochStats) -> float:
        """The share of the job done: candidates, then members, fit one after another, each
        counted as up to `epochs` epochs."""
        done = stats.member - 1 + stats.epoch / stats.epochs
        if stats.stage == "search":
            return done / (self.trials + self.members)
        return (self.trials + done) / (self.trials + stats.members)

    def should_stop(self) -> bool:
        """Whether a client asked to cancel; checked against the store at most twice a second."""
        if self.lost.is_set():
            raise JobLost
        now = time.monotonic()
        if now - self.last_check < PROGRESS_INTERVAL_SECONDS:
            return False
        self.last_check = now
        return self.jobs.cancel_requested(self.job_id)

    def final_progress(self, status: JobStatus) -> dict[str, Any] | None:
        """Progress as the job ends: a finished success is complete, with nothing left to wait."""
        if self.progress is None or status != JobStatus.SUCCEEDED:
            return self.progress
        return self.progress | {"fraction": 1.0, "eta_seconds": 0.0}
