"""A forecasting competition through the real service, beside measured peers and published rows.

For each group of a `Competition` (bench.m1, bench.m3) it starts the real service, uploads the
group's training parts as one long CSV (unique_id, ds, y; ds = 1..n, the data carries no dates),
submits one job, waits for it, forecasts h steps of every series in one request and scores them
on the held-out test parts with bench.competition_data's sMAPE and MASE. In the same run it
measures AutoETS and AutoTheta (statsforecast, season length = the group's period), seasonal naive
and Naive2 on the same training parts, and prints the competition's published rows.

The job is `job_request`: the default request plus the horizon (`forecast_horizon`). Settings can
be given with `--spec-json`, a JSON merge patch (RFC 7396: null removes a key) applied to every
group's request, or an object of such patches keyed by group name; a competition with explicit
per-group settings also takes `--fallback` (those settings, for a service without the horizon).

`--validation` scores the last h points of each training part instead of the test part (see
`validation_panel`): the run that chooses settings, never the competition's test sets.
`--plain` submits the plain default request instead (no `forecast_horizon`) on an upload dated
at each group's frequency, so the service picks the frequency's conventional horizon itself
(10% of the shortest series for a group without one, M3's "other").

Writes bench/results/<name>.md (sMAPE and mean MASE tables) and <name>.json (figures and
timings; <name>-plain, <name>-validation or <name>-plain-validation for those runs), then
exits 1 unless the competition's gate passes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.ml.evaluation import drift
from app.ml.season import seasonal_factors, seasonal_indices
from bench import competition_peers
from bench.competition_data import Competition, Series, long_csv, validation_panel
from bench.competition_report import report
from tests.e2e.server import Server

RESULTS = Path(__file__).resolve().parent / "results"


def job_request(dataset_id: str, model_name: str, horizon: int | None) -> dict[str, Any]:
    """The job the benchmark submits: the service's defaults, told the horizon to forecast
    (None: the plain default request, which picks the frequency's conventional horizon)."""
    told = {} if horizon is None else {"forecast_horizon": horizon}
    return {"model_name": model_name, "data": {"dataset_id": dataset_id}} | told


def merge_patch(target: Any, patch: Any) -> Any:
    """`target` with the JSON merge patch `patch` applied (RFC 7396): objects merge key by key,
    null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def compose(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """One merge patch doing `first` then `second`: nested objects merge, nulls are kept."""
    merged = dict(first)
    for key, value in second.items():
        both = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = compose(merged[key], value) if both else value
    return merged


def patches(
    competition: Competition, args: argparse.Namespace, groups: list[str]
) -> dict[str, dict[str, Any]]:
    """Each group's patch to `job_request`: --fallback, then --spec-json, then --seed."""
    given = json.loads(args.spec_json) if args.spec_json else {}
    keyed = bool(given) and set(given) <= set(competition.groups)
    found = {}
    for group in groups:
        patch: dict[str, Any] = {}
        if getattr(args, "fallback", False) and competition.fallback is not None:
            patch = competition.fallback(group) | {"forecast_horizon": None}
        patch = compose(patch, given.get(group, {}) if keyed else given)
        if args.seed is not None:
            patch = compose(patch, {"training": {"seed": args.seed}})
        found[group] = patch
    return found


def run_service(
    server: Server, model_name: str, panel: list[Series], patch: dict[str, Any], plain: bool
) -> dict[str, Any]:
    """Upload, train and forecast one group as `model_name` through the service: its forecasts
    (or the refusal), the request sent, the job's own metrics and the seconds of each step.
    `plain`: the plain default request, on dates of the group's frequency."""
    horizon = panel[0].horizon
    began = time.perf_counter()
    upload = server.http.post(
        "/v1/datasets",
        files={"file": (f"{model_name}.csv", long_csv(panel, dated=plain), "text/csv")},
        timeout=600,
    )
    upload.raise_for_status()
    out: dict[str, Any] = {"upload_seconds": time.perf_counter() - began}
    told = None if plain else horizon
    request = merge_patch(job_request(upload.json()["id"], model_name, told), patch)
    out["request"] = request
    began = time.perf_counter()
    answer = server.http.post("/v1/jobs", json=request)
    if answer.status_code != 202:
        out["error"] = {"status": answer.status_code, "body": answer.json()}
        return out
    job = answer.json()
    while job["status"] in ("queued", "running"):
        time.sleep(2)
        job = server.http.get(f"/v1/jobs/{job['id']}").json()
    out["train_seconds"] = time.perf_counter() - began
    if job["status"] != "succeeded":
        out["error"] = {"status": job["status"], "body": job.get("error")}
        return out
    metrics = job.get("metrics") or {}
    out["job_metrics"] = {key: metrics.get(key) for key in ("epochs_run", "members", "mean")}
    out["job_metrics"]["forecast_horizon"] = job["spec"].get("forecast_horizon")
    if metrics.get("search"):  # the configuration the job chose, and what choosing cost
        found = metrics["search"]
        won = found["trials"][found["winner"] - 1]
        out["job_metrics"]["search"] = {
            "trials": len(found["trials"]),
            "winner": {key: won[key] for key in ("lookback", "cell", "loss", "deseasonalise")},
            "ensemble_lookbacks": found["ensemble_lookbacks"],
            "seconds": found["seconds"],
            "stop_reason": found.get("stop_reason"),
            "scores": [trial["score"] for trial in found["trials"]],
        }
    guards = metrics.get("guards") or {}
    out["job_metrics"]["losing"] = {  # series the model loses to each simple forecast on
        split: {baseline: found["count"] for baseline, found in guards[split]["losing"].items()}
        for split in ("validation", "test")
        if split in guards
    }
    began = time.perf_counter()
    answer = server.http.post(
        f"/v1/models/{model_name}/forecast", json={"horizon": horizon}, timeout=600
    )
    answer.raise_for_status()
    out["forecast_seconds"] = time.perf_counter() - began
    items = answer.json()["series"]
    out["forecasts"] = {item["id"]: [row[0] for row in item["forecast"]] for item in items}
    out["combined"] = [item["id"] for item in items if item.get("combined_with") == "drift"]
    out["model_alone"] = model_alone(panel, out["forecasts"], out["combined"])
    return out


def model_alone(
    panel: list[Series], forecasts: dict[str, list[float]], combined: list[str]
) -> dict[str, list[float]]:
    """The model's own forecasts: a series the service combined with its drift forecast was
    served c = (model + drift) / 2, so its model's forecast is 2c - drift (drift: the line
    through its first and last training values, as the service draws it)."""
    alone = dict(forecasts)
    by_id = {series.id: series for series in panel}
    for key in combined:
        train = np.asarray(by_id[key].train, dtype=np.float64)
        line = drift(train[:, None], len(forecasts[key]))[:, 0]
        alone[key] = list(2 * np.asarray(forecasts[key]) - line)
    return alone


def deseasonalised(panel: list[Series]) -> tuple[list[Series], dict[str, np.ndarray]]:
    """The experiment of deseasonalising outside the service: `panel` with each series that
    passes the seasonality test divided by its classical multiplicative indices, and the
    factors its next `horizon` points multiply back by (series that fail are left as given)."""
    adjusted, factors = [], {}
    for series in panel:
        indices = seasonal_indices(series.train, series.season)
        if indices is None:
            adjusted.append(series)
            continue
        rows = len(series.train)
        train = series.train / seasonal_factors(indices, 0, rows)
        adjusted.append(dataclasses.replace(series, train=train))
        factors[series.id] = seasonal_factors(indices, rows, series.horizon)
    return adjusted, factors


def run(competition: Competition, args: argparse.Namespace, groups: list[str], root: Path) -> int:
    """Measure every group, print and write the tables; 0 if the gate passes."""
    started = time.perf_counter()
    group_patches = patches(competition, args, groups)
    compile_seconds = competition_peers.compile_statsforecast()
    figures: dict[str, Any] = {"groups": {}, "statsforecast_compile_seconds": compile_seconds}
    server = Server(root, workers=1, max_train_seconds=3600).start()
    try:
        for group in groups:
            panel = competition.load(group)[: args.series or None]
            model_name = f"{competition.slug}-{group}"
            if args.validation:
                panel = validation_panel(panel)
            if args.deseasonalise:
                adjusted, factors = deseasonalised(panel)
                patch = compose(group_patches[group], {"season_length": panel[0].season})
                ours = run_service(server, model_name, adjusted, patch, args.plain)
                for key, forecast in ours.get("forecasts", {}).items():
                    if key in factors:
                        ours["forecasts"][key] = list(np.asarray(forecast) * factors[key])
            else:
                ours = run_service(server, model_name, panel, group_patches[group], args.plain)
            print(f"{group}: {len(panel)} series; service {summary(ours)}", flush=True)
            peers = competition_peers.simple_peers(panel)
            peers |= competition_peers.statsforecast_peers(panel)
            figures["groups"][group] = {"panel": panel, "ours": ours, "peers": peers}
    finally:
        server.stop()
    figures["total_seconds"] = time.perf_counter() - started
    tables, raw = report(competition, figures)
    print(tables)
    RESULTS.mkdir(exist_ok=True)
    name = competition.slug + ("-plain" if args.plain else "")
    name += "-validation" if args.validation else ""
    (RESULTS / f"{name}.md").write_text(tables)
    (RESULTS / f"{name}.json").write_text(json.dumps(raw, indent=2) + "\n")
    print(f"total {figures['total_seconds']:.0f} s; wrote bench/results/{name}.md and .json")
    passed, lines = competition.gate(raw, groups)
    print("\n".join(lines))
    return 0 if passed else 1


def summary(ours: dict[str, Any]) -> str:
    """One line on the service's part of a group."""
    if "error" in ours:
        return f"REFUSED {json.dumps(ours['error'])} for {json.dumps(ours['request'])}"
    return (
        f"upload {ours['upload_seconds']:.1f} s, train {ours['train_seconds']:.0f} s, forecast "
        f"{ours['forecast_seconds']:.2f} s, job {json.dumps(ours['job_metrics'])}"
    )


def main(competition: Competition, description: str) -> int:
    """Parse the options of `python -m bench.<name>` and run the groups asked for."""
    order = competition.order
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--groups", default=",".join(order), help=f"comma-separated {competition.name} groups"
    )
    parser.add_argument("--spec-json", help="JSON merge patch of the job request (or per group)")
    if competition.fallback is not None:
        parser.add_argument("--fallback", action="store_true", help="explicit settings (FALLBACK)")
    parser.add_argument("--seed", type=int, help="training.seed of every job")
    parser.add_argument(
        "--deseasonalise",
        action="store_true",
        help="experiment: deseasonalise seasonal series before the upload (classical indices)",
    )
    parser.add_argument(
        "--validation", action="store_true", help="score the last h of each training part"
    )
    parser.add_argument("--series", type=int, default=0, help="first N series per group (0: all)")
    parser.add_argument(
        "--plain",
        action="store_true",
        help="the plain default request (no forecast_horizon) on dates of each group's frequency",
    )
    args = parser.parse_args()
    groups = [group for group in order if group in args.groups.split(",")]
    unknown = set(args.groups.split(",")) - set(order)
    if unknown or not groups:
        parser.error(f"unknown groups {sorted(unknown)}; choose from {', '.join(order)}")
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    with tempfile.TemporaryDirectory(prefix=f"bench-{competition.slug}-") as root:
        return run(competition, args, groups, Path(root))
