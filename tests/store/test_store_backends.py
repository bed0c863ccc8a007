"""The Store's compare-and-set job life and its datasets, on SQLite and on PostgreSQL for real."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import Engine, inspect, update

from app.db import DatasetRow, JobRow, JobStatus, make_engine, make_session_factory, utcnow
from app.store import Reaped, Store

OWNER, OTHER = "a" * 32, "b" * 32
LONG_AGO = timedelta(hours=1)
TIMEOUT = 60.0


def add_job(
    store: Store, *, dataset_id: str | None = None, created_at: datetime | None = None
) -> str:
    job_id = uuid.uuid4().hex
    store.add_job(
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


def running_job(store: Store, token: str = OWNER) -> str:
    job_id = add_job(store)
    assert store.claim(job_id, token, "host-1:100")
    return job_id


def set_columns(engine: Engine, job_id: str, **values: object) -> None:
    """Write columns behind the store's back (to fake old timestamps)."""
    with engine.begin() as connection:
        connection.execute(update(JobRow).where(JobRow.id == job_id).values(**values))


def make_stale(engine: Engine, job_id: str) -> None:
    set_columns(engine, job_id, heartbeat_at=utcnow() - LONG_AGO)


def reap(store: Store, max_attempts: int = 2) -> Reaped:
    return store.reap_stale(utcnow() - timedelta(seconds=TIMEOUT), max_attempts, TIMEOUT)


def job(store: Store, job_id: str) -> JobRow:
    row = store.get_job(job_id)
    assert row is not None
    return row


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


# -- a job's life ----------------------------------------------------------------------------


def test_a_queued_job_is_claimed_once_counting_the_attempt(store: Store) -> None:
    before = utcnow()
    job_id = add_job(store)
    assert job(store, job_id).attempts == 0
    assert store.claim(job_id, OWNER, "host-1:100")
    assert not store.claim(job_id, OTHER, "host-2:200")
    assert not store.claim(uuid.uuid4().hex, OTHER, "host-2:200")
    after = utcnow()

    row = job(store, job_id)
    assert row.status == JobStatus.RUNNING
    assert (row.run_token, row.worker, row.attempts) == (OWNER, "host-1:100", 1)
    for stamp in (row.created_at, row.started_at, row.heartbeat_at):
        assert_utc(stamp)
        assert before <= stamp <= after  # type: ignore[operator]
    assert row.finished_at is None


def test_only_the_owner_beats_and_only_while_running(store: Store) -> None:
    assert not store.heartbeat(add_job(store), OWNER)  # queued: nobody owns it yet
    job_id = running_job(store)
    first = job(store, job_id).heartbeat_at
    time.sleep(0.01)
    assert store.heartbeat(job_id, OWNER)
    second = job(store, job_id).heartbeat_at
    assert_utc(second)
    assert second > first  # type: ignore[operator]

    assert not store.heartbeat(job_id, OTHER)
    assert job(store, job_id).heartbeat_at == second

    assert store.finish(job_id, OWNER, JobStatus.SUCCEEDED)
    assert not store.heartbeat(job_id, OWNER)


def test_progress_device_and_the_end_are_written_only_with_the_token(store: Store) -> None:
    job_id = running_job(store)
    epoch = {"epoch": 1, "train_loss": 0.5, "val_loss": 0.6}
    assert not store.report_progress(job_id, OTHER, progress={"epoch": 1}, history=[epoch])
    assert not store.set_device(job_id, OTHER, "cuda:0")
    assert not store.finish(job_id, OTHER, JobStatus.SUCCEEDED, model_version=9)
    row = job(store, job_id)
    assert (row.status, row.progress, row.history, row.device) == (
        JobStatus.RUNNING,
        None,
        [],
        None,
    )

    assert store.report_progress(job_id, OWNER, progress={"epoch": 1}, history=[epoch])
    assert store.set_device(job_id, OWNER, "cpu")
    row = job(store, job_id)
    assert (row.progress, row.history, row.device) == ({"epoch": 1}, [epoch], "cpu")

    last = {"epoch": 2, "train_loss": 0.25, "val_loss": 0.3}
    assert store.finish(
        job_id,
        OWNER,
        JobStatus.SUCCEEDED,
        metrics={"rmse": 0.1},
        model_version=3,
        history=[epoch, last],
        progress={"epoch": 2},
    )
    row = job(store, job_id)
    assert row.status == JobStatus.SUCCEEDED
    assert (row.metrics, row.model_version, row.error) == ({"rmse": 0.1}, 3, None)
    assert (row.history, row.progress) == ([epoch, last], {"epoch": 2})
    assert_utc(row.finished_at)

    # Finished: the owner can change it no more.
    assert not store.report_progress(job_id, OWNER, progress={"epoch": 5}, history=[])
    assert not store.finish(job_id, OWNER, JobStatus.FAILED, error="late")
    row = job(store, job_id)
    assert (row.status, row.error, row.progress) == (JobStatus.SUCCEEDED, None, {"epoch": 2})


