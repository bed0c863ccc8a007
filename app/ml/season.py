"""Seasons: their length, their test, and the classical multiplicative adjustment.

A series with a date index gets its season from its frequency (monthly: 12); a numeric index
says nothing, so the season is the lag at which the series, differenced once to remove a
trend, is most like itself: the highest peak of the autocorrelation averaged over the series,
past its first dip below zero, if it stands clear of noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.ml.data import Scaling

# A mean autocorrelation under this is a weak echo, not a season (M3's pooled monthly series
# peak at 0.20 at lag 12, its quarterly at 0.26 at lag 4; yearly and other stay under 0.06).
MIN_SEASONAL_ACF = 0.1
# It must also stand out of noise: the autocorrelation of noise has sd 1/sqrt(n), and the
# highest of a few hundred lags of noise reaches about 3 of them: 4 leaves a margin.
NOISE_SDS = 4.0
MAX_SEASON = 400  # longest season looked for (lags beyond it cost more than they find)


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """[max_lag + 1] autocorrelation of a 1-D series at lags 0..max_lag (0 for a flat one)."""
    centred = values - values.mean()
    power = float(centred @ centred)
    if power <= 0:
        return np.zeros(max_lag + 1)
    return np.array(
        [float(centred[: len(centred) - lag] @ centred[lag:]) / power for lag in range(max_lag + 1)]
    )


def detect_season(series: Sequence[np.ndarray]) -> int:
    """The season length of 1-D `series` (one or many, of any lengths): the highest peak, at a
    lag in 2..MAX_SEASON, of their mean autocorrelation after one difference, if it is at least
    MIN_SEASONAL_ACF and clear of noise; 1 when there is none. A lag is looked for only in
    series at least three times as long."""
    longest = max(len(values) for values in series)
    max_lag = min(MAX_SEASON, (longest - 1) // 3)
    if max_lag < 2:
        return 1
    total, count = np.zeros(max_lag + 1), np.zeros(max_lag + 1)
    for values in series:
        changes = np.diff(np.asarray(values, dtype=np.float64))
        lags = min(max_lag, (len(values) - 1) // 3)
        if lags < 2:
            continue
        total[: lags + 1] += autocorrelation(changes, lags)
        count[: lags + 1] += 1
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    # A season's peak comes after the autocorrelation has dipped below zero past lag 1 (where
    # differenced noise is always negative): a smooth series' slow decay has early bumps that
    # are not seasons.
    negative = np.flatnonzero(mean[2:] < 0)
    first = 0 if not len(negative) else int(negative[0]) + 3
    peaks = [
        lag
        for lag in range(first, max_lag + 1)
        if len(negative)
        and mean[lag] >= mean[lag - 1]
        and (lag == max_lag or mean[lag] >= mean[lag + 1])
    ]
    best = max(peaks, key=lambda lag: mean[lag], default=None)
    noise = NOISE_SDS / np.sqrt(sum(len(values) for values in series))
    return 1 if best is None or mean[best] < max(MIN_SEASONAL_ACF, noise) else int(best)


# The M4 benchmarks' seasonality test: the autocorrelation at the season's lag must clear its
# 90% band (one-sided z 1.645 against Bartlett's standard error of the lags before it).
SEASONALITY_Z = 1.645


def is_seasonal(values: np.ndarray, season: int) -> bool:
    """Whether 1-D `values` pass the seasonality test at lag `season`: a season of 2 or more,
    at least three seasons of rows, and an autocorrelation at that lag clear of its 90% band."""
    if season < 2 or len(values) < 3 * season:
        return False
    acf = autocorrelation(np.asarray(values, dtype=np.float64), season)
    band = SEASONALITY_Z * np.sqrt((1 + 2 * float(acf[1:season] @ acf[1:season])) / len(values))
    return bool(acf[season] > band)


def seasonal_indices(values: np.ndarray, season: int) -> np.ndarray | None:
    """The classical multiplicative decomposition's seasonal indices of 1-D `values` [season],
    index p belonging to rows p, p + season, ...: each row over its centred moving average
    (2 x season for an even season), averaged by phase and normalised to a mean of 1. None when
    the series fails the seasonality test or has a value that is not positive (a ratio to a
    level needs a positive level)."""
    values = np.asarray(values, dtype=np.float64)
    if not is_seasonal(values, season) or values.min() <= 0:
        return None
    if season % 2:
        trend = np.convolve(values, np.full(season, 1 / season), mode="valid")
    else:  # a 2 x m moving average: centred on a row, not between two
        weights = np.r_[0.5, np.ones(season - 1), 0.5] / season
        trend = np.convolve(values, weights, mode="valid")
    first = season // 2  # the row the first centred average belongs to
    ratios = values[first : first + len(trend)] / trend
    phases = (np.arange(len(ratios)) + first) % season
    indices = np.array([ratios[phases == phase].mean() for phase in range(season)])
    return np.asarray(indices / indices.mean())


def seasonal_factors(indices: np.ndarray, first_phase: int, rows: int) -> np.ndarray:
    """[rows, ...] the indices repeated from phase `first_phase` on: what rows divide by to be
    seasonally adjusted, and what adjusted forecasts multiply by."""
    season = len(indices)
    return np.asarray(indices[(first_phase + np.arange(rows)) % season])


@dataclass(frozen=True, eq=False)
class Seasonality:
    """A series' seasonal indices, column by column, with rows numbered from its first: row r
    of a column divides by `indices[r % season]` to be seasonally adjusted. A column that
    failed the seasonality test has indices of 1."""

    indices: np.ndarray = field(repr=False)  # [season, C]

    @classmethod
    def fit(cls, rows: np.ndarray, season: int) -> Seasonality | None:
        """The indices of `rows` [N, C] (a series' first rows: its training part); None when
        no column passes the seasonality test (see `seasonal_indices`)."""
        found = [seasonal_indices(rows[:, column], season) for column in range(rows.shape[1])]
        if all(indices is None for indices in found):
            return None
        ones = np.ones(season)
        return cls(np.stack([ones if indices is None else indices for indices in found], 1))

    def factors(self, first: int, rows: int) -> np.ndarray:
        """[rows, C] the divisors of rows first, first + 1, ... of the series (negative rows
        count back from row 0)."""
        return seasonal_factors(self.indices, first % len(self.indices), rows)

    def rephased(self, first_row: int) -> Seasonality:
        """The same seasons with rows numbered from `first_row`: continuing a series of n rows
        from `rephased(n)`, its forecast is rows 0, 1, ... and its tail rows -1, -2, ..."""
        return Seasonality(np.roll(self.indices, -(first_row % len(self.indices)), axis=0))

    def to_json(self) -> list[list[float]]:
        """The indices as nested lists, [season][C]."""
        return [list(map(float, row)) for row in self.indices]

    @classmethod
    def from_json(cls, data: Any, columns: int) -> Seasonality:
        """Inverse of `to_json`, checked; raises TypeError or ValueError."""
        indices = np.asarray(data, dtype=np.float64)
        if indices.ndim != 2 or indices.shape[1] != columns or len(indices) < 2:
            raise ValueError("seasonal indices must be [season >= 2][columns]")
        if not np.all(np.isfinite(indices) & (indices > 0)):
            raise ValueError("seasonal indices must be positive")
        return cls(indices)


@dataclass(frozen=True)
class Deseasonalised:
    """A `Scaling` of a batch of contexts that divides each context by its series' seasonal
    factors before `inner` scales it, and multiplies predictions back after `inner.inverse`.
    Each season is phased so that its row 0 is the first predicted row (`Seasonality.rephased`):
    a context is the rows just before it. A context with no season is only scaled."""

    inner: Scaling
    seasons: list[Seasonality | None]
    columns: list[int]  # the series' columns this scaling covers, in order

    def _factors(self, first: int, rows: int) -> np.ndarray:
        """[B, rows, len(columns)] each context's divisors of rows first, first + 1, ..."""
        return np.stack(
            [
                np.ones((rows, len(self.columns)))
                if season is None
                else season.factors(first, rows)[:, self.columns]
                for season in self.seasons
            ]
        )

    def transform(self, values: np.ndarray) -> np.ndarray:
        """[B, T, F] the T rows before each context's first predicted row -> model scale."""
        rows = values.shape[1]
        return self.inner.transform(values / self._factors(-rows, rows))

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """[B, T, O] predictions -> original scale."""
        return np.asarray(self.inner.inverse(values) * self.ahead(values.shape[1]))

    def ahead(self, rows: int) -> np.ndarray:
        """[B, rows, len(columns)] the factors the first `rows` predictions multiply by."""
        return self._factors(0, rows)
