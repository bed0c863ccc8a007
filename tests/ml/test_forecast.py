"""Recursive rollout in both modes, and the scaling of forecasts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.ml.data import Scaler, gather_windows
from app.ml.fitted import EVAL_BATCH, mean_loss
from app.ml.forecast import forecast, rollout
from app.ml.model import ModelConfig, RecurrentForecaster
from app.ml.roles import ColumnRoles

LOOKBACK = 6


def make(n_features: int = 1, horizon: int = 1, seed: int = 0) -> RecurrentForecaster:
    """A small model with random, non-trivial weights (residual head not left at zero)."""
    torch.manual_seed(seed)
    config = ModelConfig(
        n_features=n_features, lookback=LOOKBACK, horizon=horizon, hidden_size=6, num_layers=2
    )
    model = RecurrentForecaster(config)
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.3)
        model.head.bias.normal_(0.0, 0.1)
    return model.eval()


def contexts(batch: int, n_features: int = 1, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, LOOKBACK, n_features, generator=generator)


def window_loop(model: RecurrentForecaster, context: torch.Tensor, steps: int) -> torch.Tensor:
    """Rollout by hand: re-run the model on the last `lookback` rows, append what it predicts."""
    history = context.clone()
    with torch.no_grad():
        while history.shape[1] < LOOKBACK + steps:
            chunk, _ = model(history[:, -LOOKBACK:])
            history = torch.cat([history, chunk], 1)
    return history[:, LOOKBACK : LOOKBACK + steps]


def state_loop(model: RecurrentForecaster, context: torch.Tensor, steps: int) -> torch.Tensor:
    """Rollout by hand: run the context once, then feed each prediction back with (h, c)."""
    with torch.no_grad():
        chunk, (h, c) = model(context)
        rows = [chunk]
        while sum(row.shape[1] for row in rows) < steps:
            chunk, (h, c) = model(chunk, (h, c))
            rows.append(chunk)
    return torch.cat(rows, 1)[:, :steps]


@pytest.mark.parametrize(("n_features", "horizon"), [(1, 1), (2, 1), (1, 3), (2, 4)])
def test_window_rollout_equals_rerunning_the_model_on_the_last_lookback_rows(
    n_features: int, horizon: int
) -> None:
    model = make(n_features, horizon)
    context = contexts(3, n_features)
    result = rollout(model, context, 25, "window")
    assert result.shape == (3, 25, n_features)
    torch.testing.assert_close(result, window_loop(model, context, 25), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("n_features", "horizon"), [(1, 1), (2, 1), (1, 3), (2, 4)])
def test_state_rollout_equals_carrying_h_and_c_by_hand(n_features: int, horizon: int) -> None:
    model = make(n_features, horizon)
    context = contexts(3, n_features)
    result = rollout(model, context, 25, "state")
    assert result.shape == (3, 25, n_features)
    torch.testing.assert_close(result, state_loop(model, context, 25), rtol=0, atol=1e-6)


@pytest.mark.parametrize("mode", ["window", "state"])
@pytest.mark.parametrize("horizon", [1, 3])
def test_a_batch_of_contexts_rolls_out_like_each_context_alone(mode: str, horizon: int) -> None:
    model = make(2, horizon)
    batch = contexts(8, 2)
    together = rollout(model, batch, 40, mode)  # type: ignore[arg-type]
    alone = torch.cat([rollout(model, batch[i : i + 1], 40, mode) for i in range(8)])  # type: ignore[arg-type]
    assert torch.allclose(together, alone, atol=1e-5)


@pytest.mark.parametrize("mode", ["window", "state"])
@pytest.mark.parametrize(("steps", "calls"), [(1, 1), (4, 1), (5, 2), (8, 2), (10, 3), (13, 4)])
def test_chunk_model_needs_ceil_steps_over_horizon_calls(mode: str, steps: int, calls: int) -> None:
    model = make(1, horizon=4)
    asked: list[int] = []  # keep_going is asked before every call after the first

    def keep_going() -> bool:
        asked.append(1)
        return True

    result = rollout(model, contexts(2), steps, mode, keep_going=keep_going)  # type: ignore[arg-type]
    assert len(asked) + 1 == calls
    assert result.shape == (2, steps, 1)


def test_both_modes_agree_on_the_first_chunk() -> None:
    model = make(1, horizon=3)
    context = contexts(4)
    window, state = rollout(model, context, 9, "window"), rollout(model, context, 9, "state")
    torch.testing.assert_close(window[:, :3], state[:, :3], rtol=0, atol=1e-6)
    assert not torch.allclose(window[:, 3:], state[:, 3:])


def test_rollout_leaves_the_context_untouched() -> None:
    model = make(1)
    context = contexts(2)
    before = context.clone()
    rollout(model, context, 10, "window")
    assert torch.equal(context, before)


def test_loss_over_several_evaluation_batches_equals_one_forward_pass() -> None:
    model = make(2, horizon=2)
    series = torch.randn(EVAL_BATCH + 300, 2)  # more windows than one evaluation batch holds
    starts = torch.arange(model.config.lookback, len(series) - 1)
    inputs, targets = gather_windows(series, starts, model.config.lookback, 2)
    with torch.no_grad():
        expected = float(torch.nn.functional.mse_loss(model(inputs)[0], targets))
    assert mean_loss(model, series, starts, ColumnRoles.of(2)) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("mode", ["window", "state"])
def test_forecast_scales_the_last_lookback_rows_in_and_the_rollout_out(mode: str) -> None:
    model = make(2)
    rng = np.random.default_rng(0)
    history = rng.normal([100.0, -3.0], [10.0, 0.5], size=(200, 2))
    scaler = Scaler.fit("standard", history)
    given = history[None, -9:]  # [1, 9, 2]: more rows than the lookback
    result = forecast(model, (scaler, scaler), given, 12, mode, torch.device("cpu"))  # type: ignore[arg-type]

    scaled = torch.tensor(scaler.transform(history[None, -LOOKBACK:]), dtype=torch.float32)
    expected = scaler.inverse(rollout(model, scaled, 12, mode).double().numpy())  # type: ignore[arg-type]
    assert result.shape == (1, 12, 2)
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, expected)
    # the model saw only the last `lookback` rows: earlier ones do not matter
    changed = given.copy()
    changed[:, :3] += 1000.0
    np.testing.assert_array_equal(
        forecast(model, (scaler, scaler), changed, 12, mode, torch.device("cpu")),  # type: ignore[arg-type]
        result,
    )


def test_untrained_residual_forecast_repeats_the_last_value_on_the_original_scale() -> None:
    torch.manual_seed(0)
    model = RecurrentForecaster(
        ModelConfig(n_features=2, lookback=LOOKBACK, hidden_size=4, num_layers=1)
    )
    scaler = Scaler("standard", (50.0, -2.0), (5.0, 0.25))
    given = np.stack([np.linspace(40.0, 60.0, 8), np.linspace(-3.0, -1.0, 8)], axis=1)[None]
    result = forecast(model, (scaler, scaler), given, 5, "window", torch.device("cpu"))
    np.testing.assert_allclose(result, np.repeat(given[:, -1:], 5, axis=1), rtol=1e-6)


@pytest.mark.parametrize("mode", ["window", "state"])
def test_a_context_of_other_columns_is_refused_not_read_as_more_rows(mode: str) -> None:
    """A patch of 10 rows of one column has as many values as 5 rows of two: the step loop
    would read the wrong shape as rows, so the rollout checks the columns first."""
    model = RecurrentForecaster(ModelConfig(n_features=1, lookback=10, horizon=10, patch=10))
    with pytest.raises(ValueError, match="2 columns; the model reads 1"):
        rollout(model, torch.zeros(1, 10, 2), 20, mode)  # type: ignore[arg-type]
