"""The datasets table: uploaded series, stored in the database so any worker can read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime


class DatasetRow(Base):
    """An uploaded series, stored as float64 bytes so any worker can read it."""

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(128))
    columns: Mapped[list[str]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer)
    stats: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    values: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # loaded on demand
    # The rows' regular time axis (TimeAxis.to_json()); None: rows in order, no timestamps.
    time_axis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    filled: Mapped[dict[str, int] | None] = mapped_column(JSON)  # values filled, by column
    # Many series: [{"id", "rows", "time_axis", "filled"}, ...] in the order their rows are
    # stored (then time_axis is None and filled holds the totals); None: a single series.
    series: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
