"""GET /v1/functions: the built-in series a job can train on, with their parameters."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from app.core.errors import responses
from app.core.schemas import ReadSchema
from app.ml.functions import CATALOG


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


router = APIRouter(prefix="/v1/functions", tags=["functions"], responses=responses(422))


@router.get("", response_model=list[FunctionRead], summary="List the built-in functions")
def list_functions() -> list[FunctionRead]:
    """The built-in generators, their columns, parameters, defaults and bounds."""
    return [
        FunctionRead(
            name=spec.name,
            description=spec.description,
            columns=list(spec.columns),
            parameters=[
                FunctionParamRead(
                    name=p.name,
                    type="int" if p.kind is int else "float",
                    default=p.default,
                    minimum=p.minimum,
                    maximum=p.maximum,
                    description=p.description,
                )
                for p in spec.params
            ],
        )
        for spec in CATALOG.values()
    ]
