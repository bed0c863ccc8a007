"""Conformal prediction intervals: the quantile rule, rollout starts, coverage, calibration in
`train()`, and the half-widths a checkpoint stores."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from app.ml.checkpoint_meta import META_FILE, CheckpointError, CheckpointMeta, SeriesMeta
from app.ml.checkpoints import load, write
from app.ml.config import TrainConfig
from app.ml.data import Scaler, Split, segments_of
from app.ml.forecast import forecast
from app.ml.functions import generate, resolve_params
from app.ml.intervals import (
    LEVELS,
    MAX_CALIBRATION_STARTS,
    conformal_quantiles,
    coverage,
    half_widths,
    plan_rollouts,
    rollout_starts,
)
from app.ml.model import ModelConfig, RecurrentForecaster
from app.ml.prepare import Panel
from app.ml.train import TrainResult, train

CPU = torch.device("cpu")
TINY = ModelConfig(n_features=1, lookback=10, hidden_size=8, num_layers=1)


# --- the conformal rule --------------------------------------------------------------------


def test_levels_are_the_documented_ones() -> None:
    assert LEVELS == (50, 80, 90, 95, 98, 99)


def test_quantiles_of_one_to_nine_follow_the_ceil_n_plus_one_rule() -> None:
    errors = np.random.default_rng(0).permutation(np.arange(1.0, 10.0))  # 1..9, shuffled
    quantiles = conformal_quantiles(errors[:, None, None])
    assert quantiles.shape == (len(LEVELS), 1, 1)
    # ceil(10 q)-th smallest: 50 -> 5th, 80 -> 8th, 90 -> 9th; 95, 98, 99 ask for the 10th of 9
    # and are capped at the largest error.
    assert dict(zip(LEVELS, quantiles[:, 0, 0].tolist(), strict=True)) == {
        50: 5.0,
        80: 8.0,
        90: 9.0,
        95: 9.0,
        98: 9.0,
        99: 9.0,
    }


@pytest.mark.parametrize("n", [1, 2, 19, 20, 39, 99, 128, 199])
def test_quantile_rank_for_many_sample_sizes(n: int) -> None:
    errors = np.arange(1.0, n + 1.0)[::-1].copy()  # the k-th smallest is k
    quantiles = conformal_quantiles(errors[:, None, None], (50, 80, 95, 99))
    expected = [min(math.ceil((n + 1) * level / 100), n) for level in (50, 80, 95, 99)]
    assert quantiles[:, 0, 0].tolist() == [float(k) for k in expected]


def test_quantiles_are_taken_per_step_and_per_column_independently() -> None:
    rng = np.random.default_rng(1)
    residuals = np.abs(rng.normal(size=(30, 4, 3))) * np.arange(1, 13).reshape(1, 4, 3)
    quantiles = conformal_quantiles(residuals)
    assert quantiles.shape == (len(LEVELS), 4, 3)
    for step in range(4):
        for column in range(3):
            ordered = np.sort(residuals[:, step, column])
            for i, level in enumerate(LEVELS):
                rank = min(math.ceil(31 * level / 100), 30)
                assert quantiles[i, step, column] == ordered[rank - 1]
    # Higher levels are never narrower.
    assert (np.diff(quantiles, axis=0) >= 0).all()


def test_quantiles_are_values_of_the_residuals_and_do_not_change_the_input() -> None:
    residuals = np.abs(np.random.default_rng(2).normal(size=(50, 2, 1)))
    before = residuals.copy()
    quantiles = conformal_quantiles(residuals)
    np.testing.assert_array_equal(residuals, before)
    for i in range(len(LEVELS)):
        for step in range(2):
            assert quantiles[i, step, 0] in residuals[:, step, 0]


# --- rollout starts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("begin", "end", "steps", "most"),
    [(100, 200, 10, 128), (100, 200, 10, 5), (0, 10_000, 200, 128), (7, 20, 13, 128), (3, 9, 1, 2)],
)
def test_rollout_starts_stay_inside_and_span_the_range(
    begin: int, end: int, steps: int, most: int
) -> None:
    starts = rollout_starts(begin, end, steps, most)
    assert starts.dtype == np.int64
    assert 1 <= len(starts) <= most
    assert (np.diff(starts) > 0).all()
    assert starts[0] == begin
    assert starts[-1] == end - steps  # the last rollout ends exactly at `end`
    assert (starts >= begin).all()
    assert (starts + steps <= end).all()


def test_rollout_starts_take_every_row_when_there_are_few() -> None:
    np.testing.assert_array_equal(rollout_starts(100, 200, 10), np.arange(100, 191))
    assert len(rollout_starts(0, 100_000, 10)) == MAX_CALIBRATION_STARTS


def test_rollout_starts_are_evenly_spaced_when_capped() -> None:
    starts = rollout_starts(0, 1010, 10, most=11)
    np.testing.assert_array_equal(starts, np.arange(0, 1001, 100))


@pytest.mark.parametrize(("begin", "end", "steps"), [(100, 105, 6), (100, 100, 1), (5, 3, 1)])
def test_rollout_starts_are_empty_when_the_range_is_too_short(
    begin: int, end: int, steps: int
) -> None:
    starts = rollout_starts(begin, end, steps)
    assert starts.shape == (0,)
    assert starts.dtype == np.int64


def test_a_range_of_exactly_one_rollout_gives_one_start() -> None:
    np.testing.assert_array_equal(rollout_starts(40, 50, 10), [40])


# --- coverage and half-widths ---------------------------------------------------------------


def test_coverage_counts_values_inside_each_width_including_the_boundary() -> None:
    predicted = np.full((4, 1, 1), 10.0)
    actual = predicted + np.array([0.5, -1.5, 2.5, -3.5])[:, None, None]
    widths = np.array([0.0, 0.5, 1.5, 2.5, 3.5, 10.0])[:, None, None]  # one per level
    assert coverage(predicted, actual, widths) == {
        "50": 0.0,
        "80": 25.0,
        "90": 50.0,
        "95": 75.0,
        "98": 100.0,
        "99": 100.0,
    }


def test_coverage_applies_each_step_and_column_its_own_width() -> None:
    predicted = np.zeros((2, 2, 2))
    actual = np.array([[[1.0, 1.0], [1.0, 1.0]], [[3.0, 3.0], [3.0, 3.0]]])  # errors 1 and 3
    widths = np.zeros((len(LEVELS), 2, 2))
    widths[:, 0, 0] = 3.0  # both covered
    widths[:, 0, 1] = 1.0  # one of two
    widths[:, 1, :] = 0.5  # none
    widths[5] = 100.0  # the last level covers everything
    result = coverage(predicted, actual, widths)
    assert list(result) == [str(level) for level in LEVELS]
    assert result["50"] == pytest.approx(100 * 3 / 8)
    assert result["99"] == 100.0


def test_half_widths_pick_the_level_and_repeat_the_last_step() -> None:
    quantiles = np.arange(len(LEVELS) * 3 * 2, dtype=float).reshape(len(LEVELS), 3, 2)
    level95 = quantiles[LEVELS.index(95)]
    np.testing.assert_array_equal(half_widths(quantiles, 95, 2), level95[:2])
    np.testing.assert_array_equal(half_widths(quantiles, 95, 3), level95)
    longer = half_widths(quantiles, 95, 7)
    assert longer.shape == (7, 2)
    np.testing.assert_array_equal(longer[:3], level95)
    for step in range(3, 7):
        np.testing.assert_array_equal(longer[step], level95[-1])
    np.testing.assert_array_equal(half_widths(quantiles, 50, 1), quantiles[0, :1])
    with pytest.raises(ValueError, match="not in"):
        half_widths(quantiles, 81, 1)


# --- calibration, statistically ---------------------------------------------------------------


def test_exchangeable_residuals_are_covered_at_the_nominal_level() -> None:
    """Gaussian noise around a fixed forecast: calibrate on 200 draws, test on 20,000."""
    rng = np.random.default_rng(42)
    steps, columns = 20, 2
    forecast_rows = np.sin(np.arange(steps) / 3)[:, None] * np.array([1.0, -4.0])  # [20, 2]
    spread = 0.1 * (1 + np.arange(steps) / 5)[:, None] * np.array([1.0, 3.0])  # grows per step

    def draws(n: int) -> np.ndarray:
        return forecast_rows + spread * rng.normal(size=(n, steps, columns))

    widths = conformal_quantiles(np.abs(draws(200) - forecast_rows))
    test = draws(20_000)
    result = coverage(np.broadcast_to(forecast_rows, test.shape), test, widths)
    for level in LEVELS:
        assert abs(result[str(level)] - level) < 3, (level, result)
    # The wider noise of later steps and the second column is in the widths.
    assert (widths[:, -1] > widths[:, 0]).all()
    assert (widths[:, :, 1] > widths[:, :, 0]).all()


def test_average_coverage_is_the_conformal_guarantee() -> None:
    """Over many independent calibrations the mean coverage is k / (n + 1), k = ceil((n+1) q):
    at least the level and less than one rank above it."""
    rng = np.random.default_rng(7)
    n, repeats = 200, 500  # the step axis holds 500 independent calibration sets
    calibration = np.abs(rng.standard_normal((n, repeats, 1)))
    widths = conformal_quantiles(calibration)
    test = rng.standard_normal((2000, repeats, 1))
    result = coverage(np.zeros_like(test), test, widths)
    for level in LEVELS:
        expected = 100 * math.ceil((n + 1) * level / 100) / (n + 1)
        assert abs(result[str(level)] - expected) < 0.6, (level, result[str(level)], expected)


# --- train() ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    params = {"points": 3000, "stop": 150, "noise": 0.3, "seed": 3}
    return generate("sin", resolve_params("sin", params))  # [3000, 1]


@pytest.fixture(scope="module")
def fitted(noisy: np.ndarray) -> TrainResult:
    config = TrainConfig(epochs=3, batch_size=64, interval_steps=20, seed=3)
    return train(Panel.of_series(noisy), TINY, config, device=CPU)


def rollouts(
    result: TrainResult, series: np.ndarray, starts: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, actual) [n, steps, F] from each start, by the public forecast path."""
    lookback = result.model.config.lookback
    contexts = np.stack([series[start - lookback : start] for start in starts])
    scalers = (result.series[0].scaler, result.series[0].scaler)
    predicted = forecast(result.model, scalers, contexts, steps, result.rollout_mode, CPU)
    actual = np.stack([series[start : start + steps] for start in starts])
    return predicted, actual


