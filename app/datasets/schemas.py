"""Uploaded series."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from app.core.schemas import PageInfo, ReadSchema, Rows, Schema, VisibleText
from app.datasets.table import DatasetRow
from app.datasets.time_index import TimeAxis


class DatasetUpload(Schema):
    """A series as JSON: rows of values (or a flat list for one column) and column names."""

    name: VisibleText | None = Field(None, max_length=128)
    columns: list[str] | None = Field(
        None, description="one name per column; default value, or value_1, value_2, ..."
    )
    values: Rows = Field(description="rows in time order; a flat list is one column")
    start: str | None = Field(
        None, max_length=64, description="the first row's time (ISO 8601), with `freq`"
    )
    freq: str | None = Field(
        None,
        max_length=32,
        description="the rows' spacing, a pandas frequency (D, W-SUN, MS, ME, QS-JAN, YS-JAN, "
        "h, 30min, ...), with `start`",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"name": "load", "columns": ["load"], "values": [1.0, 1.2, 1.1, 1.4]},
                {"name": "sales", "values": [12, 14, 13], "start": "2024-01-01", "freq": "MS"},
            ]
        }
    }


class ColumnStats(ReadSchema):
    """Summary of one column."""

    name: str
    min: float
    max: float
    mean: float
    std: float


class TimeRead(ReadSchema):
    """The series' regular time axis."""

    kind: Literal["dates", "numbers"]
    start: str = Field(description="the first row's time (ISO 8601 for dates)")
    end: str = Field(description="the last row's time")
    freq: str = Field(
        description="the spacing: a pandas frequency for dates (D, W-SUN, MS, ME, QS-JAN, "
        "YS-JAN, h, 30min, ...), the step for numbers"
    )


class DatasetRead(ReadSchema):
    """A stored series (without its values)."""

    id: str
    name: str | None
    columns: list[str]
    length: int = Field(description="number of rows")
    stats: list[ColumnStats]
    created_at: datetime
    time: TimeRead | None = Field(
        None, description="the time index the rows follow (null: rows in order, no timestamps)"
    )
    filled: dict[str, int] = Field(
        default_factory=dict,
        description="values filled in by the `missing` policy (gaps included), by column",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "3f1c0d9be2a44c4f9b7a0f2f4a1e6c55",
                    "name": "load",
                    "columns": ["load"],
                    "length": 4,
                    "stats": [
                        {"name": "load", "min": 1.0, "max": 1.4, "mean": 1.175, "std": 0.148}
                    ],
                    "created_at": "2026-11-23T19:23:17Z",
                }
            ]
        }
    }

    @classmethod
    def from_row(cls, row: DatasetRow) -> DatasetRead:
        """The API view of a stored dataset."""
        return cls(
            id=row.id,
            name=row.name,
            columns=row.columns,
            length=row.rows,
            stats=[ColumnStats.model_validate(stat) for stat in row.stats],
            created_at=row.created_at,
            time=None if row.time_axis is None else time_read(TimeAxis.from_json(row.time_axis)),
            filled=row.filled or {},
        )


def time_read(axis: TimeAxis) -> TimeRead:
    """The API view of a time axis."""
    start, end = axis.point(0), axis.point(axis.length - 1)
    return TimeRead(kind=axis.kind, start=start, end=end, freq=axis.freq)


class DatasetPage(PageInfo):
    """A page of datasets, newest first."""

    items: list[DatasetRead]
