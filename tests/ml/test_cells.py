"""The recurrent cells (LSTM and GRU): one forward pass for both, the fused step loop for both
against the module's own forward, training, checkpoints and the config's `cell` field."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from torch import nn

from app.ml import serving
from app.ml.checkpoint_meta import CheckpointMeta
from app.ml.checkpoints import load, read_meta, write
from app.ml.config import TrainConfig
from app.ml.forecast import forecast, fuse, rollout
from app.ml.functions import generate, resolve_params
from app.ml.model import (
    CELLS,
    Cell,
    EnsembleForecaster,
    ModelConfig,
    RecurrentForecaster,
    detach_state,
)
from app.ml.prepare import Panel
from app.ml.train import train
from tests.ml.test_fused import LOOKBACK, STEPS, check, close, make

CPU = torch.device("cpu")
KINDS = ["lstm", "gru"]
BUNDLED = Path(__file__).parents[2] / "models" / "sine" / "1"
FORMAT_1 = Path(__file__).parents[2] / "tests" / "fixtures" / "format1_sine_meta.json"


def single(config: ModelConfig, seed: int = 0) -> RecurrentForecaster:
    """One model with random, non-trivial weights."""
    model = make(config, seed)
    assert isinstance(model, RecurrentForecaster)
    return model


def test_each_cell_kind_says_what_torch_builds() -> None:
    for kind, cell in CELLS.items():
        module = cell.module(3, 5, num_layers=2, batch_first=True)
        assert module.weight_ih_l0.shape == (cell.gates * 5, 3), kind
        assert sum(p.numel() for name, p in module.named_parameters() if "bias" in name) == (
            2 * 2 * cell.gates * 5
        )
        _, state = module(torch.zeros(4, 7, 3))
        parts = state if isinstance(state, tuple) else (state,)
        assert len(parts) == len(cell.state), kind
        assert all(part.shape == (2, 4, 5) for part in parts)


@pytest.mark.parametrize("cell", KINDS)
@pytest.mark.parametrize(
    "parts",
    [
        {},
        {"patch": 2, "horizon": 4},
        {"num_layers": 3, "dense_layers": (5,)},
        {"residual": False, "n_features": 2},
        {"n_features": 3, "target_inputs": (2, 0)},
    ],
)
def test_next_steps_after_the_window_is_forward(cell: str, parts: dict[str, object]) -> None:
    config = ModelConfig(**{"n_features": 1, "lookback": LOOKBACK, "cell": cell} | parts)  # type: ignore[arg-type]
    model = single(config)
    x = torch.randn(4, LOOKBACK + 3 * config.patch, config.n_features)
    with torch.no_grad():
        steps, _ = model.next_steps(x)  # [B, T / patch, H, O]
        window, _ = model(x[:, :LOOKBACK])
        whole, _ = model(x)
    assert steps.shape == (4, LOOKBACK // config.patch + 3, config.horizon, config.n_outputs)
    torch.testing.assert_close(steps[:, LOOKBACK // config.patch - 1], window)
    torch.testing.assert_close(steps[:, -1], whole)


@pytest.mark.parametrize("cell", KINDS)
def test_the_state_is_the_cells_and_continues_the_sequence(cell: str) -> None:
    config = ModelConfig(n_features=1, lookback=4, hidden_size=5, num_layers=2, cell=cell)  # type: ignore[arg-type]
    model = single(config)
    x = torch.randn(3, 9, 1)
    with torch.no_grad():
        whole, state = model(x)
        _, early = model(x[:, :4])
        continued, later = model(x[:, 4:], early)
    parts = state if isinstance(state, tuple) else (state,)
    assert len(parts) == len(CELLS[cell].state)  # (h, c) or h
    assert all(part.shape == (2, 3, 5) for part in parts)
    torch.testing.assert_close(continued, whole, rtol=0, atol=1e-6)
    torch.testing.assert_close(later, state, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cell", KINDS)
def test_detach_state_keeps_the_values_and_drops_the_graph(cell: str) -> None:
    model = single(ModelConfig(n_features=1, lookback=4, cell=cell)).train()  # type: ignore[arg-type]
    _, state = model(torch.randn(2, 4, 1))
    detached = detach_state(state)
    before = state if isinstance(state, tuple) else (state,)
    after = detached if isinstance(detached, tuple) else (detached,)
    assert type(detached) is type(state)
    assert all(part.requires_grad for part in before)
    assert not any(part.requires_grad for part in after)
    for old, new in zip(before, after, strict=True):
        assert torch.equal(old, new)


@pytest.mark.parametrize("mode", ["window", "state"])
@pytest.mark.parametrize(
    ("patch", "horizon"),
    [(1, 1), (2, 2), (2, 4), (2, LOOKBACK)],  # the wavefront; back-to-back windows last
)
@pytest.mark.parametrize(
    "parts", [{}, {"residual": False}, {"dense_layers": (5, 4)}, {"num_layers": 3}]
)
def test_a_gru_rolls_out_as_its_module(
    mode: str, patch: int, horizon: int, parts: dict[str, object]
) -> None:
    config = ModelConfig(
        n_features=1,
        lookback=LOOKBACK,
        horizon=horizon,
        patch=patch,
        cell="gru",
        **parts,  # type: ignore[arg-type]
    )
    check(make(config, seed=patch + horizon), mode)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "parts",
    [
        {"instance_norm": True},
        {"highway": True, "horizon": 3},
        {"n_features": 3, "target_inputs": (1, -1), "residual": False, "highway": True},
    ],
)
def test_a_gru_with_window_only_parts_rolls_out_by_window_as_its_module(
    parts: dict[str, object],
) -> None:
    config = ModelConfig(**{"n_features": 1, "lookback": LOOKBACK, "cell": "gru"} | parts)  # type: ignore[arg-type]
    check(make(config))


@pytest.mark.parametrize(("patch", "horizon"), [(1, 1), (2, 4), (2, LOOKBACK)])
@pytest.mark.parametrize("residual", [True, False])
def test_a_gru_ensemble_rolls_out_as_the_median_of_its_members(
    patch: int, horizon: int, residual: bool
) -> None:
    config = ModelConfig(
        n_features=2, lookback=LOOKBACK, horizon=horizon, patch=patch, residual=residual,
        cell="gru", dense_layers=(4,),
    )  # fmt: skip
    check(make(config, members=3))


@pytest.mark.parametrize(("patch", "horizon"), [(1, 1), (2, 4), (2, LOOKBACK)])
def test_a_gru_and_an_ensemble_of_its_copies_agree(patch: int, horizon: int) -> None:
    config = ModelConfig(n_features=1, lookback=LOOKBACK, horizon=horizon, patch=patch, cell="gru")
    model = single(config)
    copies = EnsembleForecaster(config, [copy.deepcopy(model) for _ in range(3)]).eval()
    context = torch.randn(4, LOOKBACK, 1, generator=torch.Generator().manual_seed(2))
    close(rollout(copies, context, STEPS), rollout(model, context, STEPS), STEPS // horizon + 1)


def test_a_gru_ensemble_of_different_lookbacks_rolls_out_by_its_own_forward() -> None:
    config = ModelConfig(n_features=1, lookback=LOOKBACK, horizon=2, cell="gru")
    members = [single(config, seed=1), single(replace(config, lookback=4), seed=2)]
    ensemble = EnsembleForecaster(config, members).eval()
    assert fuse(ensemble) is None
    check(ensemble)


def test_a_cell_the_step_loop_does_not_know_rolls_out_by_its_own_forward(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cell kind registered in the model only (an Elman RNN here) still rolls out, both
    ways, through the module's own forward."""
    monkeypatch.setitem(CELLS, "rnn", Cell(nn.RNN, gates=1, state=("h",)))  # type: ignore[arg-type]
    config = ModelConfig(n_features=1, lookback=LOOKBACK, horizon=2, cell="rnn")  # type: ignore[arg-type]
    model = single(config)
    assert isinstance(model.recurrent, nn.RNN)
    assert fuse(model) is None
    check(model)
    check(model, "state")


