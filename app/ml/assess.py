"""Measuring a fitted model: its rollout mode, its test metrics and its warnings.

Each series is rolled out from the row before its own held-out part, all series in one batched
pass, and scored on its own original scale against the naive (last value), seasonal naive
(last season) and drift forecasts of the same rows; the metrics are each series' scores and
their means over series, and each series' guards (`app.ml.guards`) on its validation and test
parts. One series is a panel of one: its means are its own scores.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import torch

from app.ml import combination
from app.ml.budget import Budget
from app.ml.combination import COMBINED_WITH
from app.ml.data import panel_starts
from app.ml.evaluation import naive_windows
from app.ml.fitted import (
    UNLIMITED,
    Fitted,
    SeriesScores,
    direct_batches,
    mean,
    part_scores,
    ratio,
    summarise,
)
from app.ml.forecast import carries_state
from app.ml.guards import SeriesGuard, guard_record, model_warnings, series_guards
from app.ml.intervals import calibrate

# State carry is chosen only if its validation rollouts are at least about as good as the
# window's (the mean over series of each series' MAE).
STATE_ROLLOUT_TOLERANCE = 1.05


def _mean_of(found: list[SeriesScores], score: str) -> float:
    """The mean of the model's `score` over series: not finite when any series' is, so a
    rollout that diverges on one series is never chosen (unlike `fitted.mean`, which reports
    the finite ones)."""
    return float(np.mean([series.model[score] for series in found]))


def choose_mode(
    fitted: Fitted, budget: Budget = UNLIMITED
) -> tuple[Fitted, list[SeriesScores], dict[str, dict[str, float | None]]]:
    """The model set to roll out by state where it can and its validation rollouts are within
    5% of the window's (mean MAE over series), else by window, the regime it was fitted in; the
    chosen mode's validation scores; and both modes' mean MAE and RMSE (state None when not
    measured)."""
    windowed, carried = replace(fitted, mode="window"), replace(fitted, mode="state")
    by_window = part_scores(windowed, budget, "val")
    measured: dict[str, dict[str, float | None]] = {
        score: {"window": _mean_of(by_window, score), "state": None} for score in ("mae", "rmse")
    }
    if not carries_state(fitted.model) or not budget.left():
        return windowed, by_window, measured
    by_state = part_scores(carried, budget, "val")
    reached = [series.rows for series in by_state]
    if reached != [series.rows for series in by_window]:  # not compared on the same rows
        return windowed, by_window, measured
    for score in measured:
        measured[score]["state"] = _mean_of(by_state, score)
    window_mae, state_mae = _mean_of(by_window, "mae"), _mean_of(by_state, "mae")
    if state_mae <= window_mae * STATE_ROLLOUT_TOLERANCE:
        return carried, by_state, measured
    return windowed, by_window, measured


def one_step(fitted: Fitted) -> dict[str, object]:
    """Direct predictions of every test window of every series from its true history, scored
    on the series' original scale beside the naive forecast of the same windows: the means over
    series of each series' errors, and the number of windows."""
    data, config = fitted.data, fitted.model.config
    raw = data.raw[:, list(data.roles.targets)]
    counts = [len(segment.starts("test", config.lookback, config.horizon))
              for segment in data.segments]  # fmt: skip
    starts = panel_starts(data.segments, "test", config.lookback, config.horizon)
    numbers = np.repeat(np.arange(len(counts)), counts)  # each window's series
    sums = np.zeros((2, 2, len(counts)))  # [model | naive, squared | absolute, series]
    done = 0
    for batch, predicted, _ in direct_batches(
        fitted.model, data.scaled, torch.as_tensor(starts, device=data.device), data.roles
    ):
        first = batch.cpu().numpy()
        rows = first[:, None] + np.arange(config.horizon)  # [b, H]
        mine = numbers[done : done + len(first)]
        done += len(first)
        actual = raw[rows]  # [b, H, O]
        model = fitted.original(predicted.double().cpu().numpy(), mine, rows)
        for which, forecast in enumerate((model, naive_windows(raw, first, config.horizon))):
            error = forecast - actual
            np.add.at(sums[which, 0], mine, (error**2).sum(axis=(1, 2)))
            np.add.at(sums[which, 1], mine, np.abs(error).sum(axis=(1, 2)))
    values = np.maximum(np.asarray(counts), 1) * config.horizon * config.n_outputs
    mse, mae = sums[:, 0] / values, sums[:, 1] / values  # [model | naive, series]
    levels = [float(np.mean(np.abs(raw[slice(*s.bounds("test"))]))) for s in data.segments]
    measured = [number for number, count in enumerate(counts) if count]
    return {
        "test_windows": len(starts),
        "one_step": {
            "mse": mean([mse[0, n] for n in measured]),
            "rmse": mean([float(np.sqrt(mse[0, n])) for n in measured]),
            "mae": mean([mae[0, n] for n in measured]),
            "mase": mean([ratio(mae[0, n], mae[1, n], levels[n]) for n in measured]),
        },
        "naive_one_step": {
            "mse": mean([mse[1, n] for n in measured]),
            "rmse": mean([float(np.sqrt(mse[1, n])) for n in measured]),
            "mae": mean([mae[1, n] for n in measured]),
        },
    }


