"""The repositories: the compare-and-set job life and the datasets, on SQLite and on PostgreSQL
for real."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, update

from app.core.db import make_engine, make_session_factory, utcnow
from app.datasets import DatasetRepository, DatasetRow
from app.jobs.repository import JobRepository, Reaped
from app.jobs.table import JobRow, JobStatus
from tests.waiting import LIVENESS_SECONDS, wait_until

OWNER, OTHER = "a" * 32, "b" * 32
LONG_AGO = timedelta(hours=1)
TIMEOUT = 60.0


def add_job(
    jobs: JobRepository, *, dataset_id: str | None = None, created_at: datetime | None = None
) -> str:
    job_id = uuid.uuid4().hex
    jobs.add(
        JobRow(
            id=job_id,
            model_name="m",
            status=JobStatus.QUEUED,
            spec={"model_name": "m"},
            dataset_id=dataset_id,
            created_at=created_at or utcnow(),
            history=[],
            attempts=0,
        )
    )
    return job_id


def running_job(jobs: JobRepository, token: str = OWNER) -> str:
    job_id = add_job(jobs)
    assert jobs.claim(job_id, token, "host-1:100")
    return job_id


def set_columns(engine: Engine, job_id: str, **values: object) -> None:
    """Write columns behind the store's back (to fake old timestamps)."""
    with engine.begin() as connection:
        connection.execute(update(JobRow).where(JobRow.id == job_id).values(**values))


def make_stale(engine: Engine, job_id: str) -> None:
    set_columns(engine, job_id, heartbeat_at=utcnow() - LONG_AGO)


def reap(jobs: JobRepository, max_attempts: int = 2) -> Reaped:
    return jobs.reap_stale(utcnow() - timedelta(seconds=TIMEOUT), max_attempts, TIMEOUT)


def job(jobs: JobRepository, job_id: str) -> JobRow:
    row = jobs.get(job_id)
    assert row is not None
    return row


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# -- a job's life ----------------------------------------------------------------------------


def test_a_queued_job_is_claimed_once_counting_the_attempt(jobs: JobRepository) -> None:
    before = utcnow()
    job_id = add_job(jobs)
    assert job(jobs, job_id).attempts == 0
    assert jobs.claim(job_id, OWNER, "host-1:100")
    assert not jobs.claim(job_id, OTHER, "host-2:200")
    assert not jobs.claim(uuid.uuid4().hex, OTHER, "host-2:200")
    after = utcnow()

    row = job(jobs, job_id)
    assert row.status == JobStatus.RUNNING
    assert (row.run_token, row.worker, row.attempts) == (OWNER, "host-1:100", 1)
    for stamp in (row.created_at, row.started_at, row.heartbeat_at):
        assert_utc(stamp)
        assert before <= stamp <= after  # type: ignore[operator]
    assert row.finished_at is None


def test_only_the_owner_beats_and_only_while_running(jobs: JobRepository) -> None:
    assert not jobs.heartbeat(add_job(jobs), OWNER)  # queued: nobody owns it yet
    job_id = running_job(jobs)
    first = job(jobs, job_id).heartbeat_at
    assert first is not None
    wait_until(lambda: utcnow() > first, interval=0.001, message="the clock to pass the claim")
    assert jobs.heartbeat(job_id, OWNER)
    second = job(jobs, job_id).heartbeat_at
    assert_utc(second)
    assert second > first  # type: ignore[operator]

    assert not jobs.heartbeat(job_id, OTHER)
    assert job(jobs, job_id).heartbeat_at == second

    assert jobs.finish(job_id, OWNER, JobStatus.SUCCEEDED)
    assert not jobs.heartbeat(job_id, OWNER)


def test_progress_device_and_the_end_are_written_only_with_the_token(jobs: JobRepository) -> None:
    job_id = running_job(jobs)
    epoch = {"epoch": 1, "train_loss": 0.5, "val_loss": 0.6}
    assert not jobs.report_progress(job_id, OTHER, progress={"epoch": 1}, history=[epoch])
    assert not jobs.set_device(job_id, OTHER, "cuda:0")
    assert not jobs.finish(job_id, OTHER, JobStatus.SUCCEEDED, model_version=9)
    row = job(jobs, job_id)
    assert (row.status, row.progress, row.history, row.device) == (
        JobStatus.RUNNING,
        None,
        [],
        None,
    )

    assert jobs.report_progress(job_id, OWNER, progress={"epoch": 1}, history=[epoch])
    assert jobs.set_device(job_id, OWNER, "cpu")
    row = job(jobs, job_id)
    assert (row.progress, row.history, row.device) == ({"epoch": 1}, [epoch], "cpu")

    last = {"epoch": 2, "train_loss": 0.25, "val_loss": 0.3}
    assert jobs.finish(
        job_id,
        OWNER,
        JobStatus.SUCCEEDED,
        metrics={"rmse": 0.1},
        model_version=3,
        history=[epoch, last],
        progress={"epoch": 2},
    )
    row = job(jobs, job_id)
    assert row.status == JobStatus.SUCCEEDED
    assert (row.metrics, row.model_version, row.error) == ({"rmse": 0.1}, 3, None)
    assert (row.history, row.progress) == ([epoch, last], {"epoch": 2})
    assert_utc(row.finished_at)

    # Finished: the owner can change it no more.
    assert not jobs.report_progress(job_id, OWNER, progress={"epoch": 5}, history=[])
    assert not jobs.finish(job_id, OWNER, JobStatus.FAILED, error="late")
    row = job(jobs, job_id)
    assert (row.status, row.error, row.progress) == (JobStatus.SUCCEEDED, None, {"epoch": 2})