def test_train_calibrates_widths_from_validation_rollouts(
    fitted: TrainResult, noisy: np.ndarray
) -> None:
    widths = fitted.interval_widths
    assert widths is not None
    assert widths.shape == (len(LEVELS), 20, 1)
    assert np.isfinite(widths).all()
    assert (widths > 0).all()
    assert (np.diff(widths, axis=0) >= 0).all()  # a higher level is never narrower
    split = Split.of(len(noisy), 0.1, 0.1)
    starts = rollout_starts(split.val_start, split.test_start, 20)
    assert len(starts) == MAX_CALIBRATION_STARTS
    predicted, actual = rollouts(fitted, noisy, starts, 20)
    spread = fitted.series[0].scaler.scale[0]  # the widths are in the model scale
    np.testing.assert_allclose(
        widths * spread, conformal_quantiles(np.abs(actual - predicted)), rtol=1e-6, atol=1e-9
    )


def test_interval_metrics_measure_coverage_on_the_test_split(
    fitted: TrainResult, noisy: np.ndarray
) -> None:
    intervals = fitted.metrics["intervals"]
    assert isinstance(intervals, dict)
    assert intervals["calibrated_steps"] == 20
    assert intervals["test_steps"] == 20
    assert intervals["test_rollouts"] == MAX_CALIBRATION_STARTS
    assert list(intervals["coverage"]) == [str(level) for level in LEVELS]
    split = Split.of(len(noisy), 0.1, 0.1)
    starts = rollout_starts(split.test_start, len(noisy), 20)
    predicted, actual = rollouts(fitted, noisy, starts, 20)
    assert fitted.interval_widths is not None
    spread = fitted.series[0].scaler.scale[0]
    expected = coverage(predicted, actual, fitted.interval_widths * spread)
    assert intervals["coverage"] == pytest.approx(expected, abs=0.1)
    # A stationary noisy sine: the validation calibration carries over to the test split.
    for level in (80, 95):
        assert abs(intervals["coverage"][str(level)] - level) < 10, intervals["coverage"]


