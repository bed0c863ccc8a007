"""Datasets' files: values and series index written whole, read back exactly, paged, and
gone with their row; a row that cannot be written leaves no files."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.exc import StatementError

from app.core.db import utcnow
from app.core.errors import NotFound
from app.datasets import DatasetFiles, DatasetRepository, DatasetRow, SeriesPart, TimeAxis
from app.datasets.files import SERIES_GROUP
from app.datasets.service import create_dataset, load_values, series_page


def panel_parts() -> tuple[np.ndarray, list[SeriesPart], list[dict[str, int]]]:
    matrix = np.arange(12, dtype=np.float64).reshape(6, 2) / 7  # values text would round
    parts = [
        SeriesPart("a", 2, TimeAxis("dates", "2020-01-01T00:00:00", "MS", 2)),
        SeriesPart("b", 3, TimeAxis("dates", "2021-06-01T00:00:00", "MS", 3)),
        SeriesPart("é", 1, TimeAxis("dates", "2022-01-01T00:00:00", "MS", 1)),
    ]
    return matrix, parts, [{}, {"x": 1}, {}]


def test_a_panel_is_stored_in_files_and_read_back_exactly(
    datasets: DatasetRepository, tmp_path: Path
) -> None:
    matrix, parts, filled = panel_parts()
    row = create_dataset(
        datasets=datasets, name="p", matrix=matrix, columns=["x", "y"], series=parts,
        series_filled=filled,
    )  # fmt: skip
    folder = tmp_path / "datasets" / row.id
    assert sorted(path.name for path in folder.iterdir()) == ["series.parquet", "values.parquet"]
    assert [path.name for path in (tmp_path / "datasets").iterdir()] == [row.id]  # no scratch
    loaded = load_values(datasets=datasets, dataset_id=row.id)
    assert loaded.values.tobytes() == matrix.tobytes()
    assert loaded.series == parts
    stored = datasets.get(row.id)
    assert stored is not None
    assert (stored.series_total, stored.series_length) == (3, {"min": 1, "median": 2, "max": 3})
    page = datasets.series(stored, offset=1, limit=1)
    assert page == [
        {"id": "b", "rows": 3, "filled": {"x": 1}, "time_axis": parts[1].time_axis.to_json()}
    ]
    assert datasets.series_lengths(row.id) == [("a", 2), ("b", 3), ("é", 1)]


def test_a_single_series_has_a_values_file_and_no_series_index(
    datasets: DatasetRepository, tmp_path: Path
) -> None:
    matrix = np.linspace(-1, 1, 9).reshape(9, 1)
    row = create_dataset(datasets=datasets, name=None, matrix=matrix, columns=["y"])
    assert [p.name for p in (tmp_path / "datasets" / row.id).iterdir()] == ["values.parquet"]
    stored = datasets.get(row.id)
    assert stored is not None
    assert (stored.is_panel, datasets.series(stored), datasets.series_lengths(row.id)) == (
        False,
        [],
        None,
    )
    assert load_values(datasets=datasets, dataset_id=row.id).values.tobytes() == matrix.tobytes()


def test_a_row_the_database_refuses_leaves_no_files(
    datasets: DatasetRepository, tmp_path: Path
) -> None:
    row = DatasetRow(
        id=uuid.uuid4().hex, name=None, columns=["y"], rows=3, created_at=utcnow(),
        stats=[{"min": object()}],  # not JSON: the insert fails after the files are written
    )  # fmt: skip
    with pytest.raises(StatementError, match="not JSON serializable"):
        datasets.add(row, np.zeros((3, 1)), None, None)
    assert list((tmp_path / "datasets").iterdir()) == []
    assert datasets.get(row.id) is None


def test_a_name_that_is_not_a_dataset_id_never_becomes_a_path(tmp_path: Path) -> None:
    files = DatasetFiles(tmp_path)
    for name in ("../escape", "a" * 32 + "/..", "", "ABCDEF" + "0" * 26):
        with pytest.raises(ValueError, match="not a dataset id"):
            files.values(name, ["y"])


def test_a_dataset_whose_files_went_reads_as_gone_not_as_a_fault(
    datasets: DatasetRepository, tmp_path: Path
) -> None:
    matrix, parts, filled = panel_parts()
    row = create_dataset(
        datasets=datasets, name=None, matrix=matrix, columns=["x", "y"], series=parts,
        series_filled=filled,
    )  # fmt: skip
    shutil.rmtree(tmp_path / "datasets" / row.id)  # deleted between its row and its files
    with pytest.raises(NotFound, match="no dataset"):
        series_page(datasets=datasets, row=row)
    with pytest.raises(NotFound, match="no longer exists"):
        load_values(datasets=datasets, dataset_id=row.id)
    with pytest.raises(LookupError):
        datasets.series_lengths(row.id)


def test_a_page_of_series_reads_across_row_groups_as_one_index(tmp_path: Path) -> None:
    files, count = DatasetFiles(tmp_path), 2 * SERIES_GROUP + 345
    parts = [SeriesPart(f"s{k}", 1 + k % 3, None) for k in range(count)]
    rows = sum(part.rows for part in parts)
    files.write("a" * 32, np.zeros((rows, 1)), ["y"], parts, None)
    whole = files.series("a" * 32)
    assert [entry["id"] for entry in whole] == [part.id for part in parts]
    for offset, limit in ((0, 10), (SERIES_GROUP - 3, 7), (SERIES_GROUP, 1), (5, 2 * SERIES_GROUP),
                          (count - 2, 100), (count, 10), (count + 5, 10), (17, None)):  # fmt: skip
        stop = count if limit is None else offset + limit
        assert files.series("a" * 32, offset=offset, limit=limit) == whole[offset:stop]
