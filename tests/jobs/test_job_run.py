"""JobRun through the real job path, in this process (InlineRunner)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from app.core.db import utcnow
from app.datasets import create_dataset
from app.jobs.repository import INTERRUPTED
from app.jobs.run import JobRun
from app.jobs.table import JobRow, JobStatus
from app.ml import serving
from app.ml.checkpoints import load
from app.registry.cache import ModelCache
from app.registry.checkpoint_store import CheckpointStore
from tests.factories import Repositories, inline_repositories, run_inline, untimed
from tests.waiting import LIVENESS_SECONDS, wait_until

SMALL = {
    "model_name": "small",
    "data": {"function": "sin", "params": {"points": 400, "stop": 40}},
    "architecture": {"hidden_size": 6, "num_layers": 1},
    "training": {"epochs": 4, "seed": 7},
}


def losses(row: JobRow) -> list[tuple[float, float]]:
    return [(epoch["train_loss"], epoch["val_loss"]) for epoch in row.history]


def test_same_spec_and_seed_give_the_same_losses_and_metrics(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    first, second = run_inline(settings, repos, SMALL), run_inline(settings, repos, SMALL)
    assert first.status == second.status == JobStatus.SUCCEEDED
    assert losses(first) == losses(second)
    assert untimed(first.metrics) == untimed(second.metrics)
    other_seed = SMALL | {"training": SMALL["training"] | {"seed": 8}}
    assert losses(run_inline(settings, repos, other_seed)) != losses(first)


def test_each_success_writes_a_new_version_that_round_trips(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    first, second = run_inline(settings, repos, SMALL), run_inline(settings, repos, SMALL)
    assert (first.model_version, second.model_version) == (1, 2)
    models = CheckpointStore(settings.models_dir)
    assert models.versions("small") == [1, 2]
    checkpoint = load(models.version_dir("small", 2), torch.device("cpu"))
    assert checkpoint.meta.job_id == second.id
    assert checkpoint.meta.spec["training"]["seed"] == 7  # type: ignore[index]
    assert checkpoint.meta.metrics == second.metrics
    # The cache serves the very model the checkpoint holds, with its scaler and tail.
    cached = ModelCache(models, torch.device("cpu"), size=2).get("small", 2)
    direct = serving.forecast(checkpoint, serving.continuing(checkpoint, [0]), 25, []).values
    served = serving.forecast(cached, serving.continuing(cached, [0]), 25, []).values
    np.testing.assert_array_equal(direct, served)
    leftovers = [p.name for p in settings.models_dir.iterdir() if p.name.startswith(".t")]
    assert leftovers == []  # temporary folders were renamed into place, none left behind


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {
                "training": {
                    "optimizer": "sgd",
                    "learning_rate": 10.0,
                    "grad_clip": 0,
                    "scaling": "none",  # x sin x up to 400: gradients no step size survives
                    "epochs": 3,
                }
            },
            "lower the learning rate",
        ),
    ],
)
def test_failures_are_recorded_with_an_actionable_reason(
    tmp_path: Path, change: dict[str, Any], reason: str
) -> None:
    settings, repos = inline_repositories(tmp_path)
    spec = SMALL | change
    spec = spec | {"data": {"function": "x_sin", "params": {"points": 400, "stop": 400}}}
    row = run_inline(settings, repos, spec)
    assert row.status == JobStatus.FAILED
    assert reason in (row.error or "")
    assert row.model_version is None
    assert CheckpointStore(settings.models_dir).versions("small") == []


def queue(repos: Repositories, spec: dict[str, Any]) -> JobRow:
    """Add `spec` as a queued job behind the submission's checks, as a worker finds it."""
    row = JobRow(
        id=uuid.uuid4().hex,
        model_name=spec["model_name"],
        status=JobStatus.QUEUED,
        spec=spec,
        created_at=utcnow(),
        history=[],
    )
    repos.jobs.add(row)
    return row


