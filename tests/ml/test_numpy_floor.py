"""The benchmark's numpy floor does the state rollout's arithmetic, so timing one against the
other compares the same work, for either cell."""

from __future__ import annotations

import pytest
import torch

from app.ml.forecast import rollout
from app.ml.model import ModelConfig, RecurrentForecaster
from bench.numpy_floor import numpy_floor


@pytest.mark.parametrize(
    "parts",
    [
        {},  # today's bundled shape: patch 1, horizon 1
        {"patch": 10, "horizon": 10},  # the state-trained default
        {"patch": 2, "horizon": 6, "residual": False, "dense_layers": (5,)},
        {"n_features": 2, "patch": 5, "horizon": 5, "num_layers": 3},
    ],
)
@pytest.mark.parametrize("steps", [1, 37, 1000])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_floor_is_the_state_rollout(parts: dict[str, object], steps: int, cell: str) -> None:
    config = ModelConfig(**{"n_features": 1, "lookback": 10, "cell": cell} | parts)  # type: ignore[arg-type]
    torch.manual_seed(0)
    model = RecurrentForecaster(config).eval()
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.1)  # a residual head starts at zero: fill it in
        model.head.bias.normal_(0.0, 0.1)
    context = torch.randn(3, 10, config.n_features, generator=torch.Generator().manual_seed(1))
    expected = rollout(model, context, steps, "state")
    floor = numpy_floor(model, context.numpy(), steps)
    assert floor.shape == expected.shape
    torch.testing.assert_close(torch.as_tensor(floor), expected, rtol=1e-4, atol=1e-4)


def test_the_floor_refuses_a_model_the_state_cannot_continue() -> None:
    model = RecurrentForecaster(ModelConfig(n_features=1, lookback=10, patch=2, horizon=3))
    with pytest.raises(ValueError, match="by state"):
        numpy_floor(model, torch.zeros(1, 10, 1).numpy(), 5)
