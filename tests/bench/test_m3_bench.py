"""The M3 benchmark's pieces that need no service: Naive2 and the job request's merge patches."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.competition import compose, deseasonalised, job_request, merge_patch
from bench.competition_data import Series, long_csv, validation_panel
from bench.competition_peers import naive2
from bench.competition_report import OURS
from bench.m3 import GROUPS, gate
from tests.bench.gate_figures import every_group


def test_naive2_without_season_is_naive() -> None:
    np.testing.assert_array_equal(naive2(np.array([3.0, 1.0, 4.0]), 3, season=1), [4.0] * 3)


def test_naive2_carries_a_clear_season_forward() -> None:
    pattern = np.array([1.0, 2.0, 3.0, 2.0])
    forecast = naive2(np.tile(pattern, 6) * 10, 4, season=4)
    np.testing.assert_allclose(forecast, pattern * 10, rtol=1e-9)


def test_merge_patch_merges_objects_and_null_removes() -> None:
    request = job_request("d1", "m3-yearly", 6)
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
    assert set(job_request("d1", f"m3-{group}", 8)) == {"model_name", "data", "forecast_horizon"}


def test_the_validation_panel_scores_the_last_h_of_each_training_part() -> None:
    def series(name: str, rows: int) -> Series:
        train = np.arange(rows, dtype=np.float64)
        return Series(name, train, np.zeros(6), 6, 1, None, "YS")

    panel = [series("short", 14), series("long", 25), series("edge", 20)]
    found = validation_panel(panel)
    assert [item.id for item in found] == ["long", "edge"]  # still >= 14 rows after the cut
    long = found[0]
    np.testing.assert_array_equal(long.train, np.arange(19))
    np.testing.assert_array_equal(long.test, np.arange(19, 25))


def test_deseasonalising_outside_the_service_divides_and_multiplies_back() -> None:
    t = np.arange(60, dtype=np.float64)
    shape = 1 + 0.3 * np.sin(2 * np.pi * t / 12)
    seasonal = Series("s", (100 + t) * shape, np.zeros(6), 6, 12, None, "MS")
    flat = Series("f", 100 + t, np.zeros(6), 6, 12, None, "MS")
    adjusted, factors = deseasonalised([seasonal, flat])
    assert list(factors) == ["s"]  # the flat series fails the test and is left as it is
    np.testing.assert_allclose(adjusted[0].train, 100 + t, rtol=0.01)
    assert adjusted[1] is flat
    np.testing.assert_allclose(factors["s"], shape[:6] / shape.mean(), rtol=0.01)


def test_the_plain_request_leaves_the_horizon_to_the_service() -> None:
    request = job_request("d1", "m3-monthly", None)
    assert request == {"model_name": "m3-monthly", "data": {"dataset_id": "d1"}}


def test_a_dated_upload_spaces_each_series_at_its_group_frequency() -> None:
    series = Series("N1", np.arange(1.0, 5.0), np.ones(2), 2, 4, None, "QS")
    dated = long_csv([series], dated=True).decode().splitlines()
    assert dated[1:3] == ["N1,2000-01-01,1.0", "N1,2000-04-01,2.0"]
    assert long_csv([series]).decode().splitlines()[1] == "N1,1,1.0"


def _raw(ours: float, snaive: float, ets: float) -> dict[str, Any]:
    """Figures of every M3 group with the same sMAPE and MASE per method (Naive2 as seasonal
    naive)."""
    methods = {OURS: ours, "Seasonal naive": snaive, "Naive2": snaive, "AutoETS": ets}
    return every_group(GROUPS, methods)


def test_the_m3_gate_needs_the_simple_forecasts_beaten_everywhere_and_autoets_overall() -> None:
    passed, lines = gate(_raw(ours=12.0, snaive=15.0, ets=13.0), list(GROUPS))
    assert passed
    assert lines[-1] == "GATE PASS"
    assert lines[-2].startswith("published Theta (a goal): yearly beaten, quarterly not beaten")
    passed, lines = gate(_raw(ours=14.0, snaive=15.0, ets=13.0), list(GROUPS))
    assert not passed
    assert lines[-1] == "GATE FAIL"
    assert lines[-3] == (
        "all: sMAPE 14.00 vs AutoETS 13.00 (MISS); MASE 1.400 vs AutoETS 1.300 (MISS)"
    )
