"""`JobRun`: one claimed job executed top to bottom, the same under every executor.

claim → heartbeat → load the series → train → publish the checkpoint → finish. Every outcome
(success, cancellation, failure) is written to the job's row with its whole loss history; a job
taken from this worker meanwhile (re-queued by a reaper, say) is left alone. A job whose fit
is shared by several processes (`training.processes`) runs here as their rank 0; the others
`follow` it (`app.jobs.rank`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import torch
from sqlalchemy.orm import sessionmaker

from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import AppError
from app.datasets import DatasetRepository, LoadedSeries
from app.jobs import sources
from app.jobs.configs import ml_configs
from app.jobs.heartbeat import Heartbeat, worker_name
from app.jobs.local_ranks import RankStopped, local_ranks
from app.jobs.progress import JobLost, ProgressReporter, epoch_row, finite_or_none
from app.jobs.repository import JobRepository, open_repositories
from app.jobs.spec import TrainRequest
from app.jobs.table import JobRow, JobStatus
from app.ml.budget import TrainingCancelled
from app.ml.checkpoint_meta import CheckpointMeta
from app.ml.checkpoints import write as write_checkpoint
from app.ml.config import TrainConfig
from app.ml.device import DeviceUnavailable, rank_device, resolve_device
from app.ml.fit import TrainingDiverged
from app.ml.model import EnsembleForecaster, ModelConfig
from app.ml.prepare import Panel
from app.ml.ranks import Ranks
from app.ml.roles import ColumnRoles
from app.ml.train import train
from app.registry import CheckpointStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobInputs:
    """What a job's request resolves to: its series and the configs that fit them."""

    loaded: LoadedSeries
    panel: Panel
    model_config: ModelConfig
    train_config: TrainConfig
    roles: ColumnRoles


