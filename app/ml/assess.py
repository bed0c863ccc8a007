"""Measuring a fitted model: its loss, its rollout mode, its test metrics and its intervals.

Functions over a `Fitted` model (the model and the scaled series it was fitted to), so the
training loop stays about fitting. Every number here is on the original scale except the loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from app.ml.budget import Budget
from app.ml.data import Scaler, Split, column_windows, window_starts
from app.ml.evaluation import (
    ErrorSums,
    errors,
    losing_warning,
    naive_windows,
    seasonal_naive,
    smape,
    with_mase,
)
from app.ml.forecast import RolloutMode, carries_state, rollout
from app.ml.intervals import conformal_quantiles, coverage, rollout_starts
from app.ml.model import Forecaster
from app.ml.roles import ColumnRoles

# Long test spans are rolled out over their first steps only: a rollout is sequential, and
# tens of thousands of steps would cost more than the training itself.
MAX_ROLLOUT_EVAL_STEPS = 10_000
MAX_ROLLOUT_EVAL_CALLS = 2_000
# Windows per forward pass when evaluating: memory stays at one batch whatever the split's size.
EVAL_BATCH = 1024
# State carry is chosen only if its validation rollout is at least about as good as the window's.
STATE_ROLLOUT_TOLERANCE = 1.05
UNLIMITED = Budget()  # no deadline and no stop predicate: it never runs out, so never changes


@dataclass(frozen=True)
class Fitted:
    """A fitted model with the series it was fitted to: what every measurement reads."""

    model: Forecaster
    series: torch.Tensor = field(repr=False)  # [T, C] model scale, on the model's device
    raw_targets: np.ndarray = field(repr=False)  # [T, O] the target columns, original scale
    split: Split
    roles: ColumnRoles  # the input and target columns among the C
    out_scaler: Scaler  # the target columns' scaler
    # [T, O] what each row of the targets was divided by before scaling (None: nothing)
    factors: np.ndarray | None = field(default=None, repr=False)

    def original(self, scaled: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Model-scale predictions [..., O] of the rows `rows` [...] -> original scale."""
        values = self.out_scaler.inverse(scaled)
        return values if self.factors is None else values * self.factors[rows]

    @property
    def device(self) -> torch.device:
        """Where the model and the scaled series are."""
        return self.series.device


