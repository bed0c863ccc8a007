"""The columnar reader takes the well-formed files, gives every other file back to the row
reader, and the two read every file alike."""

from __future__ import annotations

import numpy as np
import pytest

from app.datasets import csv_columnar, csv_format
from app.datasets.values import Limits

LIMITS = Limits(max_rows=10_000, max_columns=64, max_series=1_000, max_series_id_length=64)

WELL_FORMED = {
    "one series": "date,y\n2020-01-01,1.5\n2020-01-02,\n2020-01-03,-2e3\n",
    "no times": "a,b\n1,2\n3,4\n5,6",
    "crlf": "date,y\r\n2020-01,1\r\n2020-02,2\r\n2020-03,3\r\n",
    "long panel": (
        "unique_id,ds,y\n"
        + "".join(f"s{i % 3},2021-0{1 + i // 3}-01,{i * 0.1:.3f}\n" for i in range(9))
    ),
    "ids to canonicalise": "id,t,y\n a,1,1\na,2,2\nb ,1,3\nb,2,4\n",
    "panel with a gap": "id,ds,y\na,2020-01-01,1\na,2020-01-03,3\nb,2020-01-01,5\nb,2020-01-02,6\n",
    "wide": "ds,x,z\n2020-01-01,1,\n2020-01-02,2,7\n2020-01-03,,8\n",
    "pandas index": ",y\n2020-01-01,1\n2020-01-02,2\n2020-01-03,3\n",
    "quoted": 'id,y\n"a,1",1\n"a,1",2\n',
    "spaced numbers": "a\n 1\n2\t\n",
    # Read by columns, then refused naming a line: the lines must be the row reader's.
    "repeated time": "id,ds,y\na,2020-01-01,1\nb,2020-01-01,2\na,2020-01-01,2\n",
    "empty id": "id,y\na,1\n,1\n",
    "not a time": "date,y\n2020-01-01,1\n2020-01-02,2\nsoon,2\n",
    "empty cell": "date,y\n2020-01-01,1\n2020-01-02,\n",
}
OPTIONS = {"panel with a gap": {"missing": "interpolate"}, "wide": {"layout": "columns_are_series"}}

# Each is well-formed for the row reader or refused by it; none for the columnar one.
NOT_FOR_COLUMNS = {
    "blank line": "a,b\n1,2\n\n3,4\n",
    "trailing blank line": "a\n1\n\n",
    "ragged": "a,b\n1,2\n3\n",
    "lone carriage return": "a\n1\r2\n3\n",
    "vertical tab": "a\n\x0b1\n2\n",
    "not a number": "a\n1\nx\n",
    "nan": "a\n1\nnan\n",
    "infinite": "a\n1\n1e400\n",
    "huge": "a\n1\n2e15\n",
    "line break in quotes": 'id,y\n"a\nb",1\n',
    "no rows": "a,b\n",
}


def parsed(text: str, monkeypatch: pytest.MonkeyPatch | None = None, **options: str) -> object:
    if monkeypatch is not None:
        monkeypatch.setattr(csv_format, "read_columns", lambda *args: None)
    try:
        return csv_format.parse_csv(text.encode(), time_column=None, limits=LIMITS, **options)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - a refusal is compared like a result
        return {"refused": repr(exc), "message": getattr(exc, "message", None)}


@pytest.mark.parametrize("name", WELL_FORMED)
def test_a_well_formed_file_is_read_by_columns(name: str) -> None:
    text = WELL_FORMED[name]
    header = text.splitlines()[0].split(",")
    id_at = 0 if header[0] in ("unique_id", "id") else None
    time_at = next((i for i, h in enumerate(header) if h in ("date", "ds", "t", "")), None)
    read = csv_columnar.read_columns(text.encode(), len(header), time_at, id_at, 100)
    assert read is not None
    assert read.values.shape[0] == len(text.strip().splitlines()) - 1


@pytest.mark.parametrize("name", NOT_FOR_COLUMNS)
def test_anything_else_goes_back_to_the_row_reader(name: str) -> None:
    text = NOT_FOR_COLUMNS[name]
    width = len(text.splitlines()[0].split(","))
    assert csv_columnar.read_columns(text.encode(), width, None, None, 100) is None


@pytest.mark.parametrize("name", [*WELL_FORMED, *NOT_FOR_COLUMNS])
def test_both_readers_read_every_file_alike(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = {**WELL_FORMED, **NOT_FOR_COLUMNS}[name]
    options = OPTIONS.get(name, {})
    by_columns = parsed(text, **options)
    by_rows = parsed(text, monkeypatch, **options)
    if isinstance(by_rows, dict):
        assert by_columns == by_rows
        return
    assert not isinstance(by_columns, dict), by_columns
    assert by_columns.matrix.tobytes() == by_rows.matrix.tobytes()  # type: ignore[attr-defined]
    for field in ("columns", "time_axis", "filled", "series", "series_filled"):
        assert getattr(by_columns, field) == getattr(by_rows, field), field


def test_the_row_limit_is_refused_by_the_row_reader_naming_the_limit() -> None:
    text = "a\n" + "1\n" * 11
    assert csv_columnar.read_columns(text.encode(), 1, None, None, 10) is None
    assert csv_columnar.read_columns(text.encode(), 1, None, None, 11) is not None


def test_a_panel_of_thousands_of_series_reads_the_same_both_ways(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(7)
    lines = ["unique_id,ds,y"]
    for series in range(300):
        start = int(rng.integers(1, 12))
        for month in range(start, start + int(rng.integers(3, 30))):
            lines.append(
                f"id{series},{2000 + month // 12}-{month % 12 + 1:02d}-01,{rng.normal():.6f}"
            )
    text = "\n".join(lines) + "\n"
    by_columns, by_rows = parsed(text), parsed(text, monkeypatch)
    assert by_columns.matrix.tobytes() == by_rows.matrix.tobytes()  # type: ignore[attr-defined]
    assert by_columns.series == by_rows.series  # type: ignore[attr-defined]
