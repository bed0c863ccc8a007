"""Starting the ranks of a job's fit on this host (`training.processes`, `app.ml.ranks`).

The worker running the job is rank 0; each other rank is a `python -m app.jobs.rank JOB_ID`
process that meets it at a TCP store on the loopback, loads the same series, fits beside it
and exits. They die with rank 0, and their settings (secrets and all) come on their stdin,
never on a command line or in the environment.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from pydantic import SecretStr
from torch._C._distributed_c10d import TCPStore  # the public torch.distributed.TCPStore is untyped

from app.core.config import Settings
from app.ml.device import rank_device, use_threads
from app.ml.ranks import SOLO, Ranks, join, leave

# How long rank 0 waits for the ranks it started to join (each imports torch first).
JOIN_SECONDS = 300
# How long rank 0 gives the ranks it started to exit once the fit is over.
STOP_SECONDS = 30
# Set on the ranks rank 0 starts: its pid (they die with it).
STARTED_BY = "FORECAST_RANK_OF"


def rank_threads(settings: Settings, processes: int) -> int:
    """Torch threads of each of `processes` ranks on one host: the training threads, shared."""
    return max(1, settings.train_threads // processes)


@contextmanager
def local_ranks(
    job_id: str, settings: Settings, processes: int, device: torch.device
) -> Iterator[Ranks]:
    """The group of `processes` ranks on this host that fits job `job_id`, this process rank 0
    on `device` (SOLO, starting nothing, for one); stops the others on the way out."""
    if processes == 1:
        yield SOLO
        return
    for rank in range(1, processes):  # a GPU apiece, known before any process starts
        rank_device(device, rank)
    store = TCPStore(
        "127.0.0.1", 0, processes, is_master=True, wait_for_workers=False,
        timeout=datetime.timedelta(seconds=JOIN_SECONDS),
    )  # fmt: skip
    others = [_start(job_id, settings, rank, processes, store.port) for rank in range(1, processes)]
    threads = torch.get_num_threads()
    ranks = SOLO
    try:
        ranks = join(0, processes, device, store)
        use_threads(rank_threads(settings, processes))
        yield ranks
    except BaseException as exc:
        # The fit's frames hold its DDP wrapper, whose last reference must go before the group:
        # freed after it, with a failed collective pending, it deadlocks on the GIL (torch joins
        # gloo's worker thread while holding it).
        traceback.clear_frames(exc.__traceback__)
        stopped = _stopped(others) if isinstance(exc, RuntimeError) else None
        if stopped:  # a rank that died shows as a broken connection: say which
            raise RankStopped(stopped) from None
        raise
    finally:
        use_threads(threads)
        leave(ranks)
        _stop(others)


class RankStopped(RuntimeError):
    """A rank this process started ended before the fit did."""


def _stopped(processes: list[subprocess.Popen[bytes]]) -> str | None:
    """What ended the first of `processes` that failed (given a moment to be seen ending)."""
    for rank, process in enumerate(processes, start=1):
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        if code != 0:
            return (
                f"process {rank + 1} of the fit's {len(processes) + 1} stopped (exit code {code}; "
                "killed, or out of memory, or see the worker's log)"
            )
    return None


def rank_0_store() -> TCPStore:
    """In a rank that rank 0 started: the store rank 0 keeps, where MASTER_ADDR and MASTER_PORT
    say (every rank of a group must meet at a store it was given, or every rank at env://)."""
    return TCPStore(
        os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
        timeout=datetime.timedelta(seconds=JOIN_SECONDS),
    )  # fmt: skip


def _start(
    job_id: str, settings: Settings, rank: int, processes: int, port: int
) -> subprocess.Popen[bytes]:
    """Start rank `rank` of the job's fit on this host."""
    env = os.environ | {
        "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(processes),
        "LOCAL_WORLD_SIZE": str(processes), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
        STARTED_BY: str(os.getpid()),
    }  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "app.jobs.rank", job_id], env=env, stdin=subprocess.PIPE
    )
    assert process.stdin is not None
    with process.stdin:  # secrets and all, never on a command line or in the environment
        process.stdin.write(_settings_json(settings).encode())
    return process


def _settings_json(settings: Settings) -> str:
    return json.dumps(
        settings.model_dump(),
        default=lambda value: (
            value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        ),
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Wait for the ranks this process started, killing any still running at the deadline."""
    for process in processes:
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
