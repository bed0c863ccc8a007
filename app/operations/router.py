"""/healthz, /readyz (database and checkpoint store) and /metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.core.deps import MetricsDep
from app.core.errors import responses
from app.core.schemas import ReadSchema
from app.jobs.deps import JobsDep
from app.registry.deps import CacheDep, CheckpointsDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"], responses=responses(422))  # 422: unknown query


class HealthRead(ReadSchema):
    """Liveness."""

    status: str


class ReadyRead(ReadSchema):
    """Readiness of each dependency."""

    status: str
    checks: dict[str, str]
    device: str


@router.get("/healthz", response_model=HealthRead)
async def healthz() -> HealthRead:
    """The process is alive (answered on the event loop, never behind a training job)."""
    return HealthRead(status="ok")


@router.get("/readyz", response_model=ReadyRead, responses={503: {"model": ReadyRead}})
def readyz(jobs: JobsDep, checkpoints: CheckpointsDep, cache: CacheDep) -> ReadyRead | JSONResponse:
    """Database and model store reachable (503 otherwise)."""
    checks: dict[str, str] = {}
    try:
        jobs.ping()
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        checkpoints.check_writable()
        checks["models"] = "ok"
    except OSError as exc:  # the path is for the log, not for an open probe's answer
        logger.warning("readiness: %s", exc)
        checks["models"] = "error: the model store is not a writable directory"
    ready = all(value == "ok" for value in checks.values())
    body = ReadyRead(
        status="ready" if ready else "unavailable", checks=checks, device=str(cache.device)
    )
    return body if ready else JSONResponse(status_code=503, content=body.model_dump())


# Apart, so that the app declares a key for it only where one is asked (see create_app).
metrics_router = APIRouter(tags=["operations"], responses=responses(422))


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(service_metrics: MetricsDep) -> Response:
    """Prometheus metrics: HTTP requests, jobs by status, epochs, forecasts, loaded models."""
    return Response(generate_latest(service_metrics.registry), media_type=CONTENT_TYPE_LATEST)