def test_a_gru_learns_and_its_checkpoint_keeps_its_cell(tmp_path: Path) -> None:
    series = generate("sin", resolve_params("sin", {"stop": 30.0, "points": 300}))  # [300, 1]
    model_config = ModelConfig(
        n_features=1, lookback=10, hidden_size=8, num_layers=1, cell="gru", residual=False
    )
    config = TrainConfig(epochs=4, batch_size=32, learning_rate=1e-2)
    result = train(Panel.of_series(series), model_config, config)
    assert isinstance(result.model, RecurrentForecaster)
    assert isinstance(result.model.recurrent, nn.GRU)
    history = result.history  # about 1 in the first epoch, 0.1 in the fourth
    assert history[-1].train_loss < 0.3 * history[0].train_loss
    assert history[result.members[0].best_epoch - 1].val_loss < 0.5 * history[0].val_loss
    meta = CheckpointMeta(
        config=result.model.config, rollout_mode=result.rollout_mode, columns=["y"],
        inputs=["y"], targets=["y"], series=result.series,
    )  # fmt: skip
    write(tmp_path, result.model, meta)
    assert json.loads((tmp_path / "meta.json").read_text())["config"]["cell"] == "gru"
    loaded = load(tmp_path, CPU)
    assert loaded.model.config == model_config
    assert isinstance(loaded.model, RecurrentForecaster)
    assert isinstance(loaded.model.recurrent, nn.GRU)
    contexts = np.stack([series[-10:], series[-30:-20]])  # [2, 10, 1]
    scaler = result.series[0].scaler
    np.testing.assert_array_equal(
        serving.forecast(loaded, serving.given(loaded, list(contexts)), 25, []).values,
        forecast(result.model, (scaler, scaler), contexts, 25, result.rollout_mode, CPU),
    )


