"""Refitting on every row: the newest rows inform the served model, the metrics stay those of
the model measured before, and a refit the time limit cuts short serves the measured model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.ml.config import TrainConfig
from app.ml.data import Split, gather_windows, window_starts
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.train import TrainResult, train

CPU = torch.device("cpu")
TINY = ModelConfig(n_features=1, lookback=12, hidden_size=8, num_layers=1)


@pytest.fixture(scope="module")
def changing() -> np.ndarray:
    """A sine whose period shortens to a third for its last tenth: only the test rows show the
    new rhythm, while validation (the tenth before) keeps choosing more epochs."""
    x = np.arange(400) * 0.2
    slow, fast = np.sin(x), np.sin(3 * x)
    return np.where(np.arange(400) < 360, slow, fast)[:, None]


def fit(series: np.ndarray, **settings: object) -> TrainResult:
    config = TrainConfig(
        **{"epochs": 30, "batch_size": 32, "early_stopping_patience": 0, **settings}  # type: ignore[arg-type]
    )
    return train(Panel.of_series(series), TINY, config, device=CPU)


def held_out_loss(result: TrainResult, series: np.ndarray) -> float:
    """The model's MSE (model scale) on the windows whose targets are the test rows."""
    split = Split.of(len(series), 0.1, 0.1)
    scaled = torch.as_tensor(result.series[0].scaler.transform(series), dtype=torch.float32)
    starts = torch.as_tensor(window_starts(split.test_start, len(series), TINY.lookback, 1))
    inputs, targets = gather_windows(scaled, starts, TINY.lookback, 1)
    with torch.inference_mode():
        result.model.eval()
        return float(torch.nn.functional.mse_loss(result.model(inputs)[0], targets))


def test_the_refitted_model_has_learned_the_held_out_rows(changing: np.ndarray) -> None:
    measured, refitted = fit(changing), fit(changing, refit=True)
    assert refitted.metrics["refit_members"] == 1
    assert held_out_loss(refitted, changing) < 0.75 * held_out_loss(measured, changing)


def test_the_metrics_describe_the_model_measured_before_the_refit(changing: np.ndarray) -> None:
    measured, refitted = fit(changing, ensemble=2), fit(changing, ensemble=2, refit=True)
    assert refitted.metrics["refit_members"] == 2
    assert refitted.metrics["mean"] == measured.metrics["mean"]
    assert [(s.train_loss, s.val_loss) for s in refitted.history] == [
        (s.train_loss, s.val_loss) for s in measured.history
    ]
    served = refitted.model.state_dict()
    assert any(
        not torch.equal(value, served[key]) for key, value in measured.model.state_dict().items()
    )


def test_a_refit_cut_short_by_the_time_limit_serves_the_measured_model(
    changing: np.ndarray,
) -> None:
    # A limit already past after the first epoch: the fit stops there, the refit after its own
    # first epoch, and the measured model is kept.
    result = fit(changing, refit=True, time_limit_seconds=1e-9)
    assert result.metrics["refit_members"] == 0
    assert result.members[0].stop_reason == "time_limit"
    reference = fit(changing, time_limit_seconds=1e-9)
    for key, value in reference.model.state_dict().items():
        assert torch.equal(value, result.model.state_dict()[key])


def test_a_panel_refits_on_every_series_rows() -> None:
    x = np.arange(200) * 0.3
    panel = np.concatenate([np.sin(x), 2 + np.cos(x)])[:, None]
    config = TrainConfig(epochs=3, batch_size=32, refit=True)
    result = train(Panel(panel, (200, 200), ("a", "b")), TINY, config, device=CPU)
    assert result.metrics["refit_members"] == 1
    assert result.metrics["refit_seconds"] > 0
