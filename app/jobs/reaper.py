"""The reaper: running jobs whose heartbeat went silent lost their worker.

It runs in every API process, on any executor. A stale job a client asked to cancel is
cancelled; one with attempts left is re-queued and handed to the runner again; the rest are
failed with a reason that says so. Every step is a compare-and-set, so several API replicas can
reap side by side.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from app.core.config import Settings
from app.core.db import utcnow
from app.jobs.executors import JobRunner
from app.jobs.repository import JobRepository, Reaped

logger = logging.getLogger(__name__)


def reap_once(
    jobs: JobRepository, runner: JobRunner, settings: Settings, unsent: set[str] | None = None
) -> Reaped:
    """One pass: act on every job silent for longer than the heartbeat timeout, and hand each
    re-queued job to the runner. A hand-over that fails (the broker blinked) is kept in `unsent`
    and tried again on the next pass, so a re-queued job is never stranded without a message."""
    timeout = settings.heartbeat_timeout_seconds
    reaped = jobs.reap_stale(utcnow() - timedelta(seconds=timeout), settings.max_attempts, timeout)
    pending = set(reaped.requeued) if unsent is None else unsent
    pending.update(reaped.requeued)
    for job_id in sorted(pending):
        try:
            runner.submit(job_id)
        except Exception:  # noqa: BLE001 - one job's hand-over must not stop the others
            logger.warning("could not hand re-queued job %s to a worker; retrying", job_id)
            continue
        pending.discard(job_id)
    return reaped


class Reaper:
    """A daemon thread running `reap_once` every heartbeat interval."""

    def __init__(self, jobs: JobRepository, runner: JobRunner, settings: Settings) -> None:
        self.jobs, self.runner, self.settings = jobs, runner, settings
        self._unsent: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-reaper", daemon=True)

    def start(self) -> None:
        """Start reaping."""
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.heartbeat_seconds):
            try:
                reap_once(self.jobs, self.runner, self.settings, self._unsent)
            except Exception:  # the database blinked: try again next time
                logger.exception("reaping stale jobs failed")

    def stop(self) -> None:
        """Stop reaping and wait for the current pass."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
