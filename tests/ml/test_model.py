"""The LSTM forecaster module: shapes, the residual start and its config."""

from __future__ import annotations

import pytest
import torch

from app.ml.model import ModelConfig, RecurrentForecaster


def make(**overrides: object) -> RecurrentForecaster:
    torch.manual_seed(0)
    settings: dict[str, object] = {
        "n_features": 1,
        "lookback": 6,
        "hidden_size": 4,
        "num_layers": 1,
    }
    return RecurrentForecaster(ModelConfig(**{**settings, **overrides})).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n_features", "horizon", "num_layers", "dense_layers"),
    [(1, 1, 1, ()), (3, 1, 2, ()), (1, 4, 2, ()), (2, 3, 1, (5, 3))],
)
def test_forward_maps_a_window_to_horizon_rows_and_the_final_state(
    n_features: int, horizon: int, num_layers: int, dense_layers: tuple[int, ...]
) -> None:
    model = make(
        n_features=n_features, horizon=horizon, num_layers=num_layers, dense_layers=dense_layers
    )
    prediction, (h, c) = model(torch.randn(7, 6, n_features))
    assert prediction.shape == (7, horizon, n_features)
    assert h.shape == (num_layers, 7, 4)
    assert c.shape == (num_layers, 7, 4)


def test_dense_layers_sit_between_the_lstm_and_the_head() -> None:
    model = make(dense_layers=(5, 3), horizon=2, n_features=2)
    linears = [layer for layer in model.dense if isinstance(layer, torch.nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linears] == [(4, 5), (5, 3)]
    assert (model.head.in_features, model.head.out_features) == (3, 4)


@pytest.mark.parametrize("dense_layers", [(), (6,)])
def test_untrained_residual_model_is_exactly_the_naive_last_value_forecast(
    dense_layers: tuple[int, ...],
) -> None:
    model = make(n_features=2, horizon=3, num_layers=2, dense_layers=dense_layers)
    x = torch.randn(5, 6, 2)
    prediction, _ = model(x)
    assert torch.equal(prediction, x[:, -1:, :].expand(5, 3, 2))


def test_non_residual_model_starts_with_a_random_head() -> None:
    model = make(residual=False)
    assert model.head.weight.abs().sum() > 0
    x = torch.randn(3, 6, 1)
    assert not torch.allclose(model(x)[0], x[:, -1:, :])


def test_returned_state_continues_the_sequence() -> None:
    model = make(num_layers=2, residual=False)
    x = torch.randn(4, 9, 1)
    whole, (h, c) = model(x)
    _, state = model(x[:, :5])
    continued, (h2, c2) = model(x[:, 5:], state)
    torch.testing.assert_close(continued, whole, rtol=0, atol=1e-6)
    torch.testing.assert_close(h2, h, rtol=0, atol=1e-6)
    torch.testing.assert_close(c2, c, rtol=0, atol=1e-6)


def test_config_dict_round_trips_with_dense_layers_as_a_list() -> None:
    config = ModelConfig(n_features=3, lookback=12, horizon=4, dense_layers=(8, 4), dropout=0.1)
    data = config.to_dict()
    assert data == {
        "n_features": 3,
        "lookback": 12,
        "horizon": 4,
        "hidden_size": 32,
        "num_layers": 2,
        "dropout": 0.1,
        "dense_layers": [8, 4],
        "residual": True,
        "instance_norm": False,
        "patch": 1,
        "target_inputs": [],
        "highway": False,
        "cell": "lstm",
    }
    assert ModelConfig.from_dict(data) == config


def test_a_config_saved_before_instance_norm_and_patch_still_loads() -> None:
    old = {"n_features": 1, "lookback": 10, "horizon": 1, "hidden_size": 8, "num_layers": 1,
           "dropout": 0.0, "dense_layers": [], "residual": True}  # fmt: skip
    config = ModelConfig.from_dict(old)
    assert (config.instance_norm, config.patch) == (False, 1)


def test_patches_shorten_the_lstm_sequence_and_keep_the_output_shape() -> None:
    config = ModelConfig(n_features=2, lookback=12, horizon=3, hidden_size=4, num_layers=1, patch=4)
    model = RecurrentForecaster(config).eval()
    x = torch.randn(5, 12, 2)
    prediction, (h, _) = model(x)
    assert prediction.shape == (5, 3, 2)
    assert model.recurrent.input_size == 8  # 4 rows x 2 columns per LSTM step
    # The state is the same as feeding the LSTM the reshaped chunks by hand.
    _, (h_by_hand, _) = model.recurrent(x.reshape(5, 3, 8))
    assert torch.equal(h, h_by_hand)


def test_lookback_must_be_a_multiple_of_patch() -> None:
    with pytest.raises(ValueError, match="multiple of patch"):
        ModelConfig(n_features=1, lookback=10, patch=3)


def test_config_from_dict_rejects_an_unknown_field() -> None:
    with pytest.raises(TypeError, match="colour"):
        ModelConfig.from_dict({"n_features": 1, "colour": "red"})
