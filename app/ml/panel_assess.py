"""Measuring a global model fitted to many series: per-series test metrics and intervals.

Each series is rolled out from the row before its own test part over its test rows, all series
in one batched pass, and scored on its own original scale against the naive (last value) and
seasonal naive (last season) forecasts of the same rows. Intervals are calibrated on the
validation parts in the model's scale, which is each series' own: a forecast multiplies them by
its series' spread (see `app.ml.checkpoints`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch

from app.ml.assess import (
    EVAL_BATCH,
    MAX_ROLLOUT_EVAL_CALLS,
    MAX_ROLLOUT_EVAL_STEPS,
    STATE_ROLLOUT_TOLERANCE,
    UNLIMITED,
)
from app.ml.budget import Budget
from app.ml.data import Scaler, Segment
from app.ml.evaluation import losing_warning, seasonal_naive, smape
from app.ml.forecast import RolloutMode, carries_state, rollout
from app.ml.intervals import MAX_CALIBRATION_STARTS, conformal_quantiles, coverage, rollout_starts
from app.ml.model import Forecaster
from app.ml.roles import ColumnRoles


@dataclass(frozen=True)
class PanelFitted:
    """A global model with the series it was fitted to, laid end to end."""

    model: Forecaster
    series: torch.Tensor = field(repr=False)  # [T, C] each series in its own model scale
    raw: np.ndarray = field(repr=False)  # [T, C] original scale
    segments: list[Segment]
    roles: ColumnRoles
    scalers: list[Scaler]  # each series' scaler of every column
    ids: list[str]
    # [T, C] what each row was divided by before scaling (None: nothing)
    factors: np.ndarray | None = field(default=None, repr=False)
    mode: RolloutMode = "window"  # how its rollouts continue: the mode it is served by

    def max_steps(self) -> int:
        """Most steps an evaluation rollout runs (a rollout is sequential)."""
        return min(MAX_ROLLOUT_EVAL_STEPS, MAX_ROLLOUT_EVAL_CALLS * self.model.config.horizon)


def scaled_rollouts(
    fitted: PanelFitted, starts: np.ndarray, ends: np.ndarray, steps: int, budget: Budget
) -> np.ndarray:
    """Rollouts of `steps` rows from each start (a row index into the laid-out series), every
    one inside its own series (known covariates are read up to `ends`, exclusive): [n, steps, O]
    in the model scale; fewer rollouts or steps when the budget ran out."""
    lookback, device = fitted.model.config.lookback, fitted.series.device
    inputs = list(fitted.roles.inputs)
    first = torch.as_tensor(starts, device=device)[:, None]
    history = first + torch.arange(-lookback, 0, device=device)
    last = torch.as_tensor(ends - 1, device=device)[:, None]
    ahead = torch.minimum(first + torch.arange(0, steps, device=device), last)
    predicted: list[torch.Tensor] = []
    for begin in range(0, len(starts), EVAL_BATCH):
        if predicted and not budget.left():
            break
        batch = slice(begin, begin + EVAL_BATCH)
        predicted.append(
            rollout(
                fitted.model,
                fitted.series[history[batch]][..., inputs],
                steps,
                fitted.mode,
                fitted.series[ahead[batch]][..., inputs],
                keep_going=budget.left,
            )
        )
    done = min(chunk.shape[1] for chunk in predicted)
    return torch.cat([chunk[:, :done] for chunk in predicted]).double().cpu().numpy()


SCORES = ("mse", "rmse", "mae", "smape")
HeldOut = Literal["val", "test"]


def _scores(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    mse = float(np.mean((predicted - actual) ** 2))
    return {
        "mse": mse,
        "rmse": math.sqrt(mse),
        "mae": float(np.mean(np.abs(predicted - actual))),
        "smape": smape(predicted, actual),
    }


# A baseline error this small next to the values is rounding, not error: no ratio to it.
EXACT_BASELINE = 1e-9


def _ratio(mae: float, baseline: float, level: float) -> float | None:
    return mae / baseline if baseline > EXACT_BASELINE * max(level, 1e-300) else None


def _mean(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None and math.isfinite(value)]
    return float(np.mean(known)) if known else None


@dataclass(frozen=True)
class SeriesScores:
    """One series' test scores: the model's, the naive forecast's and the seasonal naive's."""

    test_rows: int
    level: float  # mean |actual|: what a baseline's error is small against
    model: dict[str, float]
    naive: dict[str, float]
    seasonal: dict[str, float]

    @property
    def mase(self) -> float | None:
        """The model's MAE over the naive forecast's, on the same rows (< 1 beats it)."""
        return _ratio(self.model["mae"], self.naive["mae"], self.level)

    @property
    def mase_seasonal(self) -> float | None:
        """The model's MAE over the seasonal naive forecast's, on the same rows."""
        return _ratio(self.model["mae"], self.seasonal["mae"], self.level)

    def row(self, series_id: str) -> dict[str, object]:
        """The series' line of the metrics: the model's scores and its MASE against both."""
        return {
            "id": series_id,
            "test_rows": self.test_rows,
            **self.model,
            "mase": self.mase,
            "mase_seasonal": self.mase_seasonal,
        }


def _series_scores(
    fitted: PanelFitted, number: int, scaled: np.ndarray, season: int, part: HeldOut
) -> SeriesScores:
    """One series' scores over the rows of its held-out `part` (as many as its rollout
    reached), each forecast made from the rows before the part."""
    split = fitted.segments[number].split
    begin, rows = (split.val_start, split.val) if part == "val" else (split.test_start, split.test)
    return scores_from(fitted, number, begin, scaled[: min(rows, len(scaled))], season)


def scores_from(
    fitted: PanelFitted, number: int, origin: int, scaled: np.ndarray, season: int
) -> SeriesScores:
    """Series `number`'s scores of `scaled` [steps, O], a model-scale rollout from row `origin`
    of that series, against the naive and seasonal naive forecasts from the same rows."""
    segment, targets = fitted.segments[number], list(fitted.roles.targets)
    steps = len(scaled)
    out = fitted.scalers[number].subset(targets)
    history = fitted.raw[segment.offset : segment.offset + origin][:, targets]
    actual = fitted.raw[segment.offset + origin :][:steps][:, targets]
    predicted = out.inverse(scaled)
    if fitted.factors is not None:
        at = segment.offset + origin
        predicted = predicted * fitted.factors[at : at + steps][:, targets]
    return SeriesScores(
        steps,
        float(np.mean(np.abs(actual))),
        _scores(predicted, actual),
        _scores(np.repeat(history[-1:], steps, axis=0), actual),
        _scores(seasonal_naive(history, steps, season), actual),
    )


def part_scores(
    fitted: PanelFitted, season: int, budget: Budget, part: HeldOut
) -> list[SeriesScores]:
    """Every series' scores over its held-out `part`, all series rolled out in one pass (fewer
    series when the budget ran out)."""
    segments = fitted.segments
    first = [s.split.val_start if part == "val" else s.split.test_start for s in segments]
    rows = [s.split.val if part == "val" else s.split.test for s in segments]
    starts = np.asarray([s.offset + at for s, at in zip(segments, first, strict=True)])
    ends = np.asarray([s.end for s in segments])
    steps = min(max(rows), fitted.max_steps())
    scaled = scaled_rollouts(fitted, starts, ends, steps, budget)
    return [_series_scores(fitted, i, scaled[i], season, part) for i in range(len(scaled))]


def means(scores: list[dict[str, float]]) -> dict[str, float | None]:
    """Each score's mean over `scores` (series or folds), ignoring what is not finite."""
    return {name: _mean([score[name] for score in scores]) for name in SCORES}


