"""End to end: the real server over HTTP, real worker processes, real training."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from tests.e2e.server import Server
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

# sin on [0, 200] with 2,000 points: 0.1 rad a step, so 10 rows span a whole radian.
SINE_PARAMS = {"points": 2000, "stop": 200.0}
SINE_JOB = {
    "model_name": "e2e-sine",
    "data": {"function": "sin", "params": SINE_PARAMS},
    "training": {"epochs": 15},
}
# Long enough to still be running when a test acts on it.
LONG_JOB = {
    "model_name": "long",
    "data": {"function": "sin", "params": {"points": 20000, "stop": 2000.0}},
    "training": {"epochs": 5000, "early_stopping_patience": 0},
}


def metric(text: str, name: str) -> float:
    """The value of one sample line of the Prometheus text format."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def test_train_sine_poll_and_forecast_200_steps(server: Server) -> None:
    submitted = server.http.post("/v1/jobs", json=SINE_JOB)
    assert submitted.status_code == 202
    job_id = submitted.json()["id"]
    assert submitted.headers["location"] == f"/v1/jobs/{job_id}"

    running = server.wait_for_epoch(job_id)
    assert running["status"] == "running"
    assert running["progress"]["epochs"] == 15
    assert 0 < running["progress"]["fraction"] <= 1
    # Training runs elsewhere, not in the event loop: the server answers meanwhile (within the
    # HTTP client's timeout; how fast is bench/'s business). See also the cancel test below.
    assert server.http.get("/healthz").status_code == 200

    done = server.wait_for(job_id, {"succeeded", "failed"})
    assert done["status"] == "succeeded", done["error"]
    assert done["model"] == {"name": "e2e-sine", "version": 1}
    assert len(done["history"]) == done["metrics"]["epochs_run"]
    metrics = done["metrics"]
    assert metrics["one_step"]["mse"] < metrics["naive_one_step"]["mse"]
    assert metrics["rollout"]["rmse"] < metrics["naive_rollout"]["rmse"]

    forecast = server.http.post("/v1/models/e2e-sine/forecast", json={"horizon": 200})
    assert forecast.status_code == 200
    predicted = np.asarray(forecast.json()["forecast"])[:, 0]
    step = SINE_PARAMS["stop"] / (SINE_PARAMS["points"] - 1)
    truth = np.sin(SINE_PARAMS["stop"] + step * np.arange(1, 201))
    assert float(np.sqrt(np.mean((predicted - truth) ** 2))) < 0.05

    # Epochs reach the API's metrics through a queue from the worker: wait until all have.
    def all_epochs_counted() -> str | None:
        text = server.http.get("/metrics").text
        trained = metric(text, "forecast_epochs_trained_total")
        return text if trained >= metrics["epochs_run"] else None

    text = wait_until(all_epochs_counted, interval=0.1, message="every epoch in /metrics")
    assert metric(text, 'forecast_jobs{status="succeeded"}') == 1
    assert metric(text, "forecast_epochs_trained_total") == metrics["epochs_run"]
    assert metric(text, "forecast_epoch_duration_seconds_count") == metrics["epochs_run"]
    assert metric(text, 'forecast_rollout_duration_seconds_count{device="cpu"}') == 1
    assert metric(text, "forecast_rollout_horizon_steps_sum") == 200
    assert metric(text, "forecast_models_loaded") == 1
    forecast_route = 'route="/v1/models/{model_name}/forecast",status="200"'
    assert metric(text, f'forecast_http_requests_total{{method="POST",{forecast_route}}}') == 1


