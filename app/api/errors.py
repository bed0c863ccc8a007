"""Error responses documented once, for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from app.schemas.common import ErrorBody


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all with ErrorBody."""
    text = {
        400: "Malformed request body (e.g. broken multipart framing)",
        401: "No API key, or not a valid one (when FORECAST_API_KEYS is set)",
        404: "Not found",
        409: "Conflict with the resource's state",
        413: "Request body over the size limit",
        415: "Unsupported content type",
        422: "Invalid input: `error.field` names where, `error.message` what",
        500: "Server-side fault",
        503: "A dependency is unavailable",
    }
    return {status: {"model": ErrorBody, "description": text[status]} for status in statuses}
