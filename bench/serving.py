"""Serving speed: the bundled model's rollouts in process, and the HTTP path of a real server.

(a) In process, one torch thread: 1 x 1,000 and 256 x 1,000 steps of `models/sine/1` in its
own rollout mode and by state, beside a numpy floor (the plain LSTM recurrence, one step at a
time, on the same weights) measured in the same run, and the 1,000-step rollout RMSE on sin.
(b) Over HTTP against `forecast-service serve` on loopback: latency of h=1, 100 and 1,000 at
concurrency 1; throughput and p99 of h=100 at concurrency 8 and 32; one 256-context request
against 256 concurrent single requests; /healthz p99 while two training jobs run.

Prints every figure, writes bench/results/serving.md and exits 1 when a target is missed.
Figures depend on the machine and on what else runs on it: read them beside their run's note.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import numpy as np
import torch

from app.core.config import Settings
from app.core.metrics import ServiceMetrics
from app.ml import serving
from app.ml.checkpoints import Checkpoint, load
from app.ml.forecast import rollout
from app.ml.model import RecurrentForecaster
from app.registry.answer import forecast_json
from app.registry.cache import ModelCache
from app.registry.checkpoint_store import CheckpointStore
from app.registry.forecast import make_forecast
from app.registry.limits import ForecastLimits
from app.registry.schemas import ForecastRequest, ForecastResponse
from bench.numpy_floor import numpy_floor
from tests.e2e.server import Server
from tests.factories import BUNDLED_MODELS

RESULTS = Path(__file__).parent / "results" / "serving.md"
STEPS = 1000
# The sin task the bundled model was trained on: sin over [0, 100] in 10,000 points.
SIN_STEP = 100 / 9999
TRAINING_JOB = {
    "model_name": "bench-train",
    "data": {"function": "sin", "params": {"points": 20000}},
    "training": {"epochs": 5000, "early_stopping_patience": 0},
}
Row = tuple[str, str]  # (what, figure)
Target = tuple[str, float, float, str]  # (what, measured, limit, unit): measured <= limit


def best_ms(work: Callable[[], object], repeats: int) -> float:
    """Fastest of `repeats` runs after one warm-up, in ms (the least disturbed by other load)."""
    work()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times) * 1e3


def in_process(checkpoint: Checkpoint, repeats: int) -> tuple[list[Row], list[Target]]:
    """Rollout times beside the numpy floor, and the sin RMSE."""
    torch.set_num_threads(1)
    model = checkpoint.model
    assert isinstance(model, RecurrentForecaster)
    mode, lookback = checkpoint.rollout_mode, model.config.lookback
    grid = np.arange(-lookback, STEPS) * SIN_STEP + 100.0
    contexts = np.sin(grid[:lookback] + np.linspace(0, 2 * math.pi, 256)[:, None])[..., None]
    scaled = checkpoint.meta.series[0].scaler.transform(contexts).astype(np.float32)  # [256, L, 1]
    rows: list[Row] = []
    targets: list[Target] = []
    for batch in (1, 256):
        context = torch.as_tensor(scaled[:batch])
        # The floor is a state recurrence: the same work as the model's rollout when its mode
        # is "state". A window-trained model's state rollout can leave the range of float32,
        # which numpy then crawls through.
        with np.errstate(over="ignore", invalid="ignore"):
            floor = best_ms(partial(numpy_floor, model, scaled[:batch], STEPS), repeats)
        ours = best_ms(
            partial(rollout, model, context, STEPS, mode, fused=checkpoint.fused), repeats
        )
        rows += [
            (f"{batch} x {STEPS} steps, numpy floor (state recurrence)", f"{floor:.1f} ms"),
            (f"{batch} x {STEPS} steps, {mode} (the model's mode)", f"{ours:.1f} ms"),
        ]
        if mode != "state":
            state = best_ms(
                partial(rollout, model, context, STEPS, "state", fused=checkpoint.fused), repeats
            )
            rows.append((f"{batch} x {STEPS} steps, state", f"{state:.1f} ms"))
        targets.append((f"{batch} x {STEPS} steps ({mode})", ours, 10 if batch == 1 else 80, "ms"))
        if batch == 1:
            targets.append((f"1 x {STEPS} ({mode}) / numpy floor", ours / floor, 2.0, "x"))
    plan = serving.given(checkpoint, list(contexts[:1]))
    predicted = serving.forecast(checkpoint, plan, STEPS, []).values[0, :, 0]
    rmse = float(np.sqrt(np.mean((predicted - np.sin(grid[lookback:])) ** 2)))
    rows.append((f"sin {STEPS}-step rollout RMSE ({mode})", f"{rmse:.4f}"))
    targets.append((f"sin {STEPS}-step RMSE", rmse, 0.05, ""))
    return rows, targets


def request_parts(checkpoint_dir: Path, repeats: int) -> list[Row]:
    """Where a forecast request's time goes in process, for h=1 and for 256 contexts x 1,000
    steps: parsing and validating the body, the forecast (checks, scaling, rollout, response
    object) and writing the JSON; the rollout alone beside them."""
    cache = ModelCache(CheckpointStore(checkpoint_dir), torch.device("cpu"), 1)
    limits, metrics = ForecastLimits.of(Settings()), ServiceMetrics()
    checkpoint = cache.get("sine", 1)
    lookback = checkpoint.model.config.lookback
    waves = np.sin(np.arange(lookback) * 0.1 + np.arange(256)[:, None])
    rows = []
    for label, body in (
        ("h=1", {"horizon": 1}),
        ("256 contexts x 1,000", {"horizon": STEPS, "contexts": waves[..., None].tolist()}),
    ):
        raw = json.dumps(body)
        request = ForecastRequest.model_validate_json(raw)
        parse = best_ms(lambda r=raw: ForecastRequest.model_validate_json(r), repeats)

        def answer(r: ForecastRequest = request) -> ForecastResponse:
            return make_forecast(
                cache=cache, name="sine", request=r, limits=limits, metrics=metrics
            )

        whole = best_ms(answer, repeats)
        response = answer()
        write = best_ms(partial(forecast_json, response), repeats)
        plan = (
            serving.given(checkpoint, list(np.asarray(body["contexts"])))
            if "contexts" in body
            else serving.continuing(checkpoint, [0])
        )
        alone = best_ms(
            lambda p=plan, h=request.horizon: serving.forecast(checkpoint, p, h, []), repeats
        )
        rows.append(
            (
                f"{label} in process: parse / forecast (of which scaled rollout) / write JSON",
                f"{parse:.2f} / {whole:.2f} ({alone:.2f}) / {write:.2f} ms",
            )
        )
    return rows


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    """(p50, p95, p99) in ms."""
    p50, p95, p99 = np.percentile(np.array(seconds) * 1e3, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def timed(http: httpx.Client, body: dict[str, object]) -> float:
    began = time.perf_counter()
    answer = http.post("/v1/models/sine/forecast", json=body)
    took = time.perf_counter() - began
    if answer.status_code != 200:
        raise RuntimeError(f"forecast answered {answer.status_code}: {answer.text[:300]}")
    return took


def connected(base: str, count: int) -> list[httpx.Client]:
    """`count` clients of the server, made before a measurement starts (making one costs tens
    of ms of CPU: its TLS context)."""
    return [httpx.Client(base_url=base, timeout=600) for _ in range(count)]


def under_load(clients: list[httpx.Client], seconds: float, body: dict[str, object]) -> list[float]:
    """Each client in a thread of its own sending `body` back to back for `seconds`: every
    request's time."""
    stop_at = time.perf_counter() + seconds

    def send(http: httpx.Client) -> list[float]:
        times = []
        while time.perf_counter() < stop_at:
            times.append(timed(http, body))
        return times

    with ThreadPoolExecutor(len(clients)) as pool:
        return [took for times in pool.map(send, clients) for took in times]


