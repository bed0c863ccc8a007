"""The hostile probe, on demand: the heavier checks of the hardening work, against real servers.

1. `kill -9` of the server (and its training worker) in the middle of a job, N rounds: after
   each restart no job is stuck running, none is lost, and SQLite's integrity check passes.
2. Deleting versions of a model while readers list and forecast it, for S seconds: no 5xx.
3. Hostile uploads (random bytes, malformed CSV and JSON, odd characters): no 5xx.
4. Slow clients (headers or body a byte at a time): every one is cut off.
5. Hostile panels (bench/hostile_panels.py: unusable frequencies, blank files, dates out of
   range, ids that differ by spaces or normal form, random panels in every layout): no 5xx, and
   the listing still answers after each.
6. A large panel upload (10,000 series x 100 rows): /healthz keeps answering meanwhile.

Prints one line per check with its figures and exits 1 when any check fails. It uses the
launcher of the end-to-end tests. Run from the repository root:
`python -m bench.soak [--kill-rounds N] [--race-seconds S] [--uploads N] [--slow-clients N]
[--panels N] [--stall-series N]`.
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

from bench.hostile_panels import big_panel_csv, edge_cases, random_panel
from tests.e2e.clients import trickle_until_closed
from tests.e2e.server import Server
from tests.factories import BUNDLED_MODELS

# The longest /healthz may wait while a large panel uploads: parsing runs in a worker thread and
# still takes its share of the interpreter lock on these 2 cores (measured 0.16-0.33 s).
STALL_LIMIT = 1.0
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


def panel_uploads(root: Path, count: int) -> tuple[bool, str]:
    """Every edge case the many-series probe found, then `count` random panels; after each
    upload the listing and the dataset's own page must still answer (a stored row must never
    break another route). Any 5xx fails."""
    server = Server(root, workers=0).start()
    rng, statuses = random.Random(1), Counter[int]()
    cases = edge_cases() + [random_panel(rng) for _ in range(count)]
    try:
        for _, request in cases:
            answer = server.http.post("/v1/datasets", **request)  # type: ignore[arg-type]
            statuses[answer.status_code] += 1
            statuses[server.http.get("/v1/datasets", params={"limit": 100}).status_code] += 1
            if answer.status_code == 201:
                statuses[server.http.get(f"/v1/datasets/{answer.json()['id']}").status_code] += 1
    finally:
        server.stop()
    errors = sum(n for status, n in statuses.items() if status >= 500)
    shown = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    return errors == 0, f"{len(cases)} panels (with the listing after each): {shown}; {errors} 5xx"


def loop_stall(root: Path, series: int, rows: int) -> tuple[bool, str]:
    """Upload `series` x `rows` as a long CSV while /healthz is asked every 20 ms: the longest
    wait must stay under STALL_LIMIT (nothing whose cost grows with series runs on the loop)."""
    server = Server(root, workers=0).start()
    waits: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.http.base_url, timeout=60) as client:
            while not done.is_set():
                began = time.perf_counter()
                client.get("/healthz")
                waits.append(time.perf_counter() - began)
                time.sleep(0.02)

    text = big_panel_csv(series, rows).encode()
    poller = threading.Thread(target=poll)
    try:
        poller.start()
        began = time.perf_counter()
        files = {"file": ("big.csv", text, "text/csv")}
        status = server.http.post("/v1/datasets", files=files, timeout=600).status_code
        took = time.perf_counter() - began
    finally:
        done.set()
        poller.join(timeout=60)
        server.stop()
    longest = max(waits, default=0.0)
    detail = (
        f"{series:,} series x {rows} rows ({len(text) / 2**20:.1f} MiB) answered {status} in "
        f"{took:.1f} s; /healthz asked {len(waits)} times meanwhile, longest {longest:.2f} s"
    )
    return status == 201 and longest < STALL_LIMIT, detail


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
    parser.add_argument("--panels", type=int, default=500, help="random panels after the cases")
    parser.add_argument("--stall-series", type=int, default=10_000)
    args = parser.parse_args()
    checks: list[tuple[str, Callable[[Path], tuple[bool, str]]]] = [
        ("kill -9 mid-job", lambda root: kill_rounds(root, args.kill_rounds)),
        ("delete while forecasting", lambda root: delete_race(root, args.race_seconds)),
        ("hostile uploads", lambda root: hostile_uploads(root, args.uploads)),
        ("slow clients", lambda root: slow_clients(root, args.slow_clients)),
        ("hostile panels", lambda root: panel_uploads(root, args.panels)),
        ("event loop during a large upload", lambda root: loop_stall(root, args.stall_series, 100)),
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
