"""Prediction intervals by split conformal prediction on rollout residuals.

After training, the model rolls out from points of every series' validation part for the whole
horizon asked; step k's residuals are the absolute errors (in the model scale, which is each
series' own) of the rollouts whose k-th row still lies in their validation part, so every step
has its own count n_k and no step reads a test row. Step k's half-width at level q is the
ceil((n_k + 1) q)-th smallest of its residuals: a calibrated q interval where n_k >= q / (1 - q)
(`residuals_needed`), the largest residual seen where n_k is smaller. A forecast's interval at
step h is the forecast ± that half-width times its series' spread. Rollouts from the test parts,
scored the same way, measure the coverage the intervals actually reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from app.ml.budget import Budget
from app.ml.data import Segment
from app.ml.fitted import Fitted, HeldOut, scaled_rollouts

LEVELS = (50, 80, 90, 95, 98, 99)  # percent; the levels a forecast may ask for
# Rollout origins over all series' parts, rolled out in one batch: a long part of one series
# keeps at least 128 of its 256 at every step up to half its rows, enough for 99% (n >= 99).
MAX_CALIBRATION_ORIGINS = 256


def residuals_needed(level: int) -> int:
    """Residuals a step needs for a split-conformal `level`% interval: the least n with
    ceil((n + 1) q) <= n, i.e. n >= q / (1 - q) (1 for 50%, 4 for 80%, 99 for 99%)."""
    return -(-level // (100 - level))


def origins(begin: int, end: int, most: int = MAX_CALIBRATION_ORIGINS) -> np.ndarray:
    """Up to `most` evenly spaced rows of [begin, end), `begin` always among them (every row
    when there are no more than `most`)."""
    if end <= begin:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.linspace(begin, end - 1, min(most, end - begin)).round().astype(np.int64))


def conformal_quantiles(residuals: np.ndarray, levels: tuple[int, ...] = LEVELS) -> np.ndarray:
    """residuals: [n, steps, F] absolute errors, NaN where a rollout has none at a step ->
    [len(levels), steps, F] half-widths (NaN at a step without residuals).

    Each step's quantile is over its own n_k residuals: the ceil((n_k + 1) q)-th smallest, or
    the largest where n_k is too few for level q (see `residuals_needed`)."""
    ordered = np.sort(residuals, axis=0)  # NaN last
    counts = np.sum(~np.isnan(residuals), axis=0)  # [steps, F]
    wanted = [-(-(counts + 1) * level // 100) for level in levels]  # ceil((n_k + 1) q), exactly
    ranks = np.stack([np.minimum(rank, np.maximum(counts, 1)) - 1 for rank in wanted])
    return np.take_along_axis(ordered, ranks, axis=0)  # [levels, steps, F]


def residual_counts(residuals: np.ndarray) -> np.ndarray:
    """[steps] the residuals behind each step of `residuals` [n, steps, F] (NaN: none)."""
    return np.asarray(np.sum(~np.isnan(residuals[..., 0]), axis=0), dtype=np.int64)


def calibrated_steps(counts: list[int], level: int, steps: int) -> int:
    """How many of the first `steps` steps have enough residuals for a calibrated `level`%
    interval, counted from the first (`counts`: the residuals behind each calibrated step)."""
    enough = [count >= residuals_needed(level) for count in counts[:steps]]
    return enough.index(False) if False in enough else len(enough)


class BandMark(NamedTuple):
    """What a forecast says of one level's band: the steps it is a calibrated interval for
    (None: unknown), a note where that is not every step, and the percent of test values the
    level's bands covered when the model was measured (None: not measured)."""

    calibrated_steps: int | None
    note: str | None
    test_coverage: float | None = None


def band_mark(
    level: int, counts: list[int] | None, horizon: int, calibrated: int, tested: float | None
) -> BandMark:
    """The mark of a `level`% band of `horizon` steps from widths calibrated for `calibrated`
    steps and covering `tested` percent of the test values; `counts`: the residuals behind each
    of its first steps, up to the calibrated ones (None: unknown)."""
    return BandMark(
        None if counts is None else calibrated_steps(counts, level, horizon),
        band_note(level, counts, horizon, calibrated),
        tested,
    )


def band_note(level: int, counts: list[int] | None, horizon: int, calibrated: int) -> str | None:
    """Where a `level`% band of `horizon` steps is not a calibrated interval, which steps and
    why (None: it is one at every step). `counts`: the residuals behind each of its first
    steps, up to the `calibrated` ones (None: unknown)."""
    reached, notes = min(horizon, calibrated), []
    if counts is None:
        notes.append(
            f"{_steps(1, reached)}: unknown whether a calibrated {level}% interval or the "
            "largest error seen (the model was saved before its residuals were counted)"
        )
    elif (good := calibrated_steps(counts, level, reached)) < reached:
        most = max(counts[good:reached])
        notes.append(
            f"{_steps(good + 1, reached)}: the largest error seen in calibration, not a "
            f"calibrated {level}% interval ({most} residuals or fewer a step: at most a "
            f"{100 * most // (most + 1)}% interval; {level}% needs {residuals_needed(level)})"
        )
    if horizon > calibrated:
        notes.append(
            f"{_steps(calibrated + 1, horizon)}: step {calibrated}'s width, kept past the "
            "calibrated steps"
        )
    return "; ".join(notes) or None


