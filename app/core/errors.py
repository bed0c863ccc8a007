"""Domain errors and the one place they become HTTP responses.

Every error body has the same shape: {"error": {"code", "message", "field"?, "details"?}}.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.core.schemas import ErrorBody

logger = logging.getLogger(__name__)
CLIENT_CLOSED_REQUEST = 499


class AppError(Exception):
    """Base of every error a client may see; subclasses set the status and a stable code."""

    status_code = 500
    code = "internal_error"
    headers: Mapping[str, str] = MappingProxyType({})  # sent with the answer (a Retry-After)

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(
            message, field, code
        )  # keeps .args: it survives pickling between processes
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidInput(AppError):
    """The request is well-formed JSON but its content cannot be used."""

    status_code, code = 422, "invalid_input"


class NotFound(AppError):
    """A resource named in the path does not exist."""

    status_code, code = 404, "not_found"


class Conflict(AppError):
    """The resource is in a state that forbids the action."""

    status_code, code = 409, "conflict"


class ServiceUnavailable(AppError):
    """Something the request needs (the job queue) cannot be reached right now."""

    status_code, code = 503, "service_unavailable"


class BodyTooLarge(HTTPException):
    """Raised while a body is read past its limit. An HTTPException, because FastAPI re-raises
    those from body parsing (anything else becomes a 400); rendered as payload_too_large."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=body_too_large_message(limit))


def body_too_large_message(limit: int) -> str:
    """What a client reads when its body is over the limit."""
    return f"request body is over {limit} bytes (FORECAST_MAX_UPLOAD_BYTES)"


class UnsupportedMediaType(AppError):
    """The request body's content type is not one the route reads."""

    status_code, code = 415, "unsupported_media_type"


CODED = "coded"  # in a pydantic error's context: its type is the answer's code


def coded_error(code: str, message: str) -> PydanticCustomError:
    """A validation error answered with its own `code` and `message` rather than as a
    validation_error (e.g. horizon_too_large, from a model's validator)."""
    return PydanticCustomError(code, message, {CODED: True})


def error_body(
    code: str, message: str, field: str | None = None, details: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """The JSON body shared by every error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    if details:
        error["details"] = details
    return {"error": error}


_TYPE_LABELS = frozenset({"float", "int", "str", "bool", "none"})  # no field has these names


def location(loc: Sequence[int | str]) -> str:
    """('body', 'data', 'params', 'points') -> 'data.params.points'; list indices as [i]."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    text = ""
    for part in parts:
        if isinstance(part, str) and (part in _TYPE_LABELS or any(m in part for m in "<[(")):
            continue  # a union member's label (e.g. "float", "list[float]", "<function>")
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or (str(loc[0]) if loc else "request")


# Fields an answer lists at most: a body of 300,000 bad values is one problem repeated, and its
# answer must not grow with it.
MAX_DETAILS = 20


def validation_details(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic error dicts -> [{"field", "message"}], one per field, without echoed input, the
    first MAX_DETAILS of them (then one entry counting the rest).

    A value that fits no member of a union gets an error per member; the first one (the
    member the value looked like) is kept.
    """
    details: dict[str, str] = {}
    for err in errors:
        if err.get("type") == "json_invalid":  # FastAPI's: the body is not (unambiguous) JSON
            problem = err.get("ctx", {}).get("error", "malformed")
            details.setdefault("body", f"not valid JSON: {problem}")
            continue
        details.setdefault(location(err.get("loc", ())), err.get("msg", "invalid"))
    found = [{"field": field, "message": message} for field, message in details.items()]
    if len(found) <= MAX_DETAILS:
        return found
    rest = {"field": "...", "message": f"and {len(found) - MAX_DETAILS} more fields"}
    return [*found[:MAX_DETAILS], rest]


def is_coded(error: Any) -> bool:
    """Whether a pydantic error dict is a `coded_error` (a limit's, with its own code)."""
    return bool((error.get("ctx") or {}).get(CODED))


def validation_response(errors: Sequence[Any]) -> JSONResponse:
    """A 422 naming the first bad field and listing all of them; its code and message are those
    of the first coded error (`coded_error`) when there is one."""
    details = validation_details(errors)
    coded = next((err for err in errors if is_coded(err)), None)
    if coded is not None:
        return JSONResponse(
            status_code=422,
            content=error_body(coded["type"], coded["msg"], location(coded["loc"]), details),
        )
    first = details[0] if details else {"field": "request", "message": "invalid"}
    message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return JSONResponse(
        status_code=422,
        content=error_body("validation_error", message, first["field"], details),
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method the app documents for this request's path (its OpenAPI paths, which FastAPI
    builds once); the router's own 405 names only the first route that matched."""
    asked = request.url.path.rstrip("/").split("/")
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        parts = template.rstrip("/").split("/")
        if len(parts) == len(asked) and all(
            part == segment or part.startswith("{")
            for part, segment in zip(parts, asked, strict=True)
        ):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def register_error_handlers(app: FastAPI) -> None:
    """Install the handlers that give every error the shared shape."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content=error_body(exc.code, exc.message, exc.field),
            headers=dict(exc.headers) or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # in a worker thread: a body of many bad values gives as many errors to read
        return await run_in_threadpool(validation_response, exc.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }.get(exc.status_code, "http_error")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405 and (methods := allowed_methods(request)):
            headers = {"Allow": ", ".join(methods)}  # not only the first matching route's
        return JSONResponse(
            status_code=exc.status_code,
            content=error_body(code, str(exc.detail)),
            headers=headers or None,
        )

    @app.exception_handler(ClientDisconnect)
    async def _client_left(request: Request, exc: ClientDisconnect) -> Response:
        # The client's event, not a fault: one line, and 499 (nginx's "client closed request")
        # in the request metrics rather than a 5xx. Nobody reads the response.
        logger.info("client went away during %s %s", request.method, request.url.path)
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            status_code=500, content=error_body("internal_error", "internal server error")
        )


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
