"""Clients a hostile probe plays against a real server, shared by the tests and bench/soak.py."""

from __future__ import annotations

import socket
import time


def trickle_until_closed(port: int, start: bytes, drip: bytes, limit: float) -> bool:
    """Send `start`, then one byte of `drip` (cycled) every 0.2 s; True once the server closes
    the connection, False if it is still open after `limit` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as conn:
        conn.sendall(start)
        conn.settimeout(0.2)
        deadline, sent = time.monotonic() + limit, 0
        while time.monotonic() < deadline:
            try:
                if conn.recv(4096) == b"":
                    return True
            except TimeoutError:
                pass
            except ConnectionError:
                return True
            try:
                conn.sendall(drip[sent % len(drip) : sent % len(drip) + 1])
            except OSError:
                return True
            sent += 1
    return False
