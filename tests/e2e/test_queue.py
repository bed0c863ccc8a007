"""The queue executor end to end: the API and two Celery workers (`forecast-service worker`) on
the real Redis and PostgreSQL on loopback, training for real, in these tests' own database and
queue. The tests run in file order on one stack; the last one kills a worker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.databases import REDIS_URL, postgres_database
from tests.e2e.server import Server, Worker
from tests.e2e.test_service import LONG_JOB, SINE_JOB, metric
from tests.factories import PANEL_SERIES, PANEL_SPEC, panel_csv, untimed

pytestmark = [pytest.mark.slow, pytest.mark.services]

HEARTBEAT = {"heartbeat_seconds": 0.5, "heartbeat_timeout_seconds": 3}
# Long enough to still be running when a test acts on it, short enough to finish after a re-run.
KILL_JOB = {
    "model_name": "survivor",
    "data": {"function": "sin", "params": {"points": 20000, "stop": 2000.0}},
    "training": {"epochs": 12, "early_stopping_patience": 0},
}


class Stack:
    """One API and two workers sharing a database, a queue and a models folder."""

    def __init__(self, root: Path, database_url: str, queue: str) -> None:
        shared = {"database_url": database_url, "broker_url": REDIS_URL, "queue_name": queue}
        shared |= HEARTBEAT | {"models_dir": root / "models", "datasets_dir": root / "datasets"}
        self.api = Server(root, **shared)
        self.workers = [Worker(root, f"worker-{n}", **shared) for n in (1, 2)]

    def start(self) -> Stack:
        for worker in self.workers:
            worker.start()
        self.api.start()
        return self

    def stop(self) -> None:
        self.api.stop()
        for worker in self.workers:
            worker.stop()

    def owner(self, job: dict[str, Any]) -> Worker:
        """The worker whose pool process ran `job` (its `worker` field is host:pid)."""
        pid = int(job["worker"].rsplit(":", 1)[1])
        owners = [worker for worker in self.workers if worker.owns(pid)]
        assert len(owners) == 1, f"no single worker owns pid {pid}"
        return owners[0]

    def submit(self, spec: dict[str, Any]) -> str:
        response = self.api.http.post("/v1/jobs", json=spec)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    queue = f"forecast-test-{uuid.uuid4().hex[:8]}"
    with postgres_database() as database_url:
        running = Stack(tmp_path_factory.mktemp("queue"), database_url, queue).start()
        try:
            yield running
        finally:
            running.stop()
            _clean_redis(queue)


def _clean_redis(queue: str) -> None:
    """Remove the queue, kombu's bindings of it and the killed worker's unacknowledged message."""
    client = redis.Redis.from_url(REDIS_URL)
    leftovers = client.keys(f"*{queue}*")
    if leftovers:
        client.delete(*leftovers)
    for tag, message in client.hgetall("unacked").items():
        if queue.encode() in message:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.close()


def test_four_jobs_are_shared_by_two_workers(stack: Stack) -> None:
    ids = [stack.submit(SINE_JOB | {"model_name": f"queued-{n}"}) for n in range(4)]
    done = [stack.api.wait_for(job_id, {"succeeded", "failed", "cancelled"}) for job_id in ids]
    assert [job["status"] for job in done] == ["succeeded"] * 4, [job["error"] for job in done]
    assert {stack.owner(job).name for job in done} == {"worker-1", "worker-2"}
    assert all(job["attempts"] == 1 for job in done)

    # The checkpoints the workers wrote are served by the API.
    forecast = stack.api.http.post("/v1/models/queued-0/forecast", json={"horizon": 50})
    assert forecast.status_code == 200, forecast.text
    assert len(forecast.json()["forecast"]) == 50

    # Each worker's own /metrics counts the epochs it trained.
    epochs = dict.fromkeys(("worker-1", "worker-2"), 0)
    for job in done:
        epochs[stack.owner(job).name] += job["metrics"]["epochs_run"]
    for worker in stack.workers:
        text = worker.metrics.get("/metrics").text
        assert metric(text, "forecast_epochs_trained_total") == epochs[worker.name]


def test_cancel_reaches_a_job_running_on_a_worker(stack: Stack) -> None:
    job_id = stack.submit(LONG_JOB)
    running = stack.api.wait_for_epoch(job_id)
    assert running["status"] == "running"
    assert stack.api.http.post(f"/v1/jobs/{job_id}/cancel").status_code == 202
    cancelled = stack.api.wait_for(job_id, {"cancelled", "succeeded", "failed"})
    assert cancelled["status"] == "cancelled"
    assert cancelled["progress"]["epoch"] < 5000  # stopped mid-run, not run to its end
    assert stack.api.http.get("/v1/models/long").status_code == 404  # nothing published


def test_same_spec_same_metrics_on_the_local_and_the_queue_executor(
    stack: Stack, tmp_path: Path
) -> None:
    spec = SINE_JOB | {"model_name": "same"}
    queued = stack.api.wait_for(stack.submit(spec), {"succeeded", "failed"})
    local_server = Server(tmp_path).start()
    try:
        submitted = local_server.http.post("/v1/jobs", json=spec).json()["id"]
        local = local_server.wait_for(submitted, {"succeeded", "failed"})
    finally:
        local_server.stop()
    assert queued["status"] == local["status"] == "succeeded"

    assert untimed(queued["metrics"]) == untimed(local["metrics"])
    assert queued["history"][-1]["val_loss"] == local["history"][-1]["val_loss"]


def test_a_global_model_trains_on_a_worker_as_it_does_locally(stack: Stack, tmp_path: Path) -> None:
    def train_panel(server: Server) -> dict[str, Any]:
        files = {"file": ("panel.csv", panel_csv().encode(), "text/csv")}
        dataset = server.http.post("/v1/datasets", files=files).json()
        spec = PANEL_SPEC | {"model_name": "panel", "data": {"dataset_id": dataset["id"]}}
        submitted = server.http.post("/v1/jobs", json=spec).json()["id"]
        return server.wait_for(submitted, {"succeeded", "failed"})

    queued = train_panel(stack.api)
    local_server = Server(tmp_path).start()
    try:
        local = train_panel(local_server)
    finally:
        local_server.stop()
    assert queued["status"] == local["status"] == "succeeded", (queued["error"], local["error"])
    assert queued["metrics"]["series"] == local["metrics"]["series"]
    answer = stack.api.http.post("/v1/models/panel/forecast", json={"horizon": 2})
    assert [item["id"] for item in answer.json()["series"]] == list(PANEL_SERIES)


def test_killed_worker_job_is_requeued_and_finished_by_the_other(stack: Stack) -> None:
    job_id = stack.submit(KILL_JOB)
    running = stack.api.wait_for_epoch(job_id)
    victim = stack.owner(running)
    victim.kill_hard()  # kill -9 of the worker and its pool process, mid-training

    # Re-queued once its heartbeat is older than the timeout, then run again from the start.
    done = stack.api.wait_for(job_id, {"succeeded", "failed", "cancelled"}, timeout=180)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    assert stack.owner(done) is not victim
    running_jobs = stack.api.http.get("/v1/jobs", params={"status": "running"}).json()
    assert running_jobs["total"] == 0
