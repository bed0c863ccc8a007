"""The application factory: lifespan wiring, routers, error handlers, middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api import datasets, functions, health, jobs, models
from app.api.auth import ApiKeyGate, documented
from app.api.errors import responses
from app.config import Settings, get_settings
from app.db import lock_sqlite_store, make_engine, make_session_factory
from app.errors import register_error_handlers
from app.metrics import ServiceMetrics
from app.middleware import BodySizeLimit, HttpMetrics
from app.migrations import upgrade as upgrade_schema
from app.ml.device import resolve_device
from app.queue import CeleryRunner
from app.reaper import Reaper
from app.services.forecasting import ModelCache
from app.services.models import ModelStore
from app.store import INTERRUPTED, Store
from app.worker import LocalRunner

logger = logging.getLogger(__name__)

DESCRIPTION = """
Train LSTM forecasters on a built-in function, an uploaded series or inline values; follow the
job; forecast many steps ahead from the saved checkpoint.

Every error answers `{"error": {"code", "message", "field"}}`. When the service has API keys
(FORECAST_API_KEYS), every route but `/healthz` and `/readyz` needs `Authorization: Bearer <key>`.
"""


def _job_counts(store: Store) -> dict[str, int]:
    try:
        return store.count_jobs_by_status()
    except Exception:  # a scrape must not fail because the database blinked
        logger.warning("could not count jobs for /metrics", exc_info=True)
        return {}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service; nothing touches the disk, database or GPU until the lifespan starts."""
    settings = settings or get_settings()
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        local = settings.broker_url is None
        # Only a local executor on SQLite is sure to be the store's one instance.
        store_lock = lock_sqlite_store(settings.database_url) if local else None
        engine = make_engine(settings.database_url)
        upgrade_schema(engine)
        store = Store(make_session_factory(engine))
        if store_lock is not None:
            interrupted = store.fail_running(INTERRUPTED)  # this host's workers died with it
            if interrupted:
                logger.warning("marked %d interrupted job(s) failed", len(interrupted))
        model_store = ModelStore(settings.models_dir)
        model_store.ensure()
        cache = ModelCache(model_store, resolve_device(settings.device), settings.model_cache_size)
        runner: LocalRunner | CeleryRunner = (
            LocalRunner(settings, store, metrics.observe_epoch)
            if local
            else CeleryRunner(settings, store)
        )
        reaper = Reaper(store, runner, settings)
        metrics.watch_state(lambda: _job_counts(store), lambda: len(cache))  # replaces any earlier
        app.state.settings, app.state.store, app.state.metrics = settings, store, metrics
        app.state.models, app.state.cache, app.state.runner = model_store, cache, runner
        runner.start()
        reaper.start()
        logger.info(
            "serving on device %s, models in %s; training on %s",
            cache.device, model_store.root,
            f"{settings.workers} local worker process(es)" if local else "the queue's workers",
        )  # fmt: skip
        try:
            yield
        finally:
            reaper.stop()
            runner.shutdown()
            engine.dispose()
            if store_lock is not None:
                store_lock.close()

    app = FastAPI(
        title="LSTM forecasting service",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    register_error_handlers(app)
    for module in (functions, datasets, jobs, models):
        app.include_router(module.router, dependencies=[documented], responses=responses(401))
    app.include_router(health.router)  # /healthz and /readyz open; /metrics per ApiKeyGate
    app.add_middleware(BodySizeLimit, limit=settings.max_upload_bytes)
    app.add_middleware(ApiKeyGate, settings=settings)  # before any body is read
    app.add_middleware(HttpMetrics, metrics=metrics)  # outermost: sees every response, 413s too
    return app
