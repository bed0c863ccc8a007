"""Many series in one dataset (a panel): series ids and their limits, a long file's rows or a wide
file's columns split into series, and each series put on its own time axis (or kept in order).

The series are stored one after another (see parsed.combine); max_rows counts all their rows.

Series ids, CSV and JSON alike (series_id): surrounding spaces and tabs are not part of an id,
and an id is kept in Unicode NFC, so 'é' typed as one character or as 'e' and a combining accent
is one id. Look-alike letters of different scripts (Latin 'a', Cyrillic 'а') stay different ids.
"""

from __future__ import annotations

import unicodedata
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal, NamedTuple, get_args

import numpy as np

from app.core.errors import InvalidInput
from app.core.schemas import invisible_character
from app.datasets.gaps import MissingPolicy, fill_missing
from app.datasets.parsed import OneSeries, ParsedSeries, combine
from app.datasets.time_cells import TimeKind
from app.datasets.time_index import regularize
from app.datasets.values import Limits, check_columns

ID_COLUMN_NAMES = ("unique_id", "id", "series", "item_id")
Layout = Literal["rows", "columns_are_series"]
LAYOUTS: tuple[Layout, ...] = get_args(Layout)


def layout_of(text: str | None) -> Layout:
    """The layout `text` names ("rows" when None); InvalidInput(field="layout") otherwise."""
    for layout in LAYOUTS:
        if text == layout or (text is None and layout == "rows"):
            return layout
    raise InvalidInput(f"must be one of {', '.join(LAYOUTS)}", field="layout")


def series_id_column(
    header: list[str], layout: Layout, id_column: str | None, time_at: int | None
) -> int | None:
    """A file's series id column (find_id_column); none in a wide file, whose columns are its
    series (naming one is InvalidInput)."""
    if layout == "columns_are_series":
        if id_column is not None:
            message = "a file whose columns are series has no id column"
            raise InvalidInput(message, field="id_column")
        return None
    return find_id_column(header, id_column, time_at)


def find_id_column(header: list[str], id_column: str | None, time_at: int | None) -> int | None:
    """The series id column: `id_column` if given, else the first named like ID_COLUMN_NAMES
    (case-insensitive); None: the file is one series."""
    if id_column is not None:
        if id_column not in header:
            raise InvalidInput(f"no column named {id_column!r} in the header", field="id_column")
        if header.index(id_column) == time_at:
            raise InvalidInput(f"{id_column!r} is the time column", field="id_column")
        return header.index(id_column)
    for index, name in enumerate(header):
        if index != time_at and name.strip().lower() in ID_COLUMN_NAMES:
            return index
    return None


def too_many_series(limits: Limits, field: str) -> InvalidInput:
    """The error for a series past max_series."""
    return InvalidInput(
        f"more than {limits.max_series} series; a dataset holds at most {limits.max_series} "
        "series (FORECAST_MAX_SERIES)",
        field=field,
        code="too_many_series",
    )


def too_many_file_rows(limits: Limits, *, panel: bool) -> InvalidInput:
    """The error for a file's row past max_rows: a panel's counts every series' rows."""
    if panel:
        return too_many_rows(limits, "file")
    return InvalidInput(f"more than {limits.max_rows} rows", field="file")


def too_many_rows(limits: Limits, field: str) -> InvalidInput:
    """The error for a row past max_rows, counted over every series."""
    return InvalidInput(
        f"more than {limits.max_rows} rows in all series together; a dataset holds at most "
        f"{limits.max_rows} rows (FORECAST_MAX_DATASET_ROWS)",
        field=field,
        code="too_many_rows",
    )


def canonical_series_id(text: str) -> str:
    """The id `text` names, as it is stored: without surrounding whitespace (spaces, tabs,
    no-break spaces), in Unicode NFC (what a request naming a stored series compares)."""
    return unicodedata.normalize("NFC", text.strip())


def series_id(text: str, limits: Limits, *, where: str, field: str) -> str:
    """canonical_series_id of `text`, checked to be visible text within max_series_id_length
    characters."""
    return check_series_id(canonical_series_id(text), limits, where=where, field=field)


