"""Many series at scale, through the real service: uploads, views, a global model's listing and
a whole panel's forecast, each against its target; exits 1 on a miss.

Generates (seeded, nothing downloaded):
- a 10,000-series daily panel, 100 rows each, as a long CSV (unique_id, ds, y);
- an M4-sized panel, 100,000 series of 13 to 500 monthly rows (about 24 million values in
  all), as a Parquet file; `--quick` makes it 10,000 series (no target is judged on it then).

Measured in one run, on one server (uvicorn on a loopback port, limits raised for the sizes):
| target | |
|---|---|
| CSV upload, 10,000 x 100 | within 4x of pandas.read_csv of the same bytes (same run) |
| Parquet upload, M4-sized | <= 30 s; the API process's peak RSS <= 2 GiB |
| GET /v1/datasets/{id}, 10,000 series | p50 <= 200 ms and <= 64 KiB |
| GET /v1/models, a 10,000-series model present | p50 <= 100 ms |
| forecast every series, 10,000 x 12 steps (NDJSON) | <= 2 s |
The 10,000-series model is trained here for one epoch (its accuracy is not the point), and
the training's time and peak memory are printed for 1,000 and 10,000 series as the scaling
curve's points. Results go to bench/results/scale.{md,json}.

Run from the repository root: `python -m bench.scale` (or `make bench-scale`).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.panel import WorkerPeak, peak_kib
from tests.e2e.server import Server

RESULTS = Path(__file__).parent / "results"
GIB = 2**30
# One epoch over every series: the listing, views and forecast do not depend on accuracy.
JOB = {
    "window": {"lookback": 24, "horizon": 12},
    "architecture": {"hidden_size": 16, "num_layers": 1},
    "training": {"epochs": 1, "ensemble": 1, "batch_size": 1024, "validation_rows": 12,
                 "test_rows": 12, "min_steps": 0},
}  # fmt: skip


def daily_panel_csv(series: int, rows: int, seed: int) -> bytes:
    """A long CSV of `series` daily series of `rows` rows each, a weekly cycle and noise."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2020-01-01", periods=rows, freq="D").strftime("%Y-%m-%d")
    level = rng.uniform(50, 150, series)[:, None]
    values = level + 10 * np.sin(np.arange(rows) * 2 * np.pi / 7) + rng.normal(0, 3, (series, rows))
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"d{k}" for k in range(series)], rows),
            "ds": np.tile(days, series),
            "y": values.round(3).ravel(),
        }
    )
    return frame.to_csv(index=False).encode()


def monthly_panel_parquet(series: int, seed: int) -> tuple[bytes, int]:
    """An M4-like Parquet panel: series of 13 to 500 months (mean about 240) ending together;
    returns the file and its value count."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(13, 501, series)
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    position = np.arange(total) - np.repeat(ends - lengths, lengths)  # each row's place
    months = np.datetime64("2030-12", "M") - np.repeat(lengths, lengths) + 1 + position
    ids = np.repeat(np.arange(series), lengths)
    values = np.repeat(rng.uniform(100, 1000, series), lengths) * (
        1 + 0.1 * np.sin(position * np.pi / 6)
    ) + rng.normal(0, 5, total)
    frame = pd.DataFrame(
        {
            "unique_id": pd.Categorical.from_codes(ids, [f"m{k}" for k in range(series)]),
            "ds": months.astype("datetime64[ns]"),
            "y": values,
        }
    )
    frame["unique_id"] = frame["unique_id"].astype(str)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue(), total


def timed(call: Any) -> tuple[Any, float]:
    began = time.perf_counter()
    result = call()
    return result, time.perf_counter() - began


def p50_ms(server: Server, path: str, repeats: int = 15) -> tuple[float, int]:
    """The median time of GET `path` in ms, and its answer's size in bytes."""
    times, size = [], 0
    for _ in range(repeats):
        response, seconds = timed(lambda: server.http.get(path))
        response.raise_for_status()
        times.append(seconds * 1000)
        size = len(response.content)
    return statistics.median(times), size


def upload(server: Server, name: str, data: bytes) -> tuple[dict[str, Any], float]:
    response, seconds = timed(
        lambda: server.http.post("/v1/datasets", files={"file": (name, data)}, timeout=900)
    )
    if response.status_code != 201:
        raise SystemExit(f"upload of {name} failed: {response.status_code} {response.text[:300]}")
    return response.json(), seconds


def train(
    server: Server, dataset: dict[str, Any], name: str, processes: int = 1
) -> tuple[dict[str, Any], float, int]:
    """Train `JOB` on `dataset` (its fit shared by `processes`): the job, its wall time and its
    worker's peak RSS in KiB."""
    assert server.process is not None
    watcher = WorkerPeak(server.process.pid)
    watcher.start()
    training = JOB["training"] | {"processes": processes}
    spec = {"model_name": name, "data": {"dataset_id": dataset["id"]}, **JOB, "training": training}
    began = time.perf_counter()
    job = server.http.post("/v1/jobs", json=spec).json()
    while job.get("status") in ("queued", "running"):
        time.sleep(1)
        job = server.http.get(f"/v1/jobs/{job['id']}").json()
    watcher.done.set()
    if job.get("status") != "succeeded":
        raise SystemExit(f"training {name} ended {job.get('status')}: {job.get('error') or job}")
    return job, time.perf_counter() - began, watcher.peak


