"""Whether this process is shutting down.

uvicorn waits for every open response before it stops, and an event stream stays open for as
long as its job runs; so `serve` sets this on SIGTERM/SIGINT and streams end at their next tick
(their clients fall back to polling). Under a TestClient it is never set.
"""

from __future__ import annotations

import threading

shutting_down = threading.Event()