def test_cancel_ends_a_queued_job_at_once_and_flags_a_running_one(jobs: JobRepository) -> None:
    queued = add_job(jobs)
    row = jobs.request_cancel(queued)
    assert row is not None
    assert (row.status, row.cancel_requested) == (JobStatus.CANCELLED, True)
    assert_utc(row.finished_at)
    assert not jobs.claim(queued, OWNER, "host-1:100")

    running = running_job(jobs)
    assert not jobs.cancel_requested(running)
    row = jobs.request_cancel(running)
    assert row is not None
    assert (row.status, row.cancel_requested, row.finished_at) == (JobStatus.RUNNING, True, None)
    assert jobs.cancel_requested(running)
    assert jobs.finish(running, OWNER, JobStatus.CANCELLED)

    row = jobs.request_cancel(running)  # finished: returned unchanged
    assert row is not None
    assert row.status == JobStatus.CANCELLED
    assert jobs.request_cancel(uuid.uuid4().hex) is None


def test_fail_queued_touches_only_queued_jobs(jobs: JobRepository) -> None:
    queued, running = add_job(jobs), running_job(jobs)
    assert jobs.fail_queued(queued, "could not be queued: broker down")
    row = job(jobs, queued)
    assert (row.status, row.error) == (JobStatus.FAILED, "could not be queued: broker down")
    assert_utc(row.finished_at)
    assert not jobs.fail_queued(queued, "again")
    assert job(jobs, queued).error == "could not be queued: broker down"

    assert not jobs.fail_queued(running, "nope")
    row = job(jobs, running)
    assert (row.status, row.error) == (JobStatus.RUNNING, None)


def test_fail_running_fails_only_the_listed_running_jobs(jobs: JobRepository) -> None:
    first, second, queued = running_job(jobs), running_job(jobs), add_job(jobs)
    assert jobs.fail_running("interrupted", [first, queued]) == [first]
    assert job(jobs, first).status == JobStatus.FAILED
    assert job(jobs, second).status == JobStatus.RUNNING
    assert job(jobs, queued).status == JobStatus.QUEUED
    assert jobs.fail_running("interrupted") == [second]


def test_listing_counting_and_the_queue_order(jobs: JobRepository) -> None:
    start = utcnow() - timedelta(minutes=10)
    ids = [add_job(jobs, created_at=start + timedelta(seconds=n)) for n in range(4)]
    assert jobs.claim(ids[1], OWNER, "host-1:100")
    assert jobs.queued_job_ids(limit=10) == [ids[0], ids[2], ids[3]]
    assert jobs.queued_job_ids(limit=1) == [ids[0]]
    assert jobs.count_by_status() == {"queued": 3, "running": 1}

    page, total = jobs.page(status=None, limit=2, offset=0)
    assert total == 4
    assert [row.id for row in page] == [ids[3], ids[2]]  # newest first
    page, total = jobs.page(status=JobStatus.RUNNING, limit=10, offset=0)
    assert (total, [row.id for row in page]) == (1, [ids[1]])


# -- the reaper's side -----------------------------------------------------------------------