def test_cancel_ends_a_queued_job_at_once_and_flags_a_running_one(store: Store) -> None:
    queued = add_job(store)
    row = store.request_cancel(queued)
    assert row is not None
    assert (row.status, row.cancel_requested) == (JobStatus.CANCELLED, True)
    assert_utc(row.finished_at)
    assert not store.claim(queued, OWNER, "host-1:100")

    running = running_job(store)
    assert not store.cancel_requested(running)
    row = store.request_cancel(running)
    assert row is not None
    assert (row.status, row.cancel_requested, row.finished_at) == (JobStatus.RUNNING, True, None)
    assert store.cancel_requested(running)
    assert store.finish(running, OWNER, JobStatus.CANCELLED)

    row = store.request_cancel(running)  # finished: returned unchanged
    assert row is not None
    assert row.status == JobStatus.CANCELLED
    assert store.request_cancel(uuid.uuid4().hex) is None


def test_fail_queued_touches_only_queued_jobs(store: Store) -> None:
    queued, running = add_job(store), running_job(store)
    assert store.fail_queued(queued, "could not be queued: broker down")
    row = job(store, queued)
    assert (row.status, row.error) == (JobStatus.FAILED, "could not be queued: broker down")
    assert_utc(row.finished_at)
    assert not store.fail_queued(queued, "again")
    assert job(store, queued).error == "could not be queued: broker down"

    assert not store.fail_queued(running, "nope")
    row = job(store, running)
    assert (row.status, row.error) == (JobStatus.RUNNING, None)


def test_fail_running_fails_only_the_listed_running_jobs(store: Store) -> None:
    first, second, queued = running_job(store), running_job(store), add_job(store)
    assert store.fail_running("interrupted", [first, queued]) == [first]
    assert job(store, first).status == JobStatus.FAILED
    assert job(store, second).status == JobStatus.RUNNING
    assert job(store, queued).status == JobStatus.QUEUED
    assert store.fail_running("interrupted") == [second]


def test_listing_counting_and_the_queue_order(store: Store) -> None:
    start = utcnow() - timedelta(minutes=10)
    ids = [add_job(store, created_at=start + timedelta(seconds=n)) for n in range(4)]
    assert store.claim(ids[1], OWNER, "host-1:100")
    assert store.queued_job_ids(limit=10) == [ids[0], ids[2], ids[3]]
    assert store.queued_job_ids(limit=1) == [ids[0]]
    assert store.count_jobs_by_status() == {"queued": 3, "running": 1}

    page, total = store.list_jobs(status=None, limit=2, offset=0)
    assert total == 4
    assert [row.id for row in page] == [ids[3], ids[2]]  # newest first
    page, total = store.list_jobs(status=JobStatus.RUNNING, limit=10, offset=0)
    assert (total, [row.id for row in page]) == (1, [ids[1]])


# -- the reaper's side -----------------------------------------------------------------------


