"""A dataset's values and series index as Parquet files, in a folder of their own.

`<root>/<id>/values.parquet` holds the values, a float64 column per dataset column, every
series' rows one after another; `series.parquet` (a panel only) holds a row per series: its id,
rows, time axis and filled values, so a page of series is read without the values. The database
keeps the catalogue (name, columns, counts, statistics); these files hold what grows with the
data. A dataset's folder is written whole under a temporary name and renamed into place, so a
reader never sees half of it.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.core.schemas import ID_PATTERN
from app.datasets.parsed import SeriesPart

VALUES = "values.parquet"
SERIES = "series.parquet"
SERIES_GROUP = 1_000  # series index rows per Parquet row group: a page reads its groups alone

_SERIES_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("rows", pa.int64()),
        ("time_kind", pa.string()),  # null: rows in order, no timestamps
        ("time_start", pa.string()),
        ("time_freq", pa.string()),
        ("filled", pa.string()),  # values filled by column, as JSON; null: none
    ]
)


class DatasetFiles:
    """The folder of every dataset's files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, dataset_id: str) -> Path:
        if not re.fullmatch(ID_PATTERN, dataset_id):  # the id becomes a path
            raise ValueError(f"not a dataset id: {dataset_id!r}")
        return self.root / dataset_id

    def write(
        self,
        dataset_id: str,
        matrix: np.ndarray,
        columns: list[str],
        series: list[SeriesPart] | None,
        series_filled: list[dict[str, int]] | None,
    ) -> None:
        """Write a dataset's files, all or nothing."""
        final = self._folder(dataset_id)
        self.root.mkdir(parents=True, exist_ok=True)
        scratch = self.root / f".{dataset_id}.{uuid.uuid4().hex}.tmp"
        scratch.mkdir()
        try:
            values = pa.table(
                [pa.array(np.ascontiguousarray(matrix[:, j])) for j in range(len(columns))],
                names=columns,
            )
            pq.write_table(values, scratch / VALUES)
            if series is not None:
                pq.write_table(
                    _series_table(series, series_filled), scratch / SERIES,
                    row_group_size=SERIES_GROUP,
                )  # fmt: skip
            scratch.rename(final)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise

    def values(self, dataset_id: str, columns: list[str]) -> np.ndarray:
        """The values [rows, columns] float64."""
        table = pq.read_table(self._folder(dataset_id) / VALUES, columns=columns)
        matrix = np.empty((table.num_rows, len(columns)), dtype=np.float64)
        for j, name in enumerate(columns):
            matrix[:, j] = table.column(name).to_numpy()
        return matrix

    def series(
        self, dataset_id: str, *, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, object]]:
        """The series from `offset` on (at most `limit`), as DatasetRow.series lists them, read
        from the row groups that hold them."""
        with pq.ParquetFile(self._folder(dataset_id) / SERIES) as file:
            meta = file.metadata
            stop = meta.num_rows if limit is None else min(meta.num_rows, offset + limit)
            groups: list[int] = []  # the row groups to read
            first = begin = 0  # the first group's first row; each group's as it is passed
            for group in range(meta.num_row_groups):
                end = begin + meta.row_group(group).num_rows
                if begin < stop and end > offset:
                    first = first if groups else begin
                    groups.append(group)
                begin = end
            if not groups:
                return []
            table = file.read_row_groups(groups)
        return [_stored(row) for row in table.slice(offset - first, stop - offset).to_pylist()]

    def lengths(self, dataset_id: str) -> list[tuple[str, int]]:
        """(id, rows) of every series."""
        table = pq.read_table(self._folder(dataset_id) / SERIES, columns=["id", "rows"])
        return list(
            zip(table.column("id").to_pylist(), table.column("rows").to_pylist(), strict=True)
        )

    def delete(self, dataset_id: str) -> None:
        """Remove a dataset's files (nothing to do when they are gone)."""
        shutil.rmtree(self._folder(dataset_id), ignore_errors=True)

    def stale(self, older_than: float) -> tuple[list[str], list[Path]]:
        """What was last changed before `older_than` (epoch seconds): the datasets' folders,
        by id, and the scratch folders of writes that never finished (their process died)."""
        folders: list[str] = []
        scratch: list[Path] = []
        if not self.root.is_dir():
            return folders, scratch
        for entry in self.root.iterdir():
            try:
                if not entry.is_dir() or entry.stat().st_mtime >= older_than:
                    continue
            except OSError:  # gone meanwhile
                continue
            if re.fullmatch(ID_PATTERN, entry.name):
                folders.append(entry.name)
            elif entry.name.startswith(".") and entry.name.endswith(".tmp"):
                scratch.append(entry)
        return folders, scratch

    def remove_scratch(self, folder: Path) -> None:
        """Remove a scratch folder `stale` found."""
        shutil.rmtree(folder, ignore_errors=True)


def _series_table(series: list[SeriesPart], filled: list[dict[str, int]] | None) -> pa.Table:
    axes = [part.time_axis for part in series]
    return pa.table(
        {
            "id": [part.id for part in series],
            "rows": [part.rows for part in series],
            "time_kind": [None if axis is None else axis.kind for axis in axes],
            "time_start": [None if axis is None else axis.start for axis in axes],
            "time_freq": [None if axis is None else axis.freq for axis in axes],
            "filled": [
                json.dumps(entry) if entry else None
                for entry in (filled if filled is not None else [{}] * len(series))
            ],
        },
        schema=_SERIES_SCHEMA,
    )


def _stored(row: dict[str, object]) -> dict[str, object]:
    """A series index row as DatasetRow.series keeps it: {"id", "rows", "time_axis", "filled"}."""
    kind = row["time_kind"]
    axis = (
        None
        if kind is None
        else {
            "kind": kind,
            "start": row["time_start"],
            "freq": row["time_freq"],
            "length": row["rows"],
        }
    )
    filled = row["filled"]
    return {
        "id": row["id"],
        "rows": row["rows"],
        "time_axis": axis,
        "filled": None if filled is None else json.loads(str(filled)),
    }
