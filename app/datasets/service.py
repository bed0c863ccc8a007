"""Datasets: store a parsed series, read it back, delete it."""

from __future__ import annotations

import uuid
from typing import NamedTuple

import numpy as np

from app.core.db import utcnow
from app.core.errors import Conflict, InvalidInput, NotFound
from app.datasets.repository import DatasetRepository
from app.datasets.schemas import DatasetUpload
from app.datasets.table import DatasetRow
from app.datasets.time_index import TimeAxis, axis_from
from app.datasets.values import Limits, column_stats, to_matrix


class ParsedSeries(NamedTuple):
    """An upload, parsed and checked: values [rows, columns] float64 (no NaN), column names, the
    rows' time axis (None: rows in order) and the values filled in, by column."""

    matrix: np.ndarray
    columns: list[str]
    time_axis: TimeAxis | None = None
    filled: dict[str, int] | None = None


def parse_json(upload: DatasetUpload, *, limits: Limits) -> ParsedSeries:
    """A validated JSON upload, its time axis from `start` and `freq`."""
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
) -> DatasetRow:
    """Store a parsed series; nothing is written unless it is whole and valid."""
    row = DatasetRow(
        id=uuid.uuid4().hex,
        name=name,
        columns=columns,
        rows=int(matrix.shape[0]),
        stats=column_stats(matrix, columns),
        values=np.ascontiguousarray(matrix, dtype="<f8").tobytes(),
        created_at=utcnow(),
        time_axis=None if time_axis is None else time_axis.to_json(),
        filled=filled or None,
    )
    return datasets.add(row)


class LoadedSeries(NamedTuple):
    """A dataset's values [rows, columns] float64, column names and time axis (None: none)."""

    values: np.ndarray
    columns: list[str]
    time_axis: TimeAxis | None


def get_dataset(*, datasets: DatasetRepository, dataset_id: str) -> DatasetRow:
    """A dataset's record, or NotFound."""
    row = datasets.get(dataset_id)
    if row is None:
        raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
    return row


def load_values(*, datasets: DatasetRepository, dataset_id: str) -> LoadedSeries:
    """A dataset's values, column names and time axis."""
    row = datasets.get(dataset_id, with_values=True)
    if row is None:
        raise NotFound(f"dataset {dataset_id!r} no longer exists", field="data.dataset_id")
    matrix = np.frombuffer(row.values, dtype="<f8").reshape(row.rows, len(row.columns))
    axis = None if row.time_axis is None else TimeAxis.from_json(row.time_axis)
    return LoadedSeries(matrix, list(row.columns), axis)


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
