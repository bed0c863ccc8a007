"""The floor a rollout step loop is measured against: the LSTM recurrence in plain numpy."""

from __future__ import annotations

import numpy as np
from torch import nn

from app.ml.forecast import state_rollout_possible
from app.ml.model import LSTMForecaster

Weights = tuple[np.ndarray, np.ndarray]  # (weight [in, out], bias [out]), float32


def _linear(layer: nn.Linear) -> Weights:
    """An nn.Linear's weight, transposed for `x @ weight`, and bias."""
    return layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy()


def numpy_floor(model: LSTMForecaster, context: np.ndarray, steps: int) -> np.ndarray:
    """A state rollout in numpy, one LSTM step at a time, carrying (h, c): the least a step can
    cost from Python, with the arithmetic of `rollout(model, context, steps, "state")`. The
    context's patches run from a zero state; each predicted chunk (head on the top h, after
    the dense layers, plus the last input row when residual) is fed back as the next patches.

    context [B, T, F] scaled, T a multiple of patch -> [B, steps, F]."""
    config = model.config
    if not state_rollout_possible(config):
        raise ValueError("this model cannot be rolled out by state")
    lstm, layers, hidden = model.lstm, config.num_layers, config.hidden_size
    weights = [
        (
            getattr(lstm, f"weight_ih_l{k}").detach().numpy().T.copy(),
            getattr(lstm, f"weight_hh_l{k}").detach().numpy().T.copy(),
            (getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")).detach().numpy(),
        )
        for k in range(layers)
    ]
    dense = [_linear(part) for part in model.dense if isinstance(part, nn.Linear)]
    head_w, head_b = _linear(model.head)
    batch, features = context.shape[0], context.shape[2]
    width, horizon = config.patch * features, config.horizon
    h = [np.zeros((batch, hidden), np.float32) for _ in range(layers)]
    c = [np.zeros((batch, hidden), np.float32) for _ in range(layers)]

    def step(x: np.ndarray) -> np.ndarray:
        """One step of every layer from x [B, P * F] -> the top h [B, hidden]."""
        for k, (w_ih, w_hh, b) in enumerate(weights):
            gates = x @ w_ih + h[k] @ w_hh + b  # [B, 4 * hidden]: i, f, g, o
            sig = 1 / (1 + np.exp(-gates))
            c[k] = sig[:, hidden : 2 * hidden] * c[k] + sig[:, :hidden] * np.tanh(
                gates[:, 2 * hidden : 3 * hidden]
            )
            h[k] = sig[:, 3 * hidden :] * np.tanh(c[k])
            x = h[k]
        return x

    def predict(top: np.ndarray, last: np.ndarray) -> np.ndarray:
        """The next chunk [B, H, F] from the top h and the last row fed [B, F]."""
        out = top
        for weight, bias in dense:
            out = np.tanh(out @ weight + bias)
        chunk = (out @ head_w + head_b).reshape(batch, horizon, features)
        return chunk + last[:, None] if config.residual else chunk

    patches = context.reshape(batch, -1, width)  # [B, T / P, P * F]
    for t in range(patches.shape[1]):
        top = step(patches[:, t])
    calls = -(-steps // horizon)  # ceil
    out = np.empty((batch, calls * horizon, features), np.float32)
    last = context[:, -1]
    for call in range(calls):
        chunk = predict(top, last)
        out[:, call * horizon : (call + 1) * horizon] = chunk
        if call + 1 < calls:  # no step after the last chunk: nothing reads it
            fed = chunk.reshape(batch, -1, width)  # [B, H / P, P * F]
            for t in range(fed.shape[1]):
                top = step(fed[:, t])
            last = chunk[:, -1]
    return out[:, :steps]
