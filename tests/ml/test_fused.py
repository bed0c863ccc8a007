"""The fused step loop against the models' own forward (nn.LSTM): every layer count, patch,
horizon, covariates, instance norm, highway, dense layers, ensembles and both rollout modes."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from app.ml import serving
from app.ml.checkpoints import load
from app.ml.forecast import RolloutMode, _overlapping_windows, rollout
from app.ml.fused import FusedForecaster
from app.ml.model import EnsembleForecaster, Forecaster, ModelConfig, RecurrentForecaster

LOOKBACK = 6
STEPS = 40  # several windows' worth: the wavefront's path
# The step loop and the module sum in different orders, and CPUs differ in their kernels (FMA,
# vector widths): a model call's outputs agree to some tens of float32 epsilons, and a rollout
# feeds each call's rounding into the calls after it.
CALL_TOLERANCE = 32 * torch.finfo(torch.float32).eps


def close(actual: torch.Tensor, expected: torch.Tensor, calls: int) -> None:
    """`actual` equals `expected` to float32 rounding over a rollout of `calls` model calls."""
    tolerance = CALL_TOLERANCE * calls
    torch.testing.assert_close(actual, expected, rtol=tolerance, atol=tolerance)


def make(config: ModelConfig, seed: int = 0, members: int = 1) -> Forecaster:
    """A model with random, non-trivial weights (zero-initialised heads filled in)."""
    torch.manual_seed(seed)
    singles = [RecurrentForecaster(config) for _ in range(members)]
    with torch.no_grad():
        for single in singles:
            for name, parameter in single.named_parameters():
                if name.startswith(("head", "highway")):
                    parameter.normal_(0.0, 0.2)
    model: Forecaster = singles[0] if members == 1 else EnsembleForecaster(config, singles)
    return model.eval()


def by_module_calls(
    model: Forecaster, context: torch.Tensor, steps: int, mode: RolloutMode, future: torch.Tensor
) -> torch.Tensor:
    """The rollout by the model's own forward: each window re-run from a zero state, or the
    state carried; predicted inputs fed back, known covariates read from `future`."""
    config = model.config
    positions = config.roles.target_input_positions
    fed = [(out, at) for out, at in enumerate(positions) if at >= 0]
    rows, state = context.clone(), None
    predicted: list[torch.Tensor] = []
    with torch.no_grad():
        while sum(chunk.shape[1] for chunk in predicted) < steps:
            if mode == "state":
                given = rows if state is None else predicted[-1]
                chunk, state = model(given, state)
            else:
                chunk, _ = model(rows[:, -LOOKBACK:])
            predicted.append(chunk)
            done = sum(c.shape[1] for c in predicted)
            new = future[:, done - chunk.shape[1] : done].clone()  # covariates as given
            for out, at in fed:
                new[..., at] = chunk[..., out]
            rows = torch.cat([rows, new], 1)
    return torch.cat(predicted, 1)[:, :steps]


def check(
    model: Forecaster, mode: RolloutMode = "window", batch: int = 3, steps: int = STEPS
) -> None:
    config = model.config
    generator = torch.Generator().manual_seed(1)
    context = torch.randn(batch, LOOKBACK + 2, config.n_features, generator=generator)
    future = torch.randn(batch, steps + config.horizon, config.n_features, generator=generator)
    expected = by_module_calls(model, context[:, -LOOKBACK:], steps, mode, future)
    covariates = bool(config.roles.covariates)
    actual = rollout(model, context, steps, mode, future if covariates else None)
    assert actual.shape == expected.shape
    close(actual, expected, -(-steps // config.horizon))


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize(("patch", "horizon"), [(1, 1), (1, 4), (2, 2), (2, 4), (2, 3), (3, 7)])
def test_window_rollout_matches_the_module(num_layers: int, patch: int, horizon: int) -> None:
    config = ModelConfig(
        n_features=1, lookback=LOOKBACK, horizon=horizon, patch=patch, num_layers=num_layers
    )
    check(make(config, seed=num_layers))


# 40 contexts, or fewer steps than a window has: one window after another
@pytest.mark.parametrize(("batch", "steps"), [(3, STEPS), (40, STEPS), (3, 1), (3, LOOKBACK - 1)])
def test_window_by_window_and_the_wavefront_agree(batch: int, steps: int) -> None:
    config = ModelConfig(n_features=1, lookback=LOOKBACK, num_layers=2)
    check(make(config), batch=batch, steps=steps)


@pytest.mark.parametrize("batch", [3, 300])
def test_a_state_rollout_of_few_or_many_contexts_matches_the_module(batch: int) -> None:
    config = ModelConfig(n_features=1, lookback=LOOKBACK, horizon=2, num_layers=2)
    check(make(config), "state", batch=batch)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize(("patch", "horizon"), [(1, 1), (1, 3), (2, 2), (3, 6)])
def test_state_rollout_matches_the_module(num_layers: int, patch: int, horizon: int) -> None:
    config = ModelConfig(
        n_features=1, lookback=LOOKBACK, horizon=horizon, patch=patch, num_layers=num_layers
    )
    check(make(config), "state")


@pytest.mark.parametrize(
    "parts",
    [
        {"instance_norm": True},
        {"instance_norm": True, "horizon": 2, "patch": 2},
        {"highway": True},
        {"highway": True, "horizon": 3},
        {"dense_layers": (5, 4)},
        {"residual": False, "dense_layers": (7,)},
        {"instance_norm": True, "highway": True, "dense_layers": (4,), "horizon": 2},
    ],
)
def test_window_rollout_of_each_part_matches_the_module(parts: dict[str, object]) -> None:
    config = ModelConfig(n_features=1, lookback=LOOKBACK, hidden_size=7, **parts)  # type: ignore[arg-type]
    check(make(config))


@pytest.mark.parametrize(
    "parts", [{"dense_layers": (5,)}, {"residual": False}, {"instance_norm": True}]
)
def test_state_rollout_of_each_part_matches_the_module(parts: dict[str, object]) -> None:
    check(make(ModelConfig(n_features=1, lookback=LOOKBACK, **parts)), "state")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target_inputs", "horizon", "residual"),
    [((0,), 1, True), ((1,), 2, True), ((0, 2), 1, True), ((-1,), 1, False), ((-1,), 4, False)],
)
def test_covariates_are_read_from_the_future_rows(
    target_inputs: tuple[int, ...], horizon: int, residual: bool
) -> None:
    config = ModelConfig(
        n_features=3,
        lookback=LOOKBACK,
        horizon=horizon,
        target_inputs=target_inputs,
        residual=residual,
        highway=True,
    )
    check(make(config))


@pytest.mark.parametrize(("members", "horizon"), [(2, 1), (3, 1), (3, 2), (4, 6)])
def test_an_ensemble_rolls_out_as_the_median_of_its_members(members: int, horizon: int) -> None:
    config = ModelConfig(n_features=2, lookback=LOOKBACK, horizon=horizon, num_layers=2)
    check(make(config, members=members))


def test_overlapping_windows_share_steps_only_when_they_can() -> None:
    def windows(**parts: object) -> int:
        return _overlapping_windows(ModelConfig(n_features=1, lookback=12, **parts))  # type: ignore[arg-type]

    assert windows() == 12  # one window starts at every row
    assert windows(horizon=4) == 3
    assert windows(horizon=12) == 1  # back to back: nothing to share
    assert windows(patch=2, horizon=3) == 1  # windows would start inside a patch
    assert windows(instance_norm=True) == 1  # a window's first step needs all its rows


def test_keep_going_ends_a_window_rollout_after_whole_calls() -> None:
    model = make(ModelConfig(n_features=1, lookback=LOOKBACK, horizon=2))
    answers = iter([True, True, False])
    context = torch.randn(2, LOOKBACK, 1)
    out = rollout(model, context, 20, keep_going=lambda: next(answers))
    assert out.shape == (2, 6, 1)  # three calls of two rows
    torch.testing.assert_close(out, rollout(model, context, 6), rtol=0, atol=1e-6)


def test_a_loaded_checkpoint_stacks_its_weights_once(monkeypatch: pytest.MonkeyPatch) -> None:
    checkpoint = load(Path(__file__).parents[2] / "models" / "sine" / "1", torch.device("cpu"))
    plan = serving.continuing(checkpoint, [0])
    first = serving.forecast(checkpoint, plan, 30, []).values

    def restack(model: Forecaster) -> FusedForecaster:
        raise AssertionError("stacked again")

    monkeypatch.setattr(FusedForecaster, "of", staticmethod(restack))
    again = serving.forecast(checkpoint, plan, 30, []).values  # the cached stack
    torch.testing.assert_close(torch.as_tensor(again), torch.as_tensor(first), rtol=0, atol=0)
    with pytest.raises(AssertionError, match="stacked again"):
        rollout(checkpoint.model, torch.zeros(1, 10, 1), 30)  # a live model stacks its own


# the wavefront, then windows one after another (a chunk as long as the window)
@pytest.mark.parametrize(("patch", "horizon"), [(1, 1), (2, 4), (2, LOOKBACK)])
def test_one_model_and_an_ensemble_of_its_copies_agree(patch: int, horizon: int) -> None:
    """A single model steps without the member dimension (addmm), an ensemble with it
    (baddbmm): copies of one model must roll out as that model."""
    config = ModelConfig(n_features=1, lookback=LOOKBACK, horizon=horizon, patch=patch)
    single = make(config)
    assert isinstance(single, RecurrentForecaster)
    copies = EnsembleForecaster(config, [copy.deepcopy(single) for _ in range(3)]).eval()
    assert (FusedForecaster.of(single).members, FusedForecaster.of(copies).members) == (1, 3)
    context = torch.randn(4, LOOKBACK, 1, generator=torch.Generator().manual_seed(2))
    close(rollout(copies, context, STEPS), rollout(single, context, STEPS), STEPS // horizon + 1)


@pytest.mark.parametrize(("patch", "horizon"), [(10, 10), (5, 10), (1, 1)])
def test_a_long_state_rollout_matches_stepping_the_module_by_hand(patch: int, horizon: int) -> None:
    """The default model's shape (patch 10, horizon 10): 1,000 steps fed back chunk by chunk."""
    config = ModelConfig(n_features=1, lookback=10, horizon=horizon, patch=patch)
    model = make(config, seed=3)
    context = torch.randn(2, 10, 1, generator=torch.Generator().manual_seed(4))
    expected = by_module_calls(model, context, 1000, "state", torch.zeros(2, 1000 + horizon, 1))
    actual = rollout(model, context, 1000, "state")
    assert actual.shape == (2, 1000, 1)
    close(actual, expected, 1000 // horizon)


@pytest.mark.parametrize("horizon", [1, 10])
def test_keep_going_ends_a_state_rollout_after_whole_calls(horizon: int) -> None:
    config = ModelConfig(n_features=1, lookback=10, horizon=horizon, patch=horizon)
    model = make(config)
    answers = iter([True, True, False])
    context = torch.randn(2, 10, 1)
    out = rollout(model, context, 100, "state", keep_going=lambda: next(answers))
    assert out.shape == (2, 3 * horizon, 1)  # three calls
    expected = rollout(model, context, 3 * horizon, "state")
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
