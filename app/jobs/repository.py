"""The jobs table's SQL. Job state changes only through compare-and-set methods here.

A running job belongs to the worker holding its `run_token`: progress and the final state are
written only while the row is still running under that token, so a worker whose job was marked
interrupted or cancelled elsewhere can never overwrite it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session, defer, sessionmaker

from app.core.db import Repository, utcnow
from app.datasets import DatasetFiles, DatasetRepository
from app.jobs.table import JobRow, JobStatus

logger = logging.getLogger("app.jobs")

INTERRUPTED = "interrupted: the service stopped while this job was running; submit it again"


@dataclass
class Reaped:
    """What one pass over stale running jobs did, by job id."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)


def log_transition(job_id: str, model_name: str, status: str, **fields: object) -> None:
    """The one structured log line per job state change (logfmt)."""
    extra = "".join(f" {key}={value!r}" for key, value in fields.items() if value is not None)
    logger.info("job_state job_id=%s model=%s status=%s%s", job_id, model_name, status, extra)


class JobRepository(Repository):
    """Queries over the jobs table; each method is its own short transaction."""

    def add(self, row: JobRow) -> JobRow:
        """Insert a new queued job."""
        with self._session() as session:
            session.add(row)
        log_transition(row.id, row.model_name, row.status)
        return row

    def get(self, job_id: str) -> JobRow | None:
        """One job, or None."""
        with self._session() as session:
            return session.get(JobRow, job_id)

    def history(self, job_id: str) -> list[dict[str, Any]] | None:
        """One job's loss history (its other columns unread), or None if there is no such job."""
        with self._session() as session:
            found = session.execute(select(JobRow.history).where(JobRow.id == job_id)).first()
            return None if found is None else list(found[0] or [])

    def page(
        self, *, status: JobStatus | None, limit: int, offset: int
    ) -> tuple[list[JobRow], int]:
        """Newest first, optionally of one status; returns (page, total)."""
        query = select(JobRow).options(defer(JobRow.spec), defer(JobRow.history))  # not listed
        count = select(func.count()).select_from(JobRow)
        if status is not None:
            query, count = (
                query.where(JobRow.status == status),
                count.where(JobRow.status == status),
            )
        with self._session() as session:
            total = session.scalar(count) or 0
            rows = session.scalars(
                query.order_by(JobRow.created_at.desc(), JobRow.id).limit(limit).offset(offset)
            ).all()
            return list(rows), total

    def count_by_status(self) -> dict[str, int]:
        """{status: count} for every status that has jobs."""
        with self._session() as session:
            rows = session.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
            return {str(status): int(count) for status, count in rows}

    def queued_job_ids(self, limit: int) -> list[str]:
        """The oldest queued jobs, in the order they were submitted."""
        with self._session() as session:
            query = (
                select(JobRow.id)
                .where(JobRow.status == JobStatus.QUEUED)
                .order_by(JobRow.created_at, JobRow.id)
                .limit(limit)
            )
            return list(session.scalars(query))

    def claim(self, job_id: str, token: str, worker: str) -> bool:
        """queued -> running under `token`, counting the attempt; False if someone else took it
        or it was cancelled."""
        now = utcnow()
        with self._session() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == JobStatus.QUEUED)
                .values(
                    status=JobStatus.RUNNING,
                    run_token=token,
                    started_at=now,
                    heartbeat_at=now,
                    worker=worker,
                    attempts=JobRow.attempts + 1,
                )
            )
            claimed = bool(result.rowcount == 1)  # type: ignore[attr-defined]
            row = session.get(JobRow, job_id) if claimed else None
        if row is not None:
            log_transition(
                job_id, row.model_name, JobStatus.RUNNING, worker=worker, attempt=row.attempts
            )
        return claimed

    def heartbeat(self, job_id: str, token: str) -> bool:
        """Say an owned job's worker is alive; False means the job is no longer ours."""
        with self._session() as session:
            result = session.execute(self._owned(job_id, token).values(heartbeat_at=utcnow()))
            return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def reap_stale(self, silent_since: datetime, max_attempts: int, timeout: float) -> Reaped:
        """Running jobs with no heartbeat since `silent_since` lost their worker: cancel those a
        client asked to cancel, re-queue those with attempts left, fail the rest.

        Each step is a compare-and-set on the stale condition, so reapers in several processes
        never act twice on one job, and a worker that comes back finds its token gone.
        """
        stale = and_(
            JobRow.status == JobStatus.RUNNING,
            or_(
                JobRow.heartbeat_at < silent_since,
                and_(JobRow.heartbeat_at.is_(None), JobRow.started_at < silent_since),
            ),
        )
        lost = f"the worker running this job stopped (no heartbeat for {timeout:g} s)"
        reaped = Reaped()
        with self._session() as session:
            reaped.cancelled = self._transition(
                session, stale & JobRow.cancel_requested.is_(True),
                status=JobStatus.CANCELLED, finished_at=utcnow(), run_token=None,
            )  # fmt: skip
            reaped.requeued = self._transition(
                session, stale & (JobRow.attempts < max_attempts),
                status=JobStatus.QUEUED, run_token=None, started_at=None, heartbeat_at=None,
                progress=None, history=[], device=None,
            )  # fmt: skip
            reaped.failed = self._transition(
                session, stale,
                status=JobStatus.FAILED, finished_at=utcnow(), run_token=None,
                error=f"{lost} on each of its {max_attempts} attempt(s); it was not retried "
                "again: look for crashed or killed workers (for example out of memory)",
            )  # fmt: skip
        for job_id in reaped.requeued:
            logger.warning("job %s re-queued: %s", job_id, lost)
        return reaped

    @staticmethod
    def _transition(session: Session, condition: Any, **values: Any) -> list[str]:
        """UPDATE the jobs matching `condition` to `values` (with a status); their ids, each
        logged."""
        found = session.execute(
            update(JobRow).where(condition).values(**values).returning(JobRow.id, JobRow.model_name)
        ).all()
        for job_id, model_name in found:
            log_transition(job_id, model_name, values["status"], error=values.get("error"))
        return [job_id for job_id, _ in found]

    def _owned(self, job_id: str, token: str) -> Any:
        return update(JobRow).where(
            JobRow.id == job_id, JobRow.status == JobStatus.RUNNING, JobRow.run_token == token
        )

    def report_progress(
        self, job_id: str, token: str, *, progress: dict[str, Any], history: list[dict[str, Any]]
    ) -> bool:
        """Write progress of a job this worker owns; False means the worker must stop."""
        with self._session() as session:
            result = session.execute(
                self._owned(job_id, token).values(progress=progress, history=history)
            )
            return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def set_device(self, job_id: str, token: str, device: str) -> bool:
        """Record the device an owned job trains on."""
        with self._session() as session:
            result = session.execute(self._owned(job_id, token).values(device=device))
            return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def cancel_requested(self, job_id: str) -> bool:
        """Whether a client asked to cancel this job (the worker polls this)."""
        with self._session() as session:
            return bool(session.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id)))

    def finish(
        self,
        job_id: str,
        token: str,
        status: JobStatus,
        *,
        metrics: dict[str, Any] | None = None,
        model_version: int | None = None,
        error: str | None = None,
        history: list[dict[str, Any]] | None = None,
        progress: dict[str, Any] | None = None,
    ) -> bool:
        """running -> a final status, only for the worker that owns the job; the last history
        and progress are written in the same transaction."""
        values: dict[str, Any] = {"history": history} if history is not None else {}
        if progress is not None:
            values["progress"] = progress
        with self._session() as session:
            result = session.execute(
                self._owned(job_id, token).values(
                    status=status,
                    finished_at=utcnow(),
                    metrics=metrics,
                    model_version=model_version,
                    error=error,
                    **values,
                )
            )
            done = bool(result.rowcount == 1)  # type: ignore[attr-defined]
            row = session.get(JobRow, job_id) if done else None
        if row is not None:
            log_transition(job_id, row.model_name, status, version=model_version, error=error)
        return done

    def request_cancel(self, job_id: str) -> JobRow | None:
        """Cancel a queued job at once, flag a running one; returns the row (None if unknown).

        One UPDATE, so a job re-queued by a reaper at the same moment is still cancelled. A
        finished job is returned unchanged: the caller decides what that means.
        """
        queued = JobRow.status == JobStatus.QUEUED
        with self._session() as session:
            session.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id, JobRow.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
                )
                .values(
                    cancel_requested=True,
                    status=case((queued, JobStatus.CANCELLED.value), else_=JobRow.status),
                    finished_at=case((queued, utcnow()), else_=JobRow.finished_at),
                )
            )
            row = session.get(JobRow, job_id)
        if row is not None and row.status == JobStatus.CANCELLED and row.started_at is None:
            log_transition(job_id, row.model_name, row.status)
        return row

    def fail_owned(self, job_id: str, token: str, reason: str) -> bool:
        """running -> failed with `reason`, only while `token` still owns the job (a job the
        reaper re-queued and another worker took is left alone)."""
        owned = and_(
            JobRow.id == job_id, JobRow.status == JobStatus.RUNNING, JobRow.run_token == token
        )
        return bool(self._fail(owned, reason))

    def fail_running(self, reason: str, job_ids: list[str] | None = None) -> list[str]:
        """running -> failed with `reason`, for all running jobs or those listed; their ids."""
        running = JobRow.status == JobStatus.RUNNING
        return self._fail(running if job_ids is None else running & JobRow.id.in_(job_ids), reason)

    def fail_queued(self, job_id: str, reason: str) -> bool:
        """queued -> failed with `reason` (the job could not be handed to a worker)."""
        return bool(self._fail((JobRow.id == job_id) & (JobRow.status == JobStatus.QUEUED), reason))

    def _fail(self, condition: Any, reason: str) -> list[str]:
        with self._session() as session:
            return self._transition(
                session, condition, status=JobStatus.FAILED, error=reason, finished_at=utcnow()
            )


def active_jobs_reading(session: Session, dataset_id: str) -> int:
    """Queued or running jobs that read `dataset_id`: such a dataset must not be deleted."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(JobRow)
            .where(
                JobRow.dataset_id == dataset_id,
                JobRow.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]),
            )
        )
        or 0
    )


def open_repositories(
    sessions: sessionmaker,  # type: ignore[type-arg]
    datasets_dir: Path,
) -> tuple[JobRepository, DatasetRepository]:
    """The job and dataset repositories over one database (datasets' files in `datasets_dir`);
    a dataset that queued or running jobs read is never deleted (checked in the deleting
    transaction)."""
    datasets = DatasetRepository(
        sessions, in_use=active_jobs_reading, files=DatasetFiles(datasets_dir)
    )
    return JobRepository(sessions), datasets
