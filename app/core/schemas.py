"""Shared schema pieces: the strict base model, names, pages and the error body."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

MODEL_NAME_PATTERN = r"^[a-z0-9_-]{1,64}$"
ID_PATTERN = r"^[0-9a-f]{32}$"

ModelName = Annotated[
    str,
    StringConstraints(pattern=MODEL_NAME_PATTERN),
    Field(description="lowercase letters, digits, '-' and '_', 1 to 64 characters"),
]
ResourceId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def invisible_character(text: str) -> str | None:
    """What is wrong with a name holding a control, format or separator character (NUL, a
    byte-order mark, a zero-width space, a line break, a no-break space ...), naming the first
    as U+XXXX; None if it holds none. A plain space is fine. Such characters make two names
    look alike, or break a database (PostgreSQL refuses NUL in text)."""
    for char in text:
        if char != " " and unicodedata.category(char)[0] in "CZ":
            return f"contains the control or invisible character U+{ord(char):04X}"
    return None


def _visible(value: str) -> str:
    problem = invisible_character(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# Text a client names things with (datasets, columns): printable characters and plain spaces.
VisibleText = Annotated[str, AfterValidator(_visible)]


# Bigger magnitudes overflow float64 statistics (squares) and float32 models. Documented here,
# checked where values are read (app.datasets.values), so the error names the row and column.
MAX_ABS_VALUE = 1e15
Number = Annotated[
    float, WithJsonSchema({"type": "number", "minimum": -MAX_ABS_VALUE, "maximum": MAX_ABS_VALUE})
]
# A series: rows of column values, or a flat list of numbers for a single column. One list of
# either (checked for uniformity in app.datasets.values), so an error points at `values[3]`
# rather than at a member of a union.
Rows = list[Number | list[Number]]


class Schema(BaseModel):
    """Strict base of request bodies: unknown fields are rejected, no float may be NaN or
    infinite, and no value is coerced (`true` or `"5"` is not a number)."""

    model_config = ConfigDict(
        extra="forbid", protected_namespaces=(), allow_inf_nan=False, strict=True
    )


class ReadSchema(BaseModel):
    """Base of response models: built from stored rows and checkpoint metadata, so a field added
    by a later version (an extra metric, say) is dropped rather than turned into a 500."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class ErrorDetail(ReadSchema):
    """One bad field."""

    field: str
    message: str


class ErrorInfo(ReadSchema):
    """What went wrong, where."""

    code: str = Field(description="stable machine-readable code, e.g. context_too_short")
    message: str = Field(description="what is wrong and what would be accepted")
    field: str | None = Field(None, description="the request field at fault, dotted")
    details: list[ErrorDetail] | None = None


class ErrorBody(ReadSchema):
    """The body of every 4xx and 5xx response."""

    error: ErrorInfo

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "context_too_short",
                        "message": "context has 4 rows; model 'sine' v1 needs at least 10",
                        "field": "context",
                    }
                }
            ]
        }
    )


# How many series a view lists (a dataset's, a model version's, a job's): it stays small however
# many series there are; the rest are paged.
VIEW_SERIES = 100


class PageInfo(ReadSchema):
    """Where a page sits in the whole list."""

    total: int
    limit: int
    offset: int
