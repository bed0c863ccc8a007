"""The season of series without a calendar, from their autocorrelation."""

from __future__ import annotations

import numpy as np
import pytest

from app.ml.season import detect_season


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
