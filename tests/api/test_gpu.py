"""CUDA serving and training through the service. Skipped where there is no CUDA GPU."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from app.jobs.table import JobStatus
from tests.conftest import AppFactory
from tests.factories import BUNDLED_MODELS, inline_repositories, run_inline

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_forecast_device_cuda_serves_on_the_gpu_like_the_cpu(make_client: AppFactory) -> None:
    forecasts = {}
    for device in ("cpu", "cuda"):
        client = make_client(device=device)
        shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
        response = client.post("/v1/models/sine/forecast", json={"horizon": 100})
        assert response.status_code == 200
        forecasts[device] = response.json()
    assert forecasts["cuda"]["device"] == "cuda:0"
    np.testing.assert_allclose(
        forecasts["cuda"]["forecast"], forecasts["cpu"]["forecast"], atol=1e-4
    )


def test_training_job_on_cuda_succeeds_and_records_the_device(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    spec = {
        "model_name": "gpu-sine",
        "data": {"function": "sin", "params": {"points": 600, "stop": 60}},
        "training": {"epochs": 3},
        "device": "cuda",
    }
    row = run_inline(settings, repos, spec)
    assert row.status == JobStatus.SUCCEEDED, row.error
    assert row.device == "cuda:0"
    assert row.metrics["one_step"]["mse"] < row.metrics["naive_one_step"]["mse"]
