"""A real service process (`python -m app serve`, the command `make run` uses) on a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """Start, stop and talk to one service process whose state lives under `root`."""

    def __init__(self, root: Path, **settings: Any) -> None:
        self.root, self.port = root, free_port()
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith("FORECAST_")
        }
        self.env |= {
            "FORECAST_HOST": "127.0.0.1",
            "FORECAST_PORT": str(self.port),
            "FORECAST_DATABASE_URL": f"sqlite:///{root}/jobs.db",
            "FORECAST_MODELS_DIR": str(root / "models"),
            "FORECAST_DEVICE": "cpu",
            "FORECAST_WORKERS": "1",
        } | {f"FORECAST_{key.upper()}": str(value) for key, value in settings.items()}
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def start(self, timeout: float = 60) -> Server:
        """Launch and wait until /healthz answers."""
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                if self.http.get("/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError(f"server did not start: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Send `sig` and wait for the process to end."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        self.process = None

    def log(self) -> str:
        """The server's output so far (for failure messages)."""
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def wait_for(self, job_id: str, until: set[str], timeout: float = 120) -> dict[str, Any]:
        """Poll a job until its status is in `until`; returns the job."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.http.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in until:
                return job
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} still {job['status']}: {self.log()}")

    def wait_for_epoch(self, job_id: str, epoch: int = 1, timeout: float = 60) -> dict[str, Any]:
        """Poll until a running job has reported `epoch` epochs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.http.get(f"/v1/jobs/{job_id}").json()
            if job["progress"] and job["progress"]["epoch"] >= epoch:
                return job
            time.sleep(0.1)
        raise TimeoutError(f"job {job_id} reported no epoch: {self.log()}")