def summarise(scores: list[SeriesScores]) -> dict[str, object]:
    """The means over `scores`: the model's scores with its MASE against both baselines, and
    the naive and seasonal naive forecasts' scores."""
    return {
        "mean": {
            **means([score.model for score in scores]),
            "mase": _mean([score.mase for score in scores]),
            "mase_seasonal": _mean([score.mase_seasonal for score in scores]),
        },
        "naive": means([score.naive for score in scores]),
        "seasonal_naive": means([score.seasonal for score in scores]),
    }


def evaluate_panel(fitted: PanelFitted, season: int, budget: Budget) -> dict[str, object]:
    """Every series' test metrics (original scale) and their means over series."""
    segments = fitted.segments
    scores = part_scores(fitted, season, budget, "test")
    return {
        "series_count": len(segments),
        "series_measured": len(scores),
        "season_length": season,
        "test_rows": sum(score.test_rows for score in scores),
        **summarise(scores),
        "series": [score.row(fitted.ids[i]) for i, score in enumerate(scores)],
    }


def validation_warnings(scores: list[SeriesScores], season: int) -> list[str]:
    """[a warning] when the model loses to the seasonal naive forecast on the series'
    validation parts, `scores` (mean MAE over series); [] otherwise."""
    return losing_warning(
        _mean_mae(scores, "model"),
        _mean_mae(scores, "seasonal"),
        season,
        "on the series' validation parts (mean MAE over series)",
    )


def _mean_mae(scores: list[SeriesScores], of: Literal["model", "seasonal"]) -> float:
    return float(np.mean([getattr(score, of)["mae"] for score in scores]))


