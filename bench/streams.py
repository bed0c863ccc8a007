"""Job event streams under load, against a real server on loopback: what open streams cost the
requests beside them, and how big their events are.

1. GET /v1/jobs/{id} (a finished 300-epoch job) p50 with no event stream open, then with 200
   open, half on a running job and half on a queued one: within 3x of the first.
2. /healthz while 1, 20 and 60 streams open at once on a finished job of 10,000 series (its
   view is over a megabyte): the longest wait (the median of 3 rounds), under 0.25 s.
3. The largest event of a 300-epoch job followed from its start, and of the streams in (1);
   the `end` event of the 10,000-series job: none over 4 KB.

The finished jobs are written straight into the server's store (training 10,000 series would
take the bench's whole time); the 300-epoch and the running jobs really train. Every loop is
bounded. Prints one line per check and exits 1 when any misses. Run from the repository root:
`python -m bench.streams [--streams N] [--requests N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from app.core.db import make_engine, make_session_factory, utcnow
from app.jobs.repository import open_repositories
from app.jobs.table import JobRow, JobStatus
from tests.e2e.server import Server
from tests.factories import many_series_metrics

MOST_EVENT_BYTES = 4096
RATIO_TARGET = 3.0
ROUNDS = 4
HEALTHZ_TARGET_SECONDS = 0.25
HEALTHZ_ROUNDS = 3
LONG_JOB = {
    "model_name": "bench-streams",
    "data": {"function": "sin", "params": {"points": 20000}},
    "training": {"epochs": 5000, "early_stopping_patience": 0},
}
EPOCHS_300 = {
    "model_name": "bench-300",
    "data": {"function": "sin", "params": {"points": 400, "stop": 40.0}},
    "training": {"epochs": 300, "early_stopping_patience": 0},
}


def _history(epochs: int) -> list[dict[str, Any]]:
    return [
        {"member": 1, "epoch": n, "train_loss": 0.0123456789 / n, "val_loss": 0.0234567891 / n,
         "learning_rate": 0.001, "seconds": 0.0123456789}
        for n in range(1, epochs + 1)
    ]  # fmt: skip


def store_finished_job(server: Server, series: int) -> str:
    """A succeeded 300-epoch job of `series` series, written into the server's store."""
    engine = make_engine(server.env["FORECAST_DATABASE_URL"])
    jobs, _ = open_repositories(
        make_session_factory(engine), Path(server.env["FORECAST_DATASETS_DIR"])
    )
    now = utcnow()
    row = JobRow(
        id=uuid.uuid4().hex, model_name=f"bench-{series}", status=JobStatus.SUCCEEDED,
        spec={"model_name": f"bench-{series}", "data": {"function": "sin"}}, created_at=now,
        started_at=now, finished_at=now, history=_history(300), attempts=1,
        metrics=many_series_metrics(series), device="cpu",
    )  # fmt: skip
    jobs.add(row)
    engine.dispose()
    return row.id


class Streams:
    """Event streams held open in a thread of their own (one asyncio loop): whether each was
    answered 200, the events they got and the largest."""

    def __init__(self, base_url: str, paths: list[str]) -> None:
        self.base_url, self.paths = base_url, paths
        self.answered: list[int] = []
        self.events = self.largest = self.ended = 0
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def open(self) -> Streams:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)

    @property
    def done(self) -> bool:
        return self.ended == len(self.paths)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        timeout = httpx.Timeout(60, read=None)
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, timeout=timeout) as c:
            tasks = [asyncio.create_task(self._hold(c, path)) for path in self.paths]
            await self._stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _hold(self, client: httpx.AsyncClient, path: str) -> None:
        try:
            async with client.stream("GET", path) as response:
                self.answered.append(response.status_code)
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        self.events += 1
                        self.largest = max(self.largest, len(line.encode()) - len("data: "))
        finally:
            self.ended += 1


