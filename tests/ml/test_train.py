"""The training loop: determinism, early stopping, cancellation, divergence and metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from app.ml.budget import TrainingCancelled
from app.ml.config import TrainConfig
from app.ml.data import Split, gather_windows, window_starts
from app.ml.evaluation import drift, errors, smape
from app.ml.fit import EpochStats, TrainingDiverged
from app.ml.forecast import rollout
from app.ml.functions import generate, resolve_params
from app.ml.model import ModelConfig, RecurrentForecaster
from app.ml.prepare import MAX_HISTORY_ROWS, Panel, Prepared, history_rows
from app.ml.roles import ColumnRoles
from app.ml.train import TrainResult, train

CPU = torch.device("cpu")
TINY = ModelConfig(n_features=1, lookback=10, hidden_size=4, num_layers=1)


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    return generate("sin", resolve_params("sin", {"stop": 30.0, "points": 300}))  # [300, 1]


def fit(series: np.ndarray, model: ModelConfig = TINY, **settings: object) -> TrainResult:
    config = TrainConfig(**{"epochs": 3, "batch_size": 32, **settings})  # type: ignore[arg-type]
    return train(Panel.of_series(series), model, config, device=CPU)


def losses(result: TrainResult) -> list[tuple[float, float]]:
    return [(stats.train_loss, stats.val_loss) for stats in result.history]


@torch.inference_mode()
def predict_windows(model: RecurrentForecaster, inputs: torch.Tensor) -> torch.Tensor:
    """Direct predictions in one forward pass: an independent reference for the trainer's."""
    model.eval()
    return model(inputs)[0]


def val_loss(result: TrainResult, series: np.ndarray) -> float:
    """The validation MSE of the returned model, on the model scale, computed from scratch."""
    config = result.model.config
    split = Split.of(len(series), 0.1, 0.1)
    scaled = torch.as_tensor(result.series[0].scaler.transform(series), dtype=torch.float32)
    starts = torch.as_tensor(
        window_starts(split.val_start, split.test_start, config.lookback, config.horizon)
    )
    inputs, targets = gather_windows(scaled, starts, config.lookback, config.horizon)
    return float(torch.nn.functional.mse_loss(predict_windows(result.model, inputs), targets))


def test_same_config_and_seed_give_identical_loss_histories(series: np.ndarray) -> None:
    first, second = fit(series, seed=5), fit(series, seed=5)
    assert losses(first) == losses(second)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key


def test_different_seed_gives_different_loss_histories(series: np.ndarray) -> None:
    first, second = fit(series, seed=1), fit(series, seed=2)
    assert [a for a, _ in losses(first)] != [a for a, _ in losses(second)]
    assert all(a != b for (a, _), (b, _) in zip(losses(first), losses(second), strict=True))


def test_scaler_is_fitted_on_training_rows_only() -> None:
    trend = np.linspace(0.0, 10.0, 300)[:, None] + np.sin(np.linspace(0, 30, 300))[:, None]
    result = fit(trend, epochs=1)
    train_rows = trend[: Split.of(300, 0.1, 0.1).train]  # 240 rows
    assert result.series[0].scaler.kind == "standard"
    assert result.series[0].scaler.center == (float(train_rows.mean()),)
    assert result.series[0].scaler.scale == (float(train_rows.std()),)
    assert result.series[0].scaler.center != (float(trend.mean()),)


@pytest.mark.parametrize("scaling", ["minmax", "none"])
def test_scaling_kind_comes_from_the_train_config(series: np.ndarray, scaling: str) -> None:
    assert fit(series, epochs=1, scaling=scaling).series[0].scaler.kind == scaling


def test_early_stopping_stops_after_patience_and_restores_the_best_epoch(
    series: np.ndarray,
) -> None:
    # A huge min_delta: only the first epoch counts as an improvement, later epochs keep training.
    result = fit(series, epochs=20, early_stopping_patience=3, min_delta=1e9, lr_decay_patience=0)
    assert result.members[0].stop_reason == "early_stopping"
    assert result.members[0].best_epoch == 1
    assert [stats.epoch for stats in result.history] == [1, 2, 3, 4]
    best = result.history[0].val_loss
    assert all(stats.best_val_loss == best and stats.best_epoch == 1 for stats in result.history)
    assert result.history[-1].val_loss != best  # the weights did move after the best epoch
    assert abs(val_loss(result, series) - best) <= 1e-6