def _steps(first: int, last: int) -> str:
    """'step 3' or 'steps 3-12'."""
    return f"step {first}" if first == last else f"steps {first}-{last}"


def coverage(errors: np.ndarray, quantiles: np.ndarray) -> dict[str, float | None]:
    """Share of the `errors` [n, steps, F] (absolute, NaN: none) within each level's half-width
    [steps, F], in percent; None where there are no errors."""
    seen = ~np.isnan(errors)
    return {
        str(level): float(100 * np.mean((errors <= width[None])[seen])) if seen.any() else None
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
    """Rollouts of `steps` rows from points of every series' held-out part: each start (an
    index into the laid-out series) lies inside its series (which ends at `ends`) and its part
    (which ends at `stops`); its rows from `stops` on give no residual."""

    steps: int
    starts: np.ndarray
    ends: np.ndarray
    stops: np.ndarray


def plan_rollouts(segments: list[Segment], part: HeldOut, wanted: int) -> RolloutPlan:
    """Rollouts of up to `wanted` steps (no more than the longest part has rows) from evenly
    spaced points of every series' held-out `part`, its first row always among them,
    MAX_CALIBRATION_ORIGINS in all: a panel of many series rolls out from each part's first row,
    a series that gives several from every row of its part or evenly spaced ones."""
    per_series = max(1, MAX_CALIBRATION_ORIGINS // len(segments))
    parts = [segment.bounds(part) for segment in segments]
    steps = max(1, min(wanted, max(end - begin for begin, end in parts)))
    found = [origins(begin, end, per_series) for begin, end in parts]
    ends = [np.full(len(starts), segment.end) for starts, segment in zip(found, segments,
                                                                        strict=True)]  # fmt: skip
    stops = [np.full(len(starts), end) for starts, (_, end) in zip(found, parts, strict=True)]
    return RolloutPlan(steps, np.concatenate(found), np.concatenate(ends), np.concatenate(stops))


def _residuals(fitted: Fitted, plan: RolloutPlan, budget: Budget) -> np.ndarray:
    """[n, steps, O] absolute errors of the plan's rollouts in the model scale, NaN at rows
    outside their part (fewer rollouts or steps when the budget ran out)."""
    if not len(plan.starts):
        return np.zeros((0, plan.steps, len(fitted.data.roles.targets)))
    predicted = scaled_rollouts(fitted, plan.starts, plan.ends, plan.steps, budget)
    rows = plan.starts[: len(predicted), None] + np.arange(predicted.shape[1])  # [n, steps]
    stops = plan.stops[: len(predicted), None]
    actual = fitted.targets()[np.minimum(rows, stops - 1)]  # [n, steps, O]
    return np.where((rows < stops)[..., None], np.abs(actual - predicted), np.nan)


def calibrate(
    fitted: Fitted, wanted: int, budget: Budget
) -> tuple[np.ndarray | None, dict[str, object] | None]:
    """Conformal half-widths [len(LEVELS), steps, O] in the model scale from rollouts over the
    validation parts, for `wanted` steps or as many as the longest part has rows, with their
    record: the residuals behind each step, the steps each level is calibrated for and the
    coverage of rollouts over the test parts; (None, None) when the validation parts give fewer
    than two rollouts or the budget ran out."""
    plan = plan_rollouts(fitted.data.segments, "val", min(wanted, fitted.max_steps()))
    if len(plan.starts) < 2 or not budget.left():
        return None, None
    residuals = _residuals(fitted, plan, budget)
    if len(residuals) < 2:
        return None, None
    counts = residual_counts(residuals)
    steps = int(np.count_nonzero(counts))  # a rollout's residuals are its first steps
    widths = conformal_quantiles(residuals[:, :steps])
    tested = _residuals(fitted, plan_rollouts(fitted.data.segments, "test", steps), budget)
    found = counts[:steps].tolist()
    return widths, {
        "calibrated_steps": steps,
        "residuals": found,
        "calibrated_steps_by_level": {
            str(level): calibrated_steps(found, level, steps) for level in LEVELS
        },
        "test_rollouts": len(tested),
        "test_steps": tested.shape[1],
        "test_values": int(residual_counts(tested).sum()),
        "coverage": coverage(tested, widths[:, : tested.shape[1]]),
    }