def wait(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether `condition` came true within `seconds` (checked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def timings(http: httpx.Client, path: str, requests: int) -> list[float]:
    """The times of `requests` GETs of `path`, one after another, in ms."""
    http.get(path)  # warm
    times = []
    for _ in range(requests):
        began = time.perf_counter()
        assert http.get(path).status_code == 200
        times.append((time.perf_counter() - began) * 1000)
    return times


def read_beside_streams(server: Server, count: int, requests: int) -> tuple[bool, str]:
    """GET /v1/jobs/{id} p50 without and with `count` open streams, in rounds that take turns
    (the machine's other load drifts: each round measures both ways under the same)."""
    target = store_finished_job(server, series=1)
    running = server.http.post("/v1/jobs", json=LONG_JOB).json()["id"]
    queued = server.http.post("/v1/jobs", json=LONG_JOB).json()["id"]  # one worker: it waits
    server.wait_for_epoch(running, epoch=5)
    paths = [f"/v1/jobs/{job}/events" for job in (running, queued) for _ in range(count // 2)]
    alone: list[float] = []
    beside: list[float] = []
    answered: set[int] = set()
    events = largest = 0
    with httpx.Client(base_url=str(server.http.base_url), timeout=60) as http:
        for _ in range(ROUNDS):
            alone += timings(http, f"/v1/jobs/{target}", requests // ROUNDS)
            streams = Streams(str(server.http.base_url), paths).open()
            try:
                if wait(lambda: len(streams.answered) == len(paths), 120):  # noqa: B023
                    beside += timings(http, f"/v1/jobs/{target}", requests // ROUNDS)
            finally:
                streams.close()
            answered |= set(streams.answered) or {0}
            events, largest = events + streams.events, max(largest, streams.largest)
            time.sleep(1.0)  # the server sees the streams go
        server.http.post(f"/v1/jobs/{running}/cancel")
        server.http.post(f"/v1/jobs/{queued}/cancel")
    ratio = statistics.median(beside or [float("inf")]) / statistics.median(alone)
    passed = answered == {200} and ratio <= RATIO_TARGET and largest <= MOST_EVENT_BYTES
    return passed, (
        f"p50 {statistics.median(alone):.1f} ms alone, "
        f"{statistics.median(beside or [float('inf')]):.1f} ms beside {len(paths)} open streams "
        f"(answered {sorted(answered)}), {ROUNDS} rounds of {requests // ROUNDS} each way: "
        f"{ratio:.2f}x (target <= {RATIO_TARGET:g}x); the streams got {events} events, the "
        f"largest {largest} bytes"
    )


def longest_healthz_wait(server: Server, http: httpx.Client, count: int) -> tuple[float, int]:
    """The longest /healthz wait (s) while `count` streams open at once on a finished job of
    10,000 series no stream has read yet, and the largest event they got."""
    big = store_finished_job(server, series=10_000)
    streams = Streams(str(server.http.base_url), [f"/v1/jobs/{big}/events"] * count).open()
    waits = []
    try:
        deadline = time.monotonic() + 120
        while not streams.done and time.monotonic() < deadline:
            began = time.perf_counter()
            http.get("/healthz")
            waits.append(time.perf_counter() - began)
    finally:
        streams.close()
    return (max(waits, default=0.0) if streams.done else float("inf")), streams.largest


def healthz_beside_big_job(server: Server, counts: list[int]) -> tuple[bool, str]:
    """/healthz while 1, 20, 60 streams open at once on a 10,000-series job: the median over
    HEALTHZ_ROUNDS of the longest wait (this shared machine stalls a process now and then)."""
    shown, passed = [], True
    with httpx.Client(base_url=str(server.http.base_url), timeout=60) as http:
        longest_healthz_wait(server, http, 1)  # warm: the first read of such a job loads code
        view_bytes = len(http.get(f"/v1/jobs/{store_finished_job(server, 10_000)}").content)
        for count in counts:
            rounds = [longest_healthz_wait(server, http, count) for _ in range(HEALTHZ_ROUNDS)]
            wait_s = statistics.median(waited for waited, _ in rounds)
            largest = max(size for _, size in rounds)
            passed &= wait_s < HEALTHZ_TARGET_SECONDS and largest <= MOST_EVENT_BYTES
            shown.append(f"{count}: {wait_s * 1000:.0f} ms ({largest} B events)")
    return passed, (
        f"a finished job of 10,000 series ({view_bytes / 1e6:.1f} MB view), the longest "
        f"/healthz wait while N streams open on it (median of {HEALTHZ_ROUNDS} rounds): "
        f"{'; '.join(shown)} (target < {HEALTHZ_TARGET_SECONDS * 1000:.0f} ms, events <= "
        f"{MOST_EVENT_BYTES} B)"
    )


def events_of_300_epochs(server: Server) -> tuple[bool, str]:
    """The largest event of a 300-epoch job followed from its start to its end."""
    job_id = server.http.post("/v1/jobs", json=EPOCHS_300).json()["id"]
    sizes: list[int] = []
    with server.http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=300) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                sizes.append(len(line.encode()) - len("data: "))
    view = len(server.http.get(f"/v1/jobs/{job_id}").content)
    largest = max(sizes, default=0)
    return largest <= MOST_EVENT_BYTES, (
        f"{len(sizes)} events, the largest {largest} bytes, {sum(sizes) / 1e3:.1f} KB in all "
        f"(the job's view: {view / 1e3:.1f} KB; target <= {MOST_EVENT_BYTES} B an event)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--requests", type=int, default=100, help="GETs timed each way")
    args = parser.parse_args()
    checks: list[tuple[str, Callable[[Server], tuple[bool, str]]]] = [
        ("events of a 300-epoch job", events_of_300_epochs),
        ("GET beside open streams", lambda s: read_beside_streams(s, args.streams, args.requests)),
        ("/healthz beside streams", lambda s: healthz_beside_big_job(s, [1, 20, 60])),
    ]
    failed = 0
    with tempfile.TemporaryDirectory(prefix="streams-") as scratch:
        cap = max(args.streams, 256)  # FORECAST_MAX_EVENT_STREAMS: room for every stream asked
        server = Server(Path(scratch), workers=1, max_event_streams=cap).start()
        try:
            for name, check in checks:
                began = time.perf_counter()
                passed, detail = check(server)
                failed += not passed
                took = time.perf_counter() - began
                print(f"{'ok  ' if passed else 'FAIL'} {name}: {detail} ({took:.0f} s)", flush=True)
        finally:
            server.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