def test_best_weights_are_restored_when_training_runs_to_max_epochs(series: np.ndarray) -> None:
    # lr 0.1 without decay makes the validation loss bounce, so the best epoch is not the last.
    result = fit(
        series, epochs=6, early_stopping_patience=0, learning_rate=0.1, lr_decay_patience=0
    )
    assert result.members[0].stop_reason == "max_epochs"
    assert len(result.history) == 6
    assert result.members[0].best_epoch < 6
    assert result.history[-1].val_loss > result.history[result.members[0].best_epoch - 1].val_loss
    best = min(stats.val_loss for stats in result.history)
    assert result.history[result.members[0].best_epoch - 1].val_loss == best
    assert result.history[-1].best_val_loss == best
    assert abs(val_loss(result, series) - best) <= 1e-6


def test_learning_rate_halves_after_flat_epochs(series: np.ndarray) -> None:
    result = fit(series, epochs=4, min_delta=1e9, lr_decay_patience=2, early_stopping_patience=0)
    rates = [stats.learning_rate for stats in result.history]
    assert rates == [3e-3, 3e-3, 1.5e-3, 1.5e-3]


def test_should_stop_cancels_training_at_the_next_batch(series: np.ndarray) -> None:
    calls: list[int] = []
    progress: list[EpochStats] = []

    def should_stop() -> bool:
        calls.append(1)
        return len(calls) == 3

    with pytest.raises(TrainingCancelled):
        train(
            Panel.of_series(series), TINY, TrainConfig(epochs=5, batch_size=32), device=CPU,
            on_progress=progress.append, should_stop=should_stop,
        )  # fmt: skip
    assert len(calls) == 3  # asked once per batch; the third batch of epoch 1 stopped it
    assert progress == []


def test_huge_sgd_learning_rate_without_clipping_diverges(series: np.ndarray) -> None:
    with pytest.raises(TrainingDiverged, match=r"the loss became (inf|nan) in epoch 1; lower"):
        fit(series, optimizer="sgd", learning_rate=1e6, grad_clip=0.0)


def test_on_progress_is_called_once_per_epoch_in_order(series: np.ndarray) -> None:
    progress: list[EpochStats] = []
    train(
        Panel.of_series(series), TINY, TrainConfig(epochs=4, batch_size=32), device=CPU,
        on_progress=progress.append,
    )  # fmt: skip
    assert [stats.epoch for stats in progress] == [1, 2, 3, 4]
    assert all(stats.epochs == 4 for stats in progress)
    elapsed = [stats.elapsed_seconds for stats in progress]
    assert elapsed == sorted(elapsed)
    assert all(stats.seconds > 0 for stats in progress)
    for i, stats in enumerate(progress):
        assert stats.best_val_loss == min(s.val_loss for s in progress[: i + 1])


@pytest.mark.parametrize("optimizer", ["adam", "adagrad", "rmsprop", "sgd"])
def test_every_optimizer_trains_to_finite_losses(series: np.ndarray, optimizer: str) -> None:
    result = fit(series, epochs=2, optimizer=optimizer)
    assert all(math.isfinite(a) and math.isfinite(b) for a, b in losses(result))


