"""The M3 benchmark's pieces that need no service: Naive2 and the job request's merge patches."""

from __future__ import annotations

import numpy as np
import pytest

from bench.m3 import compose, job_request, merge_patch
from bench.m3_peers import naive2


def test_naive2_without_season_is_naive() -> None:
    np.testing.assert_array_equal(naive2(np.array([3.0, 1.0, 4.0]), 3, season=1), [4.0] * 3)


def test_naive2_carries_a_clear_season_forward() -> None:
    pattern = np.array([1.0, 2.0, 3.0, 2.0])
    forecast = naive2(np.tile(pattern, 6) * 10, 4, season=4)
    np.testing.assert_allclose(forecast, pattern * 10, rtol=1e-9)


def test_merge_patch_merges_objects_and_null_removes() -> None:
    request = job_request("d1", "yearly", 6)
    patch = compose(
        {"window": {"lookback": 6}, "forecast_horizon": None}, {"window": {"horizon": 2}}
    )
    assert merge_patch(request, patch) == {
        "model_name": "m3-yearly",
        "data": {"dataset_id": "d1"},
        "window": {"lookback": 6, "horizon": 2},
    }


@pytest.mark.parametrize("group", ["yearly", "other"])
def test_job_request_is_the_default_plus_the_horizon(group: str) -> None:
    assert set(job_request("d1", group, 8)) == {"model_name", "data", "forecast_horizon"}
