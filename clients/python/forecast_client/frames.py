"""pandas in and out: what to upload for a DataFrame, Series, array or file, and a forecast
response as a DataFrame indexed by time (and series id) with interval columns, and the history
answered with it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

ID_COLUMN = "unique_id"  # what the service finds by itself (also id, series, item_id)
TIME_COLUMN = "time"

Uploadable: TypeAlias = (
    pd.DataFrame | pd.Series | Mapping[str, pd.Series] | np.ndarray | Sequence[float]
)


@dataclass
class Upload:
    """A multipart upload: the CSV's bytes and the form fields that say how to read them."""

    filename: str
    content: bytes
    form: dict[str, str] = field(default_factory=dict)


def _panel(series: Mapping[str, pd.Series]) -> pd.DataFrame:
    """{id: series} -> a long frame: unique_id, time, then the values."""
    parts = []
    for key, values in series.items():
        part = values.rename(values.name or "value").to_frame()
        part.index.name = TIME_COLUMN
        parts.append(part.reset_index().assign(**{ID_COLUMN: str(key)}))
    frame = pd.concat(parts, ignore_index=True)
    return frame[[ID_COLUMN, *(c for c in frame.columns if c != ID_COLUMN)]]


def _as_frame(data: Uploadable) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.rename(data.name or "value").to_frame()
    if isinstance(data, Mapping):
        return _panel(data)
    values = np.asarray(data, dtype=float)
    if values.ndim == 1:
        return pd.DataFrame({"value": values})
    if values.ndim == 2:
        return pd.DataFrame(values, columns=[f"value_{i}" for i in range(values.shape[1])])
    raise ValueError(f"an array to upload has 1 or 2 dimensions, not {values.ndim}")


def upload_of(data: Uploadable | str | Path, **form: str | None) -> Upload:
    """What to send for `data`: a CSV file as it is; anything else written as CSV, with its
    index as the time column when it holds dates or periods or has a name."""
    fields = {key: value for key, value in form.items() if value is not None}
    if isinstance(data, str | Path):
        path = Path(data)
        return Upload(path.name, path.read_bytes(), fields)
    frame = _as_frame(data)
    index = frame.index
    keep_index = bool(index.name) or isinstance(index, pd.DatetimeIndex | pd.PeriodIndex)
    if keep_index and frame.index.name and "time_column" not in fields:
        fields["time_column"] = str(frame.index.name)
    if isinstance(data, Mapping) and "id_column" not in fields:
        fields["id_column"] = ID_COLUMN  # the column `_panel` wrote (a frame's, the service finds)
    content = frame.to_csv(index=keep_index).encode()
    return Upload("data.csv", content, fields)


def _index(labels: Sequence[str] | None, horizon: int, first_step: int = 1) -> pd.Index:
    """Timestamps as datetimes (or numbers, for a numeric time index); without them, steps
    numbered from `first_step`."""
    if labels is None:
        return pd.RangeIndex(first_step, first_step + horizon, name="step")
    try:
        return pd.DatetimeIndex(pd.to_datetime(list(labels), format="ISO8601"), name="time")
    except (ValueError, TypeError):
        numbers = pd.to_numeric(pd.Series(labels), errors="coerce")
        if numbers.notna().all():
            return pd.Index(numbers.to_numpy(), name="time")
        return pd.Index(list(labels), name="time")


def _frame(
    rows: list[list[float]], columns: list[str], intervals: list[dict[str, Any]], index: pd.Index
) -> pd.DataFrame:
    """[horizon][columns] plus each level's bounds as `<column>_lo_<level>`, `_hi_`."""
    frame = pd.DataFrame(rows, columns=columns, index=index)
    for interval in intervals:
        level = interval["level"]
        lower = np.asarray(interval["lower"], dtype=float)  # [horizon, columns]
        upper = np.asarray(interval["upper"], dtype=float)
        for position, column in enumerate(columns):
            frame[f"{column}_lo_{level}"] = lower[:, position]
            frame[f"{column}_hi_{level}"] = upper[:, position]
    return frame


def forecast_frame(response: dict[str, Any]) -> pd.DataFrame:
    """A forecast response as a DataFrame: indexed by time (or step), or by (series, time) for
    a many-series model; `attrs` keep the model, version, columns and levels."""
    columns, horizon = list(response["columns"]), int(response["horizon"])
    if response.get("series"):
        parts = {
            item["id"]: _frame(
                item["forecast"],
                columns,
                item.get("intervals") or [],
                _index(item.get("timestamps"), horizon),
            )
            for item in response["series"]
        }
        frame = pd.concat(parts, names=["series"])
    elif response.get("forecasts") is not None:  # several contexts: numbered 0..n-1
        intervals = response.get("intervals") or []  # bounds [contexts][horizon][columns]
        parts_by_context = {
            number: _frame(
                rows,
                columns,
                [
                    {**i, "lower": i["lower"][number], "upper": i["upper"][number]}
                    for i in intervals
                ],
                _index(None, horizon),
            )
            for number, rows in enumerate(response["forecasts"])
        }
        frame = pd.concat(parts_by_context, names=["context"])
    else:
        index = _index(response.get("timestamps"), horizon)
        frame = _frame(response["forecast"], columns, response.get("intervals") or [], index)
    frame.attrs = {
        "model": response["model"],
        "version": response["version"],
        "columns": columns,
        "levels": sorted({i["level"] for i in _all_intervals(response)}),
        "history": _histories(response),
    }
    return frame


def _histories(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The history answered beside the forecast (`history_rows`), per series, as plain lists:
    `attrs` are copied and compared by pandas, which a DataFrame in them would break."""
    items = response.get("series") or [response]
    return [
        {"id": item.get("id"), "rows": item["history"], "timestamps": item["history_timestamps"]}
        for item in items
        if item.get("history") is not None
    ]


def history_frame(forecast: pd.DataFrame) -> pd.DataFrame | None:
    """The rows before the forecast that it was answered with (`Client.forecast(...,
    history_rows=N)`), indexed as the forecast is: by time, by (series, time), or by step with
    0 the last known row (the forecast's steps 1..h continue it); None when it has none."""
    parts = forecast.attrs.get("history") or []
    if not parts:
        return None
    columns = forecast.attrs["columns"]
    frames = {
        part["id"]: pd.DataFrame(
            part["rows"],
            columns=columns,
            index=_index(part["timestamps"], len(part["rows"]), first_step=1 - len(part["rows"])),
        )
        for part in parts
    }
    if isinstance(forecast.index, pd.MultiIndex):
        return pd.concat(frames, names=["series"])
    return next(iter(frames.values()))


def _all_intervals(response: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(response.get("intervals") or [])
    for item in response.get("series") or []:
        found += item.get("intervals") or []
    return found
