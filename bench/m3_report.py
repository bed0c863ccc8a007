"""The M3 benchmark's scores, tables and gate: sMAPE and mean MASE per method and group, the
"all" column weighting each group by its points (series × horizon), the published rows."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.m3_data import M3Series, mase, smape

ORDER = ("yearly", "quarterly", "monthly", "other")
OURS = "LSTM service (ours)"

# sMAPE from the issue (the M3 paper and N-BEATS): yearly, quarterly, monthly, other, all.
PUBLISHED: dict[str, tuple[float, float, float, float, float]] = {
    "Naive2": (17.88, 9.95, 16.91, 6.30, 15.47),
    "Auto-ANN": (22.41, 10.20, 16.69, 4.80, 15.78),
    "Comb S-H-D": (17.07, 9.22, 14.48, 4.56, 13.52),
    "Theta": (16.90, 8.96, 13.85, 4.41, 13.01),
    "N-BEATS-I+G": (15.93, 8.84, 13.11, 4.24, 12.37),
}


def score(panel: list[M3Series], forecasts: dict[str, Any]) -> dict[str, float | int]:
    """Mean sMAPE and mean MASE over the panel; series whose MASE scale is 0 are left out of
    the MASE mean and counted."""
    smapes, mases, skipped = [], [], 0
    for series in panel:
        predicted = np.asarray(forecasts[series.id], dtype=np.float64)
        smapes.append(smape(series.test, predicted))
        try:
            mases.append(mase(series.train, series.test, predicted, series.season))
        except ValueError:
            skipped += 1
    return {"smape": float(np.mean(smapes)), "mase": float(np.mean(mases)), "mase_skipped": skipped}


def _group_raw(figures: dict[str, Any]) -> dict[str, Any]:
    """One group's figures without the forecasts: scores and seconds per method."""
    panel, ours = figures["panel"], figures["ours"]
    service = {key: value for key, value in ours.items() if key != "forecasts"}
    methods = {}
    if "forecasts" in ours:
        methods[OURS] = score(panel, ours["forecasts"])
        methods[OURS]["seconds"] = sum(
            ours[key] for key in ("upload_seconds", "train_seconds", "forecast_seconds")
        )
    for name, (forecasts, seconds) in figures["peers"].items():
        methods[name] = score(panel, forecasts) | {"seconds": seconds}
    return {
        "series": len(panel),
        "horizon": panel[0].horizon,
        "service": service,
        "methods": methods,
    }


def _overall(raw: dict[str, Any], method: str, measure: str) -> float | None:
    """The point-weighted mean of `measure` over the groups run, if `method` has every one."""
    groups = raw["groups"].values()
    if not all(method in g["methods"] for g in groups):
        return None
    weights = [g["series"] * g["horizon"] for g in groups]
    values = [g["methods"][method][measure] for g in groups]
    return float(np.average(values, weights=weights))


def _table(raw: dict[str, Any], measure: str, published: bool) -> list[str]:
    """Markdown rows of one measure: every measured method, then (for sMAPE) the published."""
    run = [g for g in ORDER if g in raw["groups"]]
    lines = [
        "| method | " + " | ".join(ORDER) + " | all |",
        "|---" * (len(ORDER) + 2) + "|",
    ]
    methods = dict.fromkeys(m for g in raw["groups"].values() for m in g["methods"])
    digits = 2 if measure == "smape" else 3
    for method in methods:
        cells = []
        for group in ORDER:
            found = raw["groups"].get(group, {}).get("methods", {}).get(method)
            cells.append(f"{found[measure]:.{digits}f}" if found else "–")
        overall = _overall(raw, method, measure)
        cells.append(f"{overall:.{digits}f}" if overall is not None else "–")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    if published:
        for method, values in PUBLISHED.items():
            lines.append(
                f"| published: {method} | " + " | ".join(f"{v:.2f}" for v in values) + " |"
            )
    if len(run) < len(ORDER):
        lines.append(f'\n"all" (measured) covers {", ".join(run)} only.')
    return lines


def report(figures: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The markdown tables and the raw figures (scores, timings, requests) of a run."""
    raw: dict[str, Any] = {
        "groups": {group: _group_raw(found) for group, found in figures["groups"].items()},
        "statsforecast_compile_seconds": figures["statsforecast_compile_seconds"],
        "total_seconds": figures["total_seconds"],
    }
    timing = [
        "| group | series | upload s | train s | forecast s | "
        + " | ".join(name for name in next(iter(raw["groups"].values()))["methods"] if name != OURS)
        + " |"
    ]
    timing.append("|---" * (timing[0].count("|") - 1) + "|")
    for group, found in raw["groups"].items():
        service = found["service"]
        cells = [
            f"{service[key]:.1f}" if key in service else "–"
            for key in ("upload_seconds", "train_seconds", "forecast_seconds")
        ]
        peers = [f"{m['seconds']:.2f}" for n, m in found["methods"].items() if n != OURS]
        timing.append(f"| {group} | {found['series']} | " + " | ".join(cells + peers) + " |")
    text = "\n".join(
        ["# M3 benchmark", "", "## sMAPE (%), lower is better", ""]
        + _table(raw, "smape", published=True)
        + ["", "## Mean MASE (in-sample seasonal naive scale), lower is better", ""]
        + _table(raw, "mase", published=False)
        + ["", "## Seconds (statsforecast on one core, after numba's compilation)", ""]
        + timing
        + [""]
    )
    return text, raw


def gate(raw: dict[str, Any], groups: list[str]) -> tuple[bool, list[str]]:
    """Whether the service beats Naive2 on sMAPE and seasonal naive on mean MASE in every group;
    the lines that say so, and whether the goal (beat published Theta) is met."""
    lines, passed, goal = [], True, True
    theta = dict(zip((*ORDER, "all"), PUBLISHED["Theta"], strict=True))
    for group in groups:
        methods = raw["groups"][group]["methods"]
        if OURS not in methods:
            lines.append(f"{group}: no forecasts from the service")
            passed = goal = False
            continue
        ours = methods[OURS]
        beats_naive2 = ours["smape"] < methods["Naive2"]["smape"]
        beats_snaive = ours["mase"] < methods["Seasonal naive"]["mase"]
        beats_theta = ours["smape"] < theta[group]
        passed &= beats_naive2 and beats_snaive
        goal &= beats_theta
        lines.append(
            f"{group}: sMAPE {ours['smape']:.2f} vs Naive2 {methods['Naive2']['smape']:.2f} "
            f"({'ok' if beats_naive2 else 'MISS'}); MASE {ours['mase']:.3f} vs seasonal naive "
            f"{methods['Seasonal naive']['mase']:.3f} ({'ok' if beats_snaive else 'MISS'}); "
            f"published Theta {theta[group]:.2f} ({'beaten' if beats_theta else 'not beaten'})"
        )
    overall = _overall(raw, OURS, "smape")
    if len(groups) == len(ORDER) and overall is not None:
        goal &= overall < theta["all"]
        lines.append(f"all: sMAPE {overall:.2f} vs published Theta {theta['all']:.2f}")
    else:
        goal = False
        lines.append("all: not every group ran, so the overall goal cannot be met in this run")
    lines.append("GATE PASS" if passed else "GATE FAIL")
    lines.append(
        f"GOAL (beat published Theta overall and per group): {'MET' if goal else 'NOT MET'}"
    )
    return passed, lines