def test_a_config_without_a_cell_is_an_lstm() -> None:
    """Every checkpoint written before the cell was a choice loads as an LSTM."""
    old = {"n_features": 1, "lookback": 10, "horizon": 1, "hidden_size": 8, "num_layers": 1,
           "dropout": 0.0, "dense_layers": [], "residual": True}  # fmt: skip
    assert ModelConfig.from_dict(old).cell == "lstm"
    assert ModelConfig.from_dict(old | {"cell": "lstm"}) == ModelConfig.from_dict(old)
    assert ModelConfig(n_features=2, dense_layers=(3,)).to_dict()["cell"] == "lstm"
    assert "cell" not in json.loads(FORMAT_1.read_text())["config"]
    assert read_meta(BUNDLED).config.cell == "lstm"
    with safe_open(str(BUNDLED / "weights.safetensors"), "pt") as weights:
        assert "lstm.weight_ih_l0" in weights.keys()  # named when only an LSTM could be there
    bundled = load(BUNDLED, CPU)
    assert bundled.model.config.cell == "lstm"
    assert read_meta(BUNDLED).config.cell == "lstm"
    assert isinstance(bundled.model, RecurrentForecaster)
    assert isinstance(bundled.model.recurrent, nn.LSTM)


def test_the_cell_round_trips_through_json() -> None:
    config = ModelConfig(n_features=2, lookback=8, cell="gru", dense_layers=(3,))
    data = json.loads(json.dumps(config.to_dict()))
    assert data["cell"] == "gru"
    assert ModelConfig.from_dict(data) == config


def test_an_unknown_cell_is_refused() -> None:
    with pytest.raises(ValueError, match="cell must be one of lstm, gru"):
        ModelConfig.from_dict({"n_features": 1, "cell": "transformer"})
