"""The queue executor: with FORECAST_BROKER_URL set, Celery workers run each job's `JobRun`.

Tasks carry only the job id, serialized as JSON (never pickle). The job table stays the source
of truth: a worker claims the job by compare-and-set before it trains, so a message delivered
twice runs once and a message for a cancelled job does nothing. Messages are acknowledged late
and rejected back to the queue when the worker process dies; a job whose worker died mid-
training is brought back by the heartbeat and the API's reaper (`app.jobs.reaper`).
"""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.signals import worker_process_init
from kombu.exceptions import KombuError, OperationalError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.errors import ServiceUnavailable
from app.core.logging import configure_logging
from app.core.metrics import ServiceMetrics
from app.jobs.repository import JobRepository
from app.migrations import upgrade as upgrade_schema

logger = logging.getLogger(__name__)
TASK_NAME = "forecast.run_job"
_JOB_ID = re.compile(r"[0-9a-f]{32}")


def make_celery(settings: Settings) -> Celery:
    """The Celery app: JSON only, late acknowledgement, one job at a time per worker process."""
    if settings.broker_url is None:
        raise ValueError("the queue executor needs FORECAST_BROKER_URL")
    app = Celery("forecast", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,  # the job row holds every result
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a busy worker leaves waiting jobs to idle ones
        task_default_queue=settings.queue_name,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        # Redis re-delivers an unacknowledged message after this; the claim makes it harmless.
        broker_transport_options={"visibility_timeout": int(settings.max_train_seconds) + 600},
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        worker_hijack_root_logger=False,
    )
    # A database blink before the claim must not drop the message (failed tasks are acked):
    # the task is sent again, and the claim keeps a second delivery from running twice.
    app.task(
        name=TASK_NAME,
        ignore_result=True,
        autoretry_for=(SQLAlchemyError,),
        retry_backoff=True,
        max_retries=10,
    )(_run_job_task)
    return app


class CeleryRunner:
    """The API side of the queue executor: publishes job ids."""

    def __init__(self, settings: Settings, jobs: JobRepository) -> None:
        self.settings, self.jobs = settings, jobs
        self.celery = make_celery(settings)

    def start(self) -> None:
        """Publish every queued job again: a broker that restarted without its messages must
        not strand them, and a duplicate message is harmless (only one claim wins)."""
        try:
            for job_id in self.jobs.queued_job_ids(limit=10_000):
                self.submit(job_id)
        except ServiceUnavailable as exc:
            logger.warning("could not re-publish queued jobs at start: %s", exc.message)

    def submit(self, job_id: str) -> None:
        """Publish the job; ServiceUnavailable when the broker cannot be reached."""
        try:
            self.celery.send_task(TASK_NAME, args=[job_id], queue=self.settings.queue_name)
        except (OperationalError, KombuError, OSError) as exc:
            raise ServiceUnavailable(
                f"the job queue cannot be reached ({exc}); try again shortly",
                code="queue_unavailable",
            ) from exc

    def shutdown(self) -> None:
        """Close the broker connections."""
        self.celery.close()


# -- the worker side ------------------------------------------------------------------------


@dataclass
class _WorkerContext:
    settings: Settings
    sessions: sessionmaker  # type: ignore[type-arg]
    metrics: ServiceMetrics


_context: _WorkerContext | None = None


def _run_job_task(job_id: str) -> None:
    """The task: claim the job in the shared store and train it (see `JobRun`)."""
    if not isinstance(job_id, str) or not _JOB_ID.fullmatch(job_id):
        logger.error("dropping a task with a malformed job id: %r", job_id)
        return
    if _context is None:
        raise RuntimeError("the task runs only in a forecast worker process")
    from app.jobs.run import job_run

    run = job_run(
        job_id, _context.settings, _context.sessions, on_epoch=_context.metrics.observe_epoch
    )
    ran = run.claim_and_run()
    if not ran:
        logger.info("job %s was not queued any more (taken, cancelled or finished)", job_id)


def _init_worker_process(settings: Settings) -> None:
    """In each pool process: its own engine, the training modules, its metrics endpoint."""
    global _context
    import app.jobs.run  # noqa: F401 - load torch before the first job, not during it

    engine = make_engine(settings.database_url)
    metrics = ServiceMetrics()
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(
            settings.worker_metrics_port, settings.worker_metrics_host, registry=metrics.registry
        )
    _context = _WorkerContext(settings, make_session_factory(engine), metrics)


def _check_metrics_port(settings: Settings) -> None:
    """Stop at once, not in a pool-restart loop, when the metrics port is taken."""
    if not settings.worker_metrics_port:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.worker_metrics_host, settings.worker_metrics_port))
        except OSError as exc:
            raise SystemExit(
                f"worker metrics port {settings.worker_metrics_host}:"
                f"{settings.worker_metrics_port} is not free ({exc.strerror}); give each worker "
                "on a host its own FORECAST_WORKER_METRICS_PORT, or 0 for none"
            ) from None


def start_worker(settings: Settings) -> None:
    """Run a Celery worker for the job queue: one pool process, so one job at a time (on a GPU
    host start one worker per GPU, pinned with CUDA_VISIBLE_DEVICES)."""
    configure_logging(settings.log_level)
    _check_metrics_port(settings)
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    engine.dispose()  # the pool processes are forked: they must not share these connections

    def on_process_init(**_: Any) -> None:
        _init_worker_process(settings)

    worker_process_init.connect(on_process_init, weak=False)
    celery = make_celery(settings)
    celery.worker_main(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            f"--queues={settings.queue_name}",
            f"--hostname=forecast-{os.getpid()}@{socket.gethostname()}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",  # workers share nothing but the queue and the job store
            "--without-mingle",
        ]
    )
