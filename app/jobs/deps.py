"""The jobs domain's dependency getters: objects built in the lifespan, read from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.jobs.executors import JobRunner
from app.jobs.repository import JobRepository


def get_jobs(request: Request) -> JobRepository:
    """The job repository."""
    return request.app.state.jobs  # type: ignore[no-any-return]


def get_runner(request: Request) -> JobRunner:
    """Where submitted jobs run."""
    return request.app.state.runner  # type: ignore[no-any-return]


JobsDep = Annotated[JobRepository, Depends(get_jobs)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
