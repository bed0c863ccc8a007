"""Seasons: their length, their test, and the classical multiplicative adjustment.

A series with a date index gets its season from its frequency (monthly: 12); a numeric index
says nothing, so the season is found from the values (`detect_season`): a lag L at which the
series, less its centred moving average over L rows, is clearly like itself L rows later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from app.ml.data import Scaling

MAX_SEASON = 400  # longest season looked for (lags beyond it cost more than they find)
# The evidence is taken from a series' last MAX_ROWS rows and from at most MAX_POOLED series of
# a panel, evenly spread: more only make it slower (the standard error at 10,000 rows is 0.01).
MAX_ROWS = 10_000
MAX_POOLED = 300
# The chance that some lag of a series without a season clears its band: each of the K lags
# shaped like a season (see `detect_season`) is held to a one-sided level of FALSE_SEASON_RATE
# / K (Bonferroni; a peak is higher than a lag picked blindly, hence the low rate). Measured
# on 50 seeded series each of 60, 150 and 1,000 rows: seasons in at most 2 of the 50 white
# noise, trend with noise, random walk, AR(1) or momentum series.
FALSE_SEASON_RATE = 0.03
# A shorter candidate d dividing the best lag L wins when its peak reaches DIVISOR_SHARE of
# L's: a season of d repeats at 2d, 3d... about as strongly (weekly co2: 0.95 at 52, 0.89 at
# 156), while a harmonic (a 6-month echo of a year of months) is clearly weaker than its season.
DIVISOR_SHARE = 0.9
# How far, as a share of the lag, a multiple of a season may sit from an exact multiple (a year
# of weeks is 52.18 of them: its third echo is at lag 156 or 157).
MULTIPLE_SLACK = 0.02


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """[max_lag + 1] autocorrelation of a 1-D series at lags 0..max_lag (0 for a flat one and
    at lags past its end)."""
    centred = values - values.mean()
    power = float(centred @ centred)
    out = np.zeros(max_lag + 1)
    if power <= 0:
        return out
    size = 1 << (2 * len(centred) - 1).bit_length()  # long enough for the FFT not to wrap
    spectrum = np.fft.rfft(centred, size)
    covariance = np.fft.irfft(spectrum * np.conj(spectrum), size)
    lags = min(max_lag + 1, len(centred))
    out[:lags] = covariance[:lags] / power
    return out


def _detrended(values: np.ndarray, lag: int) -> np.ndarray:
    """Each row of `values` less the mean of the `lag` rows around it (rows r - lag // 2 up to
    r - lag // 2 + lag - 1): a trend and a random walk's level go, a season of `lag` rows stays
    whole, and the windows of rows r and r + lag do not overlap, so noise stays uncorrelated
    at that lag (a centred 2 x lag average would share a row between them)."""
    sums = np.concatenate([[0.0], np.cumsum(values)])
    trend = (sums[lag:] - sums[:-lag]) / lag
    first = lag // 2
    return np.asarray(values[first : first + len(trend)] - trend)


def _lag_evidence(values: np.ndarray, max_lag: int) -> np.ndarray:
    """[5, max_lag + 1] for each lag L in 2..max_lag (0 elsewhere), of `values` detrended over
    L rows: the autocorrelation at lags L - 1, L and L + 1; the variance of the one at L with
    no season there (Bartlett's: 1 + 2 x the sum of the squared autocorrelations at lags under
    L, over the rows); and the lowest autocorrelation at lags under L."""
    evidence = np.zeros((5, max_lag + 1))
    for lag in range(2, max_lag + 1):
        residual = _detrended(values, lag)
        correlations = autocorrelation(residual, lag + 1)
        evidence[:3, lag] = correlations[lag - 1 : lag + 2]
        squares = float(correlations[1:lag] @ correlations[1:lag])
        evidence[3, lag] = (1 + 2 * squares) / len(residual)
        evidence[4, lag] = correlations[1:lag].min()
    return evidence


def _pooled_evidence(series: Sequence[np.ndarray], max_lag: int) -> np.ndarray:
    """[6, max_lag + 1] `_lag_evidence` averaged over the series long enough for three seasons
    at each lag, its variance row turned into the standard error of that mean (the root of
    the summed variances over the count), and a last row: whether any series counted."""
    total, count = np.zeros((5, max_lag + 1)), np.zeros(max_lag + 1)
    pooled = np.unique(np.linspace(0, len(series) - 1, min(len(series), MAX_POOLED)).round())
    for index in pooled.astype(int):
        values = np.asarray(series[index], dtype=np.float64)[-MAX_ROWS:]
        lags = min(max_lag, len(values) // 3)
        if lags >= 2:
            total[:, : lags + 1] += _lag_evidence(values, lags)
            count[: lags + 1] += 1
    counted = count > 0
    mean = np.divide(total, count, out=np.zeros_like(total), where=counted)
    mean[3] = np.divide(np.sqrt(total[3]), count, out=np.zeros(max_lag + 1), where=counted)
    return np.vstack([mean, counted])


def detect_season(series: Sequence[np.ndarray]) -> int:
    """The season length of 1-D `series` (one or many, of any lengths), 1 when none is clear.

    Evidence: for each lag L in 2..MAX_SEASON, each series with at least three seasons of rows
    is detrended by the mean of the L rows around each row (`_detrended`: a trend or a random
    walk goes, a season of L rows stays whole) and its autocorrelation at L is taken, with
    Bartlett's standard error as in the seasonality test (`is_seasonal`). A panel averages its
    series' autocorrelations; the mean's error shrinks with their number, so it sees seasons
    each of its series is too short or too noisy to show.

    Candidates: a lag L shaped like a season, its autocorrelation at least the series' at
    L - 1 and L + 1 (a peak) and after a dip below zero at a shorter lag (a season sums to
    nothing over its rows, so it is unlike itself somewhere within them: a smooth series alike
    at every short lag has no season there), whose mean autocorrelation clears z standard
    errors, z the one-sided normal quantile of FALSE_SEASON_RATE over the number of lags so
    shaped (noise, random walks and trends seldom get a season).

    Choice: the highest candidate L, unless a shorter candidate d divides it (L within
    MULTIPLE_SLACK of a multiple of d) and reaches DIVISOR_SHARE of L's height: then the
    shortest such d. So a weekly series' year is 52 and not its echoes at 104 or 156; an
    hourly series with daily and weekly cycles gets 24 unless its daily peak is not
    significant or clearly under its weekly one (a week whose days differ more than its hours
    do); a year of months keeps 12 over a weaker 6-month harmonic.

    A quasi-periodic cycle, such as the ~11-year cycle of yearly sunspot numbers, is a season
    by this rule (10 or 11): a numeric index carries no calendar to say its rows are years, and
    the cycle is the pattern the series repeats."""
    max_lag = min(MAX_SEASON, max((len(values) for values in series), default=0) // 3)
    if max_lag < 2:
        return 1
    before, mean, after, error, dip, counted = _pooled_evidence(series, max_lag)
    shaped = [  # a peak after a dip: the shape of a season, before its height is tested
        lag
        for lag in range(2, max_lag + 1)
        if counted[lag] and mean[lag] >= max(before[lag], after[lag]) and dip[lag] < 0
    ]
    z = NormalDist().inv_cdf(1 - FALSE_SEASON_RATE / max(1, len(shaped)))
    candidates = [lag for lag in shaped if mean[lag] > z * error[lag]]
    return _shortest_season(candidates, mean)


def _shortest_season(candidates: list[int], mean: np.ndarray) -> int:
    """The highest of `candidates` (lags, shortest first, with their `mean` autocorrelations)
    or the shortest of them that divides it and is nearly as high (see `detect_season`); 1
    when there are none."""
    if not candidates:
        return 1
    best = max(candidates, key=lambda lag: mean[lag])
    for lag in candidates:
        multiple = round(best / lag) * lag
        if (
            abs(best - multiple) <= MULTIPLE_SLACK * best
            and mean[lag] >= DIVISOR_SHARE * mean[best]
        ):
            return lag
    return best


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
