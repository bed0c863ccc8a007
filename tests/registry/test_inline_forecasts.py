"""Small forecasts run on the event loop: only one context of a loaded one-series model with
little work, and their answers and errors are those of the worker-thread path."""

from __future__ import annotations

import shutil

import pytest
import torch

from app.core.config import Settings
from app.core.metrics import ServiceMetrics
from app.registry.batcher import RolloutBatcher
from app.registry.cache import ModelCache
from app.registry.checkpoint_store import CheckpointStore
from app.registry.forecast import Forecasting, ForecastLimits
from app.registry.schemas import ForecastRequest
from tests.conftest import AppFactory
from tests.factories import BUNDLED_MODELS

CONTEXT = [0.1 * k for k in range(10)]


@pytest.fixture
def forecasting() -> Forecasting:
    cache = ModelCache(CheckpointStore(BUNDLED_MODELS), torch.device("cpu"), 2)
    return Forecasting(
        cache, RolloutBatcher(0.0, 64), ForecastLimits.of(Settings()), ServiceMetrics()
    )


def test_only_small_forecasts_of_a_loaded_model_run_inline(forecasting: Forecasting) -> None:
    one = ForecastRequest(horizon=1)
    assert not forecasting.runs_inline("sine", one)  # not loaded: never read from disk there
    forecasting.cache.get("sine", 1)
    assert forecasting.runs_inline("sine", one)
    assert forecasting.runs_inline("sine", ForecastRequest(horizon=100, context=CONTEXT))
    assert not forecasting.runs_inline("sine", ForecastRequest(horizon=5000))  # 13 MFLOP
    assert not forecasting.runs_inline("sine", ForecastRequest(horizon=1, contexts=[[[0.0]] * 10]))
    assert not forecasting.runs_inline("nothing", one)  # its 404 comes from the thread path
    assert not forecasting.runs_inline("sine", ForecastRequest(horizon=1, version=9))


def test_answers_and_errors_are_the_thread_paths(make_client: AppFactory) -> None:
    client = make_client()
    shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    body = {"horizon": 20, "context": CONTEXT, "levels": [90]}
    threaded = client.post("/v1/models/sine/forecast", json=body)  # loads the model
    assert threaded.status_code == 200, threaded.text
    assert client.app.state.forecasting.runs_inline("sine", ForecastRequest.model_validate(body))  # type: ignore[attr-defined]
    inline = client.post("/v1/models/sine/forecast", json=body)
    assert inline.status_code == 200
    assert inline.json() == threaded.json()
    short = client.post("/v1/models/sine/forecast", json={"horizon": 1, "context": [0.0] * 4})
    assert short.status_code == 422
    assert short.json()["error"]["code"] == "context_too_short"
