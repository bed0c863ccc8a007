"""Ensembles: members from seeds drawn from the job's, their median, saved and loaded as one
version."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from app.ml.checkpoint_meta import CheckpointMeta, SeriesMeta
from app.ml.checkpoints import load, write
from app.ml.config import TrainConfig, member_seed
from app.ml.data import Scaler
from app.ml.fit import EpochStats
from app.ml.forecast import rollout
from app.ml.functions import generate, resolve_params
from app.ml.model import EnsembleForecaster, ModelConfig, RecurrentForecaster
from app.ml.prepare import Panel
from app.ml.train import train

CPU = torch.device("cpu")
TINY = ModelConfig(n_features=1, lookback=10, horizon=2, hidden_size=4, num_layers=1)


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    return generate("sin", resolve_params("sin", {"stop": 30.0, "points": 300}))


def test_members_come_from_their_own_seeds_and_the_ensemble_answers_their_median(
    series: np.ndarray,
) -> None:
    seen: list[EpochStats] = []
    config = TrainConfig(epochs=3, early_stopping_patience=0, ensemble=3, seed=4)
    result = train(Panel.of_series(series), TINY, config, device=CPU, on_progress=seen.append)
    ensemble = result.model
    assert isinstance(ensemble, EnsembleForecaster)
    assert len(ensemble.members) == 3
    assert result.metrics["ensemble"] == 3
    assert result.rollout_mode == "window"  # members carry no common state
    # progress reports each member's epochs, one member after another
    assert [(stats.member, stats.epoch) for stats in seen] == [
        (member, epoch) for member in (1, 2, 3) for epoch in (1, 2, 3)
    ]
    assert {(stats.members, stats.epochs) for stats in seen} == {(3, 3)}
    members = result.metrics["members"]
    assert isinstance(members, list)
    seeds = [member_seed(4, number) for number in range(3)]
    assert [(m["seed"], m["epochs_run"], m["stop_reason"]) for m in members] == [
        (seed, 3, "max_epochs") for seed in seeds
    ]
    assert result.metrics["epochs_run"] == 9
    assert result.metrics["best_epoch"] is None  # each member has its own
    for offset, seed in enumerate(seeds):
        alone = train(
            Panel.of_series(series),
            TINY,
            TrainConfig(epochs=3, early_stopping_patience=0, seed=seed),
            device=CPU,
        )
        for key, value in alone.model.state_dict().items():
            assert torch.equal(ensemble.members[offset].state_dict()[key], value), key
    window = torch.randn(5, 10, 1)
    with torch.inference_mode():
        each = torch.stack([member(window)[0] for member in ensemble.members])
        torch.testing.assert_close(ensemble(window)[0], each.median(dim=0).values)


def test_jobs_of_neighbouring_seeds_share_no_member() -> None:
    seeds = {seed: [member_seed(seed, number) for number in range(5)] for seed in range(50)}
    assert all(members[0] == seed for seed, members in seeds.items())  # one model: its own seed
    every = [member for members in seeds.values() for member in members]
    assert len(set(every)) == len(every)
    assert seeds[7] == [member_seed(7, number) for number in range(5)]  # the same every time


def test_an_ensemble_refuses_a_state_rollout() -> None:
    ensemble = EnsembleForecaster(TINY, 2)
    with pytest.raises(ValueError, match="by window"):
        rollout(ensemble, torch.zeros(1, 10, 1), 4, "state")
    with pytest.raises(ValueError, match="at least two"):
        EnsembleForecaster(TINY, 1)


def test_an_ensemble_is_one_checkpoint(tmp_path: Path) -> None:
    torch.manual_seed(0)
    members = [RecurrentForecaster(TINY) for _ in range(3)]
    for member in members:
        with torch.no_grad():
            member.head.weight.normal_(0, 0.5)
    ensemble = EnsembleForecaster(TINY, members).eval()
    meta = CheckpointMeta(
        config=TINY, rollout_mode="window", columns=["y"], inputs=["y"], targets=["y"],
        series=[SeriesMeta(None, Scaler("none", (0.0,), (1.0,)), np.zeros((10, 1)))], ensemble=3,
    )  # fmt: skip
    write(tmp_path, ensemble, meta)
    loaded = load(tmp_path, CPU)
    assert isinstance(loaded.model, EnsembleForecaster)
    assert loaded.meta.ensemble == 3
    context = torch.randn(2, 10, 1)
    torch.testing.assert_close(
        rollout(loaded.model, context, 6), rollout(ensemble, context, 6), rtol=0, atol=0
    )
    with pytest.raises(ValueError, match="ensemble size"):
        write(tmp_path / "other", ensemble, replace(meta, ensemble=2))


def test_members_read_windows_of_their_own_length(series: np.ndarray, tmp_path: Path) -> None:
    config = TrainConfig(
        epochs=2, early_stopping_patience=0, ensemble=3, ensemble_lookbacks=(6, 10, 4)
    )
    result = train(Panel.of_series(series), TINY, config, device=CPU)
    ensemble = result.model
    assert isinstance(ensemble, EnsembleForecaster)
    assert ensemble.lookbacks == [10, 6, 4]  # the whole window's member first
    window = torch.randn(3, 10, 1)
    with torch.inference_mode():
        reads = zip(ensemble.members, (10, 6, 4), strict=True)
        each = torch.stack([member(window[:, -rows:])[0] for member, rows in reads])
        torch.testing.assert_close(ensemble(window)[0], each.median(dim=0).values)
    meta = CheckpointMeta(
        config=TINY, rollout_mode="window", columns=["sin"], inputs=["sin"], targets=["sin"],
        series=result.series, ensemble=3, ensemble_lookbacks=[10, 6, 4],
    )  # fmt: skip
    write(tmp_path, ensemble, meta)
    loaded = load(tmp_path, CPU)
    assert isinstance(loaded.model, EnsembleForecaster)
    assert loaded.model.lookbacks == [10, 6, 4]
    torch.testing.assert_close(rollout(loaded.model, window, 5), rollout(ensemble, window, 5))
    with pytest.raises(ValueError, match="other member lookbacks"):
        write(tmp_path / "x", ensemble, replace(meta, ensemble_lookbacks=None))


def test_member_lookbacks_must_fit_the_window(series: np.ndarray) -> None:
    config = TrainConfig(epochs=1, ensemble=2, ensemble_lookbacks=(6, 8))
    with pytest.raises(ValueError, match="one lookback per ensemble member"):
        train(Panel.of_series(series), TINY, config)
    with pytest.raises(ValueError, match="longest member"):
        EnsembleForecaster(TINY, 2, [6, 8])
