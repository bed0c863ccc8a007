"""The jobs domain's dependencies (set on app.state by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.deps import from_state
from app.jobs.executors import JobRunner
from app.jobs.feeds import JobFeeds
from app.jobs.repository import JobRepository

JobsDep = Annotated[JobRepository, Depends(from_state("jobs"))]
RunnerDep = Annotated[JobRunner, Depends(from_state("runner"))]  # where submitted jobs run
FeedsDep = Annotated[JobFeeds, Depends(from_state("feeds"))]  # the jobs' live event streams
