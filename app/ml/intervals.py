"""Prediction intervals by split conformal prediction on rollout residuals.

After training, the model rolls out from points of every series' validation part; for every
horizon step and column, the absolute errors of those rollouts (in the model scale, which is
each series' own) give the conformal quantile for each level in `LEVELS`. A forecast's interval
at step h is the forecast ± that quantile times its series' spread. Rollouts from the test
parts measure the coverage the intervals actually reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.ml.budget import Budget
from app.ml.data import Segment
from app.ml.fitted import Fitted, HeldOut, scaled_rollouts

LEVELS = (50, 80, 90, 95, 98, 99)  # percent; the levels a forecast may ask for
MAX_CALIBRATION_STARTS = 128  # rollouts of a part: enough for the 99% quantile (n >= 99)


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


@dataclass(frozen=True)
class RolloutPlan:
    """Rollouts from points of every series' held-out part: `steps` rows from each start (an
    index into the laid-out series), each inside its own series (which ends at `ends`)."""

    steps: int
    starts: np.ndarray
    ends: np.ndarray


def plan_rollouts(segments: list[Segment], part: HeldOut, wanted: int) -> RolloutPlan:
    """Rollouts of up to `wanted` steps from evenly spaced points of every series' held-out
    `part`, MAX_CALIBRATION_STARTS in all: a panel of many series gives one rollout per series
    and calibrates the whole part; a series that gives several (one series, a few) calibrates
    at most half its part, so that its rollouts start from the part's first half."""
    per_series = max(1, MAX_CALIBRATION_STARTS // len(segments))
    parts = [segment.bounds(part) for segment in segments]
    longest = min(end - begin for begin, end in parts) // (2 if per_series > 1 else 1)
    steps = max(1, min(wanted, longest))
    found = [rollout_starts(begin, end, steps, per_series) for begin, end in parts]
    ends = [np.full(len(starts), segment.end) for starts, segment in zip(found, segments,
                                                                        strict=True)]  # fmt: skip
    return RolloutPlan(steps, np.concatenate(found), np.concatenate(ends))


def _rollouts(fitted: Fitted, plan: RolloutPlan, budget: Budget) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, actual) [n, steps, O] in the model scale (fewer when the budget ran out)."""
    predicted = scaled_rollouts(fitted, plan.starts, plan.ends, plan.steps, budget)
    rows = plan.starts[: len(predicted), None] + np.arange(predicted.shape[1])
    return predicted, fitted.targets()[rows]


def calibrate(
    fitted: Fitted, wanted: int, budget: Budget
) -> tuple[np.ndarray | None, dict[str, object] | None]:
    """Conformal half-widths [len(LEVELS), steps, O] in the model scale from rollouts over the
    validation parts, for up to `wanted` steps, and their coverage of rollouts over the test
    parts; (None, None) when the validation parts give fewer than two rollouts or the budget
    ran out."""
    wanted = min(wanted, fitted.max_steps())
    plan = plan_rollouts(fitted.data.segments, "val", wanted)
    if len(plan.starts) < 2 or not budget.left():
        return None, None
    predicted, actual = _rollouts(fitted, plan, budget)
    if len(predicted) < 2:
        return None, None
    widths = conformal_quantiles(np.abs(actual - predicted))
    tested, truth = _rollouts(fitted, plan_rollouts(fitted.data.segments, "test",
                                                    widths.shape[1]), budget)  # fmt: skip
    return widths, {
        "calibrated_steps": widths.shape[1],
        "test_rollouts": len(tested),
        "test_steps": tested.shape[1],
        "coverage": coverage(tested, truth, widths[:, : tested.shape[1]]),
    }
