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

from typing import Literal

import numpy as np
import torch

from app.ml.data import Scaler
from app.ml.model import LSTMConfig, LSTMForecaster

RolloutMode = Literal["window", "state"]


def state_rollout_possible(config: LSTMConfig) -> bool:
    """Whether carrying (h, c) can continue this model: not when each window is normalised on
    its own, nor when the predicted chunk cannot be cut into whole patches."""
    return not config.instance_norm and config.horizon % config.patch == 0


@torch.inference_mode()
def rollout(
    model: LSTMForecaster, context: torch.Tensor, steps: int, mode: RolloutMode = "window"
) -> torch.Tensor:
    """context: [B, >= lookback, F] scaled; only its last `lookback` rows are used.

    Returns the next `steps` rows, [B, steps, F] scaled.
    """
    model.eval()
    lookback, horizon = model.config.lookback, model.config.horizon
    if context.shape[1] < lookback:
        raise ValueError(f"context has {context.shape[1]} rows; the model needs {lookback}")
    context = context[:, -lookback:]  # [B, lookback, F]
    calls = -(-steps // horizon)  # ceil
    if mode == "window":
        buffer = torch.cat(
            [context, context.new_empty(context.shape[0], calls * horizon, context.shape[2])], 1
        )  # [B, lookback + calls * horizon, F]
        for call in range(calls):
            at = lookback + call * horizon
            chunk, _ = model(buffer[:, at - lookback : at])  # [B, H, F]
            buffer[:, at : at + horizon] = chunk
        return buffer[:, lookback : lookback + steps]
    chunk, state = model(context)  # [B, H, F]
    chunks = [chunk]
    for _ in range(calls - 1):
        chunk, state = model(chunk, state)  # continue the sequence with the H rows just predicted
        chunks.append(chunk)
    return torch.cat(chunks, 1)[:, :steps]  # [B, calls * H, F] -> [B, steps, F]


def rollout_flops(config: LSTMConfig, contexts: int, steps: int) -> float:
    """Floating-point operations of a window rollout (the costlier mode), LSTM layers only."""
    per_step, width = 0, config.n_features * config.patch
    for _ in range(config.num_layers):
        per_step += 8 * config.hidden_size * (width + config.hidden_size)  # 4 gates, mul + add
        width = config.hidden_size
    calls = -(-steps // config.horizon)
    return float(contexts * calls * (config.lookback // config.patch) * per_step)


def forecast(
    model: LSTMForecaster,
    scaler: Scaler,
    contexts: np.ndarray,
    steps: int,
    mode: RolloutMode,
    device: torch.device,
) -> np.ndarray:
    """contexts: [B, >= lookback, F] original scale -> [B, steps, F] original scale.

    The one place where a forecast is scaled in and out.
    """
    tail = contexts[:, -model.config.lookback :]  # [B, lookback, F]
    scaled = torch.as_tensor(scaler.transform(tail), dtype=torch.float32, device=device)
    out = rollout(model, scaled, steps, mode)  # [B, steps, F]
    return scaler.inverse(out.double().cpu().numpy())
