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
# The work is bounded, as the season is found inside a request: the evidence is taken from a
# series' last ROWS_PER_SERIES rows and from at most MAX_POOLED series of a panel, evenly
# spread, fewer when long so that they hold at most POOLED_ROWS rows (a standard error of
# 0.004): more only make it slower.
ROWS_PER_SERIES = 10_000
MAX_POOLED = 300
POOLED_ROWS = 60_000
# The lags verified (`_screened`): every lag up to SHORT_LAGS, and the SCREENED_PEAKS highest
# peaks (with their neighbours) of each of two cheap autocorrelations, then the divisors of
# the best: some 60 lags of the 400, each one FFT of the pooled rows.
SHORT_LAGS = 12
SCREENED_PEAKS = 8
# The chance that some lag of a series without a season clears its band: each of the K lags
# shaped like a season (see `detect_season`) is held to a one-sided level of FALSE_SEASON_RATE
# / K (Bonferroni; a peak is higher than a lag picked blindly, hence the low rate). Measured
# on 50 seeded series each of 60, 150 and 1,000 rows: seasons in at most 2 of the 50 white
# noise, trend with noise, random walk, AR(1) or momentum series (bench/season_check.py).
FALSE_SEASON_RATE = 0.02
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


def _rows(series: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The evidence's rows: the last ROWS_PER_SERIES rows of at most MAX_POOLED series, evenly
    spread over a panel, fewer when long so that they hold at most POOLED_ROWS rows in all."""
    lengths = np.array([min(len(values), ROWS_PER_SERIES) for values in series])
    count = min(len(series), MAX_POOLED)
    while count > 1:  # the fewest series cut, longest pooled series first: a bounded sum
        picked = np.unique(np.linspace(0, len(series) - 1, count).round()).astype(int)
        if lengths[picked].sum() <= POOLED_ROWS:
            break
        count = max(1, min(count - 1, int(count * POOLED_ROWS / lengths[picked].sum())))
    picked = np.unique(np.linspace(0, len(series) - 1, max(count, 1)).round()).astype(int)
    return [np.asarray(series[i], dtype=np.float64)[-ROWS_PER_SERIES:] for i in picked]


def _padded(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """[S, N] the series left-aligned and zero-padded, and [S] their lengths."""
    lengths = np.array([len(values) for values in rows])
    padded = np.zeros((len(rows), int(lengths.max())))
    for index, values in enumerate(rows):
        padded[index, : len(values)] = values
    return padded, lengths


def _white_likeness(lag: int) -> np.ndarray:
    """[lag - 1] the autocorrelation, at lags 1..lag - 1, of white noise less its `lag`-row mean
    (`_lag_evidence`): about -1 / (lag - 1), -0.5 at lag 2. Any series so detrended is this much
    unlike itself within the lag, so a season's dip is measured from it."""
    weights = np.full(lag, -1 / lag)
    weights[lag // 2] += 1
    acf = np.correlate(weights, weights, "full")[lag - 1 :]
    return np.asarray(acf[1:] / acf[0])


def _lag_evidence(padded: np.ndarray, lengths: np.ndarray, lag: int) -> np.ndarray:
    """[5, S] for each series with three seasons of `lag` rows (columns of others are NaN),
    less the mean of the `lag` rows around each row (a trend and a random walk's level go, a
    season of `lag` rows stays whole, and the windows of rows r and r + lag do not overlap, so
    noise stays uncorrelated at that lag): the autocorrelation at lags - 1, lag and lag + 1;
    the variance of the one at lag with no season there; and the dip, the lowest
    autocorrelation at lags under lag less white noise's there (`_white_likeness`).

    The variance is Bartlett's, 1 + 2 x the summed squared autocorrelations, over the rows,
    with the sum taken over the lags up to lag / 3 (the short memory of an AR or a random
    walk's residual, and a season's likeness before its dip), plus what white noise's sample
    autocorrelations would add over the other lags (2 (lag - 1) / rows). The sum over every
    lag under lag would count a season's own likeness to itself at its shorter lags as noise:
    a strong smooth season would need some z^2 x lag rows (10 to 12 seasons) to be seen."""
    out = np.full((5, len(lengths)), np.nan)
    used = lengths >= 3 * lag
    if lag < 2 or not used.any():
        return out
    values, rows = padded[used], lengths[used] - lag + 1  # rows of each residual
    sums = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, 1)], 1)
    first = lag // 2
    width = values.shape[1] - lag + 1
    residual = values[:, first : first + width] - (sums[:, lag:] - sums[:, :-lag]) / lag
    valid = np.arange(width) < rows[:, None]
    residual = np.where(valid, residual, 0.0)
    residual = np.where(valid, residual - (residual.sum(1) / rows)[:, None], 0.0)
    size = 1 << (2 * width - 1).bit_length()
    spectrum = np.fft.rfft(residual, size)
    covariance = np.fft.irfft(spectrum * np.conj(spectrum), size)[:, : lag + 2]
    power = covariance[:, :1]
    acf = np.divide(covariance, power, out=np.zeros_like(covariance), where=power > 0)
    short = acf[:, 1:lag]
    memory = np.arange(1, lag) <= lag // 3
    squares = np.where(memory, short**2, 0.0).sum(1)
    dip = (short - _white_likeness(lag)).min(1)
    variance = (1 + 2 * squares + 2 * (lag - 1) / rows) / rows
    out[:, used] = np.stack([acf[:, lag - 1], acf[:, lag], acf[:, lag + 1], variance, dip])
    return out


