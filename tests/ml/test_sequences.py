"""Sequence training: runs past the window scored after every patch, so that the state
rollout (one LSTM step per patch) continues what the model learned."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.ml.config import TrainConfig
from app.ml.cost import training_bytes
from app.ml.model import ModelConfig, RecurrentForecaster
from app.ml.prepare import Panel
from app.ml.roles import ColumnRoles
from app.ml.sequences import scored_steps, sequence_span, sequence_windows
from app.ml.train import TrainResult, train

CPU = torch.device("cpu")
SMALL = ModelConfig(n_features=1, lookback=10, horizon=5, patch=5, hidden_size=16, num_layers=1)


@pytest.fixture(scope="module")
def wave() -> np.ndarray:
    values: np.ndarray = np.sin(np.arange(1500) * 0.1)[:, None]
    return values


def fit(series: np.ndarray, config: ModelConfig = SMALL, **settings: object) -> TrainResult:
    chosen = {"epochs": 40, "batch_size": 16, "early_stopping_patience": 0, **settings}
    return train(Panel.of_series(series), config, TrainConfig(**chosen))  # type: ignore[arg-type]


def test_a_sequence_holds_the_window_and_every_step_targets_the_rows_after_it() -> None:
    series = torch.arange(100, dtype=torch.float32)[:, None] * torch.tensor([[1.0, -1.0]])
    config = ModelConfig(n_features=2, lookback=6, horizon=4, patch=2)
    roles = ColumnRoles.of(2)
    inputs, targets = sequence_windows(series, torch.tensor([10, 40]), config, 3, roles)
    assert sequence_span(config, 3) == 2 * 2 + 4
    assert inputs.shape == (2, 6 + 2 * 2, 2)
    assert targets.shape == (2, 3, 4, 2)
    assert inputs[1, :, 0].tolist() == list(range(34, 44))  # the window, then 2 more patches
    for step in range(3):  # step k's input ends k patches after the window, its target follows
        first = 10 + 2 * step
        assert targets[0, step, :, 0].tolist() == list(range(first, first + 4))
        assert targets[0, step, :, 1].tolist() == [-row for row in range(first, first + 4)]


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(n_features=1, lookback=6, horizon=4, patch=2),
        ModelConfig(n_features=2, lookback=4, horizon=1, patch=1, dense_layers=(8,)),
        ModelConfig(n_features=1, lookback=9, horizon=3, patch=3, residual=False, num_layers=3),
    ],
)
def test_each_scored_step_is_the_forward_pass_of_the_rows_up_to_it(config: ModelConfig) -> None:
    """Step k's output is what `forward` answers for the rows up to it from a zero state: the
    window's own output first, then the outputs a state rollout would carry on to."""
    torch.manual_seed(0)
    model = RecurrentForecaster(config).eval()
    for parameter in model.parameters():  # residual heads start at zero: make them matter
        torch.nn.init.normal_(parameter, std=0.3)
    inputs = torch.randn(3, config.lookback + 4 * config.patch, config.n_features)
    with torch.no_grad():
        scored = scored_steps(model, inputs)  # [B, 5, H, O]
        assert scored.shape == (3, 5, config.horizon, config.n_outputs)
        for step in range(5):
            rows = inputs[:, : config.lookback + step * config.patch]
            torch.testing.assert_close(scored[:, step], model(rows)[0], atol=1e-5, rtol=1e-5)


def test_sequence_training_makes_the_state_rollout_right(wave: np.ndarray) -> None:
    """Fitted on windows only, the carried state drifts far (the state rollout is ruled out);
    fitted on sequences, the state rollout is chosen and tracks the wave."""
    windows, sequences = fit(wave, epochs=10, batch_size=32), fit(wave, sequence_steps=8)
    drifted = windows.metrics["validation_rollout_rmse"]["state"]  # type: ignore[index]
    carried = sequences.metrics["validation_rollout_rmse"]["state"]  # type: ignore[index]
    assert windows.rollout_mode == "window"
    assert sequences.rollout_mode == "state"
    assert carried < 0.2 < drifted, (carried, drifted)
    assert carried < drifted / 10
    rolled = sequences.metrics["mean"]  # the test rows, by state
    assert rolled["rmse"] < 0.2, rolled  # type: ignore[index]


@pytest.mark.parametrize(
    ("config", "settings", "needs"),
    [
        (ModelConfig(n_features=1, lookback=6, horizon=3, patch=2), {}, "multiple of the patch"),
        (ModelConfig(n_features=1, instance_norm=True), {}, "multiple of the patch"),
        (ModelConfig(n_features=1), {"stateful": True}, "multiple of the patch"),
        (SMALL, {"sequence_steps": 400}, "must each hold one"),
    ],
)
def test_sequences_the_model_or_data_cannot_take_are_refused(
    wave: np.ndarray, config: ModelConfig, settings: dict[str, object], needs: str
) -> None:
    with pytest.raises(ValueError, match=needs):
        fit(wave, config, **{"sequence_steps": 4, **settings})


def test_the_memory_estimate_counts_the_whole_sequence() -> None:
    windows = training_bytes(SMALL, TrainConfig(), 1000, 1)
    sequences = training_bytes(SMALL, TrainConfig(sequence_steps=20), 1000, 1)
    assert sequences > 5 * windows


def test_an_ensemble_of_global_models_trains_on_sequences_and_rolls_out_by_window() -> None:
    """A global model's series each give their own sequences (none crosses into the next); an
    ensemble's members carry no common state, so it rolls out by window, which the first
    scored step trains."""
    first = np.sin(np.arange(400) * 0.1)[:, None]
    second = 2 + np.cos(np.arange(300) * 0.15)[:, None]
    panel = Panel(np.concatenate([first, second]), (400, 300), ("a", "b"))
    config = TrainConfig(epochs=3, batch_size=16, sequence_steps=6, ensemble=2)
    result = train(panel, SMALL, config, device=CPU)
    assert result.rollout_mode == "window"
    assert result.metrics["ensemble"] == 2
    assert all(np.isfinite(stats.val_loss) for stats in result.history)


def test_a_sequence_trained_global_model_rolls_out_by_state() -> None:
    """Chosen on the series' validation parts, as a single series' model is; its backtest
    rolls out in the mode it is served by."""
    waves = [np.sin(np.arange(1200) * rate)[:, None] for rate in (0.1, 0.13)]
    panel = Panel(np.concatenate(waves), (1200, 1200), ("slow", "fast"))
    config = TrainConfig(epochs=40, batch_size=16, sequence_steps=8, folds=2)
    result = train(panel, SMALL, config, device=CPU)
    measured = result.metrics["validation_rollout_mae"]
    assert isinstance(measured, dict)
    assert result.rollout_mode == result.metrics["rollout_mode"] == "state", measured
    assert measured["state"] <= 1.05 * measured["window"]
    mean = result.metrics["mean"]
    assert isinstance(mean, dict)
    assert mean["mase"] < 1  # the waves tracked better than by repeating the last value
