"""JSON request bodies parsed strictly: an object that names a key twice is refused.

Python's json (and so FastAPI) keeps the last of two equal keys silently; a client that sent
`{"horizon": 5, "horizon": 500}` should learn that its body is ambiguous instead. Routers use
`StrictJSONRoute`; routes that read a body themselves call `loads`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class DuplicateKey(json.JSONDecodeError):
    """An object names a key twice (a JSONDecodeError, so FastAPI answers it as invalid JSON)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DuplicateKey(f"the key {key!r} appears twice in one object", "", 0)
        found[key] = value
    return found


def loads(data: bytes | str) -> Any:
    """json.loads that refuses duplicate keys; every refusal is a json.JSONDecodeError."""
    try:
        return json.loads(data, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError:
        raise
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"it is not UTF-8 text (byte {exc.start})", "", 0) from None
    except (ValueError, RecursionError) as exc:  # an integer of 4,300+ digits, deep nesting
        problem = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise json.JSONDecodeError(problem, "", 0) from None


class _StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body refuses duplicate keys (FastAPI's custom request class)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict_handler
