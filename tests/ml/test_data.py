"""Scaling, chronological splits and window gathering."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.ml.data import Scaler, Split, gather_windows, window_starts
from app.ml.feasibility import split_problems


@pytest.fixture
def rows() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([rng.normal(5.0, 2.0, 200), rng.uniform(-3.0, 7.0, 200)], axis=1)  # [200, 2]


def test_standard_scaler_centres_on_the_mean_and_divides_by_the_std(rows: np.ndarray) -> None:
    scaler = Scaler.fit("standard", rows)
    assert scaler.center == tuple(rows.mean(axis=0))
    assert scaler.scale == tuple(rows.std(axis=0))
    scaled = scaler.transform(rows)
    np.testing.assert_allclose(scaled.mean(axis=0), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(scaled.std(axis=0), [1.0, 1.0], rtol=1e-12)


def test_minmax_scaler_maps_the_fitted_rows_onto_zero_to_one(rows: np.ndarray) -> None:
    scaler = Scaler.fit("minmax", rows)
    assert scaler.center == tuple(rows.min(axis=0))
    scaled = scaler.transform(rows)
    np.testing.assert_allclose(scaled.min(axis=0), [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(scaled.max(axis=0), [1.0, 1.0], rtol=1e-15)


def test_none_scaler_is_the_identity(rows: np.ndarray) -> None:
    scaler = Scaler.fit("none", rows)
    assert scaler == Scaler("none", (0.0, 0.0), (1.0, 1.0))
    np.testing.assert_array_equal(scaler.transform(rows), rows)
    np.testing.assert_array_equal(scaler.inverse(rows), rows)


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
def test_inverse_undoes_transform(kind: str, rows: np.ndarray) -> None:
    scaler = Scaler.fit(kind, rows)  # type: ignore[arg-type]
    windows = rows.reshape(20, 10, 2)  # any leading shape, features last
    np.testing.assert_allclose(scaler.inverse(scaler.transform(windows)), windows, rtol=1e-12)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_constant_column_gets_scale_one_instead_of_dividing_by_zero(kind: str) -> None:
    values = np.stack([np.full(50, 4.0), np.arange(50.0)], axis=1)
    scaler = Scaler.fit(kind, values)  # type: ignore[arg-type]
    assert scaler.center[0] == 4.0
    assert scaler.scale[0] == 1.0
    scaled = scaler.transform(values)
    assert np.isfinite(scaled).all()
    np.testing.assert_array_equal(scaled[:, 0], np.zeros(50))


def test_scaler_dict_round_trips_through_json(rows: np.ndarray) -> None:
    scaler = Scaler.fit("standard", rows)
    data = json.loads(json.dumps(scaler.to_dict()))
    assert data == {"kind": "standard", "center": list(scaler.center), "scale": list(scaler.scale)}
    assert Scaler.from_dict(data) == scaler


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "log", "center": [0.0], "scale": [1.0]},
        {"kind": "standard", "center": 0.0, "scale": [1.0]},
        {"kind": "standard", "center": [0.0], "scale": "1"},
        {"kind": "standard", "center": [0.0, 1.0], "scale": [1.0]},
        {"kind": "standard", "center": ["abc"], "scale": [1.0]},
    ],
)
def test_malformed_scaler_dict_raises_value_error(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"kind|lists|could not convert"):
        Scaler.from_dict(data)


@pytest.mark.parametrize(
    "data",
    [
        {"center": [0.0], "scale": [1.0]},  # no kind: KeyError today
        {"kind": "standard", "center": [None], "scale": [1.0]},  # TypeError today
    ],
)
def test_scaler_dict_missing_a_key_or_holding_a_non_number_raises_value_error(
    data: dict[str, object],
) -> None:
    # from_dict documents "raises ValueError on a malformed entry".
    with pytest.raises(ValueError):  # noqa: PT011
        Scaler.from_dict(data)


def test_split_of_cuts_train_validation_and_test_in_order() -> None:
    split = Split.of(10_000, 0.1, 0.1)
    assert split == Split(train=8000, val=1000, test=1000)
    assert (split.val_start, split.test_start) == (8000, 9000)


def test_split_keeps_one_row_for_a_tiny_nonzero_fraction_and_none_for_zero() -> None:
    assert Split.of(20, 0.01, 0.01) == Split(18, 1, 1)
    assert Split.of(20, 0.0, 0.25) == Split(15, 0, 5)


def test_window_targets_stay_within_the_split_while_inputs_reach_back() -> None:
    lookback, horizon = 10, 3
    starts = window_starts(100, 150, lookback, horizon)
    np.testing.assert_array_equal(starts, np.arange(100, 148))
    assert (starts >= 100).all()
    assert (starts + horizon - 1 < 150).all()  # last target row inside [100, 150)
    assert starts[0] - lookback == 90  # the first window's inputs come from the previous split


def test_first_training_window_waits_for_a_full_lookback() -> None:
    np.testing.assert_array_equal(window_starts(0, 15, 10, 1), np.arange(10, 15))


def test_split_too_short_for_one_horizon_has_no_windows() -> None:
    starts = window_starts(100, 102, 10, 3)
    assert starts.size == 0
    assert starts.dtype == np.int64


def test_split_problems_is_empty_when_every_split_holds_a_window() -> None:
    assert split_problems(10_000, Split.of(10_000, 0.1, 0.1), 10, 1) == []


def test_split_problems_names_the_validation_and_test_splits_that_are_too_short() -> None:
    split = Split.of(30, 0.1, 0.1)
    assert split == Split(24, 3, 3)
    assert split_problems(30, split, 10, 5) == [
        "the validation split (3 rows) holds no window of lookback 10 + horizon 5; "
        "use more points, a smaller window or a larger validation fraction",
        "the test split (3 rows) holds no window of lookback 10 + horizon 5; "
        "use more points, a smaller window or a larger test fraction",
    ]


def test_split_problems_names_a_training_split_shorter_than_the_lookback() -> None:
    split = Split.of(12, 0.1, 0.1)
    assert split == Split(10, 1, 1)
    assert split_problems(12, split, 10, 1) == [
        "the training split (10 rows) holds no window of lookback 10 + horizon 1; "
        "use more points, a smaller window or a larger training fraction"
    ]


def test_gather_windows_cuts_inputs_before_and_targets_from_each_start() -> None:
    series = torch.arange(60.0).reshape(30, 2)  # row t is [2t, 2t + 1]
    starts = torch.tensor([5, 12, 27])
    inputs, targets = gather_windows(series, starts, lookback=5, horizon=3)
    assert inputs.shape == (3, 5, 2)
    assert targets.shape == (3, 3, 2)
    for i, start in enumerate(starts.tolist()):
        assert torch.equal(inputs[i], series[start - 5 : start])
        assert torch.equal(targets[i], series[start : start + 3])
