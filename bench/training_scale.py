"""Training at scale: the fit's throughput beside a plain PyTorch loop, and its scaling curve.

For panels of 1,000, 10,000 and 100,000 M4-like monthly series (72 to 500 rows, generated and
seeded), each in a fresh process so its peak memory is its own:
- preparing the panel (split, scale, the window index) and its seconds;
- windows per second of the service's fit (`app.ml.fit.Trainer`: shuffled windows gathered
  from the laid-out series a batch at a time, the loss, clipping, Adam) and of a plain PyTorch
  loop over the same batch shapes (an LSTM and a linear head, its batches cut from pre-built
  tensors), in the same process, in three turns each over `--seconds`, the best of each;
- the process's peak RSS, which grows with the values, not with the windows (never built).
A turn of the fit includes its epoch's shuffle of every window's start (1.1 s for 22.7
million), a cost of the fit that long turns spread as its epochs do.

Prints one line per size (and writes them to bench/results/training_scale.json); exits 1 when
the fit runs under half the plain loop's windows per second. Run from the repository root:
`python -m bench.training_scale` (`make bench-scale` runs it after `bench.scale`).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from app.ml.config import TrainConfig
from app.ml.fit import Trainer
from app.ml.model import ModelConfig
from app.ml.prepare import Panel, Prepared
from app.ml.roles import ColumnRoles

RESULTS = Path(__file__).parent / "results"
SIZES = (1_000, 10_000, 100_000)
# The shapes of bench.scale's job: two years of months in, one predicted.
MODEL = ModelConfig(n_features=1, lookback=24, horizon=12, hidden_size=16, num_layers=1)
CONFIG = TrainConfig(batch_size=1024, validation_rows=12, test_rows=12)
# The service's fit may take this long per window beside the plain loop.
SLOWEST = 2.0
ROUNDS = 3  # turns of each loop in a measure


def m4_like(series: int, seed: int) -> Panel:
    """`series` monthly series of 72 to 500 rows (the shortest whose every part holds a window
    of MODEL; mean about 286), each its own level, a yearly wave and noise."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(72, 501, series)
    position = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    level = np.repeat(rng.uniform(100, 1000, series), lengths)
    values = level * (1 + 0.1 * np.sin(position * np.pi / 6)) + rng.normal(0, 5, len(position))
    ids = tuple(f"m{k}" for k in range(series))
    return Panel(values[:, None], tuple(int(n) for n in lengths), ids)


def fit_rate(data: Prepared, seconds: float) -> tuple[float, int]:
    """Windows per second of the service's fit over `seconds` of epochs (the last cut short),
    and an epoch's windows."""
    trainer = Trainer(data, MODEL, CONFIG, deadline=None)
    began = time.perf_counter()
    trainer.deadline = began + seconds
    while not trainer.past_deadline():
        trainer.epoch(None)
    elapsed = time.perf_counter() - began
    return trainer.steps * CONFIG.batch_size / elapsed, len(trainer.train_starts)


class Plain(nn.Module):
    """The plain loop's model: an LSTM over the window and a linear head on its last state."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, MODEL.hidden_size, batch_first=True)
        self.head = nn.Linear(MODEL.hidden_size, MODEL.horizon)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(inputs)
        return self.head(out[:, -1])  # type: ignore[no-any-return]


def plain_rate(seconds: float) -> float:
    """Windows per second of a plain loop: pre-built batches, MSE, Adam, clipping."""
    torch.manual_seed(0)
    model, batch = Plain(), CONFIG.batch_size
    optimizer = torch.optim.Adam(model.parameters(), lr=CONFIG.learning_rate)
    inputs = torch.randn(16, batch, MODEL.lookback, 1)
    targets = torch.randn(16, batch, MODEL.horizon)
    steps, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        k = steps % len(inputs)
        loss = nn.functional.mse_loss(model(inputs[k]), targets[k])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(model.parameters(), CONFIG.grad_clip)
        optimizer.step()
        steps += 1
    return steps * batch / (time.perf_counter() - began)


def measure(series: int, seconds: float, seed: int) -> dict[str, Any]:
    """One size's figures (run in a process of its own)."""
    torch.set_num_threads(2)
    panel = m4_like(series, seed)
    began = time.perf_counter()
    data = Prepared.of(panel, CONFIG, ColumnRoles.of(1), torch.device("cpu"))
    prepared = time.perf_counter() - began
    # In turns, the best of each: the shared cores' load drifts, and hits both alike.
    fits, plains, windows = [], [], 0
    for _ in range(ROUNDS):
        fit, windows = fit_rate(data, seconds / ROUNDS)
        fits.append(fit)
        plains.append(plain_rate(seconds / ROUNDS))
    fit, plain = max(fits), max(plains)
    return {
        "series": len(panel.lengths),
        "values": int(sum(panel.lengths)),
        "windows": windows,
        "prepare_seconds": prepared,
        "fit_windows_per_second": fit,
        "plain_windows_per_second": plain,
        "epoch_seconds": windows / fit,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=45.0, help="of each loop, in 3 turns")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a size, in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.seconds, args.seed)))
        return 0
    slow, found_all = [], []
    for size in SIZES:
        command = [sys.executable, "-m", "bench.training_scale", "--one", str(size),
                   "--seconds", str(args.seconds), "--seed", str(args.seed)]  # fmt: skip
        found = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
        ratio = found["plain_windows_per_second"] / found["fit_windows_per_second"]
        print(
            f"{found['series']:>7,} series, {found['values']:>10,} values, "
            f"{found['windows']:>10,} windows: prepared in {found['prepare_seconds']:.1f} s; "
            f"fit {found['fit_windows_per_second']:,.0f} windows/s (an epoch "
            f"{found['epoch_seconds']:,.0f} s), plain loop "
            f"{found['plain_windows_per_second']:,.0f} windows/s ({ratio:.2f}x); "
            f"peak RSS {found['peak_rss_gib']:.2f} GiB",
            flush=True,
        )
        found_all.append(found)
        if ratio > SLOWEST:
            slow.append(size)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "training_scale.json").write_text(json.dumps(found_all, indent=1) + "\n")
    print("PASS" if not slow else f"FAIL: the fit is over {SLOWEST}x slower at {slow}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
