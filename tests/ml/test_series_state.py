"""series.safetensors: every series' state as arrays, read back exactly, ragged pasts, missing
drifts and seasons included; refused when it does not hold what meta.json says."""

from __future__ import annotations

import numpy as np
import pytest

from app.ml import series_state
from app.ml.checkpoint_meta import SeriesMeta
from app.ml.data import Scaler
from app.ml.season import Seasonality


def panel(count: int, lookback: int = 4, columns: int = 2) -> list[SeriesMeta]:
    rng = np.random.default_rng(5)
    series = []
    for n in range(count):
        past_rows = int(rng.integers(0, 7))
        series.append(
            SeriesMeta(
                f"s-{n}",
                Scaler(
                    "standard", tuple(rng.normal(size=columns)), tuple(rng.uniform(1, 2, columns))
                ),
                rng.normal(size=(lookback, columns)) / 7,
                Seasonality(rng.uniform(0.5, 1.5, (3, columns))) if n % 3 == 0 else None,
                {
                    "kind": "dates",
                    "start": f"20{n % 90:02d}-01-01T00:00:00",
                    "freq": "MS",
                    "length": 40 + n,
                }
                if n % 2
                else None,
                rng.normal(size=(past_rows, columns)) if past_rows else None,
                rng.normal(size=columns) if n % 4 == 1 else None,
            )  # fmt: skip
        )
    return series


def test_many_series_read_back_exactly() -> None:
    series = panel(50)
    read = series_state.from_bytes(series_state.to_bytes(series), 50, 4, 2)
    assert [entry.to_json() for entry in read] == [entry.to_json() for entry in series]
    for before, after in zip(series, read, strict=True):
        assert after.tail.tobytes() == before.tail.tobytes()


def test_the_same_series_write_the_same_bytes() -> None:
    assert series_state.to_bytes(panel(20)) == series_state.to_bytes(panel(20))


def test_a_file_that_does_not_hold_what_meta_json_says_is_refused() -> None:
    data = series_state.to_bytes(panel(6))
    with pytest.raises(ValueError, match="does not hold 7 series"):
        series_state.from_bytes(data, 7, 4, 2)
    with pytest.raises(ValueError, match="cannot reshape"):
        series_state.from_bytes(data, 6, 5, 2)  # another lookback
