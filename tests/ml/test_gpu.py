"""CUDA: one epoch of training and a rollout agree with the CPU. Skipped without a GPU."""

from __future__ import annotations

import pytest
import torch

from app.ml.config import TrainConfig
from app.ml.forecast import rollout
from app.ml.functions import generate, resolve_params
from app.ml.model import ModelConfig, RecurrentForecaster
from app.ml.prepare import Panel
from app.ml.train import train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

MODEL = ModelConfig(n_features=1, lookback=10, hidden_size=8, num_layers=2)


PATCHED = ModelConfig(n_features=1, lookback=10, horizon=10, patch=10, hidden_size=32)
GRU = ModelConfig(n_features=1, lookback=10, horizon=2, patch=2, hidden_size=16, cell="gru")


@pytest.mark.parametrize(
    ("model", "sequence_steps"), [(MODEL, 0), (PATCHED, 0), (PATCHED, 8), (GRU, 4)]
)
def test_one_epoch_on_cuda_matches_the_cpu(model: ModelConfig, sequence_steps: int) -> None:
    series = generate("sin", resolve_params("sin", {"stop": 30.0, "points": 300}))
    config = TrainConfig(epochs=1, batch_size=32, seed=3, sequence_steps=sequence_steps)
    on_cpu = train(Panel.of_series(series), model, config, device=torch.device("cpu"))
    on_gpu = train(Panel.of_series(series), model, config, device=torch.device("cuda"))
    assert on_gpu.history[0].train_loss == pytest.approx(on_cpu.history[0].train_loss, rel=1e-3)
    assert on_gpu.history[0].val_loss == pytest.approx(on_cpu.history[0].val_loss, rel=1e-3)
    assert all(p.device.type == "cpu" for p in on_gpu.model.parameters())


@pytest.mark.parametrize("config", [MODEL, PATCHED, GRU])
@pytest.mark.parametrize("mode", ["window", "state"])
def test_rollout_on_cuda_matches_the_cpu(config: ModelConfig, mode: str) -> None:
    torch.manual_seed(0)
    model = RecurrentForecaster(config)
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.3)
    contexts = torch.randn(256, 10, 1)
    expected = rollout(model, contexts, 200, mode)  # type: ignore[arg-type]
    actual = rollout(model.cuda(), contexts.cuda(), 200, mode)  # type: ignore[arg-type]
    assert actual.device.type == "cuda"
    torch.testing.assert_close(actual.cpu(), expected, rtol=0, atol=1e-4)
