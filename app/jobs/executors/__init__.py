"""Executors: where a queued job runs. Each one runs the same `app.jobs.run.JobRun`.

- `local`: spawned worker processes on this host (the embedded default);
- `celery`: workers on other hosts, fed through a broker;
- `inline`: the calling thread, for scripts and tests.
"""

from __future__ import annotations

from typing import Protocol


class JobRunner(Protocol):
    """Where queued jobs run: local processes or a queue's workers."""

    def submit(self, job_id: str) -> None:
        """Job `job_id` was queued (or re-queued): have a worker claim and run it."""
        ...
