"""The local executor: `LocalRunner` starts one spawned process per job, up to `workers` at once.

The job table is the queue: a dispatcher thread claims the oldest queued jobs (compare-and-set
queued -> running under a fresh token) and starts a process for each, so queued jobs survive a
restart and run in submission order. A process that dies without writing a final state is
caught here and its job marked failed. Each child dies with its parent (PR_SET_PDEATHSIG), and
its writes need the token, so nothing can finish a job that was marked interrupted meanwhile.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import queue
import signal
import threading
import uuid
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from app.core.config import Settings
from app.core.logging import configure_logging
from app.jobs.heartbeat import worker_name
from app.jobs.repository import INTERRUPTED, JobRepository

logger = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5


def die_with_parent(parent_pid: int) -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the token check still protects the row
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _child_main(
    settings_data: dict[str, Any], job_id: str, token: str, events: Any, parent_pid: int
) -> None:
    """Entry point of a spawned worker process: open its own database and run one job."""
    die_with_parent(parent_pid)
    from app.core.db import make_engine, make_session_factory
    from app.jobs.run import job_run

    settings = Settings(**settings_data)
    configure_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    try:
        run = job_run(job_id, settings, make_session_factory(engine), on_epoch=events.put)
        run.run_claimed(token)
    finally:
        engine.dispose()


class LocalRunner:
    """Runs queued jobs in worker processes on this host."""

    def __init__(
        self, settings: Settings, jobs: JobRepository, on_epoch: Callable[[float], None]
    ) -> None:
        self.settings, self.jobs, self.on_epoch = settings, jobs, on_epoch
        self._context = multiprocessing.get_context("spawn")  # no forked torch or DB state
        self._events: Any = self._context.Queue()
        self._running: dict[str, tuple[BaseProcess, str]] = {}  # job id: (process, run token)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()  # the dispatcher and shutdown never touch processes at once
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start dispatching (a no-op loop when `workers` is 0)."""
        for target, name in ((self._dispatch, "job-dispatcher"), (self._relay, "epoch-relay")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, job_id: str) -> None:
        """A job was queued: look now rather than at the next poll (the table is the queue)."""
        self._wake.set()

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    self._reap()
                    if not self._stop.is_set():
                        self._fill()
            except Exception:  # a database hiccup must not kill the dispatcher
                logger.exception("job dispatcher iteration failed")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _reap(self) -> None:
        for job_id, (process, token) in list(self._running.items()):
            if process.is_alive():
                continue
            process.join()
            del self._running[job_id]
            if process.exitcode != 0:
                self.jobs.fail_owned(
                    job_id,
                    token,
                    f"the worker process died (exit code {process.exitcode}), for example out of "
                    "memory; try a smaller batch, model or dataset",
                )

    def _fill(self) -> None:
        free = self.settings.workers - len(self._running)
        if free <= 0:
            return
        for job_id in self.jobs.queued_job_ids(free):
            token = uuid.uuid4().hex
            if not self.jobs.claim(job_id, token, worker_name()):
                continue
            process = self._context.Process(
                target=_child_main,
                args=(self.settings.model_dump(), job_id, token, self._events, os.getpid()),
                name=f"job-{job_id[:8]}",
                daemon=True,
            )
            try:
                process.start()
            except Exception as exc:  # e.g. out of memory or processes: the job must not hang
                logger.exception("could not start a worker process for job %s", job_id)
                self.jobs.fail_owned(job_id, token, f"could not start a worker process: {exc}")
                continue
            self._running[job_id] = (process, token)

    def _relay(self) -> None:
        while True:
            try:
                seconds = self._events.get(timeout=POLL_SECONDS)
            except (queue.Empty, OSError, EOFError, ValueError):
                if self._stop.is_set():
                    return
                continue
            if seconds is None:  # shutdown's sentinel
                return
            self.on_epoch(seconds)

    def shutdown(self) -> None:
        """Stop dispatching, stop the worker processes and mark their jobs interrupted."""
        self._stop.set()
        self._wake.set()
        self._events.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        with self._lock:
            for process, _ in self._running.values():
                process.terminate()
            for job_id, (process, token) in self._running.items():
                process.join(timeout=5)
                self.jobs.fail_owned(job_id, token, INTERRUPTED)
            self._running.clear()
        self._events.close()
