"""The application factory: lifespan wiring, routers, error handlers, middleware."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api import datasets, functions, health, jobs, models
from app.config import Settings, get_settings
from app.db import create_schema, lock_sqlite_store, make_engine, make_session_factory
from app.errors import register_error_handlers
from app.metrics import ServiceMetrics
from app.middleware import BodySizeLimit, HttpMetrics
from app.ml.device import resolve_device
from app.services.forecasting import ModelCache
from app.services.models import ModelStore
from app.store import INTERRUPTED, Store
from app.worker import LocalRunner

logger = logging.getLogger(__name__)

DESCRIPTION = """
Train LSTM forecasters on a built-in function, an uploaded series or inline values; follow the
job; forecast many steps ahead from the saved checkpoint.

Every error answers `{"error": {"code", "message", "field"}}`.
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
        store_lock = lock_sqlite_store(settings.database_url)
        engine = make_engine(settings.database_url)
        create_schema(engine)
        store = Store(make_session_factory(engine))
        interrupted = store.fail_running(INTERRUPTED)  # this host's workers died with it
        if interrupted:
            logger.warning("marked %d interrupted job(s) failed", len(interrupted))
        model_store = ModelStore(settings.models_dir)
        model_store.ensure()
        cache = ModelCache(model_store, resolve_device(settings.device), settings.model_cache_size)
        runner = LocalRunner(settings, store, metrics.observe_epoch)
        metrics.watch_state(lambda: _job_counts(store), lambda: len(cache))  # replaces any earlier
        app.state.settings, app.state.store, app.state.metrics = settings, store, metrics
        app.state.models, app.state.cache, app.state.runner = model_store, cache, runner
        runner.start()
        logger.info(
            "serving on device %s, %d training worker(s), models in %s",
            cache.device, settings.workers, model_store.root,
        )  # fmt: skip
        try:
            yield
        finally:
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
    for module in (functions, datasets, jobs, models, health):
        app.include_router(module.router)
    app.add_middleware(BodySizeLimit, limit=settings.max_upload_bytes)
    app.add_middleware(HttpMetrics, metrics=metrics)  # outermost: sees every response, 413s too
    return app
