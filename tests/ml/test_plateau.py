"""The learning-rate decay and early stopping rule, beside torch's ReduceLROnPlateau.

The trainer keeps its own rule (see `app.ml.train.Plateau`): these tests show that it gives the
learning rates ReduceLROnPlateau gives wherever that scheduler can express it, and the two cases
where it cannot (an absolute margin, and a loss on the relative margin).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch.optim.lr_scheduler import ReduceLROnPlateau

from app.ml.config import TrainConfig
from app.ml.fit import Plateau
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.train import train

CPU = torch.device("cpu")
LEARNING_RATE = 3e-3
# Validation losses an epoch at a time: improvements, flat stretches, small creeps (under the
# default 1% relative margin) and a bounce, all well away from a margin's rounding.
SCRIPT = [
    1.0, 0.9, 0.895, 0.894, 0.893, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.5, 0.499,
    0.6, 0.45, 0.449, 0.448, 0.447, 0.446, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3,
]  # fmt: skip


def trainer_rates(
    monkeypatch: pytest.MonkeyPatch, losses: list[float], **settings: float
) -> list[float]:
    """The learning rate of every epoch of a real training run whose validation losses are
    `losses` (the measured loss is replaced; training itself runs as ever)."""
    scripted: Iterator[float] = iter(losses)
    monkeypatch.setattr("app.ml.fit.mean_loss", lambda *_: next(scripted))
    config = TrainConfig(
        epochs=len(losses), batch_size=64, learning_rate=LEARNING_RATE,
        early_stopping_patience=0, **settings,  # type: ignore[arg-type]
    )  # fmt: skip
    series = np.sin(np.linspace(0.0, 20.0, 200))[:, None]
    model = ModelConfig(n_features=1, lookback=5, hidden_size=2, num_layers=1)
    result = train(Panel.of_series(series), model, config, device=CPU)
    return [stats.learning_rate for stats in result.history]


def scheduler_rates(losses: list[float], patience: int, threshold: float, mode: str) -> list[float]:
    """The learning rate after every step of ReduceLROnPlateau over `losses`."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LEARNING_RATE)
    # Its patience counts the flat epochs it tolerates; ours the flat epochs that trigger a
    # decay. eps=0: it would otherwise skip a decay smaller than 1e-8, and ours never does.
    scheduler = ReduceLROnPlateau(
        optimizer, mode="min", factor=0.5, patience=patience - 1, threshold=threshold,
        threshold_mode=mode, eps=0.0,  # type: ignore[arg-type]
    )  # fmt: skip
    rates = []
    for loss in losses:
        scheduler.step(loss)
        rates.append(float(optimizer.param_groups[0]["lr"]))
    return rates


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
@pytest.mark.parametrize("relative", [0.0, 0.01, 0.2])
def test_learning_rates_are_reduce_lr_on_plateaus_without_an_absolute_margin(
    monkeypatch: pytest.MonkeyPatch, patience: int, relative: float
) -> None:
    ours = trainer_rates(
        monkeypatch, SCRIPT, lr_decay_patience=patience, min_relative_delta=relative
    )
    assert ours == scheduler_rates(SCRIPT, patience, relative, "rel")
    assert len(set(ours)) > 1  # the script does make it decay


def test_an_absolute_and_a_relative_margin_together_have_no_scheduler_counterpart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # From 1.0 the relative margin (0.1) is the larger; from 0.3 the absolute one (0.05) is.
    losses = [1.0, 0.92, 0.3, 0.26, 0.26, 0.26]
    ours = trainer_rates(
        monkeypatch, losses, lr_decay_patience=1, min_delta=0.05, min_relative_delta=0.1
    )
    assert ours == [LEARNING_RATE * f for f in (1, 0.5, 0.5, 0.25, 0.125, 0.0625)]
    assert ours != scheduler_rates(losses, 1, 0.1, "rel")  # 0.26 beats 0.3 by 10%: no decay
    assert ours != scheduler_rates(losses, 1, 0.05, "abs")  # 0.92 beats 1.0 by 0.05: no decay


def test_a_loss_on_the_relative_margin_is_judged_differently_by_the_scheduler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1.1 * (1 - 0.01) rounds to 1.089 exactly, 1.1 - 0.01 * 1.1 to just above it.
    assert 1.1 * (1 - 0.01) == 1.089 < 1.1 - 0.01 * 1.1
    losses = [1.1, 1.089]
    assert trainer_rates(monkeypatch, losses, lr_decay_patience=1) == [LEARNING_RATE] * 2
    assert scheduler_rates(losses, 1, 0.01, "rel") == [LEARNING_RATE, LEARNING_RATE / 2]


def test_plateau_counts_flat_epochs_for_decay_and_for_early_stopping() -> None:
    plateau = Plateau(TrainConfig(lr_decay_patience=2, early_stopping_patience=3))
    seen = []
    for epoch, loss in enumerate([1.0, 0.5, 0.5, 0.5, 0.5], 1):
        improved = plateau.update(epoch, loss)
        seen.append((improved, plateau.decay_due(), plateau.stop_due()))
    assert seen == [
        (True, False, False),
        (True, False, False),
        (False, False, False),
        (False, True, False),  # two flat epochs: halve, and count afresh
        (False, False, True),  # three since the best: stop, whatever the decay count says
    ]
    assert (plateau.best_loss, plateau.best_epoch) == (0.5, 2)


def test_zero_patience_turns_decay_and_early_stopping_off() -> None:
    plateau = Plateau(TrainConfig(lr_decay_patience=0, early_stopping_patience=0))
    for epoch in range(1, 20):
        plateau.update(epoch, 1.0)
        assert not plateau.decay_due()
        assert not plateau.stop_due()
