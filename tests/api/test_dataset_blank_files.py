"""Header-only and blank CSV files are a 422 naming the problem, and a refused upload keeps the
client's keep-alive connection (a 500 would drop it: uvicorn closes after an unhandled error)."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.test_datasets import dataset_total, error_of, upload_csv
from tests.e2e.server import Server

HEADER_ONLY = ["date,y\n", "unique_id,ds,y\n", ",y\n", "y\n", "date,y\n\n\n", "a,b\r\n"]
BLANK = [" ", ",", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\u2028", " ,\t\n"]


@pytest.mark.parametrize("text", HEADER_ONLY)
def test_a_header_without_rows_is_refused_saying_so(client: TestClient, text: str) -> None:
    message = error_of(upload_csv(client, text), 422, "invalid_input", "file")
    assert message == "the file has a header but no rows; add a row of values under it"
    assert dataset_total(client) == 0


@pytest.mark.parametrize("layout", ["rows", "columns_are_series"])
def test_a_header_without_rows_is_refused_in_either_layout(client: TestClient, layout: str) -> None:
    message = error_of(
        upload_csv(client, "date,a,b\n", layout=layout), 422, "invalid_input", "file"
    )
    assert "no rows" in message


def test_a_time_column_alone_has_no_values(client: TestClient) -> None:
    message = error_of(upload_csv(client, "time\n"), 422, "invalid_input", "file")
    assert message == "no value columns besides the time column"


@pytest.mark.parametrize("text", BLANK)
def test_a_blank_file_is_refused_asking_for_a_header(client: TestClient, text: str) -> None:
    message = error_of(upload_csv(client, text), 422, "invalid_input", "file")
    assert message.startswith("line 1 is blank; expected a header row naming the columns")
    assert dataset_total(client) == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`forecast-service serve` on loopback, no workers: only uploads here."""
    running = Server(Path(tmp_path_factory.mktemp("keep-alive")), workers=0).start()
    yield running
    running.stop()


def post_csv(connection: http.client.HTTPConnection, text: str) -> int:
    """POST a CSV upload on `connection`, read the whole answer, return its status."""
    body = (
        '--b\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n\r\n'
        f"{text}\r\n--b--\r\n"
    ).encode()
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    connection.request("POST", "/v1/datasets", body=body, headers=headers)
    answer = connection.getresponse()
    answer.read()
    return answer.status


@pytest.mark.parametrize("refused", ["date,y\n", ",", "values\n"])
def test_a_refused_upload_keeps_the_connection_for_the_next_request(
    server: Server, refused: str
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        assert post_csv(connection, refused) == 422
        socket = connection.sock
        assert socket is not None  # the server kept the connection open
        assert post_csv(connection, "values\n1\n2\n3\n") == 201
        assert connection.sock is socket  # the same connection answered
    finally:
        connection.close()
