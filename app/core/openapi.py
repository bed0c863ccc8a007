"""The published schema: an event stream's error answers filed under the JSON they are sent as.

Every bound the schema states is the request models' own: they are built per app from its
settings (see app.core.bounds).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

EVENT_STREAM = "text/event-stream"


def errors_as_json(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with the error responses of event-stream routes as application/json: FastAPI
    files every response of a route under its response class's media type, but a 401, 404 or
    422 is the usual JSON error body, sent before any stream starts."""
    for operations in document["paths"].values():
        for operation in operations.values():
            answers = operation.get("responses", {})
            if EVENT_STREAM not in answers.get("200", {}).get("content", {}):
                continue
            for status, answer in answers.items():
                content = answer.get("content", {})
                if status != "200" and EVENT_STREAM in content:
                    content["application/json"] = content.pop(EVENT_STREAM)
    return document


def install(app: FastAPI) -> None:
    """Have `app` publish its generated schema with `errors_as_json` applied."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = errors_as_json(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