def test_a_stale_job_is_requeued_then_failed_when_out_of_attempts(
    store: Store, engine: Engine
) -> None:
    job_id = running_job(store)
    assert store.report_progress(job_id, OWNER, progress={"epoch": 3}, history=[{"epoch": 3}])
    assert store.set_device(job_id, OWNER, "cuda:0")
    make_stale(engine, job_id)

    assert reap(store, max_attempts=2) == Reaped(requeued=[job_id])
    row = job(store, job_id)
    assert row.status == JobStatus.QUEUED
    assert (row.run_token, row.progress, row.history, row.heartbeat_at) == (None, None, [], None)
    assert (row.started_at, row.device, row.finished_at, row.error) == (None, None, None, None)
    assert row.attempts == 1
    assert store.queued_job_ids(limit=10) == [job_id]

    # The worker that lost it comes back: its token writes nothing any more.
    assert not store.heartbeat(job_id, OWNER)
    assert not store.report_progress(job_id, OWNER, progress={"epoch": 4}, history=[])
    assert not store.set_device(job_id, OWNER, "cpu")
    assert not store.finish(job_id, OWNER, JobStatus.SUCCEEDED, model_version=1)
    assert job(store, job_id).status == JobStatus.QUEUED

    assert store.claim(job_id, OTHER, "host-2:200")
    row = job(store, job_id)
    assert (row.attempts, row.worker, row.run_token) == (2, "host-2:200", OTHER)
    make_stale(engine, job_id)

    assert reap(store, max_attempts=2) == Reaped(failed=[job_id])
    row = job(store, job_id)
    assert (row.status, row.run_token) == (JobStatus.FAILED, None)
    assert row.error is not None
    assert "heartbeat" in row.error
    assert "2 attempt" in row.error
    assert_utc(row.finished_at)
    assert not store.heartbeat(job_id, OTHER)
    assert not store.finish(job_id, OTHER, JobStatus.SUCCEEDED)
    assert reap(store, max_attempts=2) == Reaped()


def test_only_stale_running_jobs_are_reaped(store: Store, engine: Engine) -> None:
    fresh = running_job(store)
    queued = add_job(store, created_at=utcnow() - LONG_AGO)
    finished = running_job(store)
    assert store.finish(finished, OWNER, JobStatus.SUCCEEDED)
    set_columns(engine, finished, heartbeat_at=utcnow() - LONG_AGO)
    heartbeat = job(store, fresh).heartbeat_at

    assert reap(store) == Reaped()
    row = job(store, fresh)
    assert (row.status, row.run_token, row.heartbeat_at) == (JobStatus.RUNNING, OWNER, heartbeat)
    assert job(store, queued).status == JobStatus.QUEUED
    assert job(store, finished).status == JobStatus.SUCCEEDED
    assert store.heartbeat(fresh, OWNER)


def test_a_stale_job_asked_to_cancel_is_cancelled_not_requeued(
    store: Store, engine: Engine
) -> None:
    job_id = running_job(store)
    assert store.request_cancel(job_id) is not None
    make_stale(engine, job_id)

    assert reap(store, max_attempts=5) == Reaped(cancelled=[job_id])
    row = job(store, job_id)
    assert (row.status, row.run_token) == (JobStatus.CANCELLED, None)
    assert_utc(row.finished_at)
    assert not store.heartbeat(job_id, OWNER)


def test_a_job_that_never_beat_is_stale_by_its_start(store: Store, engine: Engine) -> None:
    silent = running_job(store)
    set_columns(engine, silent, heartbeat_at=None, started_at=utcnow() - LONG_AGO)
    just_started = running_job(store)
    set_columns(engine, just_started, heartbeat_at=None)

    assert reap(store) == Reaped(requeued=[silent])
    assert job(store, silent).status == JobStatus.QUEUED
    assert job(store, just_started).status == JobStatus.RUNNING


def test_the_cutoff_compares_instants_whatever_its_time_zone(store: Store, engine: Engine) -> None:
    job_id = running_job(store)
    set_columns(engine, job_id, heartbeat_at=utcnow() - timedelta(seconds=30))
    east = timezone(timedelta(hours=5))
    west = timezone(timedelta(hours=-7))
    # In wall-clock terms these cutoffs lie hours away from the heartbeat; as instants they
    # lie 60 s before it (not stale) and 20 s after it (stale).
    earlier = (utcnow() - timedelta(seconds=90)).astimezone(east)
    later = (utcnow() - timedelta(seconds=10)).astimezone(west)
    assert store.reap_stale(earlier, 2, TIMEOUT) == Reaped()
    assert store.reap_stale(later, 2, TIMEOUT) == Reaped(requeued=[job_id])