def test_metrics_mase_is_the_model_mae_over_the_naive_mae(fitted: TrainResult) -> None:
    for key, baseline in (("one_step", "naive_one_step"), ("mean", "naive")):
        model, naive = fitted.metrics[key], fitted.metrics[baseline]
        assert isinstance(model, dict)
        assert isinstance(naive, dict)
        assert model["mase"] == model["mae"] / naive["mae"]
        assert "mase" not in naive


def test_interval_steps_are_capped_at_half_the_validation_split(noisy: np.ndarray) -> None:
    short = noisy[:600]  # validation split: 60 rows -> at most 30 steps
    config = TrainConfig(epochs=1, batch_size=64, interval_steps=1000)
    result = train(Panel.of_series(short), TINY, config, device=CPU)
    assert result.interval_widths is not None
    assert result.interval_widths.shape == (len(LEVELS), 30, 1)
    intervals = result.metrics["intervals"]
    assert isinstance(intervals, dict)
    assert intervals["calibrated_steps"] == 30
    assert intervals["test_steps"] == 30  # the test split (60 rows) allows 30 steps as well
    # 60 test rows, rollouts of 30: the 31 starts test_start .. test_start + 30.
    assert intervals["test_rollouts"] == 31


def test_a_one_row_validation_split_leaves_intervals_uncalibrated() -> None:
    series = generate("sin", resolve_params("sin", {"points": 200, "stop": 20}))
    config = TrainConfig(epochs=1, validation_fraction=0.005, test_fraction=0.1)  # 1 validation row
    assert Split.of(200, 0.005, 0.1).val == 1
    result = train(Panel.of_series(series), TINY, config, device=CPU)
    assert result.interval_widths is None
    assert result.metrics["intervals"] is None
    assert isinstance(result.metrics["one_step"], dict)  # the rest is still measured


