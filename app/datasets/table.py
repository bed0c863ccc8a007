"""The datasets table: the catalogue of uploaded series (their values are in files, files.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class DatasetRow(Base):
    """An uploaded series, or many: the catalogue entry of its files (see files.py).

    Datasets stored by earlier versions keep their values here instead, as float64 bytes, and
    a panel's series index as JSON (`stored_as` NULL); they are read as they are.
    """

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(128))
    columns: Mapped[list[str]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer)
    stats: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # "parquet": values and series index in the dataset's files; None: in `values` and `series`.
    stored_as: Mapped[str | None] = mapped_column(String(16))
    values: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # loaded on demand
    # The rows' regular time axis (TimeAxis.to_json()); None: rows in order, no timestamps.
    time_axis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    filled: Mapped[dict[str, int] | None] = mapped_column(JSON)  # values filled, by column
    # Many series: [{"id", "rows", "time_axis", "filled"}, ...] in the order their rows are
    # stored (then time_axis is None and filled holds the totals); None: a single series.
    series: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    series_count: Mapped[int | None] = mapped_column(Integer)  # None: stored in `series`
    # The series' lengths in rows, {"min", "median", "max"}; None: a single series.
    series_length: Mapped[dict[str, float] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def is_panel(self) -> bool:
        """Whether the dataset holds many series (a series index), even if just one."""
        return self.series_length is not None if self.stored_as else self.series is not None

    @property
    def series_total(self) -> int:
        """How many series the dataset holds."""
        if self.series_count is not None:
            return self.series_count
        return 1 if self.series is None else len(self.series)  # an earlier version's row
