"""The application factory: the lifespan wires the domains together; routers, the error
handler and the middleware are installed here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import torch
from fastapi import Depends, FastAPI

from app import __version__, ui
from app.core import openapi
from app.core.auth import ApiKeyGate, documented
from app.core.config import Settings, get_settings
from app.core.db import lock_sqlite_store, make_engine, make_session_factory
from app.core.errors import register_error_handlers, responses
from app.core.metrics import ServiceMetrics
from app.core.middleware import BodySizeLimit, HostAndOriginCheck, HttpMetrics
from app.core.query import reject_unknown_query
from app.datasets import Limits
from app.datasets import router as datasets_router
from app.datasets.schemas import upload_model
from app.jobs import functions
from app.jobs import router as jobs_router
from app.jobs.executors.celery import CeleryRunner
from app.jobs.executors.local import LocalRunner
from app.jobs.feeds import JobFeeds
from app.jobs.reaper import Reaper
from app.jobs.repository import INTERRUPTED, JobRepository, open_repositories
from app.jobs.spec import train_request_model
from app.jobs.table import JobStatus
from app.migrations import upgrade as upgrade_schema
from app.ml.device import resolve_device
from app.operations import router as operations_router
from app.registry import CheckpointStore
from app.registry import router as registry_router
from app.registry.batcher import RolloutBatcher
from app.registry.cache import ModelCache
from app.registry.forecast import Forecasting
from app.registry.limits import ForecastLimits, forecast_request_model
from app.ui import docs

logger = logging.getLogger(__name__)
# Start-up removes files no dataset owns once this old, in seconds (DatasetRepository.sweep).
ORPHAN_FILES_AGE = 3600

DESCRIPTION = """
Train LSTM forecasters on a built-in function, an uploaded series or inline values; follow the
job; forecast many steps ahead from the saved checkpoint.

Every error answers `{"error": {"code", "message", "field"}}`. When the service has API keys
(FORECAST_API_KEYS), every route but `/healthz` and `/readyz` needs `Authorization: Bearer <key>`.
"""


def _job_counts(jobs: JobRepository) -> dict[str, int]:
    """Jobs by status, every status present (zeros too), for the /metrics gauge."""
    try:
        counts = jobs.count_by_status()
    except Exception:  # a scrape must not fail because the database blinked
        logger.warning("could not count jobs for /metrics", exc_info=True)
        counts = {}
    return {status.value: counts.get(status.value, 0) for status in JobStatus}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; nothing touches the disk, database or GPU until the lifespan starts."""
    settings = settings or get_settings()
    metrics = ServiceMetrics()
    forecast_limits, dataset_limits = ForecastLimits.of(settings), Limits.of(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        local = settings.broker_url is None
        # Only a local executor on SQLite is sure to be the store's one instance.
        store_lock = lock_sqlite_store(settings.database_url) if local else None
        engine = make_engine(settings.database_url)
        upgrade_schema(engine)
        jobs, datasets = open_repositories(make_session_factory(engine), settings.datasets_dir)
        if store_lock is not None:
            interrupted = jobs.fail_running(INTERRUPTED)  # this host's workers died with it
            if interrupted:
                logger.warning("marked %d interrupted job(s) failed", len(interrupted))
        swept = datasets.sweep(ORPHAN_FILES_AGE)
        if swept:
            logger.warning("removed %d dataset folder(s) no dataset owns", swept)
        torch.set_num_threads(settings.serve_threads)  # threads started from now; see use_threads
        checkpoints = CheckpointStore(settings.models_dir)
        checkpoints.ensure()
        cache = ModelCache(
            checkpoints,
            resolve_device(settings.device),
            settings.model_cache_size,
            settings.serve_threads,
        )
        runner: LocalRunner | CeleryRunner = (
            LocalRunner(settings, jobs, metrics.observe_epoch)
            if local
            else CeleryRunner(settings, jobs)
        )
        reaper = Reaper(jobs, runner, settings)
        metrics.watch_state(lambda: _job_counts(jobs), lambda: len(cache))  # replaces any earlier
        app.state.settings, app.state.metrics, app.state.runner = settings, metrics, runner
        app.state.jobs, app.state.datasets = jobs, datasets
        app.state.feeds = feeds = JobFeeds(jobs, max_streams=settings.max_event_streams)
        app.state.checkpoints, app.state.cache = checkpoints, cache
        app.state.forecasting = Forecasting(
            cache,
            RolloutBatcher(settings.batch_window_ms / 1000, settings.max_contexts),
            forecast_limits,
            metrics,
        )
        runner.start()
        reaper.start()
        logger.info(
            "serving on device %s, models in %s; training on %s",
            cache.device, checkpoints.root,
            f"{settings.workers} local worker process(es)" if local else "the queue's workers",
        )  # fmt: skip
        try:
            async with feeds.running():  # one reader per job with open event streams
                yield
        finally:
            reaper.stop()
            runner.shutdown()
            engine.dispose()
            if store_lock is not None:
                store_lock.release()

    app = FastAPI(
        title="LSTM forecasting service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
        docs_url=None,  # docs.install serves /docs and /redoc from the package, not a CDN
        redoc_url=None,
    )
    register_error_handlers(app)
    openapi.install(app)
    # The schema declares a key (and its 401) exactly where ApiKeyGate asks for one. The routes
    # that take a body validate it with a request model built from this instance's limits, the
    # model their schema publishes.
    keyed = settings.auth_required
    for router, guarded in (
        (functions.router, keyed),
        (datasets_router.make_router(upload_model(dataset_limits)), keyed),
        (jobs_router.make_router(train_request_model(dataset_limits)), keyed),
        (registry_router.make_router(forecast_request_model(forecast_limits)), keyed),
        (operations_router.router, False),  # /healthz and /readyz are always open
        (operations_router.metrics_router, keyed and not settings.metrics_public),
    ):
        app.include_router(
            router,
            dependencies=[documented] if guarded else None,
            responses=responses(401) if guarded else None,
        )
    ui.install(app)  # the dashboard's pages at /ui/
    docs.install(app)  # /docs and /redoc, their files under /ui/
    app.add_middleware(BodySizeLimit, limit=settings.max_upload_bytes)
    app.add_middleware(ApiKeyGate, settings=settings)  # before any body is read
    if not settings.auth_required:  # a page cannot send a key: with keys, no page gets this far
        app.add_middleware(HostAndOriginCheck, hosts=settings.answered_hosts())
    app.add_middleware(HttpMetrics, metrics=metrics)  # outermost: sees every response, 413s too
    return app
