"""Sequence training through the job path: the model it saves serves by state, and what it
cannot train is refused at submission, naming `training.sequence_steps`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.jobs.table import JobStatus
from app.main import create_app
from tests.factories import inline_repositories, make_settings, run_inline

WAVE = {"function": "sin", "params": {"points": 1500, "stop": 150}}
PATCHED = {"lookback": 10, "horizon": 5, "patch": 5}


def test_a_sequence_trained_model_is_served_by_state(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    spec = {
        "model_name": "carried",
        "data": WAVE,
        "window": PATCHED,
        "architecture": {"hidden_size": 16, "num_layers": 1},
        "training": {"epochs": 40, "batch_size": 16, "sequence_steps": 8},
    }
    final = run_inline(settings, repos, spec)
    assert final.status == JobStatus.SUCCEEDED, final.error
    assert final.metrics is not None
    assert final.metrics["rollout_mode"] == "state"
    with TestClient(create_app(make_settings(tmp_path))) as client:
        version = client.get("/v1/models/carried").json()["versions"][0]
        assert version["rollout_mode"] == "state"
        # 60 steps on from the end of the training series (x = 150): the wave goes on.
        answer = client.post("/v1/models/carried/forecast", json={"horizon": 60})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["rollout_mode"] == "state"
        expected = np.sin(150 + 150 / 1499 * np.arange(1, 61))
        assert np.sqrt(np.mean((np.asarray(body["forecast"])[:, 0] - expected) ** 2)) < 0.2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"window": {"lookback": 6, "horizon": 3, "patch": 2}}, "multiple of the patch"),
        ({"architecture": {"instance_norm": True}}, "instance normalisation"),
        (
            {"window": {"lookback": 10, "horizon": 1, "patch": 1}, "training": {"stateful": True}},
            "instance normalisation",
        ),
        ({"data": {"function": "sin", "params": {"points": 200}}}, "must each hold one"),
    ],
)
def test_sequences_a_model_or_series_cannot_take_are_refused(
    client: TestClient, changes: dict[str, Any], message: str
) -> None:
    spec: dict[str, Any] = {"model_name": "x", "data": WAVE, "window": PATCHED}
    spec |= changes
    spec["training"] = {"sequence_steps": 30, **changes.get("training", {})}
    answer = client.post("/v1/jobs", json=spec)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == "training.sequence_steps"
    assert message in error["message"]
