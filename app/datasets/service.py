"""Datasets: store a parsed series (or many), read it back, delete it."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import numpy as np

from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.datasets import json_panel
from app.datasets.parsed import ParsedSeries, SeriesPart
from app.datasets.repository import DatasetRepository
from app.datasets.schemas import DatasetUpload, length_summary
from app.datasets.table import DatasetRow
from app.datasets.time_axis import TimeAxis, axis_from, from_storage
from app.datasets.values import Limits, column_stats, to_matrix


def parse_json(upload: DatasetUpload, *, limits: Limits) -> ParsedSeries:
    """A validated JSON upload, its time axis from `start` and `freq`; many series under
    `series` (see json_panel)."""
    if upload.series is not None:
        return json_panel.parse_series(upload, limits=limits)
    assert upload.values is not None  # the router refuses a body with neither
    matrix, columns = to_matrix(upload.values, upload.columns, field="values", limits=limits)
    if (upload.start is None) != (upload.freq is None):
        field = "freq" if upload.start is not None else "start"
        raise InvalidInput("give `start` and `freq` together, or neither", field=field)
    if upload.start is None or upload.freq is None:
        return ParsedSeries(matrix, columns)
    return ParsedSeries(matrix, columns, axis_from(upload.start, upload.freq, len(matrix)))


def create_dataset(
    *,
    datasets: DatasetRepository,
    name: str | None,
    matrix: np.ndarray,
    columns: list[str],
    time_axis: TimeAxis | None = None,
    filled: dict[str, int] | None = None,
    series: list[SeriesPart] | None = None,
    series_filled: list[dict[str, int]] | None = None,
) -> DatasetRow:
    """Store a parsed series, or many (`series`: their parts in the order of their rows in
    `matrix`, with `series_filled` one by one); nothing is written unless it is whole and valid."""
    if series is not None and sum(part.rows for part in series) != len(matrix):
        raise ValueError("the series' rows do not add up to the matrix's")
    if series is not None and series_filled is not None and len(series_filled) != len(series):
        raise ValueError("series_filled has one entry per series")
    row = DatasetRow(
        id=uuid.uuid4().hex,
        name=name,
        columns=columns,
        rows=int(matrix.shape[0]),
        stats=column_stats(matrix, columns),
        created_at=utcnow(),
        time_axis=None if time_axis is None else time_axis.to_json(),
        filled=filled or None,
        series_count=1 if series is None else len(series),
        series_length=None
        if series is None
        else length_summary([part.rows for part in series]).model_dump(),
    )
    return datasets.add(row, matrix, series, series_filled)


class LoadedSeries(NamedTuple):
    """A dataset's values [rows, columns] float64, column names and time axis (None: none).

    Many series: `series` lists them in the order their rows follow one another in `values`
    (each with its own axis; `time_axis` is then None). None: a single series.
    """

    values: np.ndarray
    columns: list[str]
    time_axis: TimeAxis | None
    series: list[SeriesPart] | None = None


def get_dataset(*, datasets: DatasetRepository, dataset_id: str) -> DatasetRow:
    """A dataset's record, or NotFound."""
    row = datasets.get(dataset_id)
    if row is None:
        raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
    return row


def load_values(*, datasets: DatasetRepository, dataset_id: str) -> LoadedSeries:
    """A dataset's values, column names and time axis."""
    row = datasets.get(dataset_id)
    try:
        if row is None:
            raise LookupError
        matrix = datasets.values(row)
        stored = datasets.series(row)
    except LookupError:  # deleted meanwhile
        raise NotFound(
            f"dataset {dataset_id!r} no longer exists", field="data.dataset_id"
        ) from None
    try:
        axis = None if row.time_axis is None else from_storage(row.time_axis)
        parts = _series_parts(stored) if stored else None
    except ValueError as exc:  # stored by an earlier version, under looser rules
        raise InvalidInput(
            f"dataset {dataset_id!r} has a time axis that cannot be used ({exc}); upload its "
            "data again",
            field="data.dataset_id",
        ) from None
    return LoadedSeries(matrix, list(row.columns), axis, parts)


def _series_parts(stored: list[dict[str, Any]]) -> list[SeriesPart]:
    return [
        SeriesPart(
            part["id"],
            part["rows"],
            None if part["time_axis"] is None else from_storage(part["time_axis"]),
        )
        for part in stored
    ]


def series_page(
    *, datasets: DatasetRepository, row: DatasetRow, offset: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """A page of a dataset's series index, or NotFound once it is deleted."""
    try:
        return datasets.series(row, offset=offset, limit=limit)
    except LookupError:
        raise NotFound(f"no dataset {row.id!r}", field="dataset_id") from None


def delete_dataset(*, datasets: DatasetRepository, dataset_id: str) -> None:
    """Delete a dataset unless a queued or running job still needs it."""
    existed, active = datasets.delete_unused(dataset_id)
    if not existed:
        raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
    if active:
        raise Conflict(
            f"dataset {dataset_id!r} is used by {active} queued or running job(s); "
            "cancel them or wait until they finish",
            field="dataset_id",
        )
