"""The service's errors as Python exceptions, each carrying its `code`, `message` and `field`.

Every error body is `{"error": {"code", "message", "field"?}}`; the HTTP status picks the
class, so callers catch what they can act on (`NotFoundError`, `InvalidInputError`) and read
the service's own words from the exception.
"""

from __future__ import annotations

from typing import Any

import httpx


class ServiceError(Exception):
    """An error answered by the service (or its absence); `str()` is the service's message."""

    def __init__(
        self, message: str, *, code: str, field: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.field, self.status = message, code, field, status

    def __str__(self) -> str:
        where = f" (field {self.field})" if self.field else ""
        return f"{self.code}: {self.message}{where}"


class BadRequestError(ServiceError):
    """400: the request could not be read (broken framing, two Authorization headers)."""


class AuthenticationError(ServiceError):
    """401: no API key, or not a valid one."""


class NotFoundError(ServiceError):
    """404: no such job, dataset or model."""


class ConflictError(ServiceError):
    """409: the resource's state forbids it (a finished job cancelled, a dataset in use)."""


class PayloadTooLargeError(ServiceError):
    """413: a body over the service's upload limit."""


class InvalidInputError(ServiceError):
    """415 or 422: the content cannot be used; `field` names where."""


class UnavailableError(ServiceError):
    """429 or 503, still so after every retry: the service is overloaded or a dependency down."""


class ConnectionFailedError(ServiceError):
    """The service could not be reached, after every retry."""


_BY_STATUS: dict[int, type[ServiceError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: InvalidInputError,
    422: InvalidInputError,
    429: UnavailableError,
    503: UnavailableError,
}


def _error_fields(response: httpx.Response) -> dict[str, Any]:
    """The body's `error` object, or {} when the body is not the service's shape (a proxy's
    page, uvicorn's plain-text 503)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def error_from_response(response: httpx.Response) -> ServiceError:
    """The exception for a 4xx or 5xx response."""
    fields = _error_fields(response)
    status = response.status_code
    message = str(fields.get("message") or response.text.strip()[:500] or response.reason_phrase)
    field = fields.get("field")
    kind = _BY_STATUS.get(status, ServiceError)
    return kind(
        message,
        code=str(fields.get("code") or f"http_{status}"),
        field=field if isinstance(field, str) else None,
        status=status,
    )