def test_metrics_report_model_and_naive_errors_on_the_original_scale(series: np.ndarray) -> None:
    scaled_up = 40.0 + 5.0 * series  # a scale where a missing inverse transform would show
    result = fit(scaled_up)
    metrics = result.metrics
    extra = {
        "one_step": {"mase"},
        "naive_one_step": set(),
        "mean": {"mase", "mase_seasonal", "smape"},  # rollouts also against seasonal naive
        "naive": {"smape"},
        "seasonal_naive": {"smape"},
        "drift": {"smape"},
    }
    for key, more in extra.items():
        entry = metrics[key]
        assert isinstance(entry, dict)
        assert set(entry) == {"mse", "rmse", "mae"} | more
        assert entry["rmse"] == pytest.approx(math.sqrt(entry["mse"]), rel=1e-12)
        assert entry["mae"] <= entry["rmse"]
    split = Split.of(300, 0.1, 0.1)
    assert metrics["test_rows"] == split.test == 30
    assert metrics["test_windows"] == 30
    assert metrics["rollout_steps"] == 30
    assert metrics["rollout_mode"] == result.rollout_mode
    assert result.rollout_mode in ("window", "state")
    assert set(metrics["validation_rollout_rmse"]) == {"window", "state"}  # type: ignore[arg-type]
    assert metrics["series_count"] == metrics["series_measured"] == 1
    for key, baseline in (("one_step", "naive_one_step"), ("mean", "naive")):
        model, naive = metrics[key], metrics[baseline]
        assert model["mase"] == model["mae"] / naive["mae"]  # type: ignore[index]

    test = scaled_up[split.test_start :]
    naive = scaled_up[split.test_start - 1 : -1]
    assert metrics["naive_one_step"] == pytest.approx(errors(naive, test), rel=1e-12)
    naive_rolled = np.repeat(naive[:1], 30, axis=0)
    assert metrics["naive"] == pytest.approx(
        errors(naive_rolled, test) | {"smape": smape(naive_rolled, test)}, rel=1e-12
    )
    drift_rolled = drift(scaled_up[: split.test_start], 30)  # from every row before the test
    assert metrics["drift"] == pytest.approx(
        errors(drift_rolled, test) | {"smape": smape(drift_rolled, test)}, rel=1e-12
    )
    # season 1 (the default): the seasonal naive forecast is the naive one
    assert metrics["season_length"] == 1
    assert metrics["seasonal_naive"] == metrics["naive"]
    assert metrics["mean"]["mase_seasonal"] == metrics["mean"]["mase"]  # type: ignore[index]

    scaled = torch.as_tensor(result.series[0].scaler.transform(scaled_up), dtype=torch.float32)
    starts = torch.arange(split.test_start, 300)
    inputs, _ = gather_windows(scaled, starts, 10, 1)
    direct = result.series[0].scaler.inverse(predict_windows(result.model, inputs).double().numpy())
    one_step = {k: v for k, v in metrics["one_step"].items() if k != "mase"}  # type: ignore[attr-defined]
    assert one_step == pytest.approx(errors(direct, test[:, None]), rel=1e-9)
    context = scaled[split.test_start - 10 : split.test_start][None]
    rolled = rollout(result.model, context, 30, result.rollout_mode)[0].double().numpy()
    rolled_errors = {k: v for k, v in metrics["mean"].items() if k in ("mse", "rmse", "mae")}  # type: ignore[attr-defined]
    expected = errors(result.series[0].scaler.inverse(rolled), test)
    assert rolled_errors == pytest.approx(expected, rel=1e-9)


def test_result_carries_a_cpu_model_and_the_series_tail(series: np.ndarray) -> None:
    result = fit(series, epochs=1)
    assert all(p.device.type == "cpu" for p in result.model.parameters())
    np.testing.assert_array_equal(result.series[0].tail, series[-10:])
    assert result.seconds > 0


@pytest.mark.parametrize(("season", "kept"), [(1, 24), (20, 60)])
def test_result_keeps_the_last_seasons_before_the_tail(
    series: np.ndarray, season: int, kept: int
) -> None:
    config = TrainConfig(epochs=1, batch_size=32)
    result = train(Panel.of_series(series, season), TINY, config, device=CPU)
    (entry,) = result.series
    np.testing.assert_array_equal(entry.past, series[-kept:-10])
    np.testing.assert_array_equal(entry.history(kept), series[-kept:])


def test_the_rows_kept_follow_the_season_within_their_caps() -> None:
    assert history_rows(10, 1, 1) == 24  # no season: the shortest stretch kept
    assert history_rows(10, 12, 1) == 36  # three seasons
    assert history_rows(100, 12, 1) == 100  # never fewer than the lookback
    assert history_rows(10, 8_760, 1) == MAX_HISTORY_ROWS
    assert history_rows(10, 24, 10_000) == 25  # a panel's budget, shared by its series
    assert history_rows(48, 24, 10_000) == 48


