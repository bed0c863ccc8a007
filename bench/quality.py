"""The quality benchmark: every tutorial task as an ordinary training request, against targets.

Each task is a JSON request in `examples/quality/`, the same body a user POSTs to /v1/jobs. It
runs through the service's own job path (`submit_training`, then the job body every worker runs)
on a scratch store, one torch thread. The figures are the job's own test-split metrics on the
original scale; the vibration task's 1,000-sample forecasts are made from the saved checkpoint.
Prints one table, writes it to `bench/results/quality.md`, and exits 1 when a target is missed.

Run from the repository root: `python -m bench.quality [--only NAME ...]`.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.jobs.executors.inline import InlineRunner
from app.jobs.repository import open_repositories
from app.jobs.spec import TrainRequest
from app.jobs.submit import submit_training
from app.jobs.table import JobStatus
from app.migrations import upgrade as upgrade_schema
from app.ml import serving
from app.ml.checkpoints import load
from app.ml.data import Split
from app.ml.functions import generate, resolve_params
from app.registry.checkpoint_store import CheckpointStore

EXAMPLES = Path("examples/quality")
RESULTS = Path("bench/results/quality.md")
MAX_TRAIN_SECONDS = 60.0
SHAFT_PERIOD = 80  # samples: 12.5 Hz shaft at 1,000 samples a second (the catalog's defaults)
VIBRATION_AHEAD = 1000
VIBRATION_FORECASTS = 16


@dataclass
class Job:
    """A finished benchmark job: its spec, metrics and checkpoint folder."""

    spec: dict[str, Any]
    metrics: dict[str, Any]
    folder: Path
    wall_seconds: float


@dataclass(frozen=True)
class Check:
    """One target: a figure of a job, the published and best-library figures, a threshold."""

    task: str
    example: str
    figure: str
    value: Callable[[Job], float]
    published: float | None
    library: float | None
    passes: Callable[[float], bool]
    target: str


def run_request(spec: dict[str, Any], scratch: Path) -> Job:
    """Submit `spec` as a job and run it to its end through the service's job path."""
    settings = Settings(  # ignores any .env: the benchmark's settings are its own
        _env_file=None,  # type: ignore[call-arg]
        models_dir=scratch / "models",
        datasets_dir=scratch / "datasets",
        database_url=f"sqlite:///{scratch}/jobs.db",
        device="cpu",
    )
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    jobs, datasets = open_repositories(make_session_factory(engine), settings.datasets_dir)
    began = time.perf_counter()
    row = submit_training(
        jobs=jobs,
        datasets=datasets,
        runner=InlineRunner(settings, jobs, datasets),
        settings=settings,
        request=TrainRequest.model_validate(spec),
    )
    done = jobs.get(row.id)
    engine.dispose()
    if done is None or done.status != JobStatus.SUCCEEDED or done.model_version is None:
        raise RuntimeError(f"{spec['model_name']}: {done and done.status}: {done and done.error}")
    folder = CheckpointStore(settings.models_dir).version_dir(
        spec["model_name"], done.model_version
    )
    return Job(spec, done.metrics or {}, folder, time.perf_counter() - began)


def vibration_ahead(job: Job) -> dict[str, float]:
    """MAE of 1,000-sample forecasts from points of the test split: the model's (in chunks of
    its horizon), the naive last value's and the seasonal naive's (the last shaft period)."""
    checkpoint = load(job.folder, torch.device("cpu"))
    data = job.spec["data"]
    series = generate(data["function"], resolve_params(data["function"], data.get("params", {})))
    training = TrainRequest.model_validate(job.spec).training
    split = Split.of(len(series), training.validation_fraction, training.test_fraction)
    if split.test < VIBRATION_AHEAD:
        raise ValueError(f"the test split has {split.test} rows; {VIBRATION_AHEAD} are needed")
    lookback = checkpoint.model.config.lookback
    starts = np.linspace(split.test_start, len(series) - VIBRATION_AHEAD, VIBRATION_FORECASTS)
    starts = starts.astype(int)
    contexts = np.stack([series[s - lookback : s] for s in starts])
    plan = serving.given(checkpoint, list(contexts))
    predicted = serving.forecast(checkpoint, plan, VIBRATION_AHEAD, []).values
    actual = np.stack([series[s : s + VIBRATION_AHEAD] for s in starts])
    naive = np.stack([np.repeat(series[s - 1 : s], VIBRATION_AHEAD, axis=0) for s in starts])
    cycle = np.arange(VIBRATION_AHEAD) % SHAFT_PERIOD
    seasonal = np.stack([series[s - SHAFT_PERIOD : s][cycle] for s in starts])
    mae = {
        name: float(np.mean(np.abs(guess - actual)))
        for name, guess in (("model", predicted), ("naive", naive), ("seasonal", seasonal))
    }
    return mae | {
        "mase": mae["model"] / mae["naive"],
        "vs_seasonal": mae["model"] / mae["seasonal"],
    }


def within(nominal: float, points: float) -> Callable[[float], bool]:
    """A coverage check: within `points` of `nominal` percent."""
    return lambda value: abs(value - nominal) <= points


