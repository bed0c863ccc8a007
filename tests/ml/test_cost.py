"""The one count of a model's weights and arithmetic, held to the real module."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from app.ml.config import TrainConfig
from app.ml.cost import call_flops, rollout_flops, training_bytes, weight_count
from app.ml.model import ModelConfig, RecurrentForecaster

CONFIGS = [
    ModelConfig(n_features=1),
    ModelConfig(n_features=3, hidden_size=5, num_layers=1),
    ModelConfig(n_features=2, hidden_size=7, num_layers=4, dense_layers=(16, 3)),
    ModelConfig(n_features=2, lookback=12, horizon=4, highway=True),
    ModelConfig(n_features=3, lookback=20, patch=5, horizon=5, dense_layers=(9,), highway=True),
    ModelConfig(n_features=2, target_inputs=(1,), residual=False, highway=True),  # covariate
    ModelConfig(n_features=1, target_inputs=(0, -1), residual=False, num_layers=3),
    ModelConfig(n_features=1, cell="gru"),
    ModelConfig(n_features=3, hidden_size=5, num_layers=3, cell="gru", dense_layers=(4,)),
    ModelConfig(n_features=2, lookback=12, patch=3, horizon=3, cell="gru", highway=True),
]


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_weight_count_is_the_modules_parameter_count(config: ModelConfig) -> None:
    model = RecurrentForecaster(config)
    assert weight_count(config) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_call_flops_are_a_multiply_and_an_add_per_weight_and_use(config: ModelConfig) -> None:
    steps = config.lookback // config.patch  # the LSTM's weights are applied once per step
    expected = sum(
        2 * p.numel() * (steps if name.startswith("recurrent.") else 1)
        for name, p in RecurrentForecaster(config).named_parameters()
        if "weight" in name
    )
    assert call_flops(config) == expected


@pytest.mark.parametrize("config", [c for c in CONFIGS if c.cell == "gru"], ids=str)
def test_a_gru_has_one_gate_block_fewer_than_an_lstm(config: ModelConfig) -> None:
    """Per layer: a block's input and recurrent weights [H, width + H] and its two biases."""
    hidden, widths = config.hidden_size, [config.n_features * config.patch]
    widths += [hidden] * (config.num_layers - 1)
    block = sum(hidden * (width + hidden) + 2 * hidden for width in widths)
    assert weight_count(replace(config, cell="lstm")) - weight_count(config) == block


def test_rollout_flops_count_one_call_per_horizon_steps_for_each_context() -> None:
    config = ModelConfig(n_features=2, horizon=3)
    assert rollout_flops(config, 1, 1) == call_flops(config)
    assert rollout_flops(config, 5, 7) == 5 * math.ceil(7 / 3) * call_flops(config)


def test_the_count_without_dense_layers_is_the_one_the_forecast_check_always_used() -> None:
    config = ModelConfig(n_features=3, lookback=12, patch=2, horizon=2, num_layers=2, highway=True)
    hidden, width, outputs = config.hidden_size, 3 * 2, 2 * 3
    lstm = 8 * hidden * (width + hidden) + 8 * hidden * (hidden + hidden)  # per LSTM step
    head = 2 * outputs * hidden + 2 * config.lookback * 3 * outputs  # head and highway
    assert call_flops(config) == (12 // 2) * lstm + head


def test_training_bytes_add_activations_windows_and_four_copies_of_the_weights() -> None:
    config, train = ModelConfig(n_features=1), TrainConfig()
    activations = 16 * train.batch_size * config.lookback * config.hidden_size * 2
    windows = 3 * train.batch_size * (config.lookback + config.horizon) * 1
    assert training_bytes(config, train, 8000, 1) == 4 * (
        activations + windows + 4 * weight_count(config)
    )
    stateful = TrainConfig(stateful=True, batch_size=64, tbptt=20)
    activations = 16 * 64 * 20 * config.hidden_size * 2  # tbptt steps per chunk
    windows = 3 * 64 * (8000 // 64 + 1) * 3  # each stream's rows, of all 3 columns
    assert training_bytes(config, stateful, 8000, 3) == 4 * (
        activations + windows + 4 * weight_count(config)
    )