def test_a_series_shorter_than_the_rows_kept_keeps_every_row() -> None:
    values = np.arange(60.0).reshape(-1, 1)  # two series, 20 and 40 rows
    panel = Panel(values, (20, 40), ("a", "b"), season=12)  # 36 rows kept of each
    data = Prepared.of(panel, TrainConfig(), ColumnRoles.of(1), CPU)
    short, longer = data.pasts(10)
    np.testing.assert_array_equal(short, values[:10])
    np.testing.assert_array_equal(longer, values[24:50])


@pytest.mark.parametrize("horizon", [3])
def test_multi_column_chunk_model_trains_and_reports(horizon: int) -> None:
    values = generate("sin_cos", resolve_params("sin_cos", {"stop": 30.0, "points": 300}))
    model = ModelConfig(n_features=2, lookback=8, horizon=horizon, hidden_size=4, num_layers=1)
    result = fit(values, model, epochs=2)
    assert result.series[0].tail.shape == (8, 2)
    assert result.metrics["test_windows"] == 30 - horizon + 1
    assert len(result.series[0].scaler.center) == 2


@pytest.mark.slow
def test_short_sin_training_beats_the_naive_one_step_forecast() -> None:
    values = generate("sin", resolve_params("sin", {"stop": 100.0, "points": 1000}))
    model = ModelConfig(n_features=1, lookback=10, hidden_size=8, num_layers=1)
    result = train(Panel.of_series(values), model, TrainConfig(epochs=5, batch_size=32), device=CPU)
    one_step, naive = result.metrics["one_step"], result.metrics["naive_one_step"]
    assert isinstance(one_step, dict)
    assert isinstance(naive, dict)
    assert one_step["mse"] < naive["mse"] / 10


def test_series_too_short_for_the_window_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"the training split \(10 rows\) holds no window"):
        train(Panel.of_series(np.zeros((12, 1))), TINY, TrainConfig(epochs=1), device=CPU)


def test_the_time_limit_covers_measuring_too() -> None:
    """Fitting stops at the limit, and measuring (thousands of rollout steps here) stops there
    too: its rollouts are cut short and say so, instead of running past the limit."""
    series = generate("sin", resolve_params("sin", {"points": 20000, "stop": 2000}))
    config = TrainConfig(epochs=10_000, early_stopping_patience=0, time_limit_seconds=0.2)
    result = train(Panel.of_series(series), TINY, config, device=CPU)
    assert result.members[0].stop_reason == "time_limit"
    assert result.metrics["evaluation_cut_short"] is True
    assert result.metrics["rollout_steps"] < 2000  # the test split holds 2000 rows
    assert result.metrics["rollout_mode"] == "window"


def test_a_cancel_during_measuring_stops_the_job() -> None:
    series = generate("sin", resolve_params("sin", {"points": 4000, "stop": 400}))
    fitted: list[int] = []
    with pytest.raises(TrainingCancelled):
        train(
            Panel.of_series(series),
            TINY,
            TrainConfig(epochs=2, early_stopping_patience=0),
            device=CPU,
            on_progress=lambda stats: fitted.append(stats.epoch),
            should_stop=lambda: len(fitted) == 2,  # asked only once every epoch is done
        )
    assert fitted == [1, 2]


def test_an_unhurried_job_is_measured_in_full(series: np.ndarray) -> None:
    result = fit(series, time_limit_seconds=3600)
    assert result.metrics["evaluation_cut_short"] is False
    assert result.metrics["rollout_steps"] == 30  # the whole test split


def test_a_model_that_loses_to_the_seasonal_naive_on_validation_says_so() -> None:
    exact = np.sin(2 * np.pi * np.arange(240) / 12)[:, None]  # the last season repeats exactly
    one_epoch = TrainConfig(epochs=1, batch_size=32)
    result = train(Panel.of_series(exact, season=12), TINY, one_epoch, device=CPU)
    # besides the seasonal naive on validation it may lose to others, on either split
    warnings = result.metrics["warnings"]
    assert isinstance(warnings, list)
    assert any(
        warning.startswith("the model loses to the seasonal naive (season 12) forecast on the "
                           "validation part: MAE ")
        for warning in warnings
    )  # fmt: skip