def over_http(root: Path, seconds: float, quick: bool) -> tuple[list[Row], list[Target]]:
    """Latency, throughput, batching and /healthz under training, against a real server."""
    shutil.copytree(BUNDLED_MODELS, root / "models")
    server = Server(root, workers=2, serve_threads=1).start()
    base = f"http://127.0.0.1:{server.port}"
    rows: list[Row] = []
    targets: list[Target] = []
    try:
        http = server.http
        healthz = []
        for _ in range(200):
            began = time.perf_counter()
            http.get("/healthz").raise_for_status()
            healthz.append(time.perf_counter() - began)
        p50, p95, p99 = percentiles(healthz)
        rows.append(("/healthz, c=1: p50 / p95 / p99", f"{p50:.1f} / {p95:.1f} / {p99:.1f} ms"))
        for horizon, count in ((1, 200), (100, 200), (1000, 20 if quick else 50)):
            timed(http, {"horizon": horizon})
            p50, p95, p99 = percentiles([timed(http, {"horizon": horizon}) for _ in range(count)])
            rows.append(
                (f"h={horizon}, c=1: p50 / p95 / p99", f"{p50:.1f} / {p95:.1f} / {p99:.1f} ms")
            )
            if horizon == 100:
                targets += [("h=100 c=1 p50", p50, 5, "ms"), ("h=100 c=1 p99", p99, 20, "ms")]
        rate = {}
        assert server.process is not None
        spent = CpuSpent(server.process.pid)
        for clients in (1, 8, 32):
            pool = connected(base, clients)
            spent.start()
            times = under_load(pool, seconds, {"horizon": 100})
            for client in pool:
                client.close()
            rate[clients] = len(times) / seconds
            p99 = percentiles(times)[2]
            rows.append(
                (
                    f"h=100, c={clients}: throughput, p99; CPU a request, server / this client",
                    f"{rate[clients]:.1f} rps, {p99:.0f} ms; {spent.per(len(times))}",
                )
            )
        targets.append(("h=100 throughput c=32 / c=1", rate[32] / rate[1], -5.0, "x"))
        rows += batching(base, http, 64 if quick else 256, spent)
        targets.append(batching_target(rows))
        rows.append(healthz_while_training(server))
        targets.append(("/healthz p99 while 2 jobs train", float(rows[-1][1].split()[0]), 20, "ms"))
    finally:
        server.stop()
    return rows, targets


