"""The inline executor: a queued job runs to its end in the calling thread."""

from __future__ import annotations

from app.core.config import Settings
from app.datasets import DatasetRepository
from app.jobs.repository import JobRepository
from app.jobs.run import JobRun
from app.registry import CheckpointStore


class InlineRunner:
    """Runs each queued job to its end in the calling thread, through the same `JobRun`: for
    scripts (the bundled model) and tests, never for the API."""

    def __init__(
        self, settings: Settings, jobs: JobRepository, datasets: DatasetRepository
    ) -> None:
        self.settings, self.jobs, self.datasets = settings, jobs, datasets

    def submit(self, job_id: str) -> None:
        """Run the job now, to its end."""
        JobRun(
            job_id,
            jobs=self.jobs,
            datasets=self.datasets,
            checkpoints=CheckpointStore(self.settings.models_dir),
            settings=self.settings,
        ).claim_and_run()
