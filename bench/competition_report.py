"""A competition benchmark's scores and tables: sMAPE and mean MASE per method and group, the
"all" column weighting each group by its points (series × horizon), the published rows, and the
comparisons a competition's gate is made of."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.competition_data import Competition, Series, mase, smape

OURS = "LSTM service (ours)"
MODEL_ALONE = "LSTM service, model alone"  # no series combined with its drift forecast
MEASURES = {"smape": ("sMAPE", 2), "mase": ("MASE", 3)}  # label, digits shown


def score(panel: list[Series], forecasts: dict[str, Any]) -> dict[str, float | int]:
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
    service = {key: value for key, value in ours.items() if key not in ("forecasts", "model_alone")}
    if "combined" in service:
        service["combined"] = len(service["combined"])  # series served with their drift
    methods = {}
    if "forecasts" in ours:
        seconds = sum(ours[key] for key in ("upload_seconds", "train_seconds", "forecast_seconds"))
        methods[OURS] = score(panel, ours["forecasts"]) | {"seconds": seconds}
        if ours["combined"]:  # the same job's model, uncombined: the ablation's other arm
            methods[MODEL_ALONE] = score(panel, ours["model_alone"]) | {"seconds": seconds}
    for name, (forecasts, seconds) in figures["peers"].items():
        methods[name] = score(panel, forecasts) | {"seconds": seconds}
    return {
        "series": len(panel),
        "horizon": panel[0].horizon,
        "service": service,
        "methods": methods,
    }


def overall(raw: dict[str, Any], method: str, measure: str) -> float | None:
    """The point-weighted mean of `measure` over the groups run, if `method` has every one."""
    groups = raw["groups"].values()
    if not all(method in g["methods"] for g in groups):
        return None
    weights = [g["series"] * g["horizon"] for g in groups]
    values = [g["methods"][method][measure] for g in groups]
    return float(np.average(values, weights=weights))


def _table(
    raw: dict[str, Any], measure: str, order: tuple[str, ...], published: dict[str, Any]
) -> list[str]:
    """Markdown rows of one measure: every measured method, then the `published` rows."""
    run = [g for g in order if g in raw["groups"]]
    lines = [
        "| method | " + " | ".join(order) + " | all |",
        "|---" * (len(order) + 2) + "|",
    ]
    methods = dict.fromkeys(m for g in raw["groups"].values() for m in g["methods"])
    digits = 2 if measure == "smape" else 3
    for method in methods:
        cells = []
        for group in order:
            found = raw["groups"].get(group, {}).get("methods", {}).get(method)
            cells.append(f"{found[measure]:.{digits}f}" if found else "–")
        across = overall(raw, method, measure)
        cells.append(f"{across:.{digits}f}" if across is not None else "–")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    for method, values in published.items():
        lines.append(f"| published: {method} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    if len(run) < len(order):
        lines.append(f'\n"all" (measured) covers {", ".join(run)} only.')
    return lines


def report(competition: Competition, figures: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The markdown tables and the raw figures (scores, timings, requests) of a run."""
    raw: dict[str, Any] = {
        "groups": {group: _group_raw(found) for group, found in figures["groups"].items()},
        "statsforecast_compile_seconds": figures["statsforecast_compile_seconds"],
        "total_seconds": figures["total_seconds"],
    }
    timing = [
        "| group | series | upload s | train s | forecast s | "
        + " | ".join(
            name
            for name in next(iter(raw["groups"].values()))["methods"]
            if name not in (OURS, MODEL_ALONE)
        )
        + " |"
    ]
    timing.append("|---" * (timing[0].count("|") - 1) + "|")
    for group, found in raw["groups"].items():
        service = found["service"]
        cells = [
            f"{service[key]:.1f}" if key in service else "–"
            for key in ("upload_seconds", "train_seconds", "forecast_seconds")
        ]
        peers = [
            f"{m['seconds']:.2f}"
            for n, m in found["methods"].items()
            if n not in (OURS, MODEL_ALONE)
        ]
        timing.append(f"| {group} | {found['series']} | " + " | ".join(cells + peers) + " |")
    text = "\n".join(
        [f"# {competition.name} benchmark", "", "## sMAPE (%), lower is better", ""]
        + _table(raw, "smape", competition.order, competition.published)
        + ["", "## Mean MASE (in-sample seasonal naive scale), lower is better", ""]
        + _table(raw, "mase", competition.order, {})
        + ["", "## Seconds (statsforecast on one core, after numba's compilation)", ""]
        + timing
        + [""]
    )
    return text, raw


def beats(raw: dict[str, Any], rival: str, measure: str, group: str | None) -> tuple[bool, str]:
    """Whether the service's `measure` is below `rival`'s in `group` (None: over every group
    run, point-weighted), and the words that say so; False when either has no figure."""
    digits = MEASURES[measure][1]
    if group is None:
        ours, theirs = overall(raw, OURS, measure), overall(raw, rival, measure)
    else:
        methods = raw["groups"][group]["methods"]
        ours = methods[OURS][measure] if OURS in methods else None
        theirs = methods[rival][measure] if rival in methods else None
    if ours is None or theirs is None:
        return False, f"{MEASURES[measure][0]} vs {rival}: no figure (MISS)"
    verdict = "ok" if ours < theirs else "MISS"
    return ours < theirs, (
        f"{MEASURES[measure][0]} {ours:.{digits}f} vs {rival} {theirs:.{digits}f} ({verdict})"
    )


def rule_gate(
    raw: dict[str, Any],
    groups: list[str],
    each_group: list[tuple[str, str]],
    all_groups: list[tuple[str, str]],
) -> tuple[bool, list[str]]:
    """The service beats every (rival, measure) of `each_group` in every group run and every
    one of `all_groups` over the groups run together; whether it does, and a line per group."""
    passed, lines = True, []
    for scope, rules in [*((g, each_group) for g in groups), (None, all_groups)]:
        if not rules:
            continue
        found = [beats(raw, rival, measure, scope) for rival, measure in rules]
        passed &= all(ok for ok, _ in found)
        lines.append(f"{scope or 'all'}: " + "; ".join(words for _, words in found))
    lines.append("GATE PASS" if passed else "GATE FAIL")
    return passed, lines
