"""Retries against real servers: a stopped one (connections refused), an overloaded one (the
503 uvicorn answers past FORECAST_MAX_CONNECTIONS), and no retry of a 4xx."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from forecast_client import Client, ConnectionFailedError, NotFoundError, UnavailableError
from tests.e2e.server import Server, free_port

pytestmark = pytest.mark.slow

QUEUED_JOB = {"model_name": "held", "data": {"function": "sin"}}


class Retries:
    """What a client's `on_retry` heard, and an event for the first one."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        self.first = threading.Event()

    def __call__(self, what: str) -> None:
        self.heard.append(what)
        self.first.set()


@pytest.fixture
def overloaded(tmp_path: Path) -> Iterator[Server]:
    """A server that serves two connections at once and runs no job (its jobs stay queued)."""
    running = Server(tmp_path, workers=0, max_connections=2).start()
    yield running
    running.stop()


def hold_a_connection(server: Server) -> Iterator[str]:
    """Follow a queued job's event stream (a connection that stays open); yields once it is open."""
    job_id = server.http.post("/v1/jobs", json=QUEUED_JOB).json()["id"]
    server.http.close()  # its kept-alive connection would count too
    with (
        httpx.Client(base_url=str(server.http.base_url)) as holder,
        holder.stream("GET", f"/v1/jobs/{job_id}/events") as stream,
    ):
        assert stream.status_code == 200
        yield job_id


def test_a_stopped_server_is_retried_then_reported(tmp_path: Path) -> None:
    retries = Retries()
    client = Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01, on_retry=retries)
    with pytest.raises(ConnectionFailedError) as failed:
        client.models()
    assert failed.value.code == "connection_failed"
    assert len(retries.heard) == 2
    assert all("ConnectError" in what for what in retries.heard)


def test_a_503_is_retried_until_the_server_has_room(overloaded: Server) -> None:
    retries = Retries()
    client = Client(str(overloaded.http.base_url), retries=50, backoff=0.05, on_retry=retries)
    holding = hold_a_connection(overloaded)
    next(holding)
    with ThreadPoolExecutor(1) as pool:
        models = pool.submit(client.models)
        assert retries.first.wait(60), "the client never heard a 503"
        holding.close()  # the stream's connection closes: room for the client

        assert models.result(timeout=60) == []
    assert retries.heard[0].endswith("(HTTP 503); retrying")


def test_a_503_that_lasts_is_reported_after_the_retries(overloaded: Server) -> None:
    retries = Retries()
    client = Client(str(overloaded.http.base_url), retries=2, backoff=0.01, on_retry=retries)
    holding = hold_a_connection(overloaded)
    next(holding)
    try:
        with pytest.raises(UnavailableError) as unavailable:
            client.models()
    finally:
        holding.close()
    assert unavailable.value.status == 503
    assert len(retries.heard) == 2


def test_a_4xx_is_never_retried(overloaded: Server) -> None:
    overloaded.http.close()  # its kept-alive connection would fill the server
    retries = Retries()
    client = Client(str(overloaded.http.base_url), retries=5, backoff=0.01, on_retry=retries)
    with pytest.raises(NotFoundError):
        client.job("0" * 32)
    assert retries.heard == []
    assert client.models() == []  # the server is fine: the 404 was its answer


def test_waiting_on_a_silent_stream_falls_back_to_polling_until_the_deadline(
    overloaded: Server,
) -> None:
    overloaded.http.close()  # room for the client's one connection at a time
    client = Client(str(overloaded.http.base_url), retries=0)
    job = client.submit(QUEUED_JOB)  # no worker: it stays queued and its stream stays silent

    with pytest.raises(TimeoutError, match="still queued"):
        job.wait(progress=False, timeout=2, poll_seconds=0.2)
    assert job.status == "queued"
