"""Datasets' files: values and series index written whole, read back exactly, paged, and
gone with their row; a row that cannot be written leaves no files."""

from __future__ import annotations

import os
import shutil
import time
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


def test_a_sweep_removes_old_files_no_dataset_owns_and_nothing_else(
    datasets: DatasetRepository, tmp_path: Path
) -> None:
    root = tmp_path / "datasets"
    kept = create_dataset(datasets=datasets, name=None, matrix=np.ones((3, 1)), columns=["y"])
    files = DatasetFiles(root)
    orphan, young = uuid.uuid4().hex, uuid.uuid4().hex  # rows deleted before their files went
    for name in (orphan, young):
        files.write(name, np.ones((2, 1)), ["y"], None, None)
    scratch = root / f".{uuid.uuid4().hex}.{uuid.uuid4().hex}.tmp"  # a write that never ended
    scratch.mkdir()
    (root / "notes").mkdir()  # not the store's: left alone whatever its age
    hour_ago = time.time() - 3601
    for name in (kept.id, orphan, scratch.name, "notes"):
        os.utime(root / name, (hour_ago, hour_ago))
    assert datasets.sweep(3600) == 2
    assert sorted(path.name for path in root.iterdir()) == sorted([kept.id, young, "notes"])
    assert load_values(datasets=datasets, dataset_id=kept.id).values.tolist() == [[1.0]] * 3
    assert datasets.sweep(3600) == 0


def test_the_service_sweeps_at_start_up(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from app.main import ORPHAN_FILES_AGE, create_app
    from tests.factories import make_settings

    settings = make_settings(tmp_path)
    orphan = uuid.uuid4().hex
    DatasetFiles(settings.datasets_dir).write(orphan, np.ones((2, 1)), ["y"], None, None)
    old = time.time() - ORPHAN_FILES_AGE - 1
    os.utime(settings.datasets_dir / orphan, (old, old))
    with TestClient(create_app(settings)) as client:
        assert client.get(f"/v1/datasets/{orphan}").status_code == 404
    assert not (settings.datasets_dir / orphan).exists()
