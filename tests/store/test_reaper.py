"""The reaper and the heartbeat thread against a real store (SQLite, and PostgreSQL once)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory, utcnow
from app.jobs.heartbeat import Heartbeat
from app.jobs.reaper import Reaper, reap_once
from app.jobs.repository import JobRepository, Reaped
from app.jobs.table import JobRow, JobStatus
from app.migrations import upgrade
from tests.factories import make_settings

OWNER = "c" * 32
LONG_AGO = timedelta(minutes=10)


class RecordingRunner:
    """Stands in for the executor: remembers which jobs it was handed."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, job_id: str) -> None:
        self.submitted.append(job_id)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only here (conftest's `jobs` runs on it); one test adds PostgreSQL."""
    engine = make_engine(f"sqlite:///{tmp_path}/store.db")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path, heartbeat_seconds=0.2, heartbeat_timeout_seconds=0.6, max_attempts=2
    )


def test_a_timeout_of_exactly_three_heartbeats_is_accepted(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, heartbeat_seconds=0.2, heartbeat_timeout_seconds=0.6)
    assert settings.heartbeat_timeout_seconds == 0.6


def test_a_timeout_under_three_heartbeats_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 3 x heartbeat_seconds"):
        make_settings(tmp_path, heartbeat_seconds=0.2, heartbeat_timeout_seconds=0.5)


def running_job(jobs: JobRepository, *, attempts: int = 1) -> str:
    """A job claimed `attempts` times, running now."""
    job_id = uuid.uuid4().hex
    jobs.add(
        JobRow(
            id=job_id,
            model_name="m",
            status=JobStatus.QUEUED,
            spec={"model_name": "m"},
            created_at=utcnow(),
            history=[],
            attempts=attempts - 1,
        )
    )
    assert jobs.claim(job_id, OWNER, "host:1")
    return job_id


def make_stale(engine: Engine, job_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(JobRow).where(JobRow.id == job_id).values(heartbeat_at=utcnow() - LONG_AGO)
        )


def status(jobs: JobRepository, job_id: str) -> str:
    row = jobs.get(job_id)
    assert row is not None
    return row.status


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def reap_once_hands_back_only_requeued_jobs(engine: Engine, settings: Settings) -> None:
    jobs = JobRepository(make_session_factory(engine))
    retry, spent, cancel, alive = (
        running_job(jobs, attempts=1),
        running_job(jobs, attempts=2),
        running_job(jobs, attempts=1),
        running_job(jobs, attempts=1),
    )
    assert jobs.request_cancel(cancel) is not None
    for job_id in (retry, spent, cancel):
        make_stale(engine, job_id)

    runner = RecordingRunner()
    assert reap_once(jobs, runner, settings) == Reaped(
        requeued=[retry], failed=[spent], cancelled=[cancel]
    )
    assert runner.submitted == [retry]
    assert [status(jobs, job_id) for job_id in (retry, spent, cancel, alive)] == [
        JobStatus.QUEUED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.RUNNING,
    ]
    assert reap_once(jobs, runner, settings) == Reaped()  # nothing is handed over twice
    assert runner.submitted == [retry]


def test_reap_once_resubmits_only_the_requeued_jobs(engine: Engine, settings: Settings) -> None:
    reap_once_hands_back_only_requeued_jobs(engine, settings)


def test_reap_once_resubmits_only_the_requeued_jobs_on_postgresql(
    postgres_url: str, settings: Settings
) -> None:
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        reap_once_hands_back_only_requeued_jobs(engine, settings)
    finally:
        engine.dispose()


def test_the_reaper_thread_requeues_a_stale_job_and_stops_promptly(
    jobs: JobRepository, engine: Engine, settings: Settings
) -> None:
    stale, alive = running_job(jobs), running_job(jobs)
    make_stale(engine, stale)
    runner = RecordingRunner()
    reaper = Reaper(jobs, runner, settings)
    with Heartbeat(jobs, alive, OWNER, interval=0.05) as beat:
        reaper.start()
        try:
            assert wait_until(lambda: status(jobs, stale) == JobStatus.QUEUED, timeout=3)
            assert wait_until(lambda: runner.submitted == [stale], timeout=1)
            time.sleep(2 * settings.heartbeat_timeout_seconds)  # long enough to reap a silent one
        finally:
            started = time.monotonic()
            reaper.stop()
            stopped_in = time.monotonic() - started
    assert stopped_in < 1.0
    assert not reaper._thread.is_alive()
    assert runner.submitted == [stale]
    assert status(jobs, alive) == JobStatus.RUNNING  # its heartbeat kept it
    assert not beat.lost.is_set()


def test_the_heartbeat_keeps_an_owned_job_alive_and_notices_when_it_is_lost(
    jobs: JobRepository,
) -> None:
    job_id = running_job(jobs)

    def beat_at() -> object:
        row = jobs.get(job_id)
        assert row is not None
        return row.heartbeat_at

    with Heartbeat(jobs, job_id, OWNER, interval=0.05) as beat:
        seen = [beat_at()]
        for _ in range(3):  # it keeps moving forward
            assert wait_until(lambda: beat_at() != seen[-1], timeout=1)
            seen.append(beat_at())
        assert seen == sorted(seen)  # type: ignore[type-var]
        assert not beat.lost.is_set()

        # A reaper somewhere decided this worker was gone: the token is cleared.
        reaped = jobs.reap_stale(utcnow() + timedelta(seconds=5), 2, 0.6)
        assert reaped.requeued == [job_id]
        assert beat.lost.wait(1.0)
        row = jobs.get(job_id)
        assert row is not None
        assert (row.status, row.run_token, row.heartbeat_at) == (JobStatus.QUEUED, None, None)
    assert not beat._thread.is_alive()


def test_leaving_the_heartbeat_stops_the_beats(jobs: JobRepository) -> None:
    job_id = running_job(jobs)
    with Heartbeat(jobs, job_id, OWNER, interval=0.05) as beat:
        time.sleep(0.15)
    row = jobs.get(job_id)
    assert row is not None
    last = row.heartbeat_at
    time.sleep(0.2)
    row = jobs.get(job_id)
    assert row is not None
    assert row.heartbeat_at == last
    assert not beat.lost.is_set()
    assert not beat._thread.is_alive()


class FlakyRunner(RecordingRunner):
    """A runner whose first hand-over fails, as when the broker blinks."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def submit(self, job_id: str) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker unreachable")
        super().submit(job_id)


def test_a_failed_hand_over_is_retried_on_the_next_pass(engine: Engine, settings: Settings) -> None:
    jobs = JobRepository(make_session_factory(engine))
    stale = sorted(running_job(jobs) for _ in range(3))
    for job_id in stale:
        make_stale(engine, job_id)
    runner, unsent = FlakyRunner(), set[str]()

    reaped = reap_once(jobs, runner, settings, unsent)
    assert sorted(reaped.requeued) == stale
    assert runner.submitted == stale[1:]  # the first failed, the others still went
    assert unsent == {stale[0]}

    assert reap_once(jobs, runner, settings, unsent) == Reaped()  # nothing newly stale ...
    assert runner.submitted == [*stale[1:], stale[0]]  # ... but the unsent job goes now
    assert unsent == set()