@torch.inference_mode()
def direct_batches(
    model: Forecaster,
    series: torch.Tensor,
    starts: torch.Tensor,
    roles: ColumnRoles,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(starts, predictions [b, H, O], targets [b, H, O]) of EVAL_BATCH windows at a time."""
    model.eval()
    config = model.config
    for begin in range(0, len(starts), EVAL_BATCH):
        batch = starts[begin : begin + EVAL_BATCH]
        inputs, targets = column_windows(series, batch, config.lookback, config.horizon, roles)
        yield batch, model(inputs)[0], targets


def mean_loss(
    model: Forecaster,
    series: torch.Tensor,
    starts: torch.Tensor,
    roles: ColumnRoles,
) -> float:
    """The MSE of the windows at `starts` on the model scale: the training loss's measure."""
    batches = direct_batches(model, series, starts, roles)
    total = sum(float(((p - t) ** 2).sum()) for _, p, t in batches)
    return total / (len(starts) * model.config.horizon * model.config.n_outputs)


def max_rollout_steps(fitted: Fitted) -> int:
    """Most steps an evaluation rollout runs: a rollout is sequential, one model call per
    `horizon` steps, so both the steps and the calls are capped."""
    return min(MAX_ROLLOUT_EVAL_STEPS, MAX_ROLLOUT_EVAL_CALLS * fitted.model.config.horizon)


def rollouts_from(
    fitted: Fitted, starts: np.ndarray, steps: int, mode: RolloutMode, budget: Budget = UNLIMITED
) -> tuple[np.ndarray, np.ndarray]:
    """Batched rollouts of `steps` rows from each start, given the true future of any known
    covariates: (predicted, actual), each [n, steps, O] on the original scale. Past the
    budget's deadline they end early: fewer starts (n < len(starts)) or fewer steps."""
    lookback, device = fitted.model.config.lookback, fitted.device
    inputs = list(fitted.roles.inputs)
    rows = torch.as_tensor(starts, device=device)[:, None]
    history = rows + torch.arange(-lookback, 0, device=device)
    ahead = rows + torch.arange(0, steps, device=device)
    predicted: list[torch.Tensor] = []
    for begin in range(0, len(starts), EVAL_BATCH):
        if predicted and not budget.left():
            break
        predicted.append(
            rollout(
                fitted.model,
                fitted.series[history[begin : begin + EVAL_BATCH]][..., inputs],
                steps,
                mode,
                fitted.series[ahead[begin : begin + EVAL_BATCH]][..., inputs],
                keep_going=budget.left,
            )
        )
    done = min(chunk.shape[1] for chunk in predicted)  # steps every rollout reached
    scaled = torch.cat([chunk[:, :done] for chunk in predicted]).double().cpu().numpy()
    reached = starts[: len(scaled), None] + np.arange(done)
    return fitted.original(scaled, reached), fitted.raw_targets[reached]


def rollout_rmse(
    fitted: Fitted, start: int, steps: int, mode: RolloutMode, budget: Budget = UNLIMITED
) -> tuple[np.ndarray, float]:
    """Roll out up to `steps` rows from the window before row `start` (fewer past the budget's
    deadline): ([steps rolled, O], RMSE), original scale."""
    predicted, actual = rollouts_from(fitted, np.array([start]), steps, mode, budget)
    return predicted[0], errors(predicted[0], actual[0])["rmse"]


def choose_rollout_mode(
    fitted: Fitted, budget: Budget = UNLIMITED
) -> tuple[RolloutMode, dict[str, float | None]]:
    """Pick the cheaper state carry only where the validation rollout shows it is as good (and
    the window, which the model was fitted on, when the budget ends before both are measured)."""
    start = fitted.split.val_start
    steps = min(fitted.split.val, max_rollout_steps(fitted))
    rolled, window = rollout_rmse(fitted, start, steps, "window", budget)
    if not carries_state(fitted.model) or len(rolled) < steps or not budget.left():
        return "window", {"window": window, "state": None}
    rolled, state = rollout_rmse(fitted, start, steps, "state", budget)
    if len(rolled) < steps:  # not compared over the same steps: keep the window
        return "window", {"window": window, "state": None}
    chosen: RolloutMode = "state" if state <= window * STATE_ROLLOUT_TOLERANCE else "window"
    return chosen, {"window": window, "state": state}


def evaluate(
    fitted: Fitted, mode: RolloutMode, budget: Budget = UNLIMITED, season: int = 1
) -> dict[str, object]:
    """Test metrics on the original scale: direct, rollout, and the naive forecast of each; the
    rollout also against the seasonal naive forecast of period `season`, with sMAPE."""
    config, split, raw = fitted.model.config, fitted.split, fitted.raw_targets
    starts = window_starts(split.test_start, len(raw), config.lookback, config.horizon)
    model_sums, naive_sums = ErrorSums(), ErrorSums()
    test_starts = torch.as_tensor(starts, device=fitted.device)
    batches = direct_batches(fitted.model, fitted.series, test_starts, fitted.roles)
    for batch, predicted, _ in batches:
        first = batch.cpu().numpy()
        rows = first[:, None] + np.arange(config.horizon)
        targets = raw[rows]  # [b, H, O]
        model_sums.add(fitted.original(predicted.double().cpu().numpy(), rows), targets)
        naive_sums.add(naive_windows(raw, first, config.horizon), targets)
    rolled, _ = rollout_rmse(
        fitted, split.test_start, min(split.test, max_rollout_steps(fitted)), mode, budget
    )
    steps = len(rolled)
    actual = raw[split.test_start : split.test_start + steps]
    naive_rollout = np.repeat(raw[split.test_start - 1][None], steps, axis=0)
    naive_one_step, naive_rolled = naive_sums.result(), errors(naive_rollout, actual)
    seasonal = seasonal_naive(raw[: split.test_start], steps, season)
    seasonal_rolled = errors(seasonal, actual) | {"smape": smape(seasonal, actual)}
    model_rolled = errors(rolled, actual)
    rolled_errors = with_mase(model_rolled, naive_rolled) | {
        "smape": smape(rolled, actual),
        "mase_seasonal": with_mase(model_rolled, seasonal_rolled)["mase"],
    }
    return {
        "test_rows": split.test,
        "test_windows": len(starts),
        "one_step": with_mase(model_sums.result(), naive_one_step),
        "naive_one_step": naive_one_step,
        "rollout_steps": steps,
        "rollout": rolled_errors,
        "naive_rollout": naive_rolled | {"smape": smape(naive_rollout, actual)},
        "season_length": season,
        "seasonal_naive_rollout": seasonal_rolled,
    }


def validation_warnings(
    fitted: Fitted, mode: RolloutMode, season: int, budget: Budget = UNLIMITED
) -> list[str]:
    """[a warning] when the model's rollout over the validation split loses to the seasonal
    naive forecast of the same rows; [] otherwise (or when the budget ran out first)."""
    split = fitted.split
    steps = min(split.val, max_rollout_steps(fitted))
    if not budget.left():
        return []
    predicted, actual = rollouts_from(fitted, np.array([split.val_start]), steps, mode, budget)
    done = predicted.shape[1]
    seasonal = seasonal_naive(fitted.raw_targets[: split.val_start], done, season)
    return losing_warning(
        errors(predicted[0], actual[0])["mae"],
        errors(seasonal, actual[0])["mae"],
        season,
        "over the validation split's rollout",
    )


def calibration_steps(fitted: Fitted, wanted: int) -> int:
    """Steps the intervals are calibrated for: as `wanted`, within half the validation split."""
    wanted = min(wanted, max_rollout_steps(fitted))
    return max(1, min(wanted, fitted.split.val // 2))


def calibrate_intervals(
    fitted: Fitted, mode: RolloutMode, wanted: int, budget: Budget = UNLIMITED
) -> np.ndarray | None:
    """[len(LEVELS), steps, O] conformal half-widths from rollouts over the validation split,
    for up to `wanted` steps (None: the split is too short for them, or the budget ended)."""
    steps = calibration_steps(fitted, wanted)
    starts = rollout_starts(fitted.split.val_start, fitted.split.test_start, steps)
    if len(starts) < 2 or not budget.left():
        return None
    predicted, actual = rollouts_from(fitted, starts, steps, mode, budget)
    if len(predicted) < 2:
        return None
    return conformal_quantiles(np.abs(actual - predicted))


def interval_coverage(
    fitted: Fitted, mode: RolloutMode, widths: np.ndarray, budget: Budget = UNLIMITED
) -> dict[str, object]:
    """Coverage of the calibrated intervals over rollouts from the test split."""
    steps = max(1, min(widths.shape[1], fitted.split.test // 2))
    starts = rollout_starts(fitted.split.test_start, len(fitted.raw_targets), steps)
    predicted, actual = rollouts_from(fitted, starts, steps, mode, budget)
    steps = predicted.shape[1]
    return {
        "calibrated_steps": widths.shape[1],
        "test_rollouts": len(predicted),
        "test_steps": steps,
        "coverage": coverage(predicted, actual, widths[:, :steps]),
    }


def assess(
    fitted: Fitted, interval_steps: int, budget: Budget = UNLIMITED, season: int = 1
) -> tuple[RolloutMode, dict[str, object], np.ndarray | None]:
    """Choose the rollout mode, measure the test split, calibrate intervals for up to
    `interval_steps` steps: (mode, metrics, half-widths or None).

    Measuring stops at the budget's deadline (the job's time limit) like fitting does: the
    rollouts then cover fewer steps, intervals may be left out, and `evaluation_cut_short`
    says so. The budget's stop predicate (a cancel) is asked between model calls."""
    mode, validation_rmse = choose_rollout_mode(fitted, budget)
    metrics = evaluate(fitted, mode, budget, season)
    metrics["warnings"] = validation_warnings(fitted, mode, season, budget)
    metrics["rollout_mode"] = mode
    metrics["validation_rollout_rmse"] = validation_rmse
    widths = calibrate_intervals(fitted, mode, interval_steps, budget)
    metrics["intervals"] = (
        None if widths is None else interval_coverage(fitted, mode, widths, budget)
    )
    metrics["evaluation_cut_short"] = budget.ran_out
    return mode, metrics, widths
