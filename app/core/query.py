"""Query strings say only what the schema declares: an unknown parameter is a 422, not ignored.

A misspelt `?limt=10` silently ignored answers a different question than the client asked.
"""

from __future__ import annotations

from fastapi import Request

from app.core.errors import InvalidInput


def declared_query_parameters(request: Request) -> set[str] | None:
    """The query parameters the app documents for the route this request matched (None when no
    documented route matched)."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    operation = request.app.openapi().get("paths", {}).get(template, {})
    found = operation.get(request.method.lower())
    if found is None:
        return None
    return {param["name"] for param in found.get("parameters", []) if param["in"] == "query"}


async def reject_unknown_query(request: Request) -> None:
    """A dependency of every route: 422 naming the first query parameter the route lacks.
    Async: it blocks nothing, so /healthz still answers on the event loop."""
    if not request.scope.get("query_string"):  # most requests: nothing to look up
        return
    declared = declared_query_parameters(request)
    if declared is None:
        return
    for name in request.query_params:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise InvalidInput(
                f"unknown query parameter {name!r}; this route takes: {known}",
                field=name,
                code="unknown_query_parameter",
            )
