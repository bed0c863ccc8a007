"""A job's fit shared by processes (`training.processes`): the ranks of `app.ml.ranks`.

The worker that claimed the job is rank 0 and starts the others on this host as
`python -m app.jobs.rank JOB_ID` processes (`app.jobs.local_ranks`), which load the same series,
fit beside it and exit; rank 0 alone reports progress, hears cancel requests and publishes the
model.

Run under `torchrun` on every host (it sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT), the same entry point runs a queued job across hosts: its rank 0 claims the job
as any worker would, and the others follow it (`README.md`, "One job across processes").
"""

from __future__ import annotations

import logging
import os
import sys
import uuid

from app.core.config import Settings
from app.core.logging import configure_logging
from app.jobs.executors.local import die_with_parent
from app.jobs.heartbeat import worker_name
from app.jobs.local_ranks import STARTED_BY, rank_0_store, rank_threads
from app.jobs.run import JobRun, job_run
from app.ml.budget import TrainingCancelled
from app.ml.device import use_threads
from app.ml.fit import TrainingDiverged
from app.ml.ranks import join, leave

logger = logging.getLogger(__name__)


def run_rank(run: JobRun, rank: int, size: int, local_rank: int, *, claim: bool) -> None:
    """Be rank `rank` of `size` fitting `run`'s job. With `claim` (under torchrun), rank 0
    claims the queued job and runs it, and the others follow when it did; without (a rank
    that rank 0 started), follow the rank 0 that runs it."""
    store = None if claim else rank_0_store()
    ranks = run.ranks = join(rank, size, run.device_of(run.spec(), local_rank), store)
    try:
        use_threads(rank_threads(run.settings, int(os.environ.get("LOCAL_WORLD_SIZE", size))))
        if not claim:
            _follow(run)
            return
        token = uuid.uuid4().hex
        claimed = ranks.leads and run.jobs.claim(run.job_id, token, worker_name())
        if not ranks.leader_value(float(claimed)):
            logger.info("job %s is not queued: another worker has it, or it ended", run.job_id)
        elif ranks.leads:
            run.run_claimed(token)
        else:
            _follow(run)
    finally:
        leave(ranks)


def _follow(run: JobRun) -> None:
    """Follow rank 0's fit; a cancel request or a diverged loss ends every rank alike, and
    rank 0 records it."""
    try:
        run.follow()
    except (TrainingCancelled, TrainingDiverged) as exc:
        logger.info("rank of job %s: %s", run.job_id, type(exc).__name__)


def main(argv: list[str] | None = None) -> int:
    """`python -m app.jobs.rank JOB_ID`, with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set
    (LOCAL_RANK too, on a host of several GPUs)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        sys.stderr.write("usage: torchrun ... -m app.jobs.rank JOB_ID\n")
        return 2
    started_by = os.environ.get(STARTED_BY)
    if started_by is not None:
        die_with_parent(int(started_by))
        settings = Settings.model_validate_json(sys.stdin.read())
    else:
        settings = Settings()
    configure_logging(settings.log_level)
    from app.core.db import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    try:
        rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        run = job_run(args[0], settings, make_session_factory(engine))
        run_rank(run, rank, size, int(os.environ.get("LOCAL_RANK", rank)),
                 claim=started_by is None)  # fmt: skip
    except Exception:
        logger.exception("rank %s of job %s stopped", os.environ["RANK"], args[0])
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    code = main()
    logging.shutdown()
    # Past its fit, a rank is done: exiting at once skips the C++ teardown of torch's gloo
    # threads, which can abort a finished process ("terminate called without an active
    # exception") and so turn its exit code into a failure.
    os._exit(code)