class JobRun:
    """Runs one job of the job table in this process."""

    def __init__(
        self,
        job_id: str,
        *,
        jobs: JobRepository,
        datasets: DatasetRepository,
        checkpoints: CheckpointStore,
        settings: Settings,
        on_epoch: Callable[[float], None] | None = None,
        ranks: Ranks | None = None,
    ) -> None:
        self.job_id, self.jobs, self.datasets = job_id, jobs, datasets
        self.checkpoints, self.settings, self.on_epoch = checkpoints, settings, on_epoch
        # The group this process joined before the job (under torchrun, or as a rank that
        # rank 0 started); None: the job starts its own ranks here where it asks for several.
        self.ranks = ranks

    def claim_and_run(self) -> bool:
        """Claim the queued job for this process and run it to its end; False (doing nothing)
        if it was not queued: already taken, cancelled or finished. A queue may deliver a job
        twice; only the first claim runs it."""
        token = uuid.uuid4().hex
        if not self.jobs.claim(self.job_id, token, worker_name()):
            return False
        self.run_claimed(token)
        return True

    def run_claimed(self, token: str) -> None:
        """Train a job claimed under `token` to its end state. Never raises: every outcome is
        written to the row, with the whole loss history and the last progress."""
        row = self.jobs.get(self.job_id)
        if row is None or row.status != JobStatus.RUNNING or row.run_token != token:
            return
        torch.set_num_threads(self.settings.train_threads)
        interval = self.settings.heartbeat_seconds
        with Heartbeat(self.jobs, self.job_id, token, interval) as heartbeat:
            reporter = ProgressReporter(
                self.jobs, self.job_id, token, self.on_epoch, heartbeat.lost
            )
            status, outcome = self._outcome(row, token, reporter)
        if status is None:
            return
        written = self.jobs.finish(
            self.job_id, token, status, history=reporter.history,
            progress=reporter.final_progress(status), **outcome,
        )  # fmt: skip
        if not written and "model_version" in outcome:  # the job was taken from us meanwhile
            self.checkpoints.delete_version(row.model_name, outcome["model_version"])

    def _outcome(
        self, row: JobRow, token: str, reporter: ProgressReporter
    ) -> tuple[JobStatus | None, dict[str, Any]]:
        """Train and save, turning every ending into (final status, row fields); (None, {})
        when the job was taken from this worker and must not be written."""
        try:
            metrics, version = self._train_and_publish(row, token, reporter)
        except JobLost:
            logger.info("job %s was taken over while running; stopping", row.id)
            return None, {}
        except TrainingCancelled:
            return JobStatus.CANCELLED, {}
        except (TrainingDiverged, DeviceUnavailable, RankStopped, ValueError) as exc:
            return JobStatus.FAILED, {"error": str(exc)}
        except AppError as exc:
            return JobStatus.FAILED, {"error": exc.message}
        except Exception as exc:  # noqa: BLE001 - the job, not the worker, must record the failure
            logger.exception("job %s failed", row.id)
            # A client reads the error: an OSError's text names server paths, so it gives
            # only its reason; the whole exception is in the worker's log above.
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return JobStatus.FAILED, {"error": f"internal error: {type(exc).__name__}: {detail}"}
        return JobStatus.SUCCEEDED, {"metrics": metrics, "model_version": version}

    def _train_and_publish(
        self, row: JobRow, token: str, reporter: ProgressReporter
    ) -> tuple[dict[str, Any], int]:
        """Train, then publish a new version unless cancelled meanwhile; (metrics, version)."""
        spec = TrainRequest.model_validate(row.spec)
        training = spec.training
        reporter.begin(training.epochs, training.ensemble, training.learning_rate,
                       training.search_trials)  # fmt: skip
        device = self.device_of(spec)
        self.jobs.set_device(row.id, token, str(device))
        job = self.inputs(spec)
        loaded, panel, roles = job.loaded, job.panel, job.roles
        with self._ranks(training.processes, device) as ranks:
            result = train(
                panel, job.model_config, job.train_config, roles=roles, device=device,
                on_progress=reporter, should_stop=reporter.should_stop,
                horizon=spec.forecast_horizon, search_parallel=self.settings.search_parallel,
                ranks=ranks,
            )  # fmt: skip
        metrics = finite_or_none(result.metrics)
        reporter.history = [epoch_row(stats) for stats in result.history]  # the served model's
        if self.jobs.cancel_requested(row.id):  # asked after the last epoch: publish nothing
            raise TrainingCancelled
        if not self.jobs.heartbeat(row.id, token):  # re-queued or taken meanwhile: publish nothing
            raise JobLost
        inputs, targets = roles.names(loaded.columns)
        model = result.model
        meta = CheckpointMeta(
            name=row.model_name,
            job_id=row.id,
            spec=row.spec,
            created_at=utcnow().isoformat(),
            metrics=metrics,
            device=str(device),
            config=model.config,
            rollout_mode=result.rollout_mode,
            columns=loaded.columns,
            inputs=inputs,
            targets=targets,
            series=[
                replace(series, time_axis=axis)
                for series, axis in zip(result.series, sources.time_axes(loaded), strict=True)
            ],
            interval_widths=result.interval_widths,
            ensemble=len(result.members),
            ensemble_lookbacks=(
                model.lookbacks
                if isinstance(model, EnsembleForecaster) and len(set(model.lookbacks)) > 1
                else None
            ),
            deseasonalise_season=(
                panel.season if result.config.deseasonalise and panel.season >= 2 else None
            ),
        )
        version = self.checkpoints.save(
            row.model_name, lambda folder: write_checkpoint(folder, model, meta)
        )
        return metrics, version

    def device_of(self, spec: TrainRequest, local_rank: int = 0) -> torch.device:
        """Where `spec` trains on this host, as the rank `local_rank` of its processes here
        (each rank on a GPU of its own, where it trains on GPUs)."""
        # "auto" means this host's choice: FORECAST_DEVICE of the process that trains (a GPU
        # worker's cuda, a CPU worker's cpu), itself "auto" (a GPU if there is one) by default.
        preference = self.settings.device if spec.device == "auto" else spec.device
        return rank_device(resolve_device(preference), local_rank)

    def inputs(self, spec: TrainRequest) -> JobInputs:
        """The series of `spec` and the configs that fit them."""
        loaded = sources.load_series(datasets=self.datasets, data=spec.data)
        panel = sources.panel_of(loaded, sources.season_of(loaded, spec.season_length))
        model_config, train_config, roles = ml_configs(spec, loaded.columns, self.settings)
        return JobInputs(loaded, panel, model_config, train_config, roles)

    @contextmanager
    def _ranks(self, processes: int, device: torch.device) -> Iterator[Ranks]:
        """The group the job's fit is shared by: the one joined before the job, or the ranks
        it starts on this host (itself alone where it asks for one process)."""
        if self.ranks is None:
            with local_ranks(self.job_id, self.settings, processes, device) as ranks:
                yield ranks
        elif self.ranks.size != processes:
            raise ValueError(
                f"training.processes is {processes}, but the job was started on "
                f"{self.ranks.size} processes"
            )
        else:
            yield self.ranks

    def spec(self) -> TrainRequest:
        """The job's request, as stored. Raises LookupError for a job that is gone."""
        row = self.jobs.get(self.job_id)
        if row is None:
            raise LookupError(f"job {self.job_id} not found")
        return TrainRequest.model_validate(row.spec)

    def follow(self) -> None:
        """Fit the job's model as a rank of the group this process joined (`ranks`), beside
        the rank 0 that runs the job: the same series and configs, without progress, stop
        requests or publishing, which are rank 0's. Whatever ends the fit, rank 0 records it."""
        spec = self.spec()
        job = self.inputs(spec)
        assert self.ranks is not None
        with self._ranks(spec.training.processes, self.ranks.device) as ranks:
            train(
                job.panel, job.model_config, job.train_config, roles=job.roles,
                device=ranks.device, horizon=spec.forecast_horizon, ranks=ranks,
            )  # fmt: skip


def job_run(
    job_id: str,
    settings: Settings,
    sessions: sessionmaker,  # type: ignore[type-arg]
    on_epoch: Callable[[float], None] | None = None,
) -> JobRun:
    """A `JobRun` over its own repositories, for a worker process that opened a database."""
    jobs, datasets = open_repositories(sessions, settings.datasets_dir)
    return JobRun(
        job_id,
        jobs=jobs,
        datasets=datasets,
        checkpoints=CheckpointStore(settings.models_dir),
        settings=settings,
        on_epoch=on_epoch,
    )
