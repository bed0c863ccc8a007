"""The hostile probe, on demand: the heavier checks of the hardening work, against real servers.

1. `kill -9` of the server (and its training worker) in the middle of a job, N rounds: after
   each restart no job is stuck running, none is lost, and SQLite's integrity check passes.
2. Deleting versions of a model while readers list and forecast it, for S seconds: no 5xx.
3. Hostile uploads (random bytes, malformed CSV and JSON, odd characters): no 5xx.
4. Slow clients (headers or body a byte at a time): every one is cut off.

Prints one line per check with its figures and exits 1 when any check fails. It uses the
launcher of the end-to-end tests. Run from the repository root:
`python -m bench.soak [--kill-rounds N] [--race-seconds S] [--uploads N] [--slow-clients N]`.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.e2e.clients import trickle_until_closed
from tests.e2e.server import Server
from tests.factories import BUNDLED_MODELS

LONG_JOB = {
    "model_name": "soak",
    "data": {"function": "sin", "params": {"points": 20000}},
    "training": {"epochs": 5000, "early_stopping_patience": 0},
}


def kill_rounds(root: Path, rounds: int) -> tuple[bool, str]:
    """Kill the server mid-job `rounds` times; every job must end up stored and not running."""
    server = Server(root, workers=1)
    submitted: list[str] = []
    stuck = lost = 0
    integrity = "ok"
    for _ in range(rounds):
        server.start()
        job = server.http.post("/v1/jobs", json=LONG_JOB).json()
        submitted.append(job["id"])
        server.wait_for_epoch(job["id"])
        server.stop(signal.SIGKILL)  # its training worker dies with it (PR_SET_PDEATHSIG)
        with sqlite3.connect(root / "jobs.db") as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            break
    server.start()
    try:
        for job_id in submitted:
            answer = server.http.get(f"/v1/jobs/{job_id}")
            if answer.status_code == 404:
                lost += 1
            elif answer.json()["status"] in ("running", "queued"):
                stuck += 1
    finally:
        server.stop()
    passed = stuck == 0 and lost == 0 and integrity == "ok"
    return passed, f"{rounds} rounds: {stuck} stuck, {lost} lost, integrity {integrity}"


def delete_race(root: Path, seconds: float) -> tuple[bool, str]:
    """Publish and delete versions while four readers list and forecast the model."""
    server = Server(root, workers=0).start()
    race = root / "models" / "race"
    source = BUNDLED_MODELS / "sine" / "1"
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=server.http.base_url, timeout=30) as client:
            while not stop.is_set():
                listing = client.get("/v1/models/race")
                statuses[listing.status_code] += 1
                latest = listing.json().get("latest") if listing.status_code == 200 else 1
                body = {"horizon": 20, "version": latest}
                statuses[client.post("/v1/models/race/forecast", json=body).status_code] += 1
                statuses[client.get("/v1/models").status_code] += 1

    shutil.copytree(source, race / "1")
    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    version, deadline = 1, time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            shutil.copytree(source, race / str(version + 1))  # published by hand, whole
            statuses[server.http.delete(f"/v1/models/race/versions/{version}").status_code] += 1
            version += 1
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
        server.stop()
    errors = sum(count for status, count in statuses.items() if status >= 500)
    shown = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
    return errors == 0, f"{seconds:g} s, {version - 1} versions deleted: {shown}; {errors} 5xx"


def _hostile_bodies(rng: random.Random) -> list[tuple[str, dict[str, object]]]:
    """One round of uploads a careless or hostile client might send."""
    noise = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 400)))
    cells = ["1", "-2.5e3", "١٢٣", "１２３", "1_000", "nan", "", "x\u0000y", "\ufeff7", "1e999"]
    csv = "\n".join(
        ",".join(rng.choice(cells) for _ in range(3)) for _ in range(rng.randint(0, 20))
    )
    names = ["a", "a\u200b", "\ufeffb", "time", "", "x" * 200, "n\u0000"]
    header = ",".join(rng.choice(names) for _ in range(3))
    json_bodies: list[object] = [
        {"values": [rng.choice([1, -1e16, True, "1", None, [1, 2]]) for _ in range(5)]},
        {"name": "x\u0000y", "values": [1, 2]},
        {"columns": [rng.choice(names)], "values": [[1], [2]]},
        [rng.random() for _ in range(10)],
        {"values": {"nested": [1]}},
    ]
    plain = json.dumps(rng.choice(json_bodies)).encode()
    return [
        ("csv noise", {"files": {"file": ("s.csv", noise, "text/csv")}}),
        ("csv cells", {"files": {"file": ("s.csv", f"{header}\n{csv}".encode(), "text/csv")}}),
        ("json", {"content": plain, "headers": {"content-type": "application/json"}}),
        ("json twice", {"content": b'{"values": [1], "values": [2]}',
                        "headers": {"content-type": "application/json"}}),
        ("json noise", {"content": noise, "headers": {"content-type": "application/json"}}),
    ]  # fmt: skip


def hostile_uploads(root: Path, count: int) -> tuple[bool, str]:
    """`count` hostile uploads; any 5xx fails."""
    server = Server(root, workers=0).start()
    rng, statuses, sent = random.Random(0), Counter[int](), 0
    try:
        while sent < count:
            for _, request in _hostile_bodies(rng):
                statuses[server.http.post("/v1/datasets", **request).status_code] += 1  # type: ignore[arg-type]
                sent += 1
    finally:
        server.stop()
    errors = sum(n for status, n in statuses.items() if status >= 500)
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    return errors == 0, f"{sent} uploads: {shown}; {errors} 5xx"


def slow_clients(root: Path, count: int) -> tuple[bool, str]:
    """`count` slow-header and `count` slow-body clients at once, against 2 s and 5 s deadlines."""
    server = Server(root, workers=0, header_timeout_seconds=2, body_timeout_seconds=5).start()
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # a host the service answers
    body = b"POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 9999\r\n\r\n{"
    results: list[bool] = []
    jobs: list[Callable[[], bool]] = [
        lambda: trickle_until_closed(server.port, head, b"X", limit=60),
        lambda: trickle_until_closed(server.port, body, b"1", limit=60),
    ]
    threads = [
        threading.Thread(target=lambda job=job: results.append(job()))
        for job in jobs
        for _ in range(count)
    ]
    began = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        healthy = server.http.get("/healthz").status_code == 200
        for thread in threads:
            thread.join(timeout=90)
    finally:
        server.stop()
    seconds = time.monotonic() - began
    cut = sum(results)
    detail = f"{cut} of {len(threads)} cut off in {seconds:.1f} s; /healthz meanwhile: {healthy}"
    return cut == len(threads) and healthy, detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-rounds", type=int, default=10)
    parser.add_argument("--race-seconds", type=float, default=60)
    parser.add_argument("--uploads", type=int, default=2000)
    parser.add_argument("--slow-clients", type=int, default=150, help="of each kind")
    args = parser.parse_args()
    checks: list[tuple[str, Callable[[Path], tuple[bool, str]]]] = [
        ("kill -9 mid-job", lambda root: kill_rounds(root, args.kill_rounds)),
        ("delete while forecasting", lambda root: delete_race(root, args.race_seconds)),
        ("hostile uploads", lambda root: hostile_uploads(root, args.uploads)),
        ("slow clients", lambda root: slow_clients(root, args.slow_clients)),
    ]
    failed = 0
    for name, check in checks:
        with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
            began = time.perf_counter()
            passed, detail = check(Path(scratch))
            failed += not passed
            took = time.perf_counter() - began
            print(f"{'ok  ' if passed else 'FAIL'} {name}: {detail} ({took:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