@pytest.mark.parametrize("max_attempts", [1, 2])
def test_two_processes_reaping_at_once_act_on_each_job_once(
    url: str, store: Store, engine: Engine, max_attempts: int
) -> None:
    jobs = [running_job(store) for _ in range(12)]
    cancelled = jobs[:3]
    for job_id in cancelled:
        assert store.request_cancel(job_id) is not None
    for job_id in jobs:
        make_stale(engine, job_id)

    other_engine = make_engine(url)  # a second process: its own engine and pool
    try:
        reapers = [store, Store(make_session_factory(other_engine))]
        barrier = threading.Barrier(len(reapers))
        results: list[Reaped] = []
        errors: list[BaseException] = []

        def run(reaper: Store) -> None:
            try:
                barrier.wait(timeout=10)
                results.append(reap(reaper, max_attempts=max_attempts))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(reaper,)) for reaper in reapers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        other_engine.dispose()

    assert errors == []
    assert len(results) == 2
    acted = Counter(job_id for result in results for ids in vars(result).values() for job_id in ids)
    assert acted == Counter(jobs)  # every job exactly once, in total
    merged = {
        kind: sorted(job_id for result in results for job_id in getattr(result, kind))
        for kind in ("requeued", "failed", "cancelled")
    }
    rest = sorted(jobs[3:])
    assert merged["cancelled"] == sorted(cancelled)
    assert merged["requeued"] == ([] if max_attempts == 1 else rest)
    assert merged["failed"] == (rest if max_attempts == 1 else [])
    expected = JobStatus.FAILED if max_attempts == 1 else JobStatus.QUEUED
    assert {job(store, job_id).status for job_id in rest} == {expected}


# -- datasets --------------------------------------------------------------------------------


def add_dataset(store: Store, values: bytes, *, rows: int, columns: list[str]) -> str:
    dataset_id = uuid.uuid4().hex
    store.add_dataset(
        DatasetRow(
            id=dataset_id,
            name="series",
            columns=columns,
            rows=rows,
            stats=[{"mean": 0.0}] * len(columns),
            values=values,
            created_at=utcnow(),
        )
    )
    return dataset_id


def test_dataset_values_round_trip_byte_for_byte(store: Store) -> None:
    series = np.arange(1000, dtype=np.float64)
    series[[1, 2, 3]] = [np.nan, -np.inf, -0.0]  # bit patterns a text path would lose
    dataset_id = add_dataset(store, series.tobytes(), rows=500, columns=["a", "b"])

    row = store.get_dataset(dataset_id, with_values=True)
    assert row is not None
    assert row.values == series.tobytes()
    assert np.array_equal(np.frombuffer(row.values, dtype=np.float64), series, equal_nan=True)
    assert (row.columns, row.rows, row.name) == (["a", "b"], 500, "series")
    assert_utc(row.created_at)

    light = store.get_dataset(dataset_id)
    assert light is not None
    assert "values" in inspect(light).unloaded  # not read unless asked for
    assert store.dataset_columns(dataset_id) == (500, ["a", "b"])
    assert store.dataset_columns(uuid.uuid4().hex) is None
    assert store.get_dataset(uuid.uuid4().hex) is None
    page, total = store.list_datasets(limit=10, offset=0)
    assert (total, [found.id for found in page]) == (1, [dataset_id])


def test_a_dataset_is_deleted_only_once_no_active_job_reads_it(store: Store) -> None:
    dataset_id = add_dataset(store, np.ones(10).tobytes(), rows=10, columns=["x"])
    job_id = add_job(store, dataset_id=dataset_id)
    assert store.delete_unused_dataset(dataset_id) == (True, 1)
    assert store.get_dataset(dataset_id) is not None

    assert store.claim(job_id, OWNER, "host-1:100")
    assert store.delete_unused_dataset(dataset_id) == (True, 1)
    assert store.finish(job_id, OWNER, JobStatus.SUCCEEDED)

    assert store.delete_unused_dataset(dataset_id) == (True, 0)
    assert store.get_dataset(dataset_id) is None
    assert store.dataset_columns(dataset_id) is None
    assert store.delete_unused_dataset(dataset_id) == (False, 0)


def test_timestamps_come_back_in_utc(store: Store) -> None:
    local = datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    job_id = add_job(store, created_at=local)
    row = job(store, job_id)
    assert row.created_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == timedelta(0)


def test_fail_owned_spares_a_job_that_another_worker_took_over(
    store: Store, engine: Engine
) -> None:
    job_id = running_job(store)
    make_stale(engine, job_id)
    assert reap(store).requeued == [job_id]
    assert store.claim(job_id, "t" * 32, "second-worker")
    # The first worker's process ends badly now: its report must not fail the new run.
    assert not store.fail_owned(job_id, OWNER, "the worker process died")
    assert job(store, job_id).status == JobStatus.RUNNING
    assert store.fail_owned(job_id, "t" * 32, "the worker process died")
    final = job(store, job_id)
    assert (final.status, final.error) == (JobStatus.FAILED, "the worker process died")