def evaluate(
    fitted: Fitted, found: list[SeriesScores], guards: list[SeriesGuard], combined: list[bool]
) -> dict[str, object]:
    """Every series' test metrics (original scale) from its test scores `found`, its `guards`
    and whether it is `combined` with its drift forecast, their means over series, and the
    means of the one-step predictions of every test window."""
    data = fitted.data
    return {
        "series_count": len(data.segments),
        "series_measured": len(found),
        "season_length": data.season,
        "test_rows": sum(series.rows for series in found),
        "rollout_steps": max(series.rows for series in found),
        **one_step(fitted),
        **summarise(found),
        "series": [
            series.row(data.ids[number])
            | {"guards": guards[number]}
            | ({"combined_with": COMBINED_WITH} if combined[number] else {})  # a panel's bytes
            for number, series in enumerate(found)
        ],
    }


class Assessment(NamedTuple):
    """A measured model: in its rollout mode, its metrics, its model-scale interval
    half-widths (None: not calibrated) and whether each series is combined with its drift
    forecast."""

    fitted: Fitted
    metrics: dict[str, object]
    widths: np.ndarray | None
    combined: list[bool]


def assess(
    fitted: Fitted, interval_steps: int, budget: Budget = UNLIMITED, *, combine: bool = False
) -> Assessment:
    """Choose the rollout mode, measure the test parts, calibrate intervals for up to
    `interval_steps` steps and, with `combine`, choose the series forecast with their drift
    forecast (`app.ml.combination`).

    Measuring stops at the budget's deadline (the job's time limit) like fitting does: the
    rollouts then cover fewer series or steps, intervals may be left out, and
    `evaluation_cut_short` says so. The budget's stop predicate (a cancel) is asked between
    model calls."""
    fitted, validation, measured = choose_mode(fitted, budget)
    test = part_scores(fitted, budget, "test")
    guards = series_guards({"validation": validation, "test": test})
    data = fitted.data
    allowed = combination.eligible(data) if combine else [False] * len(data.segments)
    combined = combination.chosen(validation, allowed)
    metrics = evaluate(fitted, test, guards, combined)
    if combine:
        metrics["combination"] = combination.record(combined, test, data.ids)
    metrics["guards"] = guard_record(guards, data.ids)
    metrics["warnings"] = model_warnings(validation, guards, data.ids, data.season)
    widths, intervals = calibrate(fitted, interval_steps, budget)
    metrics["rollout_mode"] = fitted.mode
    metrics["validation_rollout_mae"] = measured["mae"]
    metrics["validation_rollout_rmse"] = measured["rmse"]
    metrics["intervals"] = intervals
    metrics["evaluation_cut_short"] = budget.ran_out
    return Assessment(fitted, metrics, widths, combined)