def _pooled(padded: np.ndarray, lengths: np.ndarray, lag: int) -> np.ndarray | None:
    """[5] `_lag_evidence` averaged over the series that count at `lag`, its variance turned
    into the standard error of that mean; None when none counts."""
    evidence = _lag_evidence(padded, lengths, lag)
    counted = ~np.isnan(evidence[0])
    if not counted.any():
        return None
    mean = evidence[:, counted].mean(1)
    mean[3] = np.sqrt(evidence[3, counted].sum()) / counted.sum()
    return np.asarray(mean)


def _screened(padded: np.ndarray, lengths: np.ndarray, max_lag: int) -> tuple[list[int], int]:
    """The lags worth `_lag_evidence`, from cheap autocorrelations (one FFT per series): the
    highest peaks of the mean autocorrelation of the series less their straight line (a slow
    season shows there) and of their changes (a season under a random walk or trend shows
    there), with their neighbours, and every short lag. And
    the number of peaks after a dip seen there: the lags a season could sit at (Bonferroni)."""
    lines, changes = np.zeros(max_lag + 1), np.zeros(max_lag + 1)
    for values, length in zip(padded, lengths, strict=True):
        values = values[:length]
        t = np.arange(length)
        line = np.polyval(np.polyfit(t, values, 1), t) if length > 1 else values
        lines += autocorrelation(values - line, max_lag)
        changes += autocorrelation(np.diff(values), max_lag)
    lags: set[int] = set(range(2, min(max_lag, SHORT_LAGS) + 1))
    shaped = 0
    for acf in (lines, changes):
        inner = acf[2:max_lag]
        peak = np.flatnonzero((inner >= acf[1 : max_lag - 1]) & (inner >= acf[3:])) + 2
        dipped = peak[np.minimum.accumulate(acf[1:])[peak - 2] < 0]
        shaped = max(shaped, len(dipped))
        for lag in peak[np.argsort(-acf[peak])][:SCREENED_PEAKS]:
            lags |= {int(lag) - 1, int(lag), int(lag) + 1}
    return sorted(lag for lag in lags if 2 <= lag <= max_lag), max(shaped, 1)


def detect_season(series: Sequence[np.ndarray]) -> int:
    """The season length of 1-D `series` (one or many, of any lengths), 1 when none is clear.

    Evidence: for a lag L, each series with at least three seasons of rows is detrended by the
    mean of the L rows around each row (a trend or a random walk goes, a season of L rows stays
    whole) and its autocorrelation at L is taken, with Bartlett's standard error over its short
    memory (`_lag_evidence`). A panel averages its series' autocorrelations; the mean's error
    shrinks with their number, so it sees seasons each of its series is too short or too noisy
    to show. The work is bounded (`_rows`): the last ROWS_PER_SERIES rows of a series, at most
    POOLED_ROWS rows of a panel, and only the lags that cheap autocorrelations point at
    (`_screened`), then the divisors of the best of them.

    Candidates: a lag L shaped like a season, its autocorrelation at least the series' at
    L - 1 and L + 1 (a peak) and after a dip at a shorter lag below what L-row detrending
    gives white noise (`_white_likeness`: a season sums to nothing over its rows, so it is unlike
    itself somewhere within them; a smooth series alike at every short lag has no season
    there), whose mean autocorrelation clears z standard errors, z the one-sided normal
    quantile of FALSE_SEASON_RATE over the number of lags a season could sit at.

    Choice: the highest candidate L, unless a shorter candidate d divides it (L within
    MULTIPLE_SLACK of a multiple of d of 2 or more) and reaches DIVISOR_SHARE of L's height:
    then the shortest such d. So a weekly series' year is 52 and not its echoes at 104 or 156;
    an hourly series with daily and weekly cycles gets 24 unless its daily peak is not
    significant or clearly under its weekly one (a week whose days differ more than its hours
    do); a year of months keeps 12 over a weaker 6-month harmonic.

    A quasi-periodic cycle, such as the ~11-year cycle of yearly sunspot numbers, is a season
    by this rule (10 or 11): a numeric index carries no calendar to say its rows are years, and
    the cycle is the pattern the series repeats."""
    max_lag = min(MAX_SEASON, max((len(values) for values in series), default=0) // 3)
    if max_lag < 2:
        return 1
    padded, lengths = _padded(_rows(series))
    max_lag = min(max_lag, int(lengths.max()) // 3)
    if max_lag < 2:
        return 1
    lags, places = _screened(padded, lengths, max_lag)
    z = NormalDist().inv_cdf(1 - FALSE_SEASON_RATE / places)
    heights: dict[int, float] = {}

    def verify(lag: int) -> None:
        evidence = None if lag in heights else _pooled(padded, lengths, lag)
        if evidence is None:
            return
        before, mean, after, error, dip = evidence
        if mean >= max(before, after) and dip < 0 and mean > z * error:
            heights[lag] = float(mean)

    for lag in lags:
        verify(lag)
    if not heights:
        return 1
    best = max(heights, key=heights.__getitem__)
    for divisor in _divisors(best):
        verify(divisor)
    return _shortest_season(heights)


def _divisors(lag: int) -> list[int]:
    """The lags d >= 2 of which `lag` is within MULTIPLE_SLACK of a multiple of 2 or more."""
    return [
        d
        for d in range(2, lag // 2 + 1)
        if round(lag / d) >= 2 and abs(lag - round(lag / d) * d) <= MULTIPLE_SLACK * lag
    ]


def _shortest_season(heights: dict[int, float]) -> int:
    """The highest of the candidate lags `heights` holds (with their mean autocorrelations) or
    the shortest of them that divides it and is nearly as high (see `detect_season`)."""
    best = max(heights, key=heights.__getitem__)
    for lag in sorted(heights):
        if lag == best or (
            lag in _divisors(best) and heights[lag] >= DIVISOR_SHARE * heights[best]
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
