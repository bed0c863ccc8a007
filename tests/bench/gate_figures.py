"""Figures for checking a competition's gate: every group scored the same per method."""

from __future__ import annotations

from typing import Any

from bench.competition_data import GroupSpec


def every_group(groups: dict[str, GroupSpec], smape: dict[str, float]) -> dict[str, Any]:
    """A run's raw figures where each method has the sMAPE `smape[method]` in every group of
    `groups` (10 series each) and a mean MASE of a tenth of it."""
    methods = {name: {"smape": value, "mase": value / 10} for name, value in smape.items()}
    return {
        "groups": {
            group: {"series": 10, "horizon": horizon, "methods": methods}
            for group, (horizon, _, _) in groups.items()
        }
    }