def check_series_id(text: str, limits: Limits, *, where: str, field: str) -> str:
    """A series id must be visible text within max_series_id_length characters."""
    if not text.strip():
        raise InvalidInput(
            f"{where}: the series id is empty", field=field, code="invalid_series_id"
        )
    invisible = invisible_character(text)
    if invisible is not None:
        message = f"{where}: the series id {invisible}"
        raise InvalidInput(message, field=field, code="invalid_series_id")
    if len(text) > limits.max_series_id_length:
        raise InvalidInput(
            f"{where}: the series id is {len(text)} characters; at most "
            f"{limits.max_series_id_length} are allowed (FORECAST_MAX_SERIES_ID_LENGTH)",
            field=field,
            code="series_id_too_long",
        )
    return text


def wide_series_names(names: list[str], limits: Limits) -> list[str]:
    """A wide file's value columns are series: their names, as series ids (series_id)."""
    if len(names) > limits.max_series:
        raise too_many_series(limits, "file")
    ids = [
        series_id(name, limits, where=f"column {index + 1}", field="file")
        for index, name in enumerate(names)
    ]
    if len(set(ids)) < len(ids):
        repeated = next(name for name in ids if ids.count(name) > 1)
        raise InvalidInput(
            f"duplicate column name {repeated!r} (series ids are compared in Unicode NFC)",
            field="file",
        )
    return ids