def choose_panel_mode(
    fitted: PanelFitted, season: int, budget: Budget
) -> tuple[PanelFitted, list[SeriesScores], dict[str, float | None]]:
    """The model set to roll out by state where it can and its validation rollouts (MAE on each
    series' original scale, the mean over series) are within 5% of the window's, else by
    window; the chosen mode's validation scores, and both modes' mean MAE (state None when not
    measured)."""
    windowed, carried = replace(fitted, mode="window"), replace(fitted, mode="state")
    by_window = part_scores(windowed, season, budget, "val")
    window_mae = _mean_mae(by_window, "model")
    measured: dict[str, float | None] = {"window": window_mae, "state": None}
    if not carries_state(fitted.model) or not budget.left():
        return windowed, by_window, measured
    by_state = part_scores(carried, season, budget, "val")
    if len(by_state) < len(by_window):  # not compared over the same series: keep the window
        return windowed, by_window, measured
    measured["state"] = state_mae = _mean_mae(by_state, "model")
    if state_mae <= window_mae * STATE_ROLLOUT_TOLERANCE:
        return carried, by_state, measured
    return windowed, by_window, measured


def _val_rollouts(
    fitted: PanelFitted, steps: int, budget: Budget
) -> tuple[np.ndarray, np.ndarray] | None:
    """(predicted, actual) [n, steps, O] model-scale rollouts from points of every series'
    validation part, spread so the panel gives about MAX_CALIBRATION_STARTS or more."""
    per_series = max(1, MAX_CALIBRATION_STARTS // len(fitted.segments))
    starts: list[int] = []
    ends: list[int] = []
    for segment in fitted.segments:
        split = segment.split
        found = rollout_starts(split.val_start, split.test_start, steps, per_series)
        starts.extend(segment.offset + found)
        ends.extend([segment.end] * len(found))
    if len(starts) < 2:
        return None
    first = np.asarray(starts)
    predicted = scaled_rollouts(fitted, first, np.asarray(ends), steps, budget)
    targets = fitted.series[:, list(fitted.roles.targets)].double().cpu().numpy()
    actual = targets[first[: len(predicted), None] + np.arange(predicted.shape[1])]
    return predicted, actual


def calibrate_panel_intervals(
    fitted: PanelFitted, wanted: int, budget: Budget
) -> tuple[np.ndarray | None, dict[str, object] | None]:
    """Conformal half-widths [len(LEVELS), steps, O] in the model scale from validation
    rollouts, and their coverage of rollouts over the test parts; (None, None) when the
    validation parts are too short or the budget ran out."""
    shortest = min(segment.split.val for segment in fitted.segments)
    steps = max(1, min(wanted, fitted.max_steps(), shortest))
    found = _val_rollouts(fitted, steps, budget) if budget.left() else None
    if found is None or len(found[0]) < 2:
        return None, None
    predicted, actual = found
    widths = conformal_quantiles(np.abs(actual - predicted))
    test_steps = max(1, min(widths.shape[1], min(s.split.test for s in fitted.segments)))
    starts = np.asarray([s.offset + s.split.test_start for s in fitted.segments])
    ends = np.asarray([s.end for s in fitted.segments])
    rolled = scaled_rollouts(fitted, starts, ends, test_steps, budget)
    targets = fitted.series[:, list(fitted.roles.targets)].double().cpu().numpy()
    truth = targets[starts[: len(rolled), None] + np.arange(rolled.shape[1])]
    measured = {
        "calibrated_steps": widths.shape[1],
        "test_rollouts": len(rolled),
        "test_steps": rolled.shape[1],
        "coverage": coverage(rolled, truth, widths[:, : rolled.shape[1]]),
    }
    return widths, measured


def assess_panel(
    fitted: PanelFitted, season: int, interval_steps: int, budget: Budget = UNLIMITED
) -> tuple[RolloutMode, dict[str, object], np.ndarray | None]:
    """(rollout mode, metrics, model-scale half-widths or None) of a global model. It rolls
    out by window, the regime it was fitted in, unless it carries state as well on the
    validation parts (a sequence-trained model)."""
    fitted, validation, measured = choose_panel_mode(fitted, season, budget)
    metrics = evaluate_panel(fitted, season, budget)
    metrics["warnings"] = validation_warnings(validation, season)
    widths, intervals = calibrate_panel_intervals(fitted, interval_steps, budget)
    metrics["rollout_mode"] = fitted.mode
    metrics["validation_rollout_mae"] = measured
    metrics["intervals"] = intervals
    metrics["evaluation_cut_short"] = budget.ran_out
    return fitted.mode, metrics, widths
