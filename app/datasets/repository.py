"""The datasets table's SQL."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import Repository
from app.datasets.table import DatasetRow

# How many active users (queued or running jobs) a dataset has, asked inside the deleting
# transaction; the jobs domain supplies it, so this domain never reads the jobs table.
InUse = Callable[[Session, str], int]


class DatasetRepository(Repository):
    """Queries over the datasets table; each method is its own short transaction."""

    def __init__(self, sessions: sessionmaker, in_use: InUse) -> None:  # type: ignore[type-arg]
        super().__init__(sessions)
        self._in_use = in_use

    def add(self, row: DatasetRow) -> DatasetRow:
        """Insert an uploaded series."""
        with self._session() as session:
            session.add(row)
        return row

    def get(self, dataset_id: str, *, with_values: bool = False) -> DatasetRow | None:
        """One dataset; its values are only loaded when asked for."""
        with self._session() as session:
            row = session.get(DatasetRow, dataset_id)
            if row is not None and with_values:
                _ = row.values
            return row

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
            stored = session.scalar(select(DatasetRow.series).where(DatasetRow.id == dataset_id))
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
            return True, 0
