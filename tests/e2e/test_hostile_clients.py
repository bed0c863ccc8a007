"""Clients a hostile probe played against the real server: slow headers and bodies (slowloris),
and uploads cut off mid-body. Each one is a client's event: it is cut off or logged in one line,
never a 5xx or a traceback, and the service keeps answering meanwhile."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import trickle_until_closed
from tests.e2e.server import Server
from tests.factories import BUNDLED_MODELS
from tests.waiting import LIVENESS_SECONDS, wait_until

pytestmark = pytest.mark.slow
LIVENESS = LIVENESS_SECONDS  # generous: the deadlines under test are 1 and 2 seconds


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hostile")
    running = Server(root, workers=0, header_timeout_seconds=1, body_timeout_seconds=2).start()
    yield running
    running.stop()


SLOW_HEADERS = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"X-Slow: aaaaaaaaaaaaaaaa")
SLOW_BODY = (
    b"POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 100000\r\n\r\n{"values": [',
    b"1, ",
)


@pytest.mark.parametrize(("start", "drip"), [SLOW_HEADERS, SLOW_BODY], ids=["headers", "body"])
def test_slow_clients_are_cut_off_while_others_are_served(
    server: Server, start: bytes, drip: bytes
) -> None:
    results: list[bool] = []
    clients = [
        threading.Thread(
            target=lambda: results.append(trickle_until_closed(server.port, start, drip, LIVENESS))
        )
        for _ in range(20)
    ]
    for client in clients:
        client.start()
    assert server.http.get("/healthz").status_code == 200  # served while they trickle
    for client in clients:
        client.join(timeout=LIVENESS + 10)
    assert results == [True] * 20


def test_an_upload_cut_off_midway_is_a_client_event(server: Server, tmp_path: Path) -> None:
    body = b'{"values": [' + b"1, " * 1000
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(
            b"POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body) * 10}\r\n\r\n".encode()
            + body
        )
    wait_until(lambda: "client went away" in server.log(), message="the disconnect logged")
    metrics = server.http.get("/metrics").text
    assert 'route="/v1/datasets",status="499"' in metrics
    assert 'status="500"' not in metrics
    assert "Traceback" not in server.log()
    assert " ERROR " not in server.log()
    assert server.http.get("/v1/datasets").json()["total"] == 0  # nothing half-stored


def test_a_forecast_stops_when_its_client_goes_away(tmp_path: Path) -> None:
    """A forecast of minutes (16 contexts x 400,000 sequential steps), its client gone after
    its request: the work ends at the next model call. The line is logged only once the work
    has returned, so seeing it proves the threads are free again."""
    server = Server(
        tmp_path,
        workers=0,
        max_horizon=400_000,
        max_forecast_gflop=10**6,
        max_forecast_values=10**8,
    )
    shutil.copytree(BUNDLED_MODELS, tmp_path / "models")
    server.start()
    try:
        body = json.dumps({"horizon": 400_000, "contexts": [[0.1] * 10] * 16}).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as conn:
            conn.sendall(
                b"POST /v1/models/sine/forecast HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            wait_until(  # the forecast and this scrape are in progress
                lambda: "requests_in_progress 2.0" in server.http.get("/metrics").text,
                message="the forecast to be under way",
            )
        wait_until(
            lambda: "client went away during POST /v1/models/sine/forecast" in server.log(),
            message=server.log,
        )
        assert 'status="499"' in server.http.get("/metrics").text
        quick = server.http.post("/v1/models/sine/forecast", json={"horizon": 5})
        assert quick.status_code == 200
    finally:
        server.stop()


def test_a_kept_alive_connection_outlives_the_header_deadline(tmp_path: Path) -> None:
    """Waiting idle between requests is the keep-alive's to bound, not the header deadline's."""
    server = Server(tmp_path, workers=0, header_timeout_seconds=1, keep_alive_seconds=60).start()
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS) as kept:
            assert _ask(kept, request).startswith(b"HTTP/1.1 200")
            # A witness that sends nothing is closed at the header deadline: once it is, the
            # kept connection has been idle past that deadline too.
            with socket.create_connection(("127.0.0.1", server.port), timeout=LIVENESS) as mute:
                assert mute.recv(1) == b""
            assert _ask(kept, request).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()


def _ask(conn: socket.socket, request: bytes) -> bytes:
    """Send `request` and read its whole /healthz response (headers and body may come apart)."""
    conn.sendall(request)
    answer = b""
    while not answer.endswith(b'{"status":"ok"}'):
        chunk = conn.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer
