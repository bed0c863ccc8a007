"""A forecast's API answer: the values, each interval level with how far it is calibrated, the
timestamps and history of the series continued, the warnings its job recorded of the model and
of each series, and its JSON (or NDJSON, a series a line) written straight from the arrays."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel

from app.datasets import TimeAxis, from_storage
from app.ml import serving
from app.ml.checkpoints import Checkpoint
from app.ml.guards import series_warnings
from app.ml.intervals import BandMark, band_mark
from app.ml.serving import Bounds, ForecastPlan
from app.registry.schemas import ForecastRequest, ForecastResponse, IntervalRead, SeriesForecast


def answer(
    name: str,
    version: int,
    checkpoint: Checkpoint,
    request: ForecastRequest,
    plan: ForecastPlan,
    found: serving.Forecast,
) -> ForecastResponse:
    """The answer: per series for a model of named series continued, else per context."""
    widths = checkpoint.interval_widths
    calibrated = None if widths is None else widths.shape[1]
    metrics = checkpoint.meta.metrics or {}
    response = ForecastResponse(
        model=name,
        version=version,
        columns=checkpoint.targets,
        horizon=request.horizon,
        device=str(checkpoint.device),
        rollout_mode=checkpoint.rollout_mode,
        interval_calibrated_steps=calibrated,
        interval_residuals=found.residuals,
        warnings=[str(warning) for warning in metrics.get("warnings") or []],
    )
    tested = (metrics.get("intervals") or {}).get("coverage") or {}
    marks = {
        level: band_mark(
            level, found.residuals, request.horizon, calibrated or 0, tested.get(str(level))
        )
        for level in found.bounds
    }
    if plan.continues is not None and checkpoint.series_ids is not None:
        response.series = _per_series(checkpoint, plan.continues, found, request, marks)
    elif request.contexts is not None:
        response.forecasts = found.values
        response.intervals = _interval_reads(found.bounds, marks)
    else:
        response.forecast = found.values[0]
        response.intervals = _interval_reads(found.bounds, marks, 0)
        if plan.continues is not None:  # the one unnamed series continued
            response.timestamps = _continued(checkpoint, 0, request.horizon)
            response.combined_with = serving.combined_with(checkpoint, 0)
            return response.model_copy(update=_history(checkpoint, 0, request.history_rows))
    return response


NDJSON = "application/x-ndjson"
# Lines are sent in chunks of about this size: the server hands each chunk over from a worker
# thread, and a thread hop per line of a 10,000-series answer cost seconds.
CHUNK_BYTES = 64 * 1024
_ARRAYS = orjson.OPT_SERIALIZE_NUMPY  # numpy arrays written as JSON arrays


def forecast_lines(response: ForecastResponse) -> Iterator[bytes]:
    """The answer as newline-delimited JSON, for a client that asks for it: a first line with
    everything but the per-series forecasts, then one line per series (the answer of contexts
    or of one series: the one line). A panel's answer is written a series at a time, never as
    one document."""
    if response.series is None:
        yield forecast_json(response) + b"\n"
        return
    yield forecast_json(response.model_copy(update={"series": None})) + b"\n"
    lines: list[bytes] = []
    size = 0
    for item in response.series:
        lines.append(orjson.dumps(item, default=_plain, option=_ARRAYS | orjson.OPT_APPEND_NEWLINE))
        size += len(lines[-1])
        if size >= CHUNK_BYTES:
            yield b"".join(lines)
            lines, size = [], 0
    if lines:
        yield b"".join(lines)


def forecast_json(response: ForecastResponse) -> bytes:
    """The answer's JSON, its numbers written by orjson straight from their arrays: a 256 x
    1,000 forecast took 61 ms as nested lists through pydantic's writer and 19 ms so."""
    return orjson.dumps(response, default=_plain, option=_ARRAYS)