class SeriesIds:
    """The ids of a long file's rows, checked as they are read, so a file over a limit is
    refused at the row that crosses it rather than after the whole file is read."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._index: dict[str, int] = {}  # by id, in the order of first appearance
        self._cells: dict[str, int] = {}  # by cell as written: each is made an id once
        self.rows = array("q")  # each row's series, as its index in `ids`

    def add(self, cell: str, line: int) -> None:
        """Record the series of the row on `line`."""
        self.rows.append(self._index_of(cell, line))

    def add_column(self, cells: list[str], first_lines: list[int], which: np.ndarray) -> None:
        """Record the series of many rows at once: row i's cell is cells[which[i]]; `cells` are
        distinct, in the order the rows first write them, cells[k] first on first_lines[k]."""
        index = np.array(
            [self._index_of(cell, line) for cell, line in zip(cells, first_lines, strict=True)],
            dtype=np.int64,
        )
        self.rows.frombytes(index[which].tobytes())

    def _index_of(self, cell: str, line: int) -> int:
        index = self._cells.get(cell)
        if index is None:
            key = series_id(cell, self._limits, where=f"line {line}", field="file")
            index = self._index.get(key)
            if index is None:
                if len(self._index) == self._limits.max_series:
                    raise too_many_series(self._limits, "file")
                index = self._index[key] = len(self._index)
            self._cells[cell] = index
        return index

    @property
    def ids(self) -> list[str]:
        """The series ids, in order of first appearance."""
        return list(self._index)


class RawSeries(NamedTuple):
    """One series as read: values [rows, columns] (NaN where a cell was empty), the file line of
    each row, and its times (parse_times' values, with the cells as written) if it has any."""

    id: str
    matrix: np.ndarray
    lines: Sequence[int]
    stamps: np.ndarray | None = None
    texts: Sequence[str] | None = None  # None: shown from the stamps


def split_rows(
    ids: SeriesIds,
    matrix: np.ndarray,
    lines: Sequence[int],
    stamps: np.ndarray | None,
    texts: Sequence[str] | None,
) -> list[RawSeries]:
    """A long file's rows [rows, columns] grouped by series, each in file order."""
    which = np.frombuffer(ids.rows, dtype=np.int64)
    order = np.argsort(which, kind="stable")  # series by series, file order within each
    bounds = np.cumsum(np.bincount(which, minlength=len(ids.ids)))[:-1]
    return [
        _take(series_id, rows, matrix, lines, stamps, texts)
        for series_id, rows in zip(ids.ids, np.split(order, bounds), strict=True)
    ]


def split_columns(
    names: list[str],
    matrix: np.ndarray,
    lines: Sequence[int],
    stamps: np.ndarray | None,
    texts: Sequence[str] | None,
) -> list[RawSeries]:
    """A wide file's value columns [rows, series] as series of one column, in time order (file
    order without times), each trimmed of its leading and trailing empty cells."""
    order = np.arange(len(matrix)) if stamps is None else np.argsort(stamps, kind="stable")
    split: list[RawSeries] = []
    for j, name in enumerate(names):
        present = np.flatnonzero(~np.isnan(matrix[order, j]))
        if not present.size:
            raise InvalidInput(
                f"series {name!r} (column {j + 1}) has no values", field="file", code="empty_series"
            )
        rows = order[present[0] : present[-1] + 1]
        split.append(_take(name, rows, matrix[:, j : j + 1], lines, stamps, texts))
    return split


def _take(
    series_id: str,
    rows: np.ndarray,
    matrix: np.ndarray,
    lines: Sequence[int],
    stamps: np.ndarray | None,
    texts: Sequence[str] | None,
) -> RawSeries:
    # A series whose rows follow one another (a long file sorted by id, as they usually are)
    # is taken as slices: views of the file's arrays, and a range of lines stays a range, so a
    # big file is not copied again series by series.
    at: slice | np.ndarray = rows
    if len(rows) and int(rows[-1]) - int(rows[0]) + 1 == len(rows):
        if len(rows) < 3 or (rows[1:] > rows[:-1]).all():  # rising by one, then
            at = slice(int(rows[0]), int(rows[-1]) + 1)
    return RawSeries(
        series_id,
        matrix[at],
        lines[at] if isinstance(at, slice) else [lines[i] for i in rows],
        None if stamps is None else stamps[at],
        None if texts is None else texts[at] if isinstance(at, slice) else [texts[i] for i in rows],
    )


def arrange_file(
    matrix: np.ndarray,
    columns: list[str],
    lines: Sequence[int],
    times: tuple[TimeKind, np.ndarray] | None,
    texts: Sequence[str] | None,
    *,
    ids: SeriesIds | None,
    wide_names: list[str] | None,
    freq: str | None,
    missing: MissingPolicy,
    limits: Limits,
) -> ParsedSeries:
    """A file's rows, read (CSV or Parquet), as its series: one series; a long file's series by
    `ids`; or a wide file's value columns, series named `wide_names`. `lines` name each row in
    messages, `texts` each row's time as written (None: shown from the times)."""
    if wide_names is None:
        check_columns(columns, "file", limits)
    if ids is None and wide_names is None:
        return _one_series(matrix, columns, lines, times, freq=freq, missing=missing, limits=limits)
    kind, stamps = (None, None) if times is None else times
    texts = texts if times is not None else None
    if ids is not None:
        raw = split_rows(ids, matrix, lines, stamps, texts)
    else:
        assert wide_names is not None
        raw, columns = split_columns(wide_names, matrix, lines, stamps, texts), ["value"]
    return arrange(raw, columns, kind, freq=freq, missing=missing, limits=limits)


def _one_series(
    matrix: np.ndarray,
    columns: list[str],
    lines: Sequence[int],
    times: tuple[TimeKind, np.ndarray] | None,
    *,
    freq: str | None,
    missing: MissingPolicy,
    limits: Limits,
) -> ParsedSeries:
    """Rows on their time axis (or in file order), missing values filled by the policy."""
    if times is None:
        if freq is not None:
            raise InvalidInput("`freq` needs a time column; the file has none", field="freq")
        filled_matrix, filled = fill_missing(matrix, columns, lines, missing)
        return ParsedSeries(filled_matrix, columns, None, filled)
    kind, stamps = times
    regular, axis, filled = regularize(
        kind, stamps, matrix, columns, lines, freq=freq, missing=missing
    )
    if len(regular) > limits.max_rows:
        raise InvalidInput(
            f"{len(regular)} rows once the missing times are inserted; at most {limits.max_rows} "
            "are allowed",
            field="file",
        )
    return ParsedSeries(regular, columns, axis, filled)


def arrange(
    raw: list[RawSeries],
    columns: list[str],
    kind: TimeKind | None,
    *,
    freq: str | None,
    missing: MissingPolicy,
    limits: Limits,
) -> ParsedSeries:
    """Every series on its own time axis (kind None: in file order), missing values filled by
    `missing` within each series; then the panel of them, in order."""
    if kind is None:
        if freq is not None:
            raise InvalidInput("`freq` needs a time column; the file has none", field="freq")
        parts: list[OneSeries] = []
        total = 0  # a wide file's columns may hold more rows than the file
        for series in raw:
            with _about(series.id):
                matrix, filled = fill_missing(series.matrix, columns, series.lines, missing)
            parts.append(OneSeries(series.id, matrix, None, filled))
            total = _counted(total, parts[-1], limits)
        return combine(parts, columns)
    for series in raw:
        _refuse_repeated_times(series)
    return combine(_on_axes(raw, columns, kind, freq=freq, missing=missing, limits=limits), columns)


def _on_axes(
    raw: list[RawSeries],
    columns: list[str],
    kind: TimeKind,
    *,
    freq: str | None,
    missing: MissingPolicy,
    limits: Limits,
) -> list[OneSeries]:
    """Each series regularized at `freq`, or at the frequency it infers; a series with one time
    takes the one the others share. Different inferred frequencies are refused."""
    placed: dict[int, OneSeries] = {}
    total = 0  # rows once the gaps are inserted, counted as each series is placed
    common: OneSeries | None = None  # the first series that inferred a frequency
    for index, series in enumerate(raw):
        if freq is None and len(series.matrix) < 2:
            continue  # takes the common frequency below
        placed[index] = part = _regular(series, columns, kind, freq, missing)
        if freq is None and common is None:
            common = part
        elif freq is None and common is not None:
            _refuse_mixed(common, part)
        total = _counted(total, part, limits)
    if len(placed) < len(raw):
        if common is None or common.time_axis is None:
            raise InvalidInput(
                "every series has one time only: no frequency can be inferred; give freq",
                field="freq",
            )
        for index, series in enumerate(raw):
            if index not in placed:
                placed[index] = part = _regular(
                    series, columns, kind, common.time_axis.freq, missing
                )
                total = _counted(total, part, limits)
    return [placed[index] for index in range(len(raw))]


def _regular(
    series: RawSeries,
    columns: list[str],
    kind: TimeKind,
    freq: str | None,
    missing: MissingPolicy,
) -> OneSeries:
    assert series.stamps is not None  # a timed series
    with _about(series.id):
        values, axis, filled = regularize(
            kind, series.stamps, series.matrix, columns, series.lines, freq=freq, missing=missing
        )
    return OneSeries(series.id, values, axis, filled)


def _refuse_mixed(first: OneSeries, other: OneSeries) -> None:
    first_freq = None if first.time_axis is None else first.time_axis.freq
    other_freq = None if other.time_axis is None else other.time_axis.freq
    if first_freq != other_freq:
        raise InvalidInput(
            f"series {first.id!r} has frequency {first_freq!r} but series {other.id!r} has "
            f"{other_freq!r}; the series of a dataset share one: give freq",
            field="freq",
            code="mixed_frequencies",
        )


def _counted(total: int, part: OneSeries, limits: Limits) -> int:
    """`total` rows plus the part's, refused past max_rows."""
    total += len(part.matrix)
    if total > limits.max_rows:
        raise too_many_rows(limits, "file")
    return total


def _refuse_repeated_times(series: RawSeries) -> None:
    """Each series has one row per time: name the id, the time and both lines of a repeat."""
    assert series.stamps is not None  # a timed series
    if (series.stamps[1:] > series.stamps[:-1]).all():  # in order already: none repeated
        return
    order = np.argsort(series.stamps, kind="stable")
    repeats = np.flatnonzero(series.stamps[order][1:] == series.stamps[order][:-1])
    if repeats.size:
        first, second = int(order[repeats[0]]), int(order[repeats[0] + 1])
        shown = series.texts[first].strip() if series.texts is not None else series.stamps[first]
        raise InvalidInput(
            f"series {series.id!r}: time {str(shown)!r} is on line "
            f"{series.lines[first]} and line {series.lines[second]}; a series has one row "
            "per time",
            field="file",
            code="duplicate_time",
        )


@contextmanager
def _about(series_id: str) -> Iterator[None]:
    """Errors about one series' rows start with its id."""
    try:
        yield
    except InvalidInput as exc:
        message = f"series {series_id!r}: {exc.message}"
        raise InvalidInput(message, field=exc.field, code=exc.code) from None
