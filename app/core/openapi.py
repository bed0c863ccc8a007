"""The published schema states the limits this instance enforces from its settings.

Pydantic models are built once, at import; the limits are settings of each app. So the schema
FastAPI generates is completed here, once per app, with the bounds the checks apply; and an
event stream's error answers are filed under the JSON they are sent as.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.core.config import Settings


def _array(prop: dict[str, Any]) -> dict[str, Any]:
    """The array member of a property schema (itself, or its `anyOf` member of type array)."""
    if prop.get("type") == "array":
        return prop
    return next(member for member in prop["anyOf"] if member.get("type") == "array")


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


def document_limits(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """`document` with the settings' bounds on horizons, contexts and series sizes."""
    schemas = document["components"]["schemas"]
    forecast = schemas["ForecastRequest"]["properties"]
    forecast["horizon"]["maximum"] = settings.max_horizon
    _array(forecast["context"])["maxItems"] = settings.max_context_rows
    contexts = _array(forecast["contexts"])
    contexts["maxItems"] = settings.max_contexts
    contexts["items"]["maxItems"] = settings.max_context_rows
    upload = document["paths"]["/v1/datasets"]["post"]["requestBody"]["content"]
    for series in (schemas["InlineData"], upload["application/json"]["schema"]["anyOf"][0]):
        _array(series["properties"]["values"])["maxItems"] = settings.max_dataset_rows
        _array(series["properties"]["columns"])["maxItems"] = settings.max_dataset_columns
    upload["application/json"]["schema"]["anyOf"][1]["maxItems"] = settings.max_dataset_rows
    return document


def install(app: FastAPI, settings: Settings) -> None:
    """Have `app` publish its generated schema completed with `settings`' limits."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_limits(errors_as_json(generate()), settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
