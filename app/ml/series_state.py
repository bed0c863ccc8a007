"""A checkpoint's per-series state as arrays: `series.safetensors`, beside `meta.json`.

What continues each series (its scaler, last rows, kept past, seasons, drift) grows with the
series: 10,000 of them made `meta.json` 20 MB of text, parsed whole to show one version. Here
they are arrays [series, ...] in one safetensors file (no pickle), with the ids, time axes and
scaler kinds as JSON in its header. A series without a past, a drift or seasons has a zero row
count, a zero flag.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from app.ml.checkpoint_meta import SeriesMeta
from app.ml.data import Scaler
from app.ml.season import Seasonality

SERIES_FILE = "series.safetensors"


def to_bytes(series: list[SeriesMeta]) -> bytes:
    """The file's bytes for `series` (all with the same columns and tail length)."""
    columns = len(series[0].scaler.center)
    pasts = [entry.past if entry.past is not None else np.zeros((0, columns)) for entry in series]
    seasonal = [entry.seasonal for entry in series]
    season = next((len(found.indices) for found in seasonal if found is not None), 0)
    arrays: dict[str, np.ndarray] = {
        "center": np.array([entry.scaler.center for entry in series], dtype=np.float64),
        "scale": np.array([entry.scaler.scale for entry in series], dtype=np.float64),
        "tail": np.stack([entry.tail for entry in series]).astype(np.float64),
        "past": np.concatenate(pasts).astype(np.float64).reshape(-1, columns),
        "past_rows": np.array([len(past) for past in pasts], dtype=np.int64),
        "drift": np.array(
            [np.zeros(columns) if entry.drift is None else entry.drift for entry in series],
            dtype=np.float64,
        ),
        "has_drift": np.array([entry.drift is not None for entry in series], dtype=np.uint8),
        "seasonal": np.array(
            [np.ones((season, columns)) if found is None else found.indices for found in seasonal],
            dtype=np.float64,
        ).reshape(len(series), season, columns),
        "has_seasonal": np.array([found is not None for found in seasonal], dtype=np.uint8),
    }
    # One metadata entry: safetensors writes several in no fixed order, and a checkpoint's
    # bytes should not change when it is written again.
    header = {
        "ids": [entry.id for entry in series],
        "time_axes": [entry.time_axis for entry in series],
        "scalers": [entry.scaler.kind for entry in series],
    }
    return bytes(save_arrays(arrays, metadata={"series": json.dumps(header)}))


def from_bytes(data: bytes, count: int, lookback: int, columns: int) -> list[SeriesMeta]:
    """The `count` series of a file's bytes, checked; raises KeyError, TypeError or
    ValueError."""
    arrays = load_arrays(data)
    header = json.loads(_header(data)["series"])
    ids, axes, kinds = (header[key] for key in ("ids", "time_axes", "scalers"))
    if not len(ids) == len(axes) == len(kinds) == count:
        raise ValueError(f"{SERIES_FILE} does not hold {count} series")
    tail = arrays["tail"].reshape(count, lookback, columns)
    center, scale = (
        arrays["center"].reshape(count, columns),
        arrays["scale"].reshape(count, columns),
    )
    rows = arrays["past_rows"].reshape(count)
    past = arrays["past"].reshape(-1, columns)
    if (rows < 0).any() or rows.sum() != len(past):
        raise ValueError(f"{SERIES_FILE}'s past rows do not add up")
    starts = np.concatenate([[0], np.cumsum(rows)])
    drift, has_drift = arrays["drift"].reshape(count, columns), arrays["has_drift"].reshape(count)
    seasonal, has_seasonal = arrays["seasonal"], arrays["has_seasonal"].reshape(count)
    return [
        SeriesMeta(
            None if ids[n] is None else str(ids[n]),
            Scaler.from_dict(
                {"kind": kinds[n], "center": center[n].tolist(), "scale": scale[n].tolist()}
            ),
            tail[n],
            Seasonality.from_json(seasonal[n], columns) if has_seasonal[n] else None,
            _axis(axes[n]),
            past[starts[n] : starts[n + 1]] if rows[n] else None,
            drift[n] if has_drift[n] else None,
        )  # fmt: skip
        for n in range(count)
    ]


def _header(data: bytes) -> dict[str, str]:
    """The safetensors header's metadata: its first 8 bytes give the header's length."""
    length = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8 : 8 + length]).get("__metadata__")
    if not isinstance(metadata, dict):
        raise ValueError(f"{SERIES_FILE} has no series header")
    return metadata


def _axis(stored: Any) -> dict[str, Any] | None:
    if stored is not None and not isinstance(stored, dict):
        raise TypeError("a series' time axis must be an object")
    return stored
