"""The floor a rollout step loop is measured against: the LSTM recurrence in plain numpy."""

from __future__ import annotations

import numpy as np

from app.ml.model import LSTMForecaster


def numpy_floor(model: LSTMForecaster, context: np.ndarray, steps: int) -> np.ndarray:
    """The LSTM recurrence in numpy, one step at a time, carrying (h, c): the least a step can
    cost from Python. context [B, T, 1] scaled -> [B, steps] (head + residual, horizon 1)."""
    lstm, layers = model.lstm, model.config.num_layers
    weights = [
        (
            getattr(lstm, f"weight_ih_l{k}").detach().numpy().T.copy(),
            getattr(lstm, f"weight_hh_l{k}").detach().numpy().T.copy(),
            (getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")).detach().numpy(),
        )
        for k in range(layers)
    ]
    head_w = model.head.weight.detach().numpy().T.copy()
    head_b = model.head.bias.detach().numpy()
    batch, hidden = context.shape[0], model.config.hidden_size
    h = [np.zeros((batch, hidden), np.float32) for _ in range(layers)]
    c = [np.zeros((batch, hidden), np.float32) for _ in range(layers)]
    out = np.empty((batch, steps), np.float32)

    def step(x: np.ndarray) -> np.ndarray:
        for k, (w_ih, w_hh, b) in enumerate(weights):
            gates = x @ w_ih + h[k] @ w_hh + b  # [B, 4 * hidden]
            sig = 1 / (1 + np.exp(-gates))
            c[k] = sig[:, hidden : 2 * hidden] * c[k] + sig[:, :hidden] * np.tanh(
                gates[:, 2 * hidden : 3 * hidden]
            )
            h[k] = sig[:, 3 * hidden :] * np.tanh(c[k])
            x = h[k]
        return x

    for t in range(context.shape[1]):
        top = step(context[:, t])
    last = context[:, -1]
    for t in range(steps):
        last = top @ head_w + head_b + last  # [B, 1]: residual head
        out[:, t] = last[:, 0]
        top = step(last)
    return out
