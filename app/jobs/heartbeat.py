"""A running job's pulse: a thread that writes the job's heartbeat while it trains.

The reaper treats a running job whose heartbeat is older than the timeout as orphaned (its
worker was killed, or its host is gone) and re-queues or fails it. A thread rather than a per-
epoch write, so that one long epoch never looks like a dead worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from types import TracebackType

from app.jobs.repository import JobRepository

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """This process, as recorded on the jobs it claims: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """`with Heartbeat(...) as beat:` beats every `interval` seconds; `beat.lost` is set once
    the job is no longer this worker's (re-queued, failed or taken over elsewhere)."""

    def __init__(self, jobs: JobRepository, job_id: str, token: str, interval: float) -> None:
        self.jobs, self.job_id, self.token, self.interval = jobs, job_id, token, interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}")
        self._thread.daemon = True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.jobs.heartbeat(self.job_id, self.token):
                    self.lost.set()
                    return
            except Exception:  # a database blink: the next beat may get through
                logger.warning("heartbeat of job %s failed", self.job_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