def at_most(limit: float) -> Callable[[float], bool]:
    """A figure that must not exceed `limit`."""
    return lambda value: value <= limit


CHECKS = [
    Check("sin, lookback 10, one-step (004)", "sin", "test MSE",
          lambda j: j.metrics["one_step"]["mse"], 7.76e-4, 2.0e-7, at_most(1e-7), "≤ 1e-7"),
    Check("sin+cos together (004)", "sin_cos", "test MSE",
          lambda j: j.metrics["one_step"]["mse"], 1.144e-3, 2.0e-8, at_most(1e-8), "≤ 1e-8"),
    Check("x·sin x (004)", "x_sin", "test MSE",
          lambda j: j.metrics["one_step"]["mse"], 61.02, 1.1e-2, at_most(5e-3), "≤ 5e-3"),
    Check("sine from 50 points, windows of 5, half train (001)", "sine_50_points", "test MSE",
          lambda j: j.metrics["one_step"]["mse"], 2e-3, 2.7e-7, at_most(1e-7), "≤ 1e-7"),
    Check("  ... its rollout over the test half", "sine_50_points", "rollout RMSE",
          lambda j: j.metrics["mean"]["rmse"], None, None, at_most(0.05), "≤ 0.05"),
    Check("input sin → target cos, 20 steps (000/003)", "sin_to_cos", "test MSE",
          lambda j: j.metrics["one_step"]["mse"], 1.7e-2, None, at_most(1e-6), "≤ 1e-6"),
    Check("sin, 1,000-step rollout from the first test window", "sin", "rollout RMSE",
          lambda j: j.metrics["mean"]["rmse"], None, 0.88, at_most(0.05), "≤ 0.05"),
    Check("vibration, 1,000 ahead in chunks of 100 (002)", "vibration_chunks", "MASE vs naive",
          lambda j: vibration_ahead(j)["mase"], None, None, at_most(0.5), "≤ 0.5"),
    Check("  ... against the seasonal naive (shaft period)", "vibration_chunks",
          "MAE / seasonal MAE", lambda j: vibration_ahead(j)["vs_seasonal"], None, None,
          at_most(1.0), "< 1"),
    Check("80% interval, sin with noise 0.1", "sin_noisy", "coverage %",
          lambda j: j.metrics["intervals"]["coverage"]["80"], None, None, within(80, 5), "80 ± 5"),
    Check("95% interval, sin with noise 0.1", "sin_noisy", "coverage %",
          lambda j: j.metrics["intervals"]["coverage"]["95"], None, None, within(95, 5), "95 ± 5"),
    Check("80% interval, vibration (the chunked model)", "vibration_chunks", "coverage %",
          lambda j: j.metrics["intervals"]["coverage"]["80"], None, None, within(80, 5), "80 ± 5"),
    Check("95% interval, vibration (the chunked model)", "vibration_chunks", "coverage %",
          lambda j: j.metrics["intervals"]["coverage"]["95"], None, None, within(95, 5), "95 ± 5"),
]  # fmt: skip


def _figure(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}" if 1e-2 <= abs(value) < 1e4 else f"{value:.2e}"


def table(rows: list[tuple[Check, float, float]]) -> str:
    """The results as a Markdown table."""
    lines = [
        "| task | figure | published | best library | target | ours | published / ours "
        "| train s | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for check, value, seconds in rows:
        ratio = f"{check.published / value:,.0f}×" if check.published and value > 0 else "—"
        met = "yes" if check.passes(value) and seconds <= MAX_TRAIN_SECONDS else "**no**"
        lines.append(
            f"| {check.task} | {check.figure} | {_figure(check.published)} | "
            f"{_figure(check.library)} | {check.target} | {_figure(value)} | {ratio} | "
            f"{seconds:.1f} | {met} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="example names to run (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = list(dict.fromkeys(check.example for check in CHECKS))
    names = [name for name in names if not args.only or name in args.only]
    jobs: dict[str, Job] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            spec = json.loads((EXAMPLES / f"{name}.json").read_text())
            jobs[name] = run_request(spec, Path(scratch) / name)
            seconds = jobs[name].metrics["train_seconds"]
            print(f"{name}: trained in {seconds:.1f} s", file=sys.stderr)
        rows = [
            (check, check.value(jobs[check.example]), jobs[check.example].metrics["train_seconds"])
            for check in CHECKS
            if check.example in jobs
        ]
    text = table(rows)
    print(text)
    if not args.only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        machine = f"{platform.machine()}, 1 torch thread, torch {torch.__version__}"
        RESULTS.write_text(
            "# Quality benchmark\n\n"
            f"`python -m bench.quality` ({machine}). Test split, original scale; each request "
            f"is in `examples/quality/`. Training must take at most {MAX_TRAIN_SECONDS:.0f} s.\n\n"
            f"{text}\n"
        )
    missed = [check.task for check, value, seconds in rows
              if not check.passes(value) or seconds > MAX_TRAIN_SECONDS]  # fmt: skip
    if missed:
        print(f"missed: {missed}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