def test_cancel_running_job_stops_it_and_frees_the_worker(server: Server) -> None:
    long_id = server.http.post("/v1/jobs", json=LONG_JOB).json()["id"]
    waiting_id = server.http.post("/v1/jobs", json=SINE_JOB).json()["id"]
    server.wait_for_epoch(long_id)
    assert server.http.get(f"/v1/jobs/{waiting_id}").json()["status"] == "queued"  # one worker
    # It trains in a worker process of the server's, and the server answers while it does.
    assert server.process is not None
    assert len(job_processes(server.process.pid)) == 1
    assert server.http.get("/healthz").status_code == 200
    assert server.http.get(f"/v1/jobs/{long_id}").json()["status"] == "running"

    cancel = server.http.post(f"/v1/jobs/{long_id}/cancel")
    assert cancel.status_code == 202
    assert cancel.json()["cancel_requested"] is True
    cancelled = server.wait_for(long_id, {"cancelled", "failed", "succeeded"})
    assert cancelled["status"] == "cancelled"
    assert cancelled["progress"]["epoch"] < 5000
    assert server.http.post(f"/v1/jobs/{long_id}/cancel").status_code == 409

    freed = server.wait_for(waiting_id, {"succeeded", "failed"})
    assert freed["status"] == "succeeded", freed["error"]
    assert server.http.get("/v1/models/long").status_code == 404  # a cancelled job saves nothing


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is `parent` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def test_a_worker_process_that_dies_fails_its_job_and_frees_the_slot(server: Server) -> None:
    long_id = server.http.post("/v1/jobs", json=LONG_JOB).json()["id"]
    next_id = server.http.post("/v1/jobs", json=SINE_JOB).json()["id"]
    server.wait_for_epoch(long_id)
    assert server.process is not None
    workers = job_processes(server.process.pid)
    assert len(workers) == 1
    os.kill(workers[0].pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    died = server.wait_for(long_id, {"failed", "succeeded", "cancelled"})
    assert died["status"] == "failed"
    assert "worker process died" in died["error"]
    assert server.wait_for(next_id, {"succeeded", "failed"})["status"] == "succeeded"


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class Process(NamedTuple):
    """One process, told apart from a later one that reuses its pid by its start time."""

    pid: int
    started: str

    def alive(self) -> bool:
        """Whether it still exists and can still run (a zombie cannot write anything)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return False
        return fields[0] != "Z" and fields[19] == self.started  # state; starttime (field 22)


def job_processes(server_pid: int) -> list[Process]:
    """The server's worker processes (spawned children), each running one job."""
    found = []
    for pid in child_pids(server_pid):
        if b"spawn_main" not in cmdline(pid):
            continue
        try:
            started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        except OSError:  # it ended meanwhile
            continue
        found.append(Process(pid, started))
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM])
def test_restart_fails_the_interrupted_job_and_runs_the_queue(
    tmp_path: Path, stop_signal: int
) -> None:
    first = Server(tmp_path).start()
    long_id = first.http.post("/v1/jobs", json=LONG_JOB).json()["id"]
    queued_id = first.http.post("/v1/jobs", json=SINE_JOB).json()["id"]
    first.wait_for_epoch(long_id)
    assert first.process is not None
    orphans = job_processes(first.process.pid)  # what would be orphaned if it outlived `first`
    assert len(orphans) == 1
    first.stop(stop_signal)

    second = Server(tmp_path)
    second.port, second.http = first.port, first.http  # same address, same store
    second.env = first.env
    second.start()
    try:
        interrupted = second.http.get(f"/v1/jobs/{long_id}").json()
        assert interrupted["status"] == "failed"
        assert interrupted["error"].startswith("interrupted")
        finished = second.wait_for(queued_id, {"succeeded", "failed"})
        assert finished["status"] == "succeeded", finished["error"]
        # The first server's worker process dies with it; once it is gone, nothing can write
        # the interrupted job any more, so its state below is final.
        wait_until(
            lambda: not any(process.alive() for process in orphans),
            message=f"the first server's worker process {orphans} to end with it",
        )
        assert second.http.get(f"/v1/jobs/{long_id}").json()["status"] == "failed"
        running = second.http.get("/v1/jobs", params={"status": "running"}).json()
        assert running["total"] == 0
    finally:
        second.stop()