def test_a_two_row_validation_split_calibrates_on_two_one_step_rollouts() -> None:
    series = generate("sin", resolve_params("sin", {"points": 200, "stop": 20, "noise": 0.1}))
    config = TrainConfig(epochs=1, validation_fraction=0.01, test_fraction=0.1)  # 2 validation rows
    split = Split.of(200, 0.01, 0.1)
    assert split.val == 2
    result = train(Panel.of_series(series), TINY, config, device=CPU)
    assert result.interval_widths is not None
    assert result.interval_widths.shape == (len(LEVELS), 1, 1)
    starts = np.array([split.val_start, split.val_start + 1])
    predicted, actual = rollouts(result, series, starts, 1)
    # Two rollouts: every level's rank ceil(3 q) is capped at 2, the larger error.
    largest = np.abs(actual - predicted).max() / result.series[0].scaler.scale[0]
    np.testing.assert_allclose(result.interval_widths[:, 0, 0], largest, rtol=1e-5)


# --- checkpoints ----------------------------------------------------------------------------


def write_checkpoint(directory: Path, widths: np.ndarray | None) -> RecurrentForecaster:
    torch.manual_seed(0)
    config = ModelConfig(n_features=2, lookback=4, horizon=1, hidden_size=4, num_layers=1)
    model = RecurrentForecaster(config).eval()
    directory.mkdir()
    scaler = Scaler("standard", (0.0, 1.0), (1.0, 2.0))
    meta = CheckpointMeta(
        config=config, rollout_mode="window", columns=["a", "b"], inputs=["a", "b"],
        targets=["a", "b"], series=[SeriesMeta(None, scaler, np.zeros((4, 2)))],
        interval_widths=widths,
    )  # fmt: skip
    write(directory, model, meta)
    return model


def widths_of(steps: int, columns: int = 2) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.sort(rng.uniform(0.1, 2.0, size=(len(LEVELS), steps, columns)), axis=0)


def test_checkpoint_round_trips_interval_widths(tmp_path: Path) -> None:
    widths = widths_of(5)
    write_checkpoint(tmp_path / "ckpt", widths)
    meta = json.loads((tmp_path / "ckpt" / META_FILE).read_text())
    assert meta["intervals"]["levels"] == list(LEVELS)
    loaded = load(tmp_path / "ckpt", CPU)
    assert loaded.interval_widths is not None
    assert loaded.interval_widths.dtype == np.float64
    np.testing.assert_array_equal(loaded.interval_widths, widths)


def test_checkpoint_without_intervals_loads_with_none(tmp_path: Path) -> None:
    write_checkpoint(tmp_path / "ckpt", None)
    meta_path = tmp_path / "ckpt" / META_FILE
    meta = json.loads(meta_path.read_text())
    assert meta["intervals"] is None
    assert load(tmp_path / "ckpt", CPU).interval_widths is None
    del meta["intervals"]  # a checkpoint written before intervals existed
    meta_path.write_text(json.dumps(meta))
    assert load(tmp_path / "ckpt", CPU).interval_widths is None


