"""One fit across processes: two gloo ranks sharing every batch follow the loss curve of one
process with the same global batch, end on the same weights, and stop together."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from app.ml.budget import TrainingCancelled
from app.ml.config import TrainConfig
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.ranks import SOLO, join, leave
from app.ml.train import TrainResult, train

CPU = torch.device("cpu")
MODEL = ModelConfig(n_features=1, lookback=8, horizon=2, hidden_size=8, num_layers=2)
# 151 training windows in batches of 15: each batch splits 8 / 7 between the ranks (their mean
# losses weigh differently), and the last batch is one window, which one of the two ranks must
# step through without a window of its own.
LENGTHS = (37, 43, 49, 55, 62)


def panel() -> Panel:
    rng = np.random.default_rng(3)
    series = [
        np.sin(np.arange(rows) * (0.3 + 0.1 * number)) + 0.1 * rng.standard_normal(rows)
        for number, rows in enumerate(LENGTHS)
    ]
    ids = tuple(f"s{number}" for number in range(len(LENGTHS)))
    return Panel(np.concatenate(series)[:, None], LENGTHS, ids)


def config(**fields: Any) -> TrainConfig:
    base: dict[str, Any] = {"epochs": 4, "batch_size": 15, "early_stopping_patience": 0,
                            "interval_steps": 4, "seed": 7}  # fmt: skip
    return TrainConfig(**(base | fields))


def curve(result: TrainResult) -> list[tuple[float, float]]:
    return [(stats.train_loss, stats.val_loss) for stats in result.history]


def _rank(rank: int, store_path: str, out: str, fields: dict[str, Any], cancel: bool) -> None:
    """One rank of a two-process fit; writes what it saw to `out`/<rank>.json."""
    torch.set_num_threads(1)
    ranks = join(rank, 2, CPU, dist.FileStore(store_path, 2))
    batches = iter(range(1_000_000))
    # Rank 0's caller asks to stop after its third batch; rank 1's never asks.
    asked = (lambda: next(batches) >= 2) if cancel and rank == 0 else None  # noqa: E731
    seen: dict[str, Any] = {}
    try:
        result = train(panel(), MODEL, config(**fields), device=CPU, ranks=ranks,
                       should_stop=asked)  # fmt: skip
        weights = {name: value.tolist() for name, value in result.model.state_dict().items()}
        seen = {"curve": curve(result), "weights": weights, "mean": result.metrics["mean"]}
    except TrainingCancelled:
        seen = {"cancelled": True}
    finally:
        leave(ranks)
    Path(out, f"{rank}.json").write_text(json.dumps(seen))
    os._exit(0)  # as app.jobs.rank exits: past torch's gloo threads' C++ teardown


def two_ranks(tmp_path: Path, cancel: bool = False, **fields: Any) -> list[dict[str, Any]]:
    store, out = str(tmp_path / "store"), str(tmp_path)
    mp.start_processes(_rank, args=(store, out, fields, cancel), nprocs=2, start_method="spawn")
    return [json.loads((tmp_path / f"{rank}.json").read_text()) for rank in range(2)]


@pytest.mark.parametrize("fields", [{}, {"sequence_steps": 3, "ensemble": 2, "refit": True}])
def test_two_ranks_follow_the_loss_curve_of_one_process(
    tmp_path: Path, fields: dict[str, Any]
) -> None:
    torch.set_num_threads(1)
    alone = train(panel(), MODEL, config(**fields), device=CPU, ranks=SOLO)
    shared = two_ranks(tmp_path, **fields)
    assert len(shared[0]["curve"]) == len(alone.history) == 4 * alone.metrics["ensemble"]
    for ranked in shared:
        np.testing.assert_allclose(ranked["curve"], curve(alone), rtol=1e-5, atol=1e-6)
        for name, value in alone.model.state_dict().items():
            np.testing.assert_allclose(ranked["weights"][name], value.numpy(), atol=1e-5)
    assert shared[0]["curve"] == shared[1]["curve"]  # the ranks agree exactly, not just nearly
    assert shared[0]["mean"] == pytest.approx(alone.metrics["mean"], rel=1e-4)


def test_a_cancel_on_rank_0_stops_every_rank(tmp_path: Path) -> None:
    assert two_ranks(tmp_path, cancel=True) == [{"cancelled": True}, {"cancelled": True}]
