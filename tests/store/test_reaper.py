"""The reaper and the heartbeat thread against a real store (SQLite, and PostgreSQL once)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
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
from tests.waiting import LIVENESS_SECONDS, wait_until

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


def heartbeat_at(jobs: JobRepository, job_id: str) -> datetime | None:
    row = jobs.get(job_id)
    assert row is not None
    return row.heartbeat_at


def moved_on(jobs: JobRepository, job_id: str, since: datetime | None) -> datetime | None:
    """The job's heartbeat if it has moved on from `since`, else None."""
    now = heartbeat_at(jobs, job_id)
    return now if now != since else None


class CountingJobs(JobRepository):
    """The job repository, recording the cut-off (`silent_since`) of every finished reaper pass:
    a pass whose cut-off is later than a job's heartbeat would have reaped it, had it stayed
    silent. (The reaper exposes no pass counter of its own.)"""

    def __init__(self, engine: Engine) -> None:
        super().__init__(make_session_factory(engine))
        self.passes: list[datetime] = []

    def reap_stale(self, silent_since: datetime, max_attempts: int, timeout: float) -> Reaped:
        reaped = super().reap_stale(silent_since, max_attempts, timeout)
        self.passes.append(silent_since)
        return reaped


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


def test_the_reaper_thread_requeues_a_stale_job_and_spares_a_beating_one(
    jobs: JobRepository, engine: Engine, tmp_path: Path
) -> None:
    # A timeout 40 times the beat interval: a busy machine can delay a beat, not by that much.
    settings = make_settings(tmp_path, heartbeat_seconds=0.2, heartbeat_timeout_seconds=2)
    stale, alive = running_job(jobs), running_job(jobs)
    make_stale(engine, stale)
    claimed_at = heartbeat_at(jobs, alive)
    assert claimed_at is not None
    counting, runner = CountingJobs(engine), RecordingRunner()
    reaper = Reaper(counting, runner, settings)
    with Heartbeat(jobs, alive, OWNER, interval=0.05) as beat:
        reaper.start()
        try:
            wait_until(lambda: status(jobs, stale) == JobStatus.QUEUED, message="the reap")
            wait_until(lambda: runner.submitted == [stale], message="the hand-over")
            # Rather than sleeping "long enough": a later pass, one that would have reaped
            # `alive` had its heartbeat been silent since it was claimed.
            wait_until(
                lambda: any(cutoff > claimed_at for cutoff in counting.passes),
                message="a pass past the timeout of the beating job",
            )
        finally:
            reaper.stop()
    assert not reaper._thread.is_alive()
    assert runner.submitted == [stale]  # handed over once, not again on the later passes
    assert status(jobs, alive) == JobStatus.RUNNING  # its heartbeat kept it
    assert not beat.lost.is_set()


def test_stopping_the_reaper_cuts_its_wait_short(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, heartbeat_seconds=600, heartbeat_timeout_seconds=1800)
    counting = CountingJobs(engine)
    reaper = Reaper(counting, RecordingRunner(), settings)
    reaper.start()
    reaper.stop()
    reaper._thread.join(timeout=LIVENESS_SECONDS)  # far less than the 600 s it would wait
    assert not reaper._thread.is_alive()
    assert counting.passes == []  # stopped in its wait for the first pass


def test_the_heartbeat_keeps_an_owned_job_alive_and_notices_when_it_is_lost(
    jobs: JobRepository,
) -> None:
    job_id = running_job(jobs)
    with Heartbeat(jobs, job_id, OWNER, interval=0.05) as beat:
        seen = [heartbeat_at(jobs, job_id)]
        for _ in range(3):  # it keeps moving forward
            seen.append(wait_until(lambda: moved_on(jobs, job_id, seen[-1]), message="a beat"))
        assert seen == sorted(seen)  # type: ignore[type-var]
        assert not beat.lost.is_set()

        # A reaper somewhere decided this worker was gone: the token is cleared.
        reaped = jobs.reap_stale(utcnow() + timedelta(seconds=5), 2, 0.6)
        assert reaped.requeued == [job_id]
        assert beat.lost.wait(LIVENESS_SECONDS)
        row = jobs.get(job_id)
        assert row is not None
        assert (row.status, row.run_token, row.heartbeat_at) == (JobStatus.QUEUED, None, None)
    assert not beat._thread.is_alive()


def test_leaving_the_heartbeat_stops_the_beats(jobs: JobRepository) -> None:
    job_id, witness = running_job(jobs), running_job(jobs)
    claimed_at = heartbeat_at(jobs, job_id)
    with Heartbeat(jobs, witness, OWNER, interval=0.05):  # a clock that keeps beating
        with Heartbeat(jobs, job_id, OWNER, interval=0.05) as beat:
            wait_until(lambda: moved_on(jobs, job_id, claimed_at), message="a beat")
        assert not beat._thread.is_alive()
        last = heartbeat_at(jobs, job_id)
        # Rather than sleeping: the witness, on the same interval, beats three more times; the
        # heartbeat we left would have beaten meanwhile too, had it not stopped.
        seen = [heartbeat_at(jobs, witness)]
        for _ in range(3):
            seen.append(wait_until(lambda: moved_on(jobs, witness, seen[-1]), message="a beat"))
        assert heartbeat_at(jobs, job_id) == last
    assert not beat.lost.is_set()


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
