"""A GRU through the job path: trained on sequences, saved, and served in both rollout modes,
each answer the rollout of the module's own forward pass (no fused step loop)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from torch import nn

from app.jobs.table import JobStatus
from app.main import create_app
from app.ml.checkpoints import Checkpoint, load
from app.ml.model import RecurrentForecaster
from app.registry.checkpoint_store import CheckpointStore
from tests.factories import inline_repositories, make_settings, run_inline

SPEC = {
    "model_name": "gru",
    "data": {"function": "sin", "params": {"points": 1500, "stop": 150}},
    "window": {"lookback": 10, "horizon": 5, "patch": 5},
    "architecture": {"cell": "gru", "hidden_size": 12, "num_layers": 2},
    "training": {"epochs": 3, "batch_size": 32, "sequence_steps": 4},
}
STEPS = 23


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gru")
    settings, repos = inline_repositories(folder)
    final = run_inline(settings, repos, SPEC)
    assert final.status == JobStatus.SUCCEEDED, final.error
    assert final.metrics is not None
    assert final.metrics["validation_rollout_mae"]["state"] is not None  # a GRU carries state
    return folder


def checkpoint(root: Path) -> Checkpoint:
    store = CheckpointStore(make_settings(root).models_dir)
    return load(store.version_dir("gru", 1), torch.device("cpu"))


@torch.inference_mode()
def module_rollout(model: RecurrentForecaster, context: torch.Tensor, mode: str) -> torch.Tensor:
    """The rollout by the module's own forward pass: by window, `forward` on the last window
    each call; by state, `next_steps` over the context, then over each predicted chunk."""
    config, rows, out = model.config, context, []
    model.eval()
    if mode == "window":
        while sum(chunk.shape[1] for chunk in out) < STEPS:
            out.append(model(rows[:, -config.lookback :])[0])
            rows = torch.cat([rows, out[-1]], 1)
    else:
        steps, state = model.next_steps(rows)
        out.append(steps[:, -1])
        while sum(chunk.shape[1] for chunk in out) < STEPS:
            steps, state = model.next_steps(out[-1], state)
            out.append(steps[:, -1])
    return torch.cat(out, 1)[:, :STEPS]


@pytest.mark.parametrize("mode", ["window", "state"])
def test_a_gru_job_forecasts_in_either_mode_as_its_module_rolls_out(root: Path, mode: str) -> None:
    saved = checkpoint(root)
    assert isinstance(saved.model, RecurrentForecaster)
    assert isinstance(saved.model.recurrent, nn.GRU)
    assert saved.meta.config.cell == "gru"
    meta_path = make_settings(root).models_dir / "gru" / "1" / "meta.json"
    stored = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(stored | {"rollout_mode": mode}))  # the hash covers weights
    context = np.sin(np.linspace(3.0, 4.0, 10))
    with TestClient(create_app(make_settings(root))) as client:
        answer = client.post(
            "/v1/models/gru/forecast", json={"horizon": STEPS, "context": list(context)}
        )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["rollout_mode"] == mode
    scaler = saved.meta.series[0].scaler
    scaled = torch.as_tensor(scaler.transform(context[None, :, None]), dtype=torch.float32)
    expected = scaler.inverse(module_rollout(saved.model, scaled, mode).double().numpy()[0])
    np.testing.assert_allclose(body["forecast"], expected, rtol=1e-4, atol=1e-5)