def test_a_stale_job_is_requeued_then_failed_when_out_of_attempts(
    jobs: JobRepository, engine: Engine
) -> None:
    job_id = running_job(jobs)
    assert jobs.report_progress(job_id, OWNER, progress={"epoch": 3}, history=[{"epoch": 3}])
    assert jobs.set_device(job_id, OWNER, "cuda:0")
    make_stale(engine, job_id)

    assert reap(jobs, max_attempts=2) == Reaped(requeued=[job_id])
    row = job(jobs, job_id)
    assert row.status == JobStatus.QUEUED
    assert (row.run_token, row.progress, row.history, row.heartbeat_at) == (None, None, [], None)
    assert (row.started_at, row.device, row.finished_at, row.error) == (None, None, None, None)
    assert row.attempts == 1
    assert jobs.queued_job_ids(limit=10) == [job_id]

    # The worker that lost it comes back: its token writes nothing any more.
    assert not jobs.heartbeat(job_id, OWNER)
    assert not jobs.report_progress(job_id, OWNER, progress={"epoch": 4}, history=[])
    assert not jobs.set_device(job_id, OWNER, "cpu")
    assert not jobs.finish(job_id, OWNER, JobStatus.SUCCEEDED, model_version=1)
    assert job(jobs, job_id).status == JobStatus.QUEUED

    assert jobs.claim(job_id, OTHER, "host-2:200")
    row = job(jobs, job_id)
    assert (row.attempts, row.worker, row.run_token) == (2, "host-2:200", OTHER)
    make_stale(engine, job_id)

    assert reap(jobs, max_attempts=2) == Reaped(failed=[job_id])
    row = job(jobs, job_id)
    assert (row.status, row.run_token) == (JobStatus.FAILED, None)
    assert row.error is not None
    assert "heartbeat" in row.error
    assert "2 attempt" in row.error
    assert_utc(row.finished_at)
    assert not jobs.heartbeat(job_id, OTHER)
    assert not jobs.finish(job_id, OTHER, JobStatus.SUCCEEDED)
    assert reap(jobs, max_attempts=2) == Reaped()


def test_only_stale_running_jobs_are_reaped(jobs: JobRepository, engine: Engine) -> None:
    fresh = running_job(jobs)
    queued = add_job(jobs, created_at=utcnow() - LONG_AGO)
    finished = running_job(jobs)
    assert jobs.finish(finished, OWNER, JobStatus.SUCCEEDED)
    set_columns(engine, finished, heartbeat_at=utcnow() - LONG_AGO)
    heartbeat = job(jobs, fresh).heartbeat_at

    assert reap(jobs) == Reaped()
    row = job(jobs, fresh)
    assert (row.status, row.run_token, row.heartbeat_at) == (JobStatus.RUNNING, OWNER, heartbeat)
    assert job(jobs, queued).status == JobStatus.QUEUED
    assert job(jobs, finished).status == JobStatus.SUCCEEDED
    assert jobs.heartbeat(fresh, OWNER)


def test_a_stale_job_asked_to_cancel_is_cancelled_not_requeued(
    jobs: JobRepository, engine: Engine
) -> None:
    job_id = running_job(jobs)
    assert jobs.request_cancel(job_id) is not None
    make_stale(engine, job_id)

    assert reap(jobs, max_attempts=5) == Reaped(cancelled=[job_id])
    row = job(jobs, job_id)
    assert (row.status, row.run_token) == (JobStatus.CANCELLED, None)
    assert_utc(row.finished_at)
    assert not jobs.heartbeat(job_id, OWNER)


def test_a_job_that_never_beat_is_stale_by_its_start(jobs: JobRepository, engine: Engine) -> None:
    silent = running_job(jobs)
    set_columns(engine, silent, heartbeat_at=None, started_at=utcnow() - LONG_AGO)
    just_started = running_job(jobs)
    set_columns(engine, just_started, heartbeat_at=None)

    assert reap(jobs) == Reaped(requeued=[silent])
    assert job(jobs, silent).status == JobStatus.QUEUED
    assert job(jobs, just_started).status == JobStatus.RUNNING


def test_the_cutoff_compares_instants_whatever_its_time_zone(
    jobs: JobRepository, engine: Engine
) -> None:
    job_id = running_job(jobs)
    set_columns(engine, job_id, heartbeat_at=utcnow() - timedelta(seconds=30))
    east = timezone(timedelta(hours=5))
    west = timezone(timedelta(hours=-7))
    # In wall-clock terms these cutoffs lie hours away from the heartbeat; as instants they
    # lie 60 s before it (not stale) and 20 s after it (stale).
    earlier = (utcnow() - timedelta(seconds=90)).astimezone(east)
    later = (utcnow() - timedelta(seconds=10)).astimezone(west)
    assert jobs.reap_stale(earlier, 2, TIMEOUT) == Reaped()
    assert jobs.reap_stale(later, 2, TIMEOUT) == Reaped(requeued=[job_id])


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_two_processes_reaping_at_once_act_on_each_job_once(
    url: str, jobs: JobRepository, engine: Engine, max_attempts: int
) -> None:
    job_ids = [running_job(jobs) for _ in range(12)]
    cancelled = job_ids[:3]
    for job_id in cancelled:
        assert jobs.request_cancel(job_id) is not None
    for job_id in job_ids:
        make_stale(engine, job_id)

    other_engine = make_engine(url)  # a second process: its own engine and pool
    try:
        reapers = [jobs, JobRepository(make_session_factory(other_engine))]
        barrier = threading.Barrier(len(reapers))
        results: list[Reaped] = []
        errors: list[BaseException] = []

        def run(reaper: JobRepository) -> None:
            try:
                barrier.wait(timeout=LIVENESS_SECONDS)
                results.append(reap(reaper, max_attempts=max_attempts))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(reaper,)) for reaper in reapers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=LIVENESS_SECONDS)
    finally:
        other_engine.dispose()

    assert errors == []
    assert len(results) == 2
    acted = Counter(job_id for result in results for ids in vars(result).values() for job_id in ids)
    assert acted == Counter(job_ids)  # every job exactly once, in total
    merged = {
        kind: sorted(job_id for result in results for job_id in getattr(result, kind))
        for kind in ("requeued", "failed", "cancelled")
    }
    rest = sorted(job_ids[3:])
    assert merged["cancelled"] == sorted(cancelled)
    assert merged["requeued"] == ([] if max_attempts == 1 else rest)
    assert merged["failed"] == (rest if max_attempts == 1 else [])
    expected = JobStatus.FAILED if max_attempts == 1 else JobStatus.QUEUED
    assert {job(jobs, job_id).status for job_id in rest} == {expected}


