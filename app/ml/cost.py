"""What a model costs: its weights, the arithmetic of a forecast, the memory of training.

One count of the model's weight matrices (`matrices`) gives both the number of weights (for
the training-memory check at submission) and the floating-point work of a call (for the
forecast-work check); tests hold it to the real module's parameter count.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.ml.config import TrainConfig
from app.ml.model import CELLS, ModelConfig
from app.ml.sequences import sequence_span

# Floats kept per batch element, time step, hidden unit and layer while training the recurrent
# layers:
# gates, cell and hidden states and their gradients, rounded up (a GRU keeps fewer).
ACTIVATION_FLOATS = 16


@dataclass(frozen=True)
class Matrix:
    """One weight matrix of the model, [rows, cols], with its `biases`, applied `uses` times
    in one model call."""

    rows: int
    cols: int
    biases: int
    uses: int = 1


def matrices(config: ModelConfig) -> list[Matrix]:
    """The weight matrices of `RecurrentForecaster(config)`, in the order a call applies them."""
    hidden, outputs = config.hidden_size, config.horizon * config.n_outputs
    gates = CELLS[config.cell].gates * hidden  # rows of the recurrent weights: 4H LSTM, 3H GRU
    found, width = [], config.n_features * config.patch
    for _ in range(config.num_layers):
        # The gates' input and recurrent weights, [G, width] and [G, H], as one matrix over
        # [x, h]; two bias vectors (b_ih, b_hh); applied once per step (lookback / patch).
        found.append(Matrix(gates, width + hidden, 2 * gates, config.lookback // config.patch))
        width = hidden
    for size in config.dense_layers:
        found.append(Matrix(size, width, size))
        width = size
    found.append(Matrix(outputs, width, outputs))  # the head
    if config.highway:
        found.append(Matrix(outputs, config.lookback * config.n_features, outputs))
    return found


def weight_count(config: ModelConfig) -> int:
    """Parameters of `RecurrentForecaster(config)`: weights and biases."""
    return sum(m.rows * m.cols + m.biases for m in matrices(config))


def call_flops(config: ModelConfig) -> int:
    """Floating-point operations of one model call on one window: a multiply and an add per
    weight and use (biases and gate nonlinearities are left out: they are a small share)."""
    return sum(2 * m.rows * m.cols * m.uses for m in matrices(config))


def rollout_flops(config: ModelConfig, contexts: int, steps: int) -> float:
    """Floating-point operations of a window rollout (the costlier mode) of `steps` steps from
    each of `contexts` contexts: one model call per `horizon` steps."""
    calls = -(-steps // config.horizon)  # ceil
    return float(contexts * calls * call_flops(config))


def training_bytes(config: ModelConfig, train: TrainConfig, train_rows: int, n_columns: int) -> int:
    """A generous estimate of a training run's memory on a series of `n_columns` columns with
    `train_rows` training rows: one batch's activations and windows, and 4 copies of the
    weights (the weights, their gradients and Adam's two moments)."""
    batch, steps = train.batch_size, config.lookback // config.patch
    rows_per_sample = config.lookback + config.horizon
    if train.stateful:  # streams of consecutive rows, backpropagated tbptt steps at a time
        batch = min(batch, max(1, (train_rows - 1) // 2))
        steps = min(train.tbptt, max(1, train_rows // batch))
        rows_per_sample = train_rows // batch + 1
    elif train.sequence_steps:  # the window and every patch scored past it
        steps += train.sequence_steps - 1
        rows_per_sample = config.lookback + sequence_span(config, train.sequence_steps)
    activations = ACTIVATION_FLOATS * batch * steps * config.hidden_size * config.num_layers
    windows = 3 * batch * rows_per_sample * n_columns  # gathered rows and their column picks
    return 4 * (activations + windows + 4 * weight_count(config))