def _plain(value: object) -> object:
    """What orjson cannot write itself: a response model as its fields (in order, as pydantic
    writes them), an array that is not C-contiguous as a contiguous copy."""
    if isinstance(value, BaseModel):
        return dict(value)
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _interval_reads(
    bounds: Bounds, marks: dict[int, BandMark], at: int | None = None
) -> list[IntervalRead]:
    """The bounds' API view, each level with its mark: of context `at`, or of every context
    (None)."""
    return [
        IntervalRead(
            level=level,
            lower=lower if at is None else lower[at],
            upper=upper if at is None else upper[at],
            **marks[level]._asdict(),
        )
        for level, (lower, upper) in bounds.items()
    ]


def _per_series(
    checkpoint: Checkpoint,
    numbers: list[int],
    found: serving.Forecast,
    request: ForecastRequest,
    marks: dict[int, BandMark],
) -> list[SeriesForecast]:
    """Each continued series' forecast, timestamps (its own axis continued), intervals,
    warnings and, when asked, history."""
    ids = list(checkpoint.series_positions)  # of a model of named series
    return [
        SeriesForecast(
            id=ids[number],
            forecast=found.values[at],
            timestamps=_continued(checkpoint, number, request.horizon),
            intervals=_interval_reads(found.bounds, marks, at),
            combined_with=serving.combined_with(checkpoint, number),
            warnings=_series_warnings(checkpoint, number, ids[number]),
            **_history(checkpoint, number, request.history_rows),
        )
        for at, number in enumerate(numbers)
    ]


def _series_warnings(checkpoint: Checkpoint, number: int, series_id: str) -> list[str]:
    """Training series `number`'s warnings, read from its line of the job's metrics (none for a
    model measured before series were compared with the simple forecasts, or not measured on
    this series: a job out of time measures fewer)."""
    metrics = checkpoint.meta.metrics or {}
    rows = metrics.get("series")
    if not isinstance(rows, list) or number >= len(rows):
        return []
    row = rows[number]
    if not isinstance(row, dict) or row.get("id") != series_id:
        return []
    return series_warnings(row.get("guards"), int(metrics.get("season_length") or 1))


def _history(checkpoint: Checkpoint, number: int, rows: int) -> dict[str, object]:
    """The answer's `history` of training series `number` (its last `rows` rows as kept, target
    columns [<= rows, O]) and `history_timestamps` (None: no axis); nothing when 0 are asked."""
    if not rows:
        return {}
    history = checkpoint.meta.series[number].history(rows)[:, list(checkpoint.meta.roles.targets)]
    axis = _axis(checkpoint, number)
    times = None if axis is None or axis.length < len(history) else axis.last(len(history))
    return {"history": history, "history_timestamps": times}


def _continued(checkpoint: Checkpoint, number: int, steps: int) -> list[str] | None:
    """The next `steps` times of training series `number`'s axis (None: it had none, or one
    written before its frequency was checked that no time can follow)."""
    stored = checkpoint.meta.series[number].time_axis
    if stored is None:
        return None
    found = _continuation(*(stored.get(key) for key in ("kind", "start", "freq", "length")), steps)
    return None if found is None else list(found)


@lru_cache(maxsize=1024)
def _continuation(
    kind: Any, start: Any, freq: Any, length: Any, steps: int
) -> tuple[str, ...] | None:
    """The next `steps` times of a stored axis, found once for the series of a panel that share
    their axis (10,000 series on one calendar took 1.6 s to continue one by one)."""
    try:
        axis = from_storage({"kind": kind, "start": start, "freq": freq, "length": length})
    except ValueError:
        return None
    return tuple(axis.continued(steps))


def _axis(checkpoint: Checkpoint, number: int) -> TimeAxis | None:
    """Training series `number`'s time axis (None: it had none, or one no rule reads now)."""
    stored = checkpoint.meta.series[number].time_axis
    if stored is None:
        return None
    try:
        return from_storage(stored)
    except ValueError:
        return None
