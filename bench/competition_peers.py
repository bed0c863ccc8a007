"""The peers a competition benchmark measures beside the service: statsforecast's AutoETS and
AutoTheta, seasonal naive, and Naive2, each on the same training parts and forecasting the same
horizon.

Naive2 is the M3 and M4 competitions' benchmark: the naive forecast of the seasonally adjusted
series, re-seasonalised. A series is adjusted only when its autocorrelation at the seasonal lag
passes a 90% test; the seasonal indices come from a classical multiplicative decomposition
(centred moving average, 2×m for an even period m). Yearly and other series (period 1) are never
adjusted, so there Naive2 is the naive forecast. Written after the M4 competition's reference
code (`seasonality_test`, `deseasonalize`), except that the 2×m average is chosen by the period's
parity, where that code looks at the series length's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from bench.competition_data import FloatArray, Series, seasonal_naive

Forecasts = dict[str, FloatArray]


def acf(values: FloatArray, lag: int) -> float:
    """The sample autocorrelation of `values` at `lag` (mean removed, biased denominator)."""
    centred = values - values.mean()
    denominator = float(np.sum(centred**2))
    if denominator == 0.0:
        return 0.0
    return float(np.sum(centred[lag:] * centred[:-lag])) / denominator


def is_seasonal(values: FloatArray, season: int) -> bool:
    """The 90% test of the M4 code: |acf(season)| above 1.645·√((1 + 2·Σ acf(k)², k < season)/n)."""
    if season <= 1 or values.size <= season:
        return False
    spread = 1 + 2 * sum(acf(values, lag) ** 2 for lag in range(1, season))
    return abs(acf(values, season)) > 1.645 * float(np.sqrt(spread / values.size))


def seasonal_indices(values: FloatArray, season: int) -> FloatArray:
    """The `season` multiplicative indices (mean 1) of a classical decomposition: each the mean
    ratio of the series to its centred moving average at that position of the period."""
    if season % 2:
        weights = np.full(season, 1.0 / season)  # [m]
    else:
        weights = np.r_[0.5, np.ones(season - 1), 0.5] / season  # [m + 1]: the 2×m average
    trend = np.full(values.size, np.nan)
    half = season // 2
    trend[half : values.size - half] = np.convolve(values, weights, mode="valid")
    ratios = values / trend  # NaN where the average does not reach
    positions = np.arange(values.size) % season
    indices = np.array([np.nanmean(ratios[positions == p]) for p in range(season)])
    return np.asarray(indices / indices.mean(), dtype=np.float64)


def naive2(train: FloatArray, horizon: int, season: int) -> FloatArray:
    """The last seasonally adjusted value, carried forward and re-seasonalised."""
    values = np.asarray(train, dtype=np.float64)
    if not is_seasonal(values, season):
        return np.full(horizon, values[-1])
    indices = seasonal_indices(values, season)
    last_adjusted = values[-1] / indices[(values.size - 1) % season]
    return np.asarray(last_adjusted * indices[(values.size + np.arange(horizon)) % season])


def timed_each(
    panel: list[Series], method: Callable[[Series], FloatArray]
) -> tuple[Forecasts, float]:
    """`method`'s forecast of every series, and the seconds they took together."""
    began = time.perf_counter()
    found = {series.id: method(series) for series in panel}
    return found, time.perf_counter() - began


def simple_peers(panel: list[Series]) -> dict[str, tuple[Forecasts, float]]:
    """Seasonal naive and Naive2 forecasts of every series, each with its seconds."""
    return {
        "Seasonal naive": timed_each(panel, lambda s: seasonal_naive(s.train, s.horizon, s.season)),
        "Naive2": timed_each(panel, lambda s: naive2(s.train, s.horizon, s.season)),
    }


def _frame(panel: list[Series]) -> pd.DataFrame:
    """The training parts as statsforecast's long frame; `ds` counts periods from 1."""
    return pd.concat(
        pd.DataFrame({"unique_id": s.id, "ds": np.arange(1, s.train.size + 1), "y": s.train})
        for s in panel
    )


def compile_statsforecast() -> float:
    """Fit both models once on a toy series so that numba's compilation is not timed with a
    group; the seconds it took."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    toy = 10 + np.sin(np.arange(40) * np.pi / 2) + np.arange(40) * 0.1
    frame = pd.DataFrame({"unique_id": "toy", "ds": np.arange(1, 41), "y": toy})
    began = time.perf_counter()
    StatsForecast(models=[AutoETS(season_length=4), AutoTheta(season_length=4)], freq=1).forecast(
        df=frame, h=4
    )
    return time.perf_counter() - began


def statsforecast_peers(panel: list[Series]) -> dict[str, tuple[Forecasts, float]]:
    """AutoETS and AutoTheta (season length = the group's period), each fitted and forecast on
    one core over the whole group, with its seconds."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    frame, horizon, season = _frame(panel), panel[0].horizon, panel[0].season
    found = {}
    for model in (AutoETS(season_length=season), AutoTheta(season_length=season)):
        began = time.perf_counter()
        answer = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=frame, h=horizon)
        seconds = time.perf_counter() - began
        column = str(model)
        forecasts = {
            str(series_id): rows[column].to_numpy(dtype=np.float64)
            for series_id, rows in answer.groupby("unique_id", sort=False)
        }
        found[column] = (forecasts, seconds)
    return found
