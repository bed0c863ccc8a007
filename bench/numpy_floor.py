"""The floor a rollout step loop is measured against: the recurrence (LSTM or GRU) in plain
numpy."""

from __future__ import annotations

import numpy as np
from torch import nn

from app.ml.forecast import state_rollout_possible
from app.ml.model import CELLS, RecurrentForecaster

Weights = tuple[np.ndarray, np.ndarray]  # (weight [in, out], bias [out]), float32
# A recurrent layer: W_ih [in, G], W_hh [hidden, G] (G: gates x hidden), then its biases:
# b_ih + b_hh [G] for an LSTM, b_ih and b_hh [G] apart for a GRU (r scales only b_hn)
Layer = tuple[np.ndarray, ...]


def _linear(layer: nn.Linear) -> Weights:
    """An nn.Linear's weight, transposed for `x @ weight`, and bias."""
    return layer.weight.detach().numpy().T.copy(), layer.bias.detach().numpy().copy()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, elementwise."""
    return np.asarray(1 / (1 + np.exp(-x)))


def _lstm_step(x: np.ndarray, state: list[np.ndarray], layer: Layer) -> list[np.ndarray]:
    """nn.LSTM's layer step: x [B, in], state [h, c] (each [B, hidden]) -> [h', c']."""
    w_ih, w_hh, bias = layer
    (h, c), hidden = state, state[0].shape[1]
    gates = x @ w_ih + h @ w_hh + bias  # [B, 4 * hidden]: i, f, g, o
    sig = _sigmoid(gates)
    c = sig[:, hidden : 2 * hidden] * c + sig[:, :hidden] * np.tanh(
        gates[:, 2 * hidden : 3 * hidden]
    )
    return [sig[:, 3 * hidden :] * np.tanh(c), c]


def _gru_step(x: np.ndarray, state: list[np.ndarray], layer: Layer) -> list[np.ndarray]:
    """nn.GRU's layer step: x [B, in], state [h] ([B, hidden]) -> [h']."""
    w_ih, w_hh, b_ih, b_hh = layer
    (h,), hidden = state, state[0].shape[1]
    from_x, from_h = x @ w_ih + b_ih, h @ w_hh + b_hh  # [B, 3 * hidden] each: r, z, n
    r, z = np.split(_sigmoid(from_x[:, : 2 * hidden] + from_h[:, : 2 * hidden]), 2, axis=1)
    n = np.tanh(from_x[:, 2 * hidden :] + r * from_h[:, 2 * hidden :])
    return [(1 - z) * n + z * h]


CELL_STEPS = {"lstm": _lstm_step, "gru": _gru_step}  # by `ModelConfig.cell`


def _layers(model: RecurrentForecaster) -> list[Layer]:
    """The recurrent layers' weights, transposed for `x @ weight`, and biases."""
    module, apart = model.recurrent, model.config.cell == "gru"
    layers: list[Layer] = []
    for k in range(model.config.num_layers):
        w_ih, w_hh, b_ih, b_hh = (
            getattr(module, f"{name}_l{k}").detach()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        biases = (b_ih, b_hh) if apart else (b_ih + b_hh,)
        layers.append((w_ih.numpy().T.copy(), w_hh.numpy().T.copy(), *(b.numpy() for b in biases)))
    return layers


def numpy_floor(model: RecurrentForecaster, context: np.ndarray, steps: int) -> np.ndarray:
    """A state rollout in numpy, one step at a time, carrying (h, c) or h: the least a step can
    cost from Python, with the arithmetic of `rollout(model, context, steps, "state")`. The
    context's patches run from a zero state; each predicted chunk (head on the top h, after
    the dense layers, plus the last input row when residual) is fed back as the next patches.

    context [B, T, F] scaled, T a multiple of patch -> [B, steps, F]."""
    config = model.config
    if not state_rollout_possible(config):
        raise ValueError("this model cannot be rolled out by state")
    layers, hidden = _layers(model), config.hidden_size
    dense = [_linear(part) for part in model.dense if isinstance(part, nn.Linear)]
    head_w, head_b = _linear(model.head)
    batch, features = context.shape[0], context.shape[2]
    width, horizon = config.patch * features, config.horizon
    parts = len(CELLS[config.cell].state)  # (h, c) or h
    states = [[np.zeros((batch, hidden), np.float32)] * parts for _ in layers]
    cell_step = CELL_STEPS[config.cell]

    def step(x: np.ndarray) -> np.ndarray:
        """One step of every layer from x [B, P * F] -> the top h [B, hidden]."""
        for k, layer in enumerate(layers):
            states[k] = cell_step(x, states[k], layer)
            x = states[k][0]
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