def test_a_job_owned_by_another_token_is_left_alone(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    row = queue(repos, SMALL)
    assert repos.jobs.claim(row.id, "mine", "test-worker")
    job_run(settings, repos, row.id).run_claimed("not-mine")
    after = repos.jobs.get(row.id)
    assert after is not None
    assert after.status == JobStatus.RUNNING  # untouched: only the owner may write
    assert after.history == []


def job_run(settings: Any, repos: Repositories, job_id: str) -> JobRun:
    return JobRun(
        job_id,
        jobs=repos.jobs,
        datasets=repos.datasets,
        checkpoints=CheckpointStore(settings.models_dir),
        settings=settings,
    )


def run_in_thread(
    settings: Any, repos: Repositories, spec: dict[str, Any]
) -> tuple[str, threading.Thread]:
    """Queue `spec`, claim it, and train it on a thread; returns (job id, thread)."""
    row = queue(repos, spec)
    token = uuid.uuid4().hex
    assert repos.jobs.claim(row.id, token, "test-worker")
    thread = threading.Thread(target=job_run(settings, repos, row.id).run_claimed, args=(token,))
    thread.start()
    return row.id, thread


LONG = SMALL | {"training": {"epochs": 5000, "early_stopping_patience": 0}}


def wait_for_progress(repos: Repositories, job_id: str) -> None:
    def progress() -> dict[str, Any] | None:
        row = repos.jobs.get(job_id)
        assert row is not None
        return row.progress

    wait_until(progress, message=f"job {job_id} to report progress")


def test_cancel_flag_stops_a_running_job_as_cancelled(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    job_id, thread = run_in_thread(settings, repos, LONG)
    wait_for_progress(repos, job_id)
    repos.jobs.request_cancel(job_id)
    thread.join(timeout=LIVENESS_SECONDS)
    assert not thread.is_alive()
    row = repos.jobs.get(job_id)
    assert row is not None
    assert row.status == JobStatus.CANCELLED
    assert row.progress["epoch"] < 5000
    assert CheckpointStore(settings.models_dir).versions("small") == []  # nothing saved


def test_a_job_marked_interrupted_meanwhile_stops_and_stays_failed(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    job_id, thread = run_in_thread(settings, repos, LONG)
    wait_for_progress(repos, job_id)
    assert repos.jobs.fail_running(INTERRUPTED, [job_id]) == [job_id]
    thread.join(timeout=LIVENESS_SECONDS)
    assert not thread.is_alive()
    row = repos.jobs.get(job_id)
    assert row is not None
    assert row.status == JobStatus.FAILED
    assert row.error == INTERRUPTED


def test_jobs_train_on_an_uploaded_dataset_and_on_inline_values(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    x = np.linspace(0, 60, 600)
    matrix = np.stack([np.sin(x), np.cos(x)], axis=1)
    dataset = create_dataset(
        datasets=repos.datasets, name="pair", matrix=matrix, columns=["s", "c"]
    )
    small = {k: v for k, v in SMALL.items() if k != "data"}
    from_dataset = run_inline(settings, repos, small | {"data": {"dataset_id": dataset.id}})
    assert from_dataset.status == JobStatus.SUCCEEDED, from_dataset.error
    inline = {"values": np.sin(x).tolist(), "columns": ["load"]}
    from_inline = run_inline(settings, repos, small | {"data": inline})
    assert from_inline.status == JobStatus.SUCCEEDED, from_inline.error
    assert from_inline.spec["data"] == {"dataset_id": from_inline.dataset_id}
    models = CheckpointStore(settings.models_dir)
    assert load(models.version_dir("small", 1), torch.device("cpu")).meta.columns == ["s", "c"]
    assert load(models.version_dir("small", 2), torch.device("cpu")).meta.columns == ["load"]


def test_early_stopped_job_keeps_every_epoch_of_its_history(tmp_path: Path) -> None:
    settings, repos = inline_repositories(tmp_path)
    training = {"epochs": 200, "early_stopping_patience": 2, "min_relative_delta": 0.5}
    row = run_inline(settings, repos, SMALL | {"training": training})
    assert row.status == JobStatus.SUCCEEDED, row.error
    assert row.metrics["stop_reason"] == "early_stopping"
    assert [e["epoch"] for e in row.history] == list(range(1, row.metrics["epochs_run"] + 1))
    assert row.progress["epoch"] == row.metrics["epochs_run"]
    assert row.progress["fraction"] == 1.0


def test_progress_shows_the_job_started_before_its_series_is_loaded(tmp_path: Path) -> None:
    """Epoch 0 is written before loading and preparing the series: here the dataset vanished
    behind the service's back, so the job fails while loading, with that progress kept."""
    settings, repos = inline_repositories(tmp_path)
    x = np.linspace(0, 60, 600)
    dataset = create_dataset(
        datasets=repos.datasets, name="gone", matrix=np.sin(x)[:, None], columns=["s"]
    )
    spec = {**SMALL, "data": {"dataset_id": dataset.id}}
    row = queue(repos, spec)
    with repos.datasets._session() as session:  # not through the service: it would refuse
        session.delete(session.get(type(dataset), dataset.id))
    job_run(settings, repos, row.id).claim_and_run()
    final = repos.jobs.get(row.id)
    assert final is not None
    assert final.status == JobStatus.FAILED
    assert "no longer exists" in (final.error or "")
    assert final.progress is not None
    assert (final.progress["epoch"], final.progress["epochs"], final.progress["fraction"]) == (
        0,
        4,
        0.0,
    )