def run(root: Path, quick: bool, seed: int) -> int:
    settings = {
        "workers": 1,
        "max_series": 100_000,
        "max_dataset_rows": 30_000_000,
        "max_upload_bytes": 1024 * 2**20,
        "max_forecast_values": 2_000_000,
        "max_train_seconds": 3600,
    }
    m4_series = 10_000 if quick else 100_000
    parquet, values = monthly_panel_parquet(m4_series, seed)
    csv = daily_panel_csv(10_000, 100, seed)
    rows: list[dict[str, Any]] = []

    def record(name: str, figure: str, target: str, met: bool | None) -> None:
        rows.append({"measure": name, "figure": figure, "target": target, "met": met})
        verdict = "" if met is None else ("  ok" if met else "  MISS")
        print(f"{name}: {figure} (target {target}){verdict}", flush=True)

    server = Server(root, **settings).start(timeout=120)
    assert server.process is not None
    try:
        # The big upload first, so the API's peak memory is that upload's.
        m4, seconds = upload(server, "m4.parquet", parquet)
        peak = peak_kib(server.process.pid) * 1024
        record(
            f"Parquet upload, {m4['series_count']:,} series, {values:,} values "
            f"({len(parquet) / 2**20:.0f} MiB)",
            f"{seconds:.1f} s, API peak RSS {peak / GIB:.2f} GiB",
            "<= 30 s, <= 2 GiB",
            None if quick else seconds <= 30 and peak <= 2 * GIB,
        )
        reference = min(timed(lambda: pd.read_csv(io.BytesIO(csv)))[1] for _ in range(3))
        panel, seconds = upload(server, "daily.csv", csv)
        record(
            f"CSV upload, 10,000 x 100 ({len(csv) / 2**20:.0f} MiB)",
            f"{seconds:.2f} s; pandas.read_csv {reference:.2f} s: {seconds / reference:.1f}x",
            "<= 4x pandas.read_csv",
            seconds <= 4 * reference,
        )
        for dataset, count in ((panel, 10_000), (m4, m4_series)):
            median, size = p50_ms(server, f"/v1/datasets/{dataset['id']}")
            record(
                f"GET /v1/datasets/{{id}}, {count:,} series",
                f"p50 {median:.1f} ms, {size / 1024:.1f} KiB",
                "<= 200 ms, <= 64 KiB",
                median <= 200 and size <= 64 * 1024,
            )
        small = upload(server, "daily-1k.csv", daily_panel_csv(1_000, 100, seed + 1))[0]
        for dataset, name, processes in (
            (small, "scale-1k", 1), (panel, "scale-10k-shared", 2), (panel, "scale-10k", 1)
        ):  # fmt: skip
            job, seconds, worker_peak = train(server, dataset, name, processes)
            shared = f", {processes} processes" if processes > 1 else ""
            record(
                f"training one epoch, {dataset['series_count']:,} series x 100 rows{shared}",
                f"{seconds:.1f} s wall ({job['metrics']['train_seconds']:.1f} s in the job), "
                f"worker peak RSS {worker_peak / 2**20:.2f} GiB",
                "the scaling curve",
                None,
            )
        median, size = p50_ms(server, "/v1/models")
        record(
            "GET /v1/models, the 10,000-series model present",
            f"p50 {median:.1f} ms ({size / 1024:.1f} KiB)",
            "<= 100 ms",
            median <= 100,
        )
        median, size = p50_ms(server, "/v1/models/scale-10k", repeats=5)
        record(
            "GET /v1/models/{name}, the 10,000-series model",
            f"p50 {median:.1f} ms, {size / 1024:.0f} KiB",
            "small (no figure set)",
            None,
        )
        times = []
        for _ in range(3):
            answer, seconds = timed(
                lambda: server.http.post(
                    "/v1/models/scale-10k/forecast",
                    json={"horizon": 12},
                    headers={"Accept": "application/x-ndjson"},
                    timeout=300,
                )
            )
            answer.raise_for_status()
            times.append(seconds)
        lines, size = answer.content.count(b"\n"), len(answer.content) / 2**20
        record(
            "forecast every series, 10,000 x 12 steps, NDJSON",
            f"best of 3 {min(times):.2f} s ({lines:,} lines, {size:.1f} MiB)",
            "<= 2 s",
            min(times) <= 2 and lines == 10_001,
        )
    finally:
        server.stop()
    write(rows, quick)
    missed = [row["measure"] for row in rows if row["met"] is False]
    print("PASS" if not missed else f"FAIL: {len(missed)} target(s) missed")
    return 1 if missed else 0


def write(rows: list[dict[str, Any]], quick: bool) -> None:
    RESULTS.mkdir(exist_ok=True)
    name = "scale-quick" if quick else "scale"
    (RESULTS / f"{name}.json").write_text(json.dumps(rows, indent=1) + "\n")
    verdict = {True: "met", False: "**missed**", None: ""}
    lines = ["| measure | figure | target | |", "|---|---|---|---|"]
    lines += [
        f"| {row['measure']} | {row['figure']} | {row['target']} | {verdict[row['met']]} |"
        for row in rows
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 10,000-series M4-like panel")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as root:
        return run(Path(root), args.quick, args.seed)


if __name__ == "__main__":
    sys.exit(main())
