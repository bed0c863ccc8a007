"""Dynamic batching of concurrent forecasts: one rollout, the same rows as alone, a lone
forecast run at once, errors kept to the forecast that caused them. The batcher rolls out
contexts on the model's scale (each forecast scales its own)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

from app.ml.checkpoints import Checkpoint, load
from app.ml.forecast import rollout
from app.registry.batcher import RolloutBatcher
from tests.conftest import AppFactory
from tests.factories import BUNDLED_MODELS
from tests.waiting import LIVENESS_SECONDS, wait_until

CPU = torch.device("cpu")
STEPS = 30


@pytest.fixture(scope="module")
def sine() -> Checkpoint:
    return load(BUNDLED_MODELS / "sine" / "1", CPU)


def contexts(count: int, checkpoint: Checkpoint) -> list[torch.Tensor]:
    """[1, lookback, 1] sine contexts at different phases, model scale."""
    lookback = checkpoint.model.config.lookback
    return [
        torch.sin(0.7 * k + 0.01 * torch.arange(lookback, dtype=torch.float32))[None, :, None]
        for k in range(count)
    ]


def alone(checkpoint: Checkpoint, context: torch.Tensor) -> torch.Tensor:
    """The checkpoint's rollout of one context, by itself."""
    return rollout(checkpoint.model, context, STEPS, checkpoint.rollout_mode)


class Held:
    """A keep_going that holds the rollout asking it until released: the first forecast
    stays under way while the test queues others behind it."""

    def __init__(self) -> None:
        self.running, self.release = threading.Event(), threading.Event()

    def __call__(self) -> bool:
        self.running.set()
        return self.release.wait(LIVENESS_SECONDS)


def queue_behind_a_held_forecast(
    batcher: RolloutBatcher, checkpoint: Checkpoint, given: list[torch.Tensor]
) -> list[Future[torch.Tensor]]:
    """Start given[0] (held under way), queue the rest behind it, then let them all run."""
    held = Held()
    with ThreadPoolExecutor(len(given)) as pool:
        first = pool.submit(batcher.rollout, checkpoint, given[0], STEPS, held)
        assert held.running.wait(LIVENESS_SECONDS)  # the lone forecast runs: nobody held it
        rest = [pool.submit(batcher.rollout, checkpoint, c, STEPS) for c in given[1:]]
        wait_until(lambda: batcher.waiting() == len(rest), message="the forecasts to queue")
        held.release.set()
        return [first, *rest]


def test_forecasts_queued_behind_a_rollout_run_as_one_batch_with_the_same_rows(
    sine: Checkpoint,
) -> None:
    batcher = RolloutBatcher(window_seconds=0.002, max_contexts=1024)
    given = contexts(6, sine)
    futures = queue_behind_a_held_forecast(batcher, sine, given)
    assert list(batcher.batch_sizes) == [1, 5]  # the lone one at once, then the queue together
    for future, context in zip(futures, given, strict=True):
        torch.testing.assert_close(future.result(), alone(sine, context), rtol=1e-5, atol=1e-5)


def test_a_forecast_whose_caller_left_while_queued_gets_no_rows(sine: Checkpoint) -> None:
    batcher = RolloutBatcher(window_seconds=0.0, max_contexts=1024)
    first, gone, stays = contexts(3, sine)
    held = Held()
    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(batcher.rollout, sine, first, STEPS, held)
        assert held.running.wait(LIVENESS_SECONDS)
        left = pool.submit(batcher.rollout, sine, gone, STEPS, lambda: False)
        waiting = pool.submit(batcher.rollout, sine, stays, STEPS)
        wait_until(lambda: batcher.waiting() == 2, message="the forecasts to queue")
        held.release.set()
    assert running.result().shape == (1, STEPS, 1)
    assert left.result().shape == (1, 0, 1)  # nothing rolled out for it
    torch.testing.assert_close(waiting.result(), alone(sine, stays), rtol=1e-5, atol=1e-5)


def test_a_batch_is_cut_at_max_contexts(sine: Checkpoint) -> None:
    batcher = RolloutBatcher(window_seconds=0.0, max_contexts=2)
    futures = queue_behind_a_held_forecast(batcher, sine, contexts(6, sine))
    assert all(future.result().shape == (1, STEPS, 1) for future in futures)
    assert list(batcher.batch_sizes) == [1, 2, 2, 1]


def test_a_failing_forecast_fails_alone(sine: Checkpoint) -> None:
    batcher = RolloutBatcher(window_seconds=0.0, max_contexts=1024)
    given = contexts(4, sine)
    given[2] = torch.cat([given[2], given[2]], dim=2)  # two columns: the model reads one
    futures = queue_behind_a_held_forecast(batcher, sine, given)
    with pytest.raises(Exception) as alone_error:  # noqa: PT011 - compared below
        alone(sine, given[2])
    with pytest.raises(alone_error.type):  # the same error as alone, to its own caller only
        futures[2].result()
    for index in (0, 1, 3):
        expected = alone(sine, given[index])
        torch.testing.assert_close(futures[index].result(), expected, rtol=1e-5, atol=1e-5)


def test_concurrent_requests_answer_as_requests_one_at_a_time(
    make_client: AppFactory, tmp_path: Path
) -> None:
    client: TestClient = make_client(batch_window_ms=2)
    models = tmp_path / "client-0" / "models"
    for path in (BUNDLED_MODELS / "sine" / "1").iterdir():
        (models / "sine" / "1").mkdir(parents=True, exist_ok=True)
        (models / "sine" / "1" / path.name).write_bytes(path.read_bytes())
    bodies = [
        {"horizon": 50, "context": (0.1 * k + np.arange(10) * 0.05).tolist()} for k in range(8)
    ]
    alone = [client.post("/v1/models/sine/forecast", json=body) for body in bodies]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda b: client.post("/v1/models/sine/forecast", json=b), bodies))
    for one, other in zip(alone, together, strict=True):
        assert one.status_code == other.status_code == 200
        np.testing.assert_allclose(other.json()["forecast"], one.json()["forecast"], rtol=1e-5)