def test_zero_widths_are_valid(tmp_path: Path) -> None:
    write_checkpoint(tmp_path / "ckpt", np.zeros((len(LEVELS), 1, 2)))
    loaded = load(tmp_path / "ckpt", CPU).interval_widths
    assert loaded is not None
    assert not loaded.any()


def _levels_reordered(intervals: dict[str, object]) -> None:
    intervals["levels"] = list(reversed(LEVELS))


def _levels_missing_one(intervals: dict[str, object]) -> None:
    intervals["levels"] = list(LEVELS[:-1])


def _negative(intervals: dict[str, object]) -> None:
    widths = intervals["half_widths"]
    assert isinstance(widths, list)
    widths[2][1][0] = -0.01


def _nan(intervals: dict[str, object]) -> None:
    widths = intervals["half_widths"]
    assert isinstance(widths, list)
    widths[0][0][1] = math.nan


def _too_few_levels(intervals: dict[str, object]) -> None:
    widths = intervals["half_widths"]
    assert isinstance(widths, list)
    intervals["half_widths"] = widths[:-1]


def _wrong_columns(intervals: dict[str, object]) -> None:
    widths = intervals["half_widths"]
    assert isinstance(widths, list)
    intervals["half_widths"] = [[row[:1] for row in level] for level in widths]


def _two_dimensional(intervals: dict[str, object]) -> None:
    widths = intervals["half_widths"]
    assert isinstance(widths, list)
    intervals["half_widths"] = [level[0] for level in widths]


def _ragged(intervals: dict[str, object]) -> None:
    widths = intervals["half_widths"]
    assert isinstance(widths, list)
    widths[1] = widths[1][:-1]


def _no_levels(intervals: dict[str, object]) -> None:
    del intervals["levels"]


def _not_numbers(intervals: dict[str, object]) -> None:
    intervals["half_widths"] = "wide"


@pytest.mark.parametrize(
    "tamper",
    [
        _levels_reordered,
        _levels_missing_one,
        _negative,
        _nan,
        _too_few_levels,
        _wrong_columns,
        _two_dimensional,
        _ragged,
        _no_levels,
        _not_numbers,
    ],
)
def test_tampered_interval_meta_is_a_checkpoint_error(tmp_path: Path, tamper: object) -> None:
    directory = tmp_path / "ckpt"
    write_checkpoint(directory, widths_of(3))
    meta_path = directory / META_FILE
    meta = json.loads(meta_path.read_text())
    tamper(meta["intervals"])  # type: ignore[operator]
    meta_path.write_text(json.dumps(meta))  # the SHA-256 covers the weights only
    with pytest.raises(CheckpointError):
        load(directory, CPU)


# --- the calibration plan ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "wanted", "steps", "rollouts"),
    [
        (60, 1000, 30, 31),  # one series: at most half its part, every start it allows
        (150, 200, 75, 76),
        (300, 200, 150, 128),  # past 128 starts: 128 of them, spread evenly
        (1000, 200, 200, 128),  # as many steps as asked
        (1, 200, 1, 1),  # too short to calibrate: one rollout
    ],
)
def test_one_series_calibrates_at_most_half_its_part_from_up_to_128_points(
    rows: int, wanted: int, steps: int, rollouts: int
) -> None:
    (segment,) = segments_of([rows * 10], lambda n: Split.sized(n, rows, rows))
    plan = plan_rollouts([segment], "val", wanted)
    assert (plan.steps, len(plan.starts)) == (steps, rollouts)
    begin, end = segment.bounds("val")
    assert plan.starts.min() == begin
    assert (plan.starts + plan.steps <= end).all()  # every rollout inside the part


def test_many_series_calibrate_their_whole_parts_from_one_point_each() -> None:
    segments = segments_of([40 + n for n in range(200)], lambda n: Split.sized(n, 18, 18))
    plan = plan_rollouts(segments, "val", 18)
    assert (plan.steps, len(plan.starts)) == (18, 200)
    assert list(plan.starts) == [segment.bounds("val")[0] for segment in segments]
    assert list(plan.ends) == [segment.end for segment in segments]


def test_a_few_series_each_give_several_rollouts_over_half_their_parts() -> None:
    segments = segments_of([100, 120], lambda n: Split.sized(n, 20, 20))
    plan = plan_rollouts(segments, "val", 18)
    assert plan.steps == 10  # half the 20 validation rows
    assert len(plan.starts) == 2 * 11  # every start of each part's first half
