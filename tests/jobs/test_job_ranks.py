"""A job's fit shared by processes: the worker starts its other ranks on this host, or torchrun
starts them all, and either way the job trains the model one process would have."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from app.jobs.table import JobRow, JobStatus
from app.main import create_app
from app.registry import CheckpointStore
from tests.factories import (
    PANEL_SPEC,
    ROOT,
    Repositories,
    inline_repositories,
    make_settings,
    panel_csv,
    train_on_panel,
)
from tests.jobs.test_job_run import LONG, run_in_thread
from tests.waiting import LIVENESS_SECONDS, wait_until

SPEC: dict[str, Any] = PANEL_SPEC | {
    "training": PANEL_SPEC["training"] | {"epochs": 5, "batch_size": 25, "seed": 3}
}


def shared(processes: int) -> dict[str, Any]:
    return SPEC | {"training": SPEC["training"] | {"processes": processes}}


def curve(row: JobRow) -> list[tuple[float, float]]:
    return [(epoch["train_loss"], epoch["val_loss"]) for epoch in row.history]


def test_a_job_on_two_processes_trains_the_model_of_one(tmp_path: Path) -> None:
    alone = train_on_panel(tmp_path / "one", SPEC)
    both = train_on_panel(tmp_path / "two", shared(2))
    assert both.spec["training"]["processes"] == 2
    assert len(curve(both)) == len(curve(alone)) == 5
    np.testing.assert_allclose(curve(both), curve(alone), rtol=1e-5, atol=1e-6)
    assert both.metrics is not None
    assert alone.metrics is not None
    np.testing.assert_allclose(both.metrics["mean"]["rmse"], alone.metrics["mean"]["rmse"],
                               rtol=1e-4)  # fmt: skip
    assert both.model_version == 1


def test_torchrun_runs_a_queued_job_on_its_ranks(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)  # no workers: the job waits in the queue for torchrun
    with TestClient(create_app(settings)) as client:
        files = {"file": ("p.csv", panel_csv().encode(), "text/csv")}
        dataset = client.post("/v1/datasets", files=files).json()["id"]
        job = client.post("/v1/jobs", json=shared(2) | {"data": {"dataset_id": dataset}})
        assert job.status_code == 202, job.text
    env = os.environ | {
        "FORECAST_DATABASE_URL": settings.database_url,
        "FORECAST_MODELS_DIR": str(settings.models_dir),
        "FORECAST_DATASETS_DIR": str(settings.datasets_dir),
        "FORECAST_DEVICE": "cpu",
    }
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "app.jobs.rank", job.json()["id"]]  # fmt: skip
    ran = subprocess.run(command, cwd=ROOT, env=env, timeout=LIVENESS_SECONDS,
                         capture_output=True, text=True)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    _, repos = inline_repositories(tmp_path)
    row = repos.jobs.get(job.json()["id"])
    assert row is not None
    assert row.status == JobStatus.SUCCEEDED, row.error
    assert len(row.history) == 5
    assert row.model_version == 1
    # The same job asks again: already run, so rank 0 claims nothing and every rank leaves.
    again = subprocess.run(command, cwd=ROOT, env=env, timeout=LIVENESS_SECONDS,
                           capture_output=True, text=True)  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "is not queued" in again.stderr
    # A job for 3 processes that torchrun starts on 2 fails, saying so, and no rank waits on.
    with TestClient(create_app(settings)) as client:
        odd = client.post("/v1/jobs", json=shared(3) | {"data": {"dataset_id": dataset}}).json()
    command[-1] = odd["id"]
    subprocess.run(command, cwd=ROOT, env=env, timeout=LIVENESS_SECONDS, capture_output=True)
    failed = repos.jobs.get(odd["id"])
    assert failed is not None
    assert failed.status == JobStatus.FAILED
    assert failed.error == "training.processes is 3, but the job was started on 2 processes"


def ranks_of(job_id: str) -> list[int]:
    """The pids of the processes a job's rank 0 started on this host."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # not a process, or one that just ended
        if b"app.jobs.rank" in command and job_id.encode() in command:
            found.append(int(entry.name))
    return found


def wait_for_an_epoch(repos: Repositories, job_id: str) -> None:
    def epoch() -> object:
        row = repos.jobs.get(job_id)
        return row is not None and row.progress and row.progress.get("epoch")

    wait_until(epoch, message=f"job {job_id} to finish an epoch")


LONG_SHARED = LONG | {"training": LONG["training"] | {"processes": 2}}


def test_a_cancel_stops_every_process_of_the_job(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    job_id, thread = run_in_thread(settings, repos, LONG_SHARED)
    wait_for_an_epoch(repos, job_id)
    assert len(ranks_of(job_id)) == 1
    repos.jobs.request_cancel(job_id)
    thread.join(timeout=LIVENESS_SECONDS)
    row = repos.jobs.get(job_id)
    assert row is not None
    assert row.status == JobStatus.CANCELLED, row.error
    assert CheckpointStore(settings.models_dir).versions("small") == []
    wait_until(lambda: not ranks_of(job_id), message="the other rank to exit")


def test_a_rank_that_dies_fails_the_job_naming_it(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    job_id, thread = run_in_thread(settings, repos, LONG_SHARED)
    wait_for_an_epoch(repos, job_id)
    (other,) = ranks_of(job_id)
    os.kill(other, signal.SIGKILL)
    thread.join(timeout=LIVENESS_SECONDS)
    row = repos.jobs.get(job_id)
    assert row is not None
    assert row.status == JobStatus.FAILED
    assert "process 2 of the fit's 2 stopped" in (row.error or ""), row.error
