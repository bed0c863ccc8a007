"""GET /v1/functions."""

from __future__ import annotations

from typing import Literal

from app.schemas.common import ReadSchema


class FunctionParamRead(ReadSchema):
    """One parameter of a built-in function."""

    name: str
    type: Literal["int", "float"]
    default: float
    minimum: float | None
    maximum: float | None
    description: str


class FunctionRead(ReadSchema):
    """A built-in generator."""

    name: str
    description: str
    columns: list[str]
    parameters: list[FunctionParamRead]
