"""Sequence training: the model carries its state past the window, scored after every step.

A model trained only on windows from a zero state has never seen the (h, c) a state rollout
carries past its window, so its state rollout drifts. Scored after every patch of a longer run
(as DeepAR and Darts' RNNModel train), the carried state is what it learned from, and the cheap
state rollout (one recurrent step per patch) continues it as well as re-reading windows would. The
first scored output is the window's own, so the window rollout stays trained too.
"""

from __future__ import annotations

import torch

from app.ml.losses import LossName, pointwise, training_loss
from app.ml.model import ModelConfig, RecurrentForecaster
from app.ml.roles import ColumnRoles

EVAL_BATCH = 256  # sequences scored at once when measuring a loss without gradients


def sequence_span(config: ModelConfig, steps: int) -> int:
    """Rows a sequence of `steps` scored steps predicts past its window: the last step's
    horizon begins (steps - 1) patches after the first's."""
    return (steps - 1) * config.patch + config.horizon


def sequence_windows(
    series: torch.Tensor, starts: torch.Tensor, config: ModelConfig, steps: int, roles: ColumnRoles
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences whose first scored step predicts from row `starts` on: inputs
    [B, lookback + (steps - 1) * patch, F] and targets [B, steps, horizon, O], where step k's
    target is the `horizon` rows after its input's end (k patches after the window's)."""
    span, device = sequence_span(config, steps), series.device
    rows = series[starts[:, None] + torch.arange(-config.lookback, span, device=device)]
    inputs = rows[:, : config.lookback + (steps - 1) * config.patch, list(roles.inputs)]
    offsets = config.lookback + torch.arange(steps, device=device)[:, None] * config.patch
    targets = rows[:, offsets + torch.arange(config.horizon, device=device)]  # [B, S, H, C]
    return inputs, targets[..., list(roles.targets)]


def scored_steps(model: RecurrentForecaster, inputs: torch.Tensor) -> torch.Tensor:
    """The model's predictions after the window and every patch past it: inputs from
    `sequence_windows` -> [B, steps, horizon, O]."""
    predicted, _ = model.next_steps(inputs)
    first = model.config.lookback // model.config.patch - 1  # the window's last patch
    return predicted[:, first:]


def sequence_loss(
    model: RecurrentForecaster, inputs: torch.Tensor, targets: torch.Tensor, loss: LossName
) -> torch.Tensor:
    """The mean `loss` over every scored step of every sequence."""
    return training_loss(scored_steps(model, inputs), targets, loss)


@torch.no_grad()
def mean_sequence_loss(
    model: RecurrentForecaster,
    series: torch.Tensor,
    starts: torch.Tensor,
    steps: int,
    roles: ColumnRoles,
    loss: LossName = "mse",
) -> float:
    """The mean `loss` of the sequences at `starts` on the model scale (the validation loss of
    sequence training, measured as it trains)."""
    model.eval()
    total, count = 0.0, 0
    for begin in range(0, len(starts), EVAL_BATCH):
        inputs, targets = sequence_windows(
            series, starts[begin : begin + EVAL_BATCH], model.config, steps, roles
        )
        total += float(pointwise(scored_steps(model, inputs) - targets, loss).sum())
        count += targets.numel()
    return total / count
