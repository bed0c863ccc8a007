"""The API process's own torch thread count (FORECAST_SERVE_THREADS), apart from training's."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import torch
from pydantic import ValidationError

from app.core.config import Settings
from app.core.metrics import ServiceMetrics
from app.registry.cache import ModelCache
from app.registry.checkpoint_store import CheckpointStore
from app.registry.forecast import make_forecast
from app.registry.limits import ForecastLimits
from app.registry.schemas import ForecastRequest
from tests.conftest import AppFactory
from tests.factories import BUNDLED_MODELS
from tests.waiting import LIVENESS_SECONDS


@pytest.fixture
def restore_threads() -> Iterator[None]:
    """The test process's thread count, put back after an app changed it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("restore_threads")
@pytest.mark.parametrize("threads", [1, 3])
def test_threads_started_after_the_lifespan_run_on_serve_threads(
    make_client: AppFactory, threads: int
) -> None:
    torch.set_num_threads(2)  # something else before the start
    make_client(serve_threads=threads, train_threads=4)  # training's count is its workers'
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join(LIVENESS_SECONDS)
    assert seen == [threads]


@pytest.mark.usefixtures("restore_threads")
def test_a_forecast_sets_serve_threads_in_a_thread_started_before_the_service(
    settings: Settings,
) -> None:
    """OpenMP keeps the count per thread: a worker thread that already ran torch keeps its
    own until the forecast sets it."""
    start, go, seen = threading.Event(), threading.Event(), []
    cache = ModelCache(CheckpointStore(BUNDLED_MODELS), torch.device("cpu"), 2, threads=1)

    def worker() -> None:
        torch.set_num_threads(2)  # as a pool thread that ran torch before the service set it
        start.set()
        go.wait(LIVENESS_SECONDS)
        response = make_forecast(
            cache=cache,
            name="sine",
            request=ForecastRequest(horizon=5),
            limits=ForecastLimits.of(settings),
            metrics=ServiceMetrics(),
        )
        assert response.forecast is not None
        seen.extend([len(response.forecast), torch.get_num_threads()])

    thread = threading.Thread(target=worker)
    thread.start()
    start.wait(LIVENESS_SECONDS)
    torch.set_num_threads(1)  # what the lifespan does, in another thread
    go.set()
    thread.join(LIVENESS_SECONDS)
    assert seen == [5, 1]


def test_serve_threads_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORECAST_SERVE_THREADS", "4")
    assert Settings().serve_threads == 4


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_serve_threads_out_of_range_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("FORECAST_SERVE_THREADS", value)
    with pytest.raises(ValidationError, match="serve_threads"):
        Settings()
