"""Prediction intervals by split conformal prediction on rollout residuals.

After training, the model rolls out from many points of the validation split; for every horizon
step and column, the absolute errors of those rollouts give the conformal quantile for each level
in `LEVELS`. A forecast's interval at step h is the forecast ± that quantile. The test split's
rollouts measure the coverage the intervals actually reach.
"""

from __future__ import annotations

import math

import numpy as np

LEVELS = (50, 80, 90, 95, 98, 99)  # percent; the levels a forecast may ask for
MAX_CALIBRATION_STARTS = 128  # rollouts per split: enough for the 99% quantile (n >= 99)


def rollout_starts(
    begin: int, end: int, steps: int, most: int = MAX_CALIBRATION_STARTS
) -> np.ndarray:
    """Up to `most` evenly spaced first rows r in [begin, end - steps] (a rollout of `steps`
    rows from r stays inside [begin, end))."""
    last = end - steps
    if last < begin:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(begin, last, min(most, last - begin + 1)).round().astype(np.int64))


def conformal_quantiles(residuals: np.ndarray, levels: tuple[int, ...] = LEVELS) -> np.ndarray:
    """residuals: [n, steps, F] absolute errors -> [len(levels), steps, F] half-widths.

    The split-conformal quantile is the ceil((n + 1) q)-th smallest error; with too few
    rollouts for a level it is the largest error seen (the interval then under-promises less).
    """
    n = residuals.shape[0]
    ordered = np.sort(residuals, axis=0)
    rank = [min(math.ceil((n + 1) * level / 100), n) - 1 for level in levels]
    return np.asarray(ordered[rank])


def coverage(predicted: np.ndarray, actual: np.ndarray, quantiles: np.ndarray) -> dict[str, float]:
    """Share of `actual` [n, steps, F] inside `predicted` ± each level's half-width, in percent."""
    errors = np.abs(actual - predicted)  # [n, steps, F]
    return {
        str(level): float(100 * np.mean(errors <= width[None]))
        for level, width in zip(LEVELS, quantiles, strict=True)
    }


def half_widths(quantiles: np.ndarray, level: int, steps: int) -> np.ndarray:
    """[steps, F] half-widths of `level` for a forecast of `steps` rows; past the calibrated
    steps the last calibrated width is kept."""
    widths = np.asarray(quantiles[LEVELS.index(level)])  # [calibrated, F]
    if steps <= len(widths):
        return widths[:steps]
    return np.concatenate([widths, np.repeat(widths[-1:], steps - len(widths), axis=0)])
