"""Recursive multi-step rollout: each prediction is fed back as the next input.

Two ways to continue past the context, both batched (one tensor pass per model call):
- "window": re-run the model on the last `lookback` rows every call. This is exactly what a model
  trained on fixed windows from a zero state has seen; it costs ceil(steps / horizon) calls over
  `lookback` LSTM steps each.
- "state": run the context once, then feed only the new predictions while carrying (h, c). It costs
  `steps` LSTM steps in all, but past `lookback` steps the state is in a regime a window-trained
  model never saw, so it is only right for a model whose validation rollout says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from app.ml.data import Scaling
from app.ml.model import EnsembleForecaster, Forecaster, LSTMConfig

RolloutMode = Literal["window", "state"]


def state_rollout_possible(config: LSTMConfig) -> bool:
    """Whether carrying (h, c) can continue this model: not when each window is normalised on
    its own, nor when the predicted chunk cannot be cut into whole patches."""
    return (
        config.roles.state_rollout_possible
        and not config.instance_norm
        and not config.highway  # it reads a whole window, not a continuation
        and config.horizon % config.patch == 0
    )


@torch.inference_mode()
def rollout(
    model: Forecaster,
    context: torch.Tensor,
    steps: int,
    mode: RolloutMode = "window",
    future: torch.Tensor | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> torch.Tensor:
    """context: [B, >= lookback, F] scaled input rows; only its last `lookback` rows are used.
    future: [B, >= steps, F] scaled input rows ahead, read only in the columns that are not
    predicted (known covariates); needed when the model has such columns. `keep_going`, asked
    before every model call after the first, ends the rollout early when it answers False.

    Returns the next `steps` predicted rows, [B, steps, O] scaled (fewer, whole calls of
    `horizon` rows, when `keep_going` ended it).
    """
    model.eval()
    config = model.config
    lookback, horizon = config.lookback, config.horizon
    if context.shape[1] < lookback:
        raise ValueError(f"context has {context.shape[1]} rows; the model needs {lookback}")
    covariates = bool(config.roles.covariates)
    if covariates and (future is None or future.shape[1] < steps):
        raise ValueError(f"this model needs {steps} future rows of its known covariates")
    context = context[:, -lookback:]  # [B, lookback, F]
    calls = -(-steps // horizon)  # ceil
    if mode == "state":
        if covariates:
            raise ValueError("a model with known covariates rolls out by window")
        if isinstance(model, EnsembleForecaster):
            raise ValueError("an ensemble rolls out by window")
        return _state_rollout(model, context, calls, keep_going)[:, :steps]
    return _window_rollout(model, context, calls, future, keep_going)[:, :steps]


def _state_rollout(
    model: Forecaster,
    context: torch.Tensor,
    calls: int,
    keep_going: Callable[[], bool] | None,
) -> torch.Tensor:
    """Run the context once, then feed back each predicted chunk carrying (h, c):
    [B, calls * H, F] (fewer whole chunks when `keep_going` ended it)."""
    chunk, state = model(context)  # [B, H, F]
    chunks = [chunk]
    for _ in range(calls - 1):
        if keep_going is not None and not keep_going():
            break
        chunk, state = model(chunk, state)  # continue with the H rows just predicted
        chunks.append(chunk)
    return torch.cat(chunks, 1)


def _window_rollout(
    model: Forecaster,
    context: torch.Tensor,
    calls: int,
    future: torch.Tensor | None,
    keep_going: Callable[[], bool] | None,
) -> torch.Tensor:
    """Re-run the model on the last `lookback` rows for every chunk, predicted inputs fed
    back and known covariates read from `future`: [B, calls * H, O] (fewer whole chunks when
    `keep_going` ended it)."""
    config = model.config
    lookback, horizon = config.lookback, config.horizon
    ahead = context.new_zeros(context.shape[0], calls * horizon, context.shape[2])
    if future is not None:
        known = future[:, : calls * horizon]
        ahead[:, : known.shape[1]] = known
    buffer = torch.cat([context, ahead], 1)  # [B, lookback + calls * H, F]
    # Predicted columns that are also inputs are fed back; the rest of the inputs are given.
    pairs = [
        (out, at_input)
        for out, at_input in enumerate(config.roles.target_input_positions)
        if at_input >= 0
    ]
    outputs, inputs = [out for out, _ in pairs], [at_input for _, at_input in pairs]
    predicted = context.new_empty(context.shape[0], calls * horizon, config.n_outputs)
    for call in range(calls):
        if call and keep_going is not None and not keep_going():
            return predicted[:, : call * horizon]
        at = lookback + call * horizon
        chunk, _ = model(buffer[:, at - lookback : at])  # [B, H, O]
        predicted[:, call * horizon : (call + 1) * horizon] = chunk
        if inputs:
            buffer[:, at : at + horizon, inputs] = chunk[..., outputs]
    return predicted


def forecast(
    model: Forecaster,
    scalers: tuple[Scaling, Scaling],
    contexts: np.ndarray,
    steps: int,
    mode: RolloutMode,
    device: torch.device,
    future: np.ndarray | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> np.ndarray:
    """contexts: [B, >= lookback, F] input rows, original scale (future: [B, >= steps, F] rows
    ahead, for a model with known covariates) -> [B, steps, O] predicted rows, original scale
    (fewer steps when `keep_going`, asked between model calls, ended the rollout).

    `scalers` are the (input, output) column scalers: one for every context, or a stack of
    one per context (each series of a global model keeps its own). The one place where a
    forecast is scaled in and out.
    """
    scale_in, scale_out = scalers
    tail = contexts[:, -model.config.lookback :]  # [B, lookback, F]
    scaled = torch.as_tensor(scale_in.transform(tail), dtype=torch.float32, device=device)
    ahead = None
    if future is not None:
        ahead = torch.as_tensor(scale_in.transform(future), dtype=torch.float32, device=device)
    out = rollout(model, scaled, steps, mode, ahead, keep_going)  # [B, steps, O]
    return scale_out.inverse(out.double().cpu().numpy())
