"""The season of series without a calendar, from their autocorrelation."""

from __future__ import annotations

import numpy as np
import pytest

from app.ml.data import Scaler
from app.ml.season import (
    Deseasonalised,
    Seasonality,
    detect_season,
    is_seasonal,
    seasonal_indices,
)


def seasonal(period: int, rows: int, seed: int, noise: float = 1.0) -> np.ndarray:
    """A trend, a yearly-like wave of amplitude 10 and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    return 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / period) + rng.normal(0, noise, rows)


@pytest.mark.parametrize(("period", "noise"), [(4, 1.0), (7, 1.0), (12, 1.0), (24, 1.0), (52, 0.1)])
def test_a_trending_seasonal_series_gives_its_period(period: int, noise: float) -> None:
    # differencing (against the trend) leaves a long season's changes small next to noise's
    assert detect_season([seasonal(period, 10 * period, seed=period, noise=noise)]) == period


def test_noise_and_trends_have_no_season() -> None:
    for seed in range(10):
        rng = np.random.default_rng(seed)
        assert detect_season([rng.normal(0, 1, 200)]) == 1
        assert detect_season([np.cumsum(rng.normal(0.3, 1, 200))]) == 1  # a random walk


def test_a_panel_pools_its_series_even_when_each_is_short() -> None:
    panel = [seasonal(4, 20, seed) for seed in range(30)]  # 20 rows: 5 seasons each
    assert detect_season(panel) == 4


def test_too_short_to_tell_is_no_season() -> None:
    assert detect_season([np.arange(5.0)]) == 1


# -- the classical multiplicative adjustment --------------------------------------------------

SHAPE = 1 + 0.3 * np.sin(2 * np.pi * np.arange(12) / 12)  # a yearly pattern of monthly rows


def multiplicative(rows: int, phase: int = 0) -> np.ndarray:
    """[rows] a rising level times SHAPE, its first row at `phase` of the season."""
    at = np.arange(rows) + phase
    return (100 + 0.5 * at) * SHAPE[at % 12]


def test_the_indices_of_a_multiplicative_series_are_its_pattern() -> None:
    found = seasonal_indices(multiplicative(120), 12)
    assert found is not None
    np.testing.assert_allclose(found, SHAPE / SHAPE.mean(), atol=0.01)
    assert found.mean() == pytest.approx(1.0)


def test_noise_a_short_series_and_a_non_positive_one_get_no_indices() -> None:
    rng = np.random.default_rng(0)
    assert not is_seasonal(rng.normal(10, 1, 240), 12)
    assert seasonal_indices(rng.normal(10, 1, 240), 12) is None
    assert seasonal_indices(multiplicative(30), 12) is None  # under three seasons
    assert seasonal_indices(multiplicative(120) - 150, 12) is None  # a ratio needs a level > 0
    assert seasonal_indices(multiplicative(120), 1) is None


def test_rephased_seasons_continue_the_series() -> None:
    seasons = Seasonality.fit(multiplicative(100)[:, None], 12)
    assert seasons is not None
    continued = seasons.rephased(100)
    np.testing.assert_array_equal(continued.factors(0, 30), seasons.factors(100, 30))
    np.testing.assert_array_equal(continued.factors(-7, 7), seasons.factors(93, 7))
    again = Seasonality.from_json(continued.to_json(), 1)
    np.testing.assert_array_equal(again.indices, continued.indices)


def test_stored_indices_are_checked() -> None:
    with pytest.raises(ValueError, match="positive"):
        Seasonality.from_json([[1.0], [0.0]], 1)
    with pytest.raises(ValueError, match="season >= 2"):
        Seasonality.from_json([[1.0, 1.0]], 1)


def test_a_deseasonalised_scaling_round_trips_a_seasonal_continuation() -> None:
    """A context divided by its seasons is the level; the level's continuation multiplied back
    is the series' continuation."""
    series = np.stack([multiplicative(132), multiplicative(132, phase=5)])[..., None]
    seasons = [Seasonality.fit(rows[:120], 12) for rows in series]
    assert all(found is not None for found in seasons)
    phased = [found.rephased(120) for found in seasons if found is not None]
    scaling = Deseasonalised(Scaler("none", (0.0,), (1.0,)), list(phased), [0])
    rows = np.arange(96, 132) + np.array([[0], [5]])
    trend = (100 + 0.5 * rows)[..., None]  # [2, 36, 1] what is left without the seasons
    np.testing.assert_allclose(scaling.transform(series[:, 96:120]), trend[:, :24], rtol=0.003)
    np.testing.assert_allclose(scaling.inverse(trend[:, 24:]), series[:, 120:], rtol=0.003)
