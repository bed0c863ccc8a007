"""Many series as JSON: `{"series": [{"id", "values", "start"?, "freq"?}, ...], "columns"?}`.

Every series has a time axis or none has: a dataset's series are modelled together, so half of
them on a calendar and half in bare row order would leave the other half without one.
"""

from __future__ import annotations

from app.core.errors import InvalidInput
from app.datasets.panel import series_id, too_many_rows, too_many_series
from app.datasets.parsed import OneSeries, ParsedSeries, combine
from app.datasets.schemas import DatasetUpload, SeriesUpload
from app.datasets.time_axis import TimeAxis, axis_from
from app.datasets.values import Limits, to_matrix


def parse_series(upload: DatasetUpload, *, limits: Limits) -> ParsedSeries:
    """The panel of `upload.series`, each checked in turn and the limits counted as they go."""
    assert upload.series is not None
    for name in ("values", "start", "freq"):
        if getattr(upload, name) is not None:
            raise InvalidInput(
                f"give `{name}` or `series`, not both (each series has its own)", field=name
            )
    if not upload.series:
        raise InvalidInput("no series", field="series", code="empty_series")
    if len(upload.series) > limits.max_series:
        raise too_many_series(limits, "series")
    timed = upload.series[0].start is not None or upload.series[0].freq is not None
    parts: list[OneSeries] = []
    first_index: dict[str, int] = {}
    columns: list[str] | None = None
    total = 0
    for index, one in enumerate(upload.series):
        field = f"series[{index}]"
        one_id = _unique_id(one, index, first_index, limits)
        if not one.values:
            message = f"series {one_id!r} has no rows"
            raise InvalidInput(message, field=f"{field}.values", code="empty_series")
        total += len(one.values)
        if total > limits.max_rows:
            raise too_many_rows(limits, "series")
        matrix, names = to_matrix(
            one.values, upload.columns, field=f"{field}.values", limits=limits
        )
        if columns is not None and names != columns:
            raise InvalidInput(
                f"series {one_id!r} has {len(names)} columns; series[0] has {len(columns)}",
                field=f"{field}.values",
            )
        columns = names
        axis = _axis(one, one_id, index, timed, len(matrix))
        if parts and axis is not None:
            _refuse_mixed(parts[0], one_id, axis, field)
        parts.append(OneSeries(one_id, matrix, axis, {}))
    assert columns is not None  # at least one series
    return combine(parts, columns)


def _unique_id(one: SeriesUpload, index: int, first_index: dict[str, int], limits: Limits) -> str:
    """The series' id (panel.series_id), unless an earlier series has it."""
    field = f"series[{index}]"
    one_id = series_id(one.id, limits, where=field, field=f"{field}.id")
    if one_id in first_index:
        raise InvalidInput(
            f"{field}: the id {one_id!r} is series[{first_index[one_id]}]'s too (ids are "
            "compared without surrounding spaces, in Unicode NFC); ids are unique",
            field=f"{field}.id",
            code="duplicate_series_id",
        )
    first_index[one_id] = index
    return one_id


def _axis(one: SeriesUpload, one_id: str, index: int, timed: bool, length: int) -> TimeAxis | None:
    field = f"series[{index}]"
    if (one.start is None) != (one.freq is None):
        name = "freq" if one.start is not None else "start"
        raise InvalidInput("give `start` and `freq` together, or neither", field=f"{field}.{name}")
    if (one.start is not None) != timed:
        raise InvalidInput(
            f"series {one_id!r} {'has no' if timed else 'has a'} time axis, unlike series[0]: "
            "every series has `start` and `freq`, or none has",
            field=f"{field}.start",
        )
    if one.start is None or one.freq is None:
        return None
    try:
        return axis_from(one.start, one.freq, length)
    except InvalidInput as exc:
        message = f"series {one_id!r}: {exc.message}"
        raise InvalidInput(message, field=f"{field}.{exc.field}", code=exc.code) from None


def _refuse_mixed(first: OneSeries, series_id: str, axis: TimeAxis, field: str) -> None:
    assert first.time_axis is not None  # every series is timed when this one is
    if axis.freq != first.time_axis.freq or axis.kind != first.time_axis.kind:
        raise InvalidInput(
            f"series {first.id!r} has frequency {first.time_axis.freq!r} but series "
            f"{series_id!r} has {axis.freq!r}; the series of a dataset share one",
            field=f"{field}.freq",
            code="mixed_frequencies",
        )
