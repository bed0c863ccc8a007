"""Input and target columns (known covariates), the highway, and stateful (TBPTT) training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.ml.config import TrainConfig
from app.ml.data import Scaler
from app.ml.feasibility import STATEFUL_NEEDS, stateful_possible
from app.ml.forecast import forecast, rollout, state_rollout_possible
from app.ml.functions import generate, resolve_params
from app.ml.model import ModelConfig, RecurrentForecaster
from app.ml.prepare import Panel
from app.ml.roles import ColumnRoles
from app.ml.train import train

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def sin_cos() -> np.ndarray:
    return generate("sin_cos", resolve_params("sin_cos", {"stop": 60.0, "points": 1200}))


def has_covariates(config: ModelConfig) -> bool:
    return bool(config.roles.covariates)


def test_a_target_outside_the_inputs_needs_residual_and_instance_norm_off() -> None:
    with pytest.raises(ValueError, match="every target among the inputs"):
        ModelConfig(n_features=1, target_inputs=(-1,))
    with pytest.raises(ValueError, match="every target among the inputs"):
        ModelConfig(n_features=1, target_inputs=(-1,), residual=False, instance_norm=True)
    config = ModelConfig(n_features=1, target_inputs=(-1,), residual=False)
    assert (config.n_outputs, config.roles.residual_possible) == (1, False)
    assert has_covariates(config)  # its one input is not predicted: a forecast needs its future


def test_which_models_have_covariates_and_may_carry_state() -> None:
    plain = ModelConfig(n_features=2)
    assert not has_covariates(plain)
    assert state_rollout_possible(plain)
    exogenous = ModelConfig(n_features=2, target_inputs=(1,))  # predicts column 1 of 2
    assert has_covariates(exogenous)
    assert not state_rollout_possible(exogenous)
    swapped = ModelConfig(n_features=2, target_inputs=(1, 0))
    assert not has_covariates(swapped)
    assert not state_rollout_possible(swapped)


def test_cos_from_sin_learns_and_is_measured_on_the_target_column(sin_cos: np.ndarray) -> None:
    columns = ColumnRoles.of(2, (0,), (1,))
    model = ModelConfig(
        n_features=1, lookback=20, hidden_size=8, num_layers=1, residual=False, highway=True,
        target_inputs=columns.target_inputs,
    )  # fmt: skip
    result = train(
        Panel.of_series(sin_cos), model, TrainConfig(epochs=15, seed=0), roles=columns, device=CPU
    )
    metrics = result.metrics
    assert metrics["one_step"]["mse"] < 1e-3  # type: ignore[index]
    # The naive baseline is the target's own last value, on the original scale.
    assert (
        metrics["naive_one_step"]["mse"]
        == pytest.approx(  # type: ignore[index]
            float(np.mean(np.diff(sin_cos[-120:, 1]) ** 2)), rel=0.2
        )
    )
    assert result.series[0].tail.shape == (20, 2)  # every column: the scaler's and the checkpoint's


def test_rollout_reads_the_known_future_of_the_covariates() -> None:
    config = ModelConfig(
        n_features=1, lookback=4, hidden_size=4, num_layers=1, residual=False, highway=True,
        target_inputs=(-1,),
    )  # fmt: skip
    torch.manual_seed(0)
    model = RecurrentForecaster(config)
    with torch.no_grad():
        model.highway.weight.fill_(0.25)  # type: ignore[union-attr]
        model.head.weight.zero_()
        model.head.bias.zero_()
    context = torch.ones(1, 4, 1)
    future = torch.arange(1.0, 7.0).view(1, 6, 1) * 10
    out = rollout(model, context, 6, "window", future)[0, :, 0]
    # Step k sees the 4 rows before it: the context, then the given future values.
    rows = torch.cat([context[0, :, 0], future[0, :, 0]])
    expected = torch.stack([rows[k : k + 4].mean() for k in range(6)])
    assert torch.allclose(out, expected)
    with pytest.raises(ValueError, match="future rows"):
        rollout(model, context, 6, "window", future[:, :3])
    with pytest.raises(ValueError, match="future rows"):
        rollout(model, context, 6, "window")


def test_forecast_scales_inputs_and_outputs_with_their_own_columns() -> None:
    config = ModelConfig(
        n_features=1, lookback=2, hidden_size=4, num_layers=1, residual=False, highway=True,
        target_inputs=(-1,),
    )  # fmt: skip
    model = RecurrentForecaster(config)
    with torch.no_grad():
        model.highway.weight.copy_(torch.tensor([[0.0, 1.0]]))  # type: ignore[union-attr]
        model.head.weight.zero_()
        model.head.bias.zero_()
    scale_in = Scaler("standard", (10.0,), (2.0,))
    scale_out = Scaler("standard", (-5.0,), (3.0,))
    context = np.array([[[10.0], [14.0]]])  # scaled: 0, 2
    future = np.array([[[16.0], [18.0]]])  # scaled: 3, 4
    out = forecast(model, (scale_in, scale_out), context, 2, "window", CPU, future)
    # The model copies the last scaled input; the output scaler maps it back: 2 -> 1, 3 -> 4.
    assert out[0, :, 0] == pytest.approx([2 * 3 - 5, 3 * 3 - 5], abs=1e-5)


def test_the_highway_starts_at_zero_and_keeps_the_naive_start() -> None:
    model = RecurrentForecaster(ModelConfig(n_features=2, lookback=6, highway=True)).eval()
    window = torch.randn(3, 6, 2)
    with torch.no_grad():
        prediction, _ = model(window)
    assert torch.equal(prediction, window[:, -1:, :])


def test_stateful_training_carries_state_and_beats_the_naive_forecast() -> None:
    series = generate("sin", resolve_params("sin", {"stop": 60.0, "points": 600}))
    config = TrainConfig(
        stateful=True, tbptt=10, batch_size=8, epochs=30, early_stopping_patience=0, seed=0
    )
    model = ModelConfig(n_features=1, lookback=30, hidden_size=8, num_layers=1)
    result = train(Panel.of_series(series), model, config, device=CPU)
    assert all(np.isfinite(stats.train_loss) for stats in result.history)
    assert result.metrics["one_step"]["mase"] < 1  # type: ignore[index]


def test_next_steps_predicts_every_step_consistently_with_windows() -> None:
    torch.manual_seed(1)
    model = RecurrentForecaster(ModelConfig(n_features=1, lookback=5, hidden_size=4, num_layers=1))
    with torch.no_grad():
        model.head.weight.normal_()
        x = torch.randn(2, 5, 1)
        every, _ = model.next_steps(x)
        last, _ = model(x)
    assert every.shape == (2, 5, 1, 1)  # [B, steps, horizon, O]
    assert torch.allclose(every[:, -1], last)  # the window's prediction is the last step's


def test_stateful_training_refuses_what_it_cannot_train() -> None:
    assert stateful_possible(ModelConfig(n_features=1))
    for config in (
        ModelConfig(n_features=1, horizon=2),
        ModelConfig(n_features=1, lookback=10, patch=5),
        ModelConfig(n_features=1, instance_norm=True),
        ModelConfig(n_features=1, highway=True),
    ):
        assert not stateful_possible(config)
    series = np.sin(np.linspace(0, 30, 300))[:, None]
    with pytest.raises(ValueError, match="stateful training"):
        train(
            Panel.of_series(series),
            ModelConfig(n_features=1, horizon=2),
            TrainConfig(stateful=True),
        )
    assert "horizon 1" in STATEFUL_NEEDS


def test_predicted_inputs_are_fed_back_when_other_targets_are_not_inputs() -> None:
    # One input (a counter) predicted as target 0, plus a target 1 that is not an input.
    config = ModelConfig(
        n_features=1, lookback=2, hidden_size=4, num_layers=1, residual=False, highway=True,
        target_inputs=(0, -1),
    )  # fmt: skip
    model = RecurrentForecaster(config)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.highway.weight.copy_(torch.tensor([[0.0, 1.0], [0.0, 0.0]]))  # type: ignore[union-attr]
        model.highway.bias.copy_(torch.tensor([1.0, 0.0]))  # type: ignore[union-attr]
    assert not has_covariates(config)  # its only input is predicted: nothing to give ahead
    out = rollout(model, torch.ones(1, 2, 1), 4, "window")
    assert out[0, :, 0].tolist() == [2.0, 3.0, 4.0, 5.0]  # each step reads the one before


def test_an_autoregressive_highway_model_trains_and_rolls_out_by_window(
    sin_cos: np.ndarray,
) -> None:
    model = ModelConfig(n_features=2, lookback=8, hidden_size=4, num_layers=1, highway=True)
    assert not state_rollout_possible(model)  # the highway reads whole windows only
    result = train(Panel.of_series(sin_cos), model, TrainConfig(epochs=2), device=CPU)
    assert result.rollout_mode == "window"
    assert result.metrics["validation_rollout_rmse"]["state"] is None  # type: ignore[index]
