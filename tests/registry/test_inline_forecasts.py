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
from app.registry.forecast import Forecasting
from app.registry.limits import ForecastLimits
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
    inline = forecasting.inline_target
    assert inline("sine", one) is None  # not loaded: never read from disk there
    loaded = forecasting.cache.get("sine", 1)
    assert inline("sine", one) == (1, loaded)  # resolved once, handed to the forecast
    assert inline("sine", ForecastRequest(horizon=100, context=CONTEXT)) is not None
    assert inline("sine", ForecastRequest(horizon=5000)) is None  # 13 MFLOP
    assert inline("sine", ForecastRequest(horizon=1, contexts=[[[0.0]] * 10])) is None
    assert inline("nothing", one) is None  # its 404 comes from the thread path
    assert inline("sine", ForecastRequest(horizon=1, version=9)) is None


def test_answers_and_errors_are_the_thread_paths(make_client: AppFactory) -> None:
    client = make_client()
    shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    body = {"horizon": 20, "context": CONTEXT, "levels": [90]}
    threaded = client.post("/v1/models/sine/forecast", json=body)  # loads the model
    assert threaded.status_code == 200, threaded.text
    forecasting = client.app.state.forecasting  # type: ignore[attr-defined]
    assert forecasting.inline_target("sine", ForecastRequest.model_validate(body)) is not None
    inline = client.post("/v1/models/sine/forecast", json=body)
    assert inline.status_code == 200
    assert inline.json() == threaded.json()
    short = client.post("/v1/models/sine/forecast", json={"horizon": 1, "context": [0.0] * 4})
    assert short.status_code == 422
    assert short.json()["error"]["code"] == "context_too_short"
