"""Instance normalisation: each window scaled by its own mean and spread inside `forward`, the
prediction scaled back, so the model is equivariant to a per-column affine map of its input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.ml.config import TrainConfig
from app.ml.data import Scaler
from app.ml.feasibility import stateful_possible
from app.ml.forecast import forecast, rollout, state_rollout_possible
from app.ml.functions import generate, resolve_params
from app.ml.model import INSTANCE_NORM_FLOOR, ModelConfig, RecurrentForecaster
from app.ml.prepare import Panel
from app.ml.train import train

CPU = torch.device("cpu")


def make(**overrides: object) -> RecurrentForecaster:
    """A small model with every weight random (a zero head would hide most of the mapping)."""
    torch.manual_seed(0)
    values: dict[str, object] = {"n_features": 2, "lookback": 8, "horizon": 3, "hidden_size": 6,
                                 "num_layers": 2, "instance_norm": True}  # fmt: skip
    model = RecurrentForecaster(ModelConfig(**(values | overrides)))  # type: ignore[arg-type]
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.5)
        model.head.bias.normal_(0.0, 0.5)
        if model.highway is not None:
            model.highway.weight.normal_(0.0, 0.2)
    return model.eval()


def windows(batch: int = 5, lookback: int = 8, columns: int = 2) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(batch, lookback, columns, generator=generator)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"residual": False},
        {"dense_layers": (5,)},
        {"patch": 2},
        {"highway": True},
        {"target_inputs": (1,)},  # predicts column 1 of 2
    ],
    ids=["residual", "direct", "dense", "patch", "highway", "one-target"],
)
@torch.inference_mode()
def test_prediction_scales_and_shifts_with_the_window(overrides: dict[str, object]) -> None:
    model = make(**overrides)
    x = windows()
    scale = torch.tensor([3.0, 0.02])  # per column, both positive
    shift = torch.tensor([-50.0, 7.5])
    base, _ = model(x)
    moved, _ = model(x * scale + shift)
    outputs = model.config.roles.target_input_positions
    torch.testing.assert_close((moved - shift[outputs]) / scale[outputs], base, rtol=0, atol=1e-3)
    # Not trivially so: the prediction depends on the window's shape.
    other, _ = model(windows().flip(1))
    assert not torch.allclose(other, base, atol=1e-3)


@torch.inference_mode()
def test_without_instance_norm_the_model_is_not_scale_equivariant() -> None:
    model = make(instance_norm=False)
    x = windows()
    base, _ = model(x)
    moved, _ = model(x * 10.0 + 3.0)
    assert not torch.allclose(moved, base * 10.0 + 3.0, atol=1e-2)


@pytest.mark.parametrize("instance_norm", [False, True])
@torch.inference_mode()
def test_untrained_residual_model_is_the_naive_forecast(instance_norm: bool) -> None:
    config = ModelConfig(n_features=2, lookback=8, horizon=3, hidden_size=6, num_layers=1,
                        instance_norm=instance_norm)  # fmt: skip
    torch.manual_seed(0)
    model = RecurrentForecaster(config).eval()  # residual: a zero-initialised head
    x = windows() * 4.0 + 100.0
    prediction, _ = model(x)
    naive = x[:, -1:, :].expand(-1, 3, -1)
    torch.testing.assert_close(prediction, naive, rtol=0, atol=1e-4)


@torch.inference_mode()
def test_a_flat_window_is_shifted_not_blown_up() -> None:
    model = make()
    flat = torch.full((2, 8, 2), 5.0)
    flat[1] = -1234.5
    prediction, _ = model(flat)
    assert torch.isfinite(prediction).all()
    # Its spread is the floor, so the prediction stays within a few floors of the level.
    offset = prediction - flat[:, -1:, :]
    assert offset.abs().max() < 100 * INSTANCE_NORM_FLOOR
    # ...and the same offset for every level: a flat window is only shifted.
    torch.testing.assert_close(offset[0], offset[1], rtol=0, atol=1e-3)


@pytest.mark.parametrize("wiggle", [1.0, 1e-5, 0.0], ids=["normal", "below-floor", "flat"])
@pytest.mark.parametrize("overrides", [{}, {"residual": False, "highway": True}])
@torch.inference_mode()
def test_forward_is_the_plain_model_on_the_normalised_window(
    wiggle: float, overrides: dict[str, object]
) -> None:
    """Reference: normalise by the window's mean and (population) spread, floored at
    INSTANCE_NORM_FLOOR, run the same weights without instance norm, scale back."""
    model = make(**overrides)
    plain = RecurrentForecaster(ModelConfig(**(model.config.to_dict() | {"instance_norm": False})))
    plain.load_state_dict(model.state_dict())
    plain.eval()
    x = windows() * wiggle + torch.tensor([3.0, -7.0])
    center = x.mean(dim=1, keepdim=True)
    spread = (x - center).pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(INSTANCE_NORM_FLOOR)
    expected = plain((x - center) / spread)[0] * spread + center
    torch.testing.assert_close(model(x)[0], expected, rtol=1e-5, atol=1e-5)


@torch.inference_mode()
def test_window_rollout_is_equivariant_through_the_scalers() -> None:
    """What makes it work on a growing amplitude: a context ten times larger (and shifted)
    rolls out ten times larger, across feedback steps and the global scaler alike."""
    model = make(horizon=2, num_layers=1)
    scalers = (Scaler("standard", (1.0, -2.0), (0.5, 3.0)),) * 2
    context = np.random.default_rng(4).normal(size=(3, 8, 2))
    base = forecast(model, scalers, context, 9, "window", CPU)
    grown = forecast(model, scalers, context * 10.0 + 40.0, 9, "window", CPU)
    assert base.shape == (3, 9, 2)
    np.testing.assert_allclose(grown, base * 10.0 + 40.0, rtol=1e-4, atol=2e-3)


def test_instance_norm_rules_out_state_carry_and_stateful_training() -> None:
    config = ModelConfig(n_features=1, instance_norm=True)
    assert not state_rollout_possible(config)
    assert not stateful_possible(config)
    assert state_rollout_possible(ModelConfig(n_features=1))
    model = RecurrentForecaster(config)
    with pytest.raises(ValueError, match="stateful"):
        train(Panel.of_series(np.zeros((200, 1))), config, TrainConfig(epochs=1, stateful=True))
    assert rollout(model, torch.zeros(1, 10, 1), 3, "window").shape == (1, 3, 1)


def test_config_round_trips_instance_norm_and_old_configs_default_it_off() -> None:
    config = ModelConfig(n_features=2, lookback=6, instance_norm=True)
    data = config.to_dict()
    assert data["instance_norm"] is True
    assert ModelConfig.from_dict(data) == config
    old = {"n_features": 1, "lookback": 10, "horizon": 1, "hidden_size": 8, "num_layers": 1,
           "dropout": 0.0, "dense_layers": [], "residual": True}  # fmt: skip
    assert ModelConfig.from_dict(old).instance_norm is False


def test_training_with_instance_norm_rolls_out_by_window_on_a_growing_series() -> None:
    series = generate("x_sin", resolve_params("x_sin", {"points": 800, "stop": 80}))
    config = ModelConfig(n_features=1, lookback=10, hidden_size=8, num_layers=1,
                        instance_norm=True)  # fmt: skip
    result = train(
        Panel.of_series(series), config, TrainConfig(epochs=2, batch_size=32, interval_steps=10)
    )
    assert result.model.config.instance_norm
    assert result.rollout_mode == "window"
    validation = result.metrics["validation_rollout_rmse"]
    assert isinstance(validation, dict)
    assert validation["state"] is None
    assert np.isfinite(validation["window"])
    one_step = result.metrics["one_step"]
    assert isinstance(one_step, dict)
    assert np.isfinite(one_step["rmse"])
    assert result.interval_widths is not None
    assert result.interval_widths.shape == (6, 10, 1)
