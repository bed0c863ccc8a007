"""Uploaded series."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.core.bounds import narrowed
from app.core.schemas import VIEW_SERIES, PageInfo, ReadSchema, Rows, Schema, VisibleText
from app.datasets.table import DatasetRow
from app.datasets.time_axis import TimeAxis, from_storage
from app.datasets.values import Limits, bounded_columns, bounded_rows

logger = logging.getLogger(__name__)
_FREQ = (
    "the rows' spacing, a pandas frequency (D, W-SUN, MS, ME, QS-JAN, YS-JAN, h, 30min, ...), "
    "with `start`"
)


class SeriesUpload(Schema):
    """One series of a many-series JSON upload."""

    id: str = Field(
        description="the series' id: visible text of at most FORECAST_MAX_SERIES_ID_LENGTH "
        "characters, unique in the upload"
    )
    values: Rows = Field(description="rows in time order; a flat list is one column")
    start: str | None = Field(
        None,
        max_length=64,
        description="the first row's time (ISO 8601), with `freq`; every series of an upload "
        "has a time axis, or none has",
    )
    freq: str | None = Field(None, max_length=32, description=_FREQ)


class DatasetUpload(Schema):
    """A series as JSON: rows of values (or a flat list for one column) and column names; or
    many series under `series`."""

    name: VisibleText | None = Field(None, max_length=128)
    columns: list[str] | None = Field(
        None,
        description="one name per column; default value, or value_1, value_2, ... (with "
        "`series`: the columns of every series)",
    )
    values: Rows | None = Field(
        None, description="rows in time order; a flat list is one column (or give `series`)"
    )
    start: str | None = Field(
        None, max_length=64, description="the first row's time (ISO 8601), with `freq`"
    )
    freq: str | None = Field(None, max_length=32, description=_FREQ)
    series: list[SeriesUpload] | None = Field(
        None,
        description="many series, instead of `values` (and `start`, `freq`): at most "
        "FORECAST_MAX_SERIES, every series with the same columns and, when they have times, "
        "the same frequency",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"name": "load", "columns": ["load"], "values": [1.0, 1.2, 1.1, 1.4]},
                {"name": "sales", "values": [12, 14, 13], "start": "2024-01-01", "freq": "MS"},
                {
                    "name": "stores",
                    "series": [
                        {"id": "a", "start": "2024-01-01", "freq": "D", "values": [3, 4, 5]},
                        {"id": "b", "start": "2024-01-02", "freq": "D", "values": [7, 6]},
                    ],
                },
            ]
        }
    }


def upload_model(limits: Limits) -> type[DatasetUpload]:
    """`DatasetUpload` with `limits`' bounds on its values and columns."""
    return narrowed(
        DatasetUpload,
        values=bounded_rows(limits) | None,
        columns=bounded_columns(limits) | None,
    )


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


class SeriesRead(ReadSchema):
    """One series of a many-series dataset."""

    id: str
    length: int = Field(description="number of rows")
    time: TimeRead | None = Field(description="its time axis (null: rows in order)")
    filled: dict[str, int] = Field(description="values filled in by `missing`, by column")


class LengthSummary(ReadSchema):
    """How long a dataset's series are, in rows."""

    min: int
    median: float
    max: int


class DatasetRead(ReadSchema):
    """A stored series, or many (without their values)."""

    id: str
    name: str | None
    columns: list[str]
    length: int = Field(description="number of rows (of every series together)")
    stats: list[ColumnStats]
    created_at: datetime
    time: TimeRead | None = Field(
        None,
        description="the time index the rows follow (null: rows in order, no timestamps; "
        "null for many series, each of which has its own)",
    )
    filled: dict[str, int] = Field(
        default_factory=dict,
        description="values filled in by the `missing` policy (gaps included), by column "
        "(of every series together)",
    )
    series_count: int = Field(1, description="how many series the dataset holds")
    series_length: LengthSummary | None = Field(
        None, description="the series' lengths in rows (null for a single series)"
    )
    series: list[SeriesRead] | None = Field(
        None,
        description=f"the first {VIEW_SERIES} series' ids, lengths, time axes and filled "
        "values, in stored order (page through every series at GET "
        "/v1/datasets/{id}/series); null for a single series, and in the list of datasets",
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
                    "series_count": 1,
                }
            ]
        }
    }

    @classmethod
    def from_row(cls, row: DatasetRow, series: list[dict[str, Any]] | None = None) -> DatasetRead:
        """The API view of a stored dataset, with `series` its first series' index entries
        (None: `series` null, as in the list of datasets)."""
        return cls(
            id=row.id,
            name=row.name,
            columns=row.columns,
            length=row.rows,
            stats=[ColumnStats.model_validate(stat) for stat in row.stats],
            created_at=row.created_at,
            time=stored_time(row.time_axis),
            filled=row.filled or {},
            series_count=row.series_total,
            series_length=_series_length(row),
            series=None if series is None or not row.is_panel else series_read(series),
        )


def _series_length(row: DatasetRow) -> LengthSummary | None:
    if row.series_length is not None:
        return LengthSummary.model_validate(row.series_length)
    if row.series is None:
        return None
    return length_summary([part["rows"] for part in row.series])


def length_summary(lengths: list[int]) -> LengthSummary:
    """The lengths of a panel's series, summarised."""
    rows = sorted(lengths)
    middle = len(rows) // 2
    median = rows[middle] if len(rows) % 2 else (rows[middle - 1] + rows[middle]) / 2
    return LengthSummary(min=rows[0], median=median, max=rows[-1])


def series_read(stored: list[dict[str, Any]]) -> list[SeriesRead]:
    """The API view of a panel's stored series (see DatasetRow.series)."""
    return [
        SeriesRead(
            id=part["id"],
            length=part["rows"],
            time=stored_time(part["time_axis"]),
            filled=part["filled"] or {},
        )
        for part in stored
    ]


def stored_time(stored: dict[str, Any] | None) -> TimeRead | None:
    """The API view of a stored time axis; None for none, and for one an earlier version stored
    that cannot be written (a freq such as '1ns'): reading a dataset never fails on its axis."""
    if stored is None:
        return None
    try:
        return time_read(from_storage(stored))
    except ValueError:
        logger.warning("a stored time axis cannot be written: %s", stored)
        return None


def time_read(axis: TimeAxis) -> TimeRead:
    """The API view of a time axis."""
    start, end = axis.point(0), axis.point(axis.length - 1)
    return TimeRead(kind=axis.kind, start=start, end=end, freq=axis.freq)


class DatasetPage(PageInfo):
    """A page of datasets, newest first."""

    items: list[DatasetRead]


class SeriesPage(PageInfo):
    """A page of a dataset's series, in stored order (none for a single series)."""

    items: list[SeriesRead]
