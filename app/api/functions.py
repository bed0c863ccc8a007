"""GET /v1/functions."""

from __future__ import annotations

from fastapi import APIRouter

from app.ml.functions import CATALOG
from app.schemas.functions import FunctionParamRead, FunctionRead

router = APIRouter(prefix="/v1/functions", tags=["functions"])


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
