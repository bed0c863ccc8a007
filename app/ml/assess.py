"""Measuring a fitted model: its loss, its rollout mode, its test metrics and its intervals.

Functions over a `Fitted` model (the model and the scaled series it was fitted to), so the
training loop stays about fitting. Every number here is on the original scale except the loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from app.ml.data import Scaler, Split, column_windows, window_starts
from app.ml.evaluation import ErrorSums, errors, naive_windows, with_mase
from app.ml.forecast import RolloutMode, rollout, state_rollout_possible
from app.ml.intervals import conformal_quantiles, coverage, rollout_starts
from app.ml.model import LSTMForecaster
from app.ml.roles import ColumnRoles

# Long test spans are rolled out over their first steps only: a rollout is sequential, and
# tens of thousands of steps would cost more than the training itself.
MAX_ROLLOUT_EVAL_STEPS = 10_000
MAX_ROLLOUT_EVAL_CALLS = 2_000
# Windows per forward pass when evaluating: memory stays at one batch whatever the split's size.
EVAL_BATCH = 1024
# State carry is chosen only if its validation rollout is at least about as good as the window's.
STATE_ROLLOUT_TOLERANCE = 1.05


@dataclass(frozen=True)
class Fitted:
    """A fitted model with the series it was fitted to: what every measurement reads."""

    model: LSTMForecaster
    series: torch.Tensor = field(repr=False)  # [T, C] model scale, on the model's device
    raw_targets: np.ndarray = field(repr=False)  # [T, O] the target columns, original scale
    split: Split
    roles: ColumnRoles  # the input and target columns among the C
    out_scaler: Scaler  # the target columns' scaler

    @property
    def device(self) -> torch.device:
        """Where the model and the scaled series are."""
        return self.series.device


@torch.inference_mode()
def direct_batches(
    model: LSTMForecaster,
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
    model: LSTMForecaster,
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
    fitted: Fitted, starts: np.ndarray, steps: int, mode: RolloutMode
) -> tuple[np.ndarray, np.ndarray]:
    """Batched rollouts of `steps` rows from each start, given the true future of any known
    covariates: (predicted, actual), each [n, steps, O] on the original scale."""
    lookback, device = fitted.model.config.lookback, fitted.device
    inputs = list(fitted.roles.inputs)
    rows = torch.as_tensor(starts, device=device)[:, None]
    history = rows + torch.arange(-lookback, 0, device=device)
    ahead = rows + torch.arange(0, steps, device=device)
    predicted = [
        rollout(
            fitted.model,
            fitted.series[history[begin : begin + EVAL_BATCH]][..., inputs],
            steps,
            mode,
            fitted.series[ahead[begin : begin + EVAL_BATCH]][..., inputs],
        )
        for begin in range(0, len(starts), EVAL_BATCH)
    ]
    scaled = torch.cat(predicted).double().cpu().numpy()
    actual = fitted.raw_targets[starts[:, None] + np.arange(steps)]
    return fitted.out_scaler.inverse(scaled), actual


def rollout_rmse(
    fitted: Fitted, start: int, steps: int, mode: RolloutMode
) -> tuple[np.ndarray, float]:
    """Roll out `steps` rows from the window before row `start`: ([steps, O], RMSE), original
    scale."""
    predicted, actual = rollouts_from(fitted, np.array([start]), steps, mode)
    return predicted[0], errors(predicted[0], actual[0])["rmse"]


def choose_rollout_mode(fitted: Fitted) -> tuple[RolloutMode, dict[str, float | None]]:
    """Pick the cheaper state carry only where the validation rollout shows it is as good."""
    start = fitted.split.val_start
    steps = min(fitted.split.val, max_rollout_steps(fitted))
    window = rollout_rmse(fitted, start, steps, "window")[1]
    if not state_rollout_possible(fitted.model.config):
        return "window", {"window": window, "state": None}
    state = rollout_rmse(fitted, start, steps, "state")[1]
    chosen: RolloutMode = "state" if state <= window * STATE_ROLLOUT_TOLERANCE else "window"
    return chosen, {"window": window, "state": state}


def evaluate(fitted: Fitted, mode: RolloutMode) -> dict[str, object]:
    """Test metrics on the original scale: direct, rollout, and the naive forecast of each."""
    config, split, raw = fitted.model.config, fitted.split, fitted.raw_targets
    starts = window_starts(split.test_start, len(raw), config.lookback, config.horizon)
    model_sums, naive_sums = ErrorSums(), ErrorSums()
    test_starts = torch.as_tensor(starts, device=fitted.device)
    batches = direct_batches(fitted.model, fitted.series, test_starts, fitted.roles)
    for batch, predicted, _ in batches:
        first = batch.cpu().numpy()
        targets = raw[first[:, None] + np.arange(config.horizon)]  # [b, H, O]
        model_sums.add(fitted.out_scaler.inverse(predicted.double().cpu().numpy()), targets)
        naive_sums.add(naive_windows(raw, first, config.horizon), targets)
    steps = min(split.test, max_rollout_steps(fitted))
    rolled, _ = rollout_rmse(fitted, split.test_start, steps, mode)
    actual = raw[split.test_start : split.test_start + steps]
    naive_rollout = np.repeat(raw[split.test_start - 1][None], steps, axis=0)
    naive_one_step, naive_rolled = naive_sums.result(), errors(naive_rollout, actual)
    return {
        "test_rows": split.test,
        "test_windows": len(starts),
        "one_step": with_mase(model_sums.result(), naive_one_step),
        "naive_one_step": naive_one_step,
        "rollout_steps": steps,
        "rollout": with_mase(errors(rolled, actual), naive_rolled),
        "naive_rollout": naive_rolled,
    }


def calibration_steps(fitted: Fitted, wanted: int) -> int:
    """Steps the intervals are calibrated for: as `wanted`, within half the validation split."""
    wanted = min(wanted, max_rollout_steps(fitted))
    return max(1, min(wanted, fitted.split.val // 2))


def calibrate_intervals(fitted: Fitted, mode: RolloutMode, wanted: int) -> np.ndarray | None:
    """[len(LEVELS), steps, O] conformal half-widths from rollouts over the validation split,
    for up to `wanted` steps (None: the split is too short for them)."""
    steps = calibration_steps(fitted, wanted)
    starts = rollout_starts(fitted.split.val_start, fitted.split.test_start, steps)
    if len(starts) < 2:
        return None
    predicted, actual = rollouts_from(fitted, starts, steps, mode)
    return conformal_quantiles(np.abs(actual - predicted))


def interval_coverage(fitted: Fitted, mode: RolloutMode, widths: np.ndarray) -> dict[str, object]:
    """Coverage of the calibrated intervals over rollouts from the test split."""
    steps = max(1, min(widths.shape[1], fitted.split.test // 2))
    starts = rollout_starts(fitted.split.test_start, len(fitted.raw_targets), steps)
    predicted, actual = rollouts_from(fitted, starts, steps, mode)
    return {
        "calibrated_steps": widths.shape[1],
        "test_rollouts": len(starts),
        "test_steps": steps,
        "coverage": coverage(predicted, actual, widths[:, :steps]),
    }


def assess(
    fitted: Fitted, interval_steps: int
) -> tuple[RolloutMode, dict[str, object], np.ndarray | None]:
    """Choose the rollout mode, measure the test split, calibrate intervals for up to
    `interval_steps` steps: (mode, metrics, half-widths or None)."""
    mode, validation_rmse = choose_rollout_mode(fitted)
    metrics = evaluate(fitted, mode)
    metrics["rollout_mode"] = mode
    metrics["validation_rollout_rmse"] = validation_rmse
    widths = calibrate_intervals(fitted, mode, interval_steps)
    metrics["intervals"] = None if widths is None else interval_coverage(fitted, mode, widths)
    return mode, metrics, widths
