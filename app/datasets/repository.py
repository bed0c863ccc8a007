"""Where datasets are kept: their catalogue rows in the database, their values and series index
in files (files.py); datasets of earlier versions, whole in their rows, are read as they are."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import Repository
from app.datasets.files import DatasetFiles
from app.datasets.parsed import SeriesPart
from app.datasets.table import DatasetRow

PARQUET = "parquet"  # DatasetRow.stored_as of a dataset kept in files
_Read = TypeVar("_Read")

# How many active users (queued or running jobs) a dataset has, asked inside the deleting
# transaction; the jobs domain supplies it, so this domain never reads the jobs table.
InUse = Callable[[Session, str], int]


class DatasetRepository(Repository):
    """The datasets' rows and files; each method is its own short transaction."""

    def __init__(
        self,
        sessions: sessionmaker,  # type: ignore[type-arg]
        in_use: InUse,
        files: DatasetFiles,
    ) -> None:
        super().__init__(sessions)
        self._in_use = in_use
        self._files = files

    def add(
        self,
        row: DatasetRow,
        matrix: np.ndarray,
        series: list[SeriesPart] | None,
        series_filled: list[dict[str, int]] | None,
    ) -> DatasetRow:
        """Store an upload: its files first, then its row, which makes it visible; the files
        go again if the row cannot be written."""
        row.stored_as = PARQUET
        self._files.write(row.id, matrix, list(row.columns), series, series_filled)
        try:
            with self._session() as session:
                session.add(row)
        except BaseException:
            self._files.delete(row.id)
            raise
        return row

    def get(self, dataset_id: str) -> DatasetRow | None:
        """One dataset's catalogue row (without the values of an earlier version's row)."""
        with self._session() as session:
            return session.get(DatasetRow, dataset_id)

    def values(self, row: DatasetRow) -> np.ndarray:
        """A dataset's values [rows, columns] float64; LookupError once it is deleted."""
        if row.stored_as == PARQUET:
            return _while_stored(row.id, lambda: self._files.values(row.id, list(row.columns)))
        with self._session() as session:
            stored = session.scalar(select(DatasetRow.values).where(DatasetRow.id == row.id))
        if stored is None:
            raise LookupError(f"dataset {row.id!r} no longer exists")
        return np.frombuffer(stored, dtype="<f8").reshape(row.rows, len(row.columns))

    def series(self, row: DatasetRow, *, offset: int = 0, limit: int | None = None) -> list[Any]:
        """A page of a panel's series index ({"id", "rows", "time_axis", "filled"} each, in
        stored order); empty for a single series; LookupError once it is deleted."""
        if not row.is_panel:
            return []
        if row.stored_as == PARQUET:
            return _while_stored(
                row.id, lambda: self._files.series(row.id, offset=offset, limit=limit)
            )
        stored = row.series or []
        return stored[offset:] if limit is None else stored[offset : offset + limit]

    def columns(self, dataset_id: str) -> tuple[int, list[str]] | None:
        """(rows, column names) of a dataset without loading its values."""
        with self._session() as session:
            found = session.execute(
                select(DatasetRow.rows, DatasetRow.columns).where(DatasetRow.id == dataset_id)
            ).first()
            return None if found is None else (found[0], list(found[1]))

    def series_lengths(self, dataset_id: str) -> list[tuple[str, int]] | None:
        """(id, rows) of each series of a many-series dataset, without loading its values;
        None for a single series or a missing dataset."""
        with self._session() as session:
            found = session.execute(
                select(DatasetRow.stored_as, DatasetRow.series_length, DatasetRow.series).where(
                    DatasetRow.id == dataset_id
                )
            ).first()
        if found is None:
            return None
        stored_as, summary, stored = found
        if stored_as == PARQUET:
            if summary is None:
                return None
            return _while_stored(dataset_id, lambda: self._files.lengths(dataset_id))
        return None if stored is None else [(part["id"], part["rows"]) for part in stored]

    def page(self, *, limit: int, offset: int) -> tuple[list[DatasetRow], int]:
        """Newest first; returns (page, total)."""
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(DatasetRow)) or 0
            rows = session.scalars(
                select(DatasetRow)
                .order_by(DatasetRow.created_at.desc(), DatasetRow.id)
                .limit(limit)
                .offset(offset)
            ).all()
            return list(rows), total

    def delete_unused(self, dataset_id: str) -> tuple[bool, int]:
        """Delete a dataset nothing uses; returns (existed, active users)."""
        with self._session() as session:
            row = session.get(DatasetRow, dataset_id, with_for_update=True)
            if row is None:
                return False, 0
            active = self._in_use(session, dataset_id)
            if active:
                return True, active
            session.delete(row)
        self._files.delete(dataset_id)  # once its row is gone, nothing reads them
        return True, 0

    def sweep(self, min_age_seconds: float) -> int:
        """Remove files no dataset owns that were last changed over `min_age_seconds` ago:
        folders whose row is gone (a process died between deleting a row and its files) and
        unfinished writes. The age spares an upload another instance is storing right now,
        between its folder's rename and its row's insert."""
        ids, scratch = self._files.stale(time.time() - min_age_seconds)
        with self._session() as session:
            kept = set(session.scalars(select(DatasetRow.id)))
        orphans = [dataset_id for dataset_id in ids if dataset_id not in kept]
        for dataset_id in orphans:
            self._files.delete(dataset_id)
        for folder in scratch:
            self._files.remove_scratch(folder)
        return len(orphans) + len(scratch)


def _while_stored(dataset_id: str, read: Callable[[], _Read]) -> _Read:
    """`read()` of a dataset's files, LookupError if it was deleted meanwhile."""
    try:
        return read()
    except FileNotFoundError:
        raise LookupError(f"dataset {dataset_id!r} no longer exists") from None