class CpuSpent:
    """CPU seconds spent by the server's process and by this one (the benchmark's client)
    since `start`: where the time of a throughput cell goes on a machine both share."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self.began = (0.0, 0.0)

    def now(self) -> tuple[float, float]:
        fields = Path(f"/proc/{self.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        mine = resource.getrusage(resource.RUSAGE_SELF)
        return server, mine.ru_utime + mine.ru_stime

    def start(self) -> None:
        self.began = self.now()

    def per(self, requests: int) -> str:
        """Each side's CPU a request since `start`, in ms."""
        (server, client), (server0, client0) = self.now(), self.began
        server_ms, client_ms = (
            (now - then) / requests * 1e3 for now, then in ((server, server0), (client, client0))
        )
        return f"{server_ms:.2f} / {client_ms:.2f} ms"


def batching(base: str, http: httpx.Client, contexts: int, spent: CpuSpent) -> list[Row]:
    """One request of `contexts` contexts against as many single requests from 32 clients."""
    generator = np.random.default_rng(0)
    given = [
        np.sin(generator.uniform(0, 6) + np.arange(10) * 0.1).tolist() for _ in range(contexts)
    ]
    began = time.perf_counter()
    answer = http.post(
        "/v1/models/sine/forecast",
        json={"horizon": STEPS, "contexts": [[[v] for v in c] for c in given]},
    )
    together = time.perf_counter() - began
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
    idle: queue.SimpleQueue[httpx.Client] = queue.SimpleQueue()
    clients = connected(base, 32)
    for client in clients:
        idle.put(client)

    def single(context: list[float]) -> None:
        http = idle.get()  # one request at a time on a client, as a client's connection has
        try:
            timed(http, {"horizon": STEPS, "context": context})
        finally:
            idle.put(http)

    began = time.perf_counter()
    spent.start()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(single, given))
    apart = time.perf_counter() - began
    for client in clients:
        client.close()
    return [
        (f"{contexts} contexts x {STEPS} steps, one request", f"{together:.2f} s"),
        (
            f"{contexts} single requests x {STEPS} steps, 32 clients; CPU a request, server / "
            "this client",
            f"{apart:.2f} s; {spent.per(contexts)}",
        ),
    ]


def batching_target(rows: list[Row]) -> Target:
    together, apart = (float(figure.split()[0]) for _, figure in rows[-2:])
    return ("concurrent singles / one batched request", apart / together, 2.0, "x")


def healthz_while_training(server: Server) -> Row:
    """/healthz p99 while two jobs train in the local workers."""
    jobs = [server.http.post("/v1/jobs", json=TRAINING_JOB).json()["id"] for _ in range(2)]
    for job_id in jobs:
        server.wait_for_epoch(job_id)
    times = []
    for _ in range(300):
        began = time.perf_counter()
        server.http.get("/healthz").raise_for_status()
        times.append(time.perf_counter() - began)
    for job_id in jobs:
        server.http.post(f"/v1/jobs/{job_id}/cancel")
    return ("/healthz p99 while 2 jobs train", f"{percentiles(times)[2]:.1f} ms")


def report(rows: list[Row], targets: list[Target], note: str) -> tuple[str, bool]:
    """The markdown report and whether every target was met (a negative limit: at least)."""
    lines = [
        "# Serving speed (bench/serving.py)",
        "",
        note,
        "",
        "| measured | figure |",
        "|---|---|",
    ]
    lines += [f"| {what} | {figure} |" for what, figure in rows]
    lines += ["", "| target | measured | limit | met |", "|---|---|---|---|"]
    met = True
    for what, value, limit, unit in targets:
        ok = value >= -limit if limit < 0 else value <= limit
        met &= ok
        bound = f">= {-limit:g}" if limit < 0 else f"<= {limit:g}"
        lines.append(f"| {what} | {value:.3g} {unit} | {bound} {unit} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines) + "\n", met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="in-process runs, fastest kept")
    parser.add_argument("--seconds", type=float, default=10, help="each concurrency cell")
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    args = parser.parse_args()
    checkpoint = load(BUNDLED_MODELS / "sine" / "1", torch.device("cpu"))
    rows, targets = in_process(checkpoint, args.repeats)
    rows += request_parts(BUNDLED_MODELS, args.repeats)
    for what, figure in rows:
        print(f"{what}: {figure}", flush=True)
    with tempfile.TemporaryDirectory(prefix="serving-") as scratch:
        http_rows, http_targets = over_http(Path(scratch), args.seconds, args.quick)
    for what, figure in http_rows:
        print(f"{what}: {figure}", flush=True)
    load_now = os.getloadavg()[0]
    note = (
        f"One run on {os.cpu_count()} cores, load average {load_now:.1f} at its end (other work "
        "shares this machine: figures vary between runs). In process: one torch thread, best of "
        f"{args.repeats}. Server: FORECAST_SERVE_THREADS=1, two local training workers."
    )
    text, met = report(rows + http_rows, targets + http_targets, note)
    RESULTS.write_text(text)
    print(text)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
