"""The tutorials' sin task through app.ml: train, then time rollouts in both modes.

sin on linspace(0, 100, 10000) (the catalog's default `sin`), lookback 10, horizon 1, the last 10%
for test and 10% for validation, default TrainConfig and ModelConfig (hidden 32, 2 layers).
Run from the repository root: `python -m bench.sin_task [--threads N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from app.ml.config import TrainConfig
from app.ml.data import gather_windows, window_starts
from app.ml.evaluation import errors
from app.ml.forecast import RolloutMode, rollout
from app.ml.functions import generate, resolve_params, x_values
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.train import train

TARGET_MSE = 1e-5
PUBLISHED_TF_MSE = 7.8e-4  # the TensorFlow tutorial's test MSE on the same task
MAX_TRAIN_SECONDS = 30.0
ROLLOUT_STEPS = 1000
BATCH = 256


def median_seconds(run: Callable[[], object], repeats: int = 5) -> float:
    """Median wall time of `repeats` runs, after one warm-up run."""
    run()
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        run()
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="max epochs")
    parser.add_argument("--json", type=Path, help="also write the figures to this path")
    args = parser.parse_args(argv)
    # One thread measured faster than two for this model size (hidden 32, batch 64) on a 2-core
    # machine: the per-op work is too small to pay for the threads' synchronisation.
    torch.set_num_threads(args.threads)

    params = resolve_params("sin", {})  # linspace(0, 100, 10000)
    series = generate("sin", params)  # [10000, 1]
    config = TrainConfig(epochs=args.epochs)
    model_config = ModelConfig(n_features=1, lookback=10, horizon=1)
    tick = time.perf_counter()
    result = train(Panel.of_series(series), model_config, config, device=torch.device("cpu"))
    train_seconds = time.perf_counter() - tick
    one_step, naive = result.metrics["one_step"], result.metrics["naive_one_step"]
    assert isinstance(one_step, dict)
    assert isinstance(naive, dict)

    model, scaler, lookback = result.model, result.series[0].scaler, model_config.lookback
    split = config.split(len(series))
    scaled = torch.as_tensor(scaler.transform(series), dtype=torch.float32)  # [T, 1]
    start = split.test_start
    context = scaled[start - lookback : start][None]  # [1, lookback, 1]: the first test window
    truth = np.sin(x_values(params))[start : start + ROLLOUT_STEPS, None]  # [1000, 1]
    modes: dict[str, dict[str, float]] = {}
    for mode in ("window", "state"):
        predicted = scaler.inverse(rollout(model, context, ROLLOUT_STEPS, mode)[0].double().numpy())
        modes[mode] = {
            "rmse": errors(predicted, truth)["rmse"],
            "seconds": median_seconds(lambda m=mode: rollout(model, context, ROLLOUT_STEPS, m)),
        }
    starts = window_starts(start, len(series), lookback, 1)  # 1000 test windows
    chosen = torch.as_tensor(starts[np.linspace(0, len(starts) - 1, BATCH).round().astype(int)])
    contexts, _ = gather_windows(scaled, chosen, lookback, 1)  # [256, lookback, 1]
    mode_used: RolloutMode = result.rollout_mode
    batch_seconds = median_seconds(lambda: rollout(model, contexts, ROLLOUT_STEPS, mode_used))

    figures = {
        "threads": args.threads, "train_seconds": train_seconds,
        "epochs_run": len(result.history), "best_epoch": result.members[0].best_epoch,
        "stop_reason": result.members[0].stop_reason, "test_one_step_mse": one_step["mse"],
        "naive_one_step_mse": naive["mse"], "rollout_steps": ROLLOUT_STEPS, "rollout": modes,
        "model_rollout_mode": mode_used, "batch_rollout_size": BATCH,
        "batch_rollout_seconds": batch_seconds,
    }  # fmt: skip
    lines = [
        f"torch {torch.__version__}, {args.threads} thread(s), CPU",
        f"training seconds:    {train_seconds:.2f}  (limit {MAX_TRAIN_SECONDS:g})",
        f"epochs run:          {len(result.history)}  (best {result.members[0].best_epoch}, "
        f"stopped by {result.members[0].stop_reason})",
        f"test one-step MSE:   {one_step['mse']:.3e}  (target <= {TARGET_MSE:g}; "
        f"published TF {PUBLISHED_TF_MSE:g}; naive {naive['mse']:.3e})",
        f"naive one-step MSE:  {naive['mse']:.3e}",
    ]
    lines += [
        f"{ROLLOUT_STEPS}-step rollout, {mode} mode: RMSE vs true sine {entry['rmse']:.3e}, "
        f"median {entry['seconds'] * 1e3:.1f} ms of 5 runs after a warm-up"
        for mode, entry in modes.items()
    ]
    lines.append(
        f"batch of {BATCH} rollouts x {ROLLOUT_STEPS} steps ({mode_used} mode, the model's "
        f"choice): median {batch_seconds * 1e3:.1f} ms of 5 runs"
    )
    print("\n".join(lines))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    checks = [
        (one_step["mse"] > TARGET_MSE, f"test MSE {one_step['mse']:.3e} > {TARGET_MSE:g}"),
        (train_seconds > MAX_TRAIN_SECONDS, f"training took {train_seconds:.1f} s > 30 s"),
    ]
    failures = [message for failed, message in checks if failed]
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
