"""A global model over many series: segments, per-series scaling, metrics, checkpoints and
forecasts by series or from a context the model never saw."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from app.ml import serving
from app.ml.checkpoint_meta import CheckpointMeta
from app.ml.checkpoints import load, write
from app.ml.config import TrainConfig
from app.ml.data import Scaler, ScalerStack, Split, panel_starts, segments_of
from app.ml.evaluation import baseline_name, losing_warning, seasonal_naive, smape
from app.ml.fitted import SeriesScores
from app.ml.forecast import rollout
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.train import TrainResult, train

CPU = torch.device("cpu")
MODEL = ModelConfig(n_features=1, lookback=12, horizon=3, hidden_size=16, num_layers=1)
LENGTHS = (60, 84, 72, 96)
LEVELS = (5.0, 300.0, -40.0, 2_000.0)  # very different scales: each series scales on its own


def seasonal_panel(season: int = 1) -> Panel:
    """Four monthly-like series of different lengths, levels and spreads, laid end to end."""
    rng = np.random.default_rng(0)
    parts = []
    for number, (rows, level) in enumerate(zip(LENGTHS, LEVELS, strict=True)):
        t = np.arange(rows)
        spread = abs(level) * 0.2 + 1
        wave = np.sin(2 * np.pi * t / 12 + number)
        parts.append(level + spread * wave + rng.normal(0, 0.02 * spread, rows))
    return Panel(np.concatenate(parts)[:, None], LENGTHS, ("a", "b", "c", "d"), season)


@pytest.fixture(scope="module")
def fitted() -> tuple[Panel, TrainResult]:
    panel = seasonal_panel(season=12)
    config = TrainConfig(epochs=40, batch_size=32, validation_fraction=0.2, test_fraction=0.2)
    return panel, train(panel, MODEL, config, device=CPU)


def test_no_window_crosses_from_one_series_into_the_next() -> None:
    segments = segments_of([30, 12, 25], lambda rows: Split.of(rows, 0.2, 0.2))
    assert [segment.offset for segment in segments] == [0, 30, 42]
    for part in ("train", "val", "test"):
        starts = panel_starts(segments, part, 5, 2)
        owner = np.searchsorted([s.end for s in segments], starts, side="right")
        for start, number in zip(starts, owner, strict=True):
            segment = segments[number]
            assert segment.offset + 5 <= start <= segment.end - 2
    # the 12-row series: train 8 rows, val 2, test 2; one window of 5 + 2 in each part
    assert list(segments[1].starts("test", 5, 2)) == [30 + 10]


def test_each_series_is_scaled_by_its_own_training_rows(
    fitted: tuple[Panel, TrainResult],
) -> None:
    panel, result = fitted
    series = panel.values
    assert [entry.id for entry in result.series] == ["a", "b", "c", "d"]
    offset = 0
    for rows, entry in zip(panel.lengths, result.series, strict=True):
        train_rows = series[offset : offset + rows - 2 * round(rows * 0.2)]
        assert entry.scaler.center == pytest.approx((float(train_rows.mean()),))
        assert entry.scaler.scale == pytest.approx((float(train_rows.std()),))
        np.testing.assert_array_equal(entry.tail, series[offset + rows - 12 : offset + rows])
        offset += rows


def test_metrics_are_per_series_and_beat_the_naive_forecast(
    fitted: tuple[Panel, TrainResult],
) -> None:
    panel, result = fitted
    metrics = result.metrics
    assert metrics["series_count"] == metrics["series_measured"] == 4
    assert metrics["season_length"] == 12
    rows = metrics["series"]
    assert isinstance(rows, list)
    assert [row["id"] for row in rows] == list(panel.ids)
    assert [row["test_rows"] for row in rows] == [round(n * 0.2) for n in LENGTHS]
    mean = metrics["mean"]
    assert isinstance(mean, dict)
    assert mean["mae"] == pytest.approx(np.mean([row["mae"] for row in rows]))
    # a clean seasonal wave: far better than repeating the last value
    assert mean["mase"] < 0.5
    assert metrics["rollout_mode"] == result.rollout_mode == "window"
    intervals = metrics["intervals"]
    assert isinstance(intervals, dict)
    assert result.interval_widths is not None
    assert intervals["calibrated_steps"] == result.interval_widths.shape[1]


def test_a_too_short_series_is_named() -> None:
    series = seasonal_panel().values
    short = Panel(series, (len(series) - 20, 20), ("a", "b"))
    with pytest.raises(ValueError, match=r"series 'b' \(20 rows\): the validation split"):
        train(short, MODEL, TrainConfig(epochs=1), device=CPU)


def test_stateful_training_needs_one_series() -> None:
    one_step = ModelConfig(n_features=1, lookback=12, hidden_size=4, num_layers=1)
    with pytest.raises(ValueError, match="one series"):
        train(seasonal_panel(), one_step, TrainConfig(epochs=1, stateful=True), device=CPU)


def test_seasonal_naive_and_smape() -> None:
    history = np.arange(1.0, 9.0)[:, None]  # 1..8
    np.testing.assert_array_equal(seasonal_naive(history, 5, 4)[:, 0], [5, 6, 7, 8, 5])
    np.testing.assert_array_equal(seasonal_naive(history, 2, 1)[:, 0], [8, 8])
    np.testing.assert_array_equal(seasonal_naive(history[:3], 2, 4)[:, 0], [3, 3])  # too short
    assert smape(np.array([110.0, 0.0]), np.array([90.0, 0.0])) == pytest.approx(10.0)


def saved_panel(tmp_path: Path, result: TrainResult) -> Path:
    directory = tmp_path / "panel"
    directory.mkdir()
    axis = {"kind": "numbers", "start": 0, "freq": 1}
    meta = CheckpointMeta(
        config=result.model.config, rollout_mode="window", columns=["y"], inputs=["y"],
        targets=["y"], interval_widths=result.interval_widths,
        series=[replace(entry, time_axis=axis) for entry in result.series],
    )  # fmt: skip
    write(directory, result.model, meta)
    return directory


def test_checkpoint_keeps_every_series_and_forecasts_each_by_its_own_scaler(
    fitted: tuple[Panel, TrainResult], tmp_path: Path
) -> None:
    _, result = fitted
    loaded = load(saved_panel(tmp_path, result), CPU)
    assert loaded.series_ids == ["a", "b", "c", "d"]
    assert loaded.meta.series[3].scaler == result.series[3].scaler
    plan = serving.continuing(loaded, [3, 1])
    np.testing.assert_array_equal(plan.contexts[0], result.series[3].tail)
    together = serving.forecast(loaded, plan, 7, []).values
    for at, number in enumerate([3, 1]):
        scaler = result.series[number].scaler
        context = torch.as_tensor(scaler.transform(result.series[number].tail)[None],
                                  dtype=torch.float32)  # fmt: skip
        alone = scaler.inverse(rollout(result.model, context, 7, "window")[0].double().numpy())
        np.testing.assert_allclose(together[at], alone, rtol=1e-5, atol=1e-6 * abs(LEVELS[0]))


def test_a_context_the_model_never_saw_is_scaled_by_its_own_statistics(
    fitted: tuple[Panel, TrainResult], tmp_path: Path
) -> None:
    _, result = fitted
    loaded = load(saved_panel(tmp_path, result), CPU)
    context = result.series[1].tail
    moved = 1_000.0 * context + 50_000.0  # the same shape at another level and spread
    plan = serving.given(loaded, [context, moved])
    assert isinstance(plan.scale_in, ScalerStack)
    predicted = serving.forecast(loaded, plan, 6, []).values
    # standard scaling removes level and spread: the forecast moves with the context
    np.testing.assert_allclose(predicted[1], 1_000.0 * predicted[0] + 50_000.0, rtol=1e-5)
    assert plan.scale_in.center[1, 0, 0] == pytest.approx(float(moved.mean()))
    own = Scaler.fit("standard", context)
    assert plan.scale_in.scale[0, 0, 0] == pytest.approx(own.scale[0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_global_model_trains_and_is_measured_on_the_gpu() -> None:
    config = TrainConfig(epochs=3, validation_fraction=0.2, test_fraction=0.2)
    on_gpu = train(seasonal_panel(), MODEL, config, device=torch.device("cuda"))
    assert on_gpu.metrics["series_measured"] == 4
    assert next(on_gpu.model.parameters()).device.type == "cpu"  # handed back for saving


def test_an_exact_baseline_gives_no_ratio_rather_than_a_huge_one() -> None:
    exact = {"mse": 0.0, "rmse": 0.0, "mae": 3e-13, "smape": 0.0}
    scores = SeriesScores(
        5, 100.0, {**exact, "mae": 1.0}, {**exact, "mae": 2.0}, exact, exact, exact
    )
    assert scores.mase == 0.5
    assert scores.mase_seasonal is None


def test_a_model_that_loses_to_the_seasonal_naive_says_so() -> None:
    seasonal = baseline_name("seasonal_naive", 12)
    assert losing_warning(2.0, 3.0, seasonal, "here") == []
    (warning,) = losing_warning(3.0, 2.0, seasonal, "on the test parts")
    assert warning == (
        "the model loses to the seasonal naive (season 12) forecast on the test parts: "
        "MAE 3 against 2"
    )
    assert baseline_name("seasonal_naive", 1) == "naive"  # a season of 1: the last value
    assert losing_warning(2.0, 2.0, "drift", "here") == []  # a tie does not lose
    assert losing_warning(float("nan"), 2.0, "drift", "here")  # nor does a diverged model win
    # an exactly repeating panel: one epoch of a tiny model cannot match its last season
    t = np.arange(48)
    exact = np.concatenate([np.sin(2 * np.pi * t / 12) + level for level in (0.0, 5.0)])[:, None]
    panel = Panel(exact, (48, 48), ("a", "b"), season=12)
    tiny = ModelConfig(n_features=1, lookback=12, horizon=3, hidden_size=2, num_layers=1)
    config = TrainConfig(epochs=1, validation_fraction=0.2, test_fraction=0.2)
    metrics = train(panel, tiny, config, device=CPU).metrics
    # the mean warning first; then each split's and baseline's losing series
    warning, *by_series = metrics["warnings"]  # type: ignore[misc]
    assert warning.startswith(
        "the model loses to the seasonal naive (season 12) forecast on the validation parts "
        "(mean MAE over series)"
    )
    assert any(
        line.startswith("the model loses to the seasonal naive (season 12) forecast on the "
                        "validation parts of ")
        for line in by_series
    )  # fmt: skip