# -- datasets --------------------------------------------------------------------------------


def add_dataset(datasets: DatasetRepository, matrix: np.ndarray, *, columns: list[str]) -> str:
    dataset_id = uuid.uuid4().hex
    row = DatasetRow(
        id=dataset_id,
        name="series",
        columns=columns,
        rows=len(matrix),
        stats=[{"mean": 0.0}] * len(columns),
        created_at=utcnow(),
    )
    datasets.add(row, matrix, None, None)
    return dataset_id


def test_dataset_values_round_trip_byte_for_byte(
    datasets: DatasetRepository, tmp_path: Path
) -> None:
    series = np.arange(1000, dtype=np.float64)
    series[[1, 2, 3]] = [np.nan, -np.inf, -0.0]  # bit patterns a text path would lose
    dataset_id = add_dataset(datasets, series.reshape(500, 2), columns=["a", "b"])

    row = datasets.get(dataset_id)
    assert row is not None
    assert datasets.values(row).tobytes() == series.tobytes()
    assert (row.columns, row.rows, row.name) == (["a", "b"], 500, "series")
    assert_utc(row.created_at)
    assert row.stored_as == "parquet"  # in its files, not its row
    assert (tmp_path / "datasets" / dataset_id / "values.parquet").is_file()
    assert datasets.columns(dataset_id) == (500, ["a", "b"])
    assert datasets.columns(uuid.uuid4().hex) is None
    assert datasets.get(uuid.uuid4().hex) is None
    page, total = datasets.page(limit=10, offset=0)
    assert (total, [found.id for found in page]) == (1, [dataset_id])


def test_a_dataset_is_deleted_only_once_no_active_job_reads_it(
    jobs: JobRepository, datasets: DatasetRepository, tmp_path: Path
) -> None:
    dataset_id = add_dataset(datasets, np.ones((10, 1)), columns=["x"])
    job_id = add_job(jobs, dataset_id=dataset_id)
    assert datasets.delete_unused(dataset_id) == (True, 1)
    assert datasets.get(dataset_id) is not None

    assert jobs.claim(job_id, OWNER, "host-1:100")
    assert datasets.delete_unused(dataset_id) == (True, 1)
    assert jobs.finish(job_id, OWNER, JobStatus.SUCCEEDED)

    assert datasets.delete_unused(dataset_id) == (True, 0)
    assert datasets.get(dataset_id) is None
    assert datasets.columns(dataset_id) is None
    assert not (tmp_path / "datasets" / dataset_id).exists()  # its files went with it
    assert datasets.delete_unused(dataset_id) == (False, 0)


def test_timestamps_come_back_in_utc(jobs: JobRepository) -> None:
    local = datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    job_id = add_job(jobs, created_at=local)
    row = job(jobs, job_id)
    assert row.created_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == timedelta(0)


def test_fail_owned_spares_a_job_that_another_worker_took_over(
    jobs: JobRepository, engine: Engine
) -> None:
    job_id = running_job(jobs)
    make_stale(engine, job_id)
    assert reap(jobs).requeued == [job_id]
    assert jobs.claim(job_id, "t" * 32, "second-worker")
    # The first worker's process ends badly now: its report must not fail the new run.
    assert not jobs.fail_owned(job_id, OWNER, "the worker process died")
    assert job(jobs, job_id).status == JobStatus.RUNNING
    assert jobs.fail_owned(job_id, "t" * 32, "the worker process died")
    final = job(jobs, job_id)
    assert (final.status, final.error) == (JobStatus.FAILED, "the worker process died")
