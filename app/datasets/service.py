"""Datasets: store a parsed series, read it back, delete it."""

from __future__ import annotations

import uuid

import numpy as np

from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.datasets.repository import DatasetRepository
from app.datasets.schemas import DatasetUpload
from app.datasets.table import DatasetRow
from app.datasets.values import Limits, column_stats, to_matrix


def parse_json(upload: DatasetUpload, *, limits: Limits) -> tuple[np.ndarray, list[str]]:
    """A validated JSON upload -> ([rows, columns] float64, column names)."""
    return to_matrix(upload.values, upload.columns, field="values", limits=limits)


def create_dataset(
    *, datasets: DatasetRepository, name: str | None, matrix: np.ndarray, columns: list[str]
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
    )
    return datasets.add(row)


def get_dataset(*, datasets: DatasetRepository, dataset_id: str) -> DatasetRow:
    """A dataset's record, or NotFound."""
    row = datasets.get(dataset_id)
    if row is None:
        raise NotFound(f"no dataset {dataset_id!r}", field="dataset_id")
    return row


def load_values(*, datasets: DatasetRepository, dataset_id: str) -> tuple[np.ndarray, list[str]]:
    """A dataset's values [rows, columns] float64 and column names."""
    row = datasets.get(dataset_id, with_values=True)
    if row is None:
        raise NotFound(f"dataset {dataset_id!r} no longer exists", field="data.dataset_id")
    matrix = np.frombuffer(row.values, dtype="<f8").reshape(row.rows, len(row.columns))
    return matrix, list(row.columns)


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
