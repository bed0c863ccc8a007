"""Real service processes on free ports: the API (`forecast-service serve`, what `make run`, the
image and the compose `api` service run) and queue workers (`forecast-service worker`, what the
compose `worker` services run)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
COMMAND = str(Path(sys.executable).parent / "forecast-service")  # the installed console script


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_env(root: Path, **settings: Any) -> dict[str, str]:
    """This environment without FORECAST_* variables, then the service's settings: state under
    `root`, loopback, CPU, and `settings` (FORECAST_<NAME> each)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FORECAST_")}
    defaults = {
        "host": "127.0.0.1",
        "database_url": f"sqlite:///{root}/jobs.db",
        "models_dir": root / "models",
        "datasets_dir": root / "datasets",
        "device": "cpu",
    }
    return env | {
        f"FORECAST_{key.upper()}": str(value) for key, value in (defaults | settings).items()
    }


class Server:
    """Start, stop and talk to one service process whose state lives under `root`."""

    def __init__(self, root: Path, **settings: Any) -> None:
        self.root, self.port = root, free_port()
        self.env = service_env(root, **({"port": self.port, "workers": 1} | settings))
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def start(self, timeout: float = 60) -> Server:
        """Launch and wait until /healthz answers."""
        log = (self.root / "server.log").open("ab")
        self.process = subprocess.Popen(
            [COMMAND, "serve"], cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        wait_until(
            lambda: self._answers("/healthz"),
            timeout=timeout,
            message=lambda: f"the server to answer /healthz: {self.log()}",
        )
        return self

    def _answers(self, path: str) -> bool:
        """Whether `path` answers 200; raises if the process has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"server exited: {self.log()}")
        try:
            return self.http.get(path).status_code == 200
        except httpx.TransportError:  # not listening yet
            return False

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
        return wait_until(
            lambda: self._job_if(job_id, lambda job: job["status"] in until),
            timeout=timeout,
            interval=0.2,
            message=lambda: (
                f"job {job_id} to reach {sorted(until)}, {self._status(job_id)}: {self.log()}"
            ),
        )

    def wait_for_epoch(self, job_id: str, epoch: int = 1, timeout: float = 60) -> dict[str, Any]:
        """Poll until a running job has reported `epoch` epochs."""
        return wait_until(
            lambda: self._job_if(
                job_id, lambda job: bool(job["progress"]) and job["progress"]["epoch"] >= epoch
            ),
            timeout=timeout,
            interval=0.1,
            message=lambda: f"job {job_id} to report epoch {epoch}: {self.log()}",
        )

    def _status(self, job_id: str) -> str:
        """The job's status now, for a failure message."""
        try:
            return f"still {self.http.get(f'/v1/jobs/{job_id}').json()['status']}"
        except (httpx.HTTPError, ValueError, KeyError) as error:
            return f"status unknown ({error!r})"

    def _job_if(self, job_id: str, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
        """The job if it passes `test`, else None."""
        job: dict[str, Any] = self.http.get(f"/v1/jobs/{job_id}").json()
        return job if test(job) else None


class Worker:
    """One queue worker process (`forecast-service worker`) in a session of its own, so that
    `kill_hard` can kill it with its pool process, as when a host or container dies."""

    def __init__(self, root: Path, name: str, **settings: Any) -> None:
        self.root, self.name, self.metrics_port = root, name, free_port()
        self.env = service_env(root, worker_metrics_port=self.metrics_port, **settings)
        self.process: subprocess.Popen[bytes] | None = None
        self.metrics = httpx.Client(base_url=f"http://127.0.0.1:{self.metrics_port}", timeout=30)

    def start(self, timeout: float = 60) -> Worker:
        """Launch and wait until its pool process serves /metrics (it is ready for jobs)."""
        log = (self.root / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [COMMAND, "worker"], cwd=ROOT, env=self.env, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip
        wait_until(
            self._serves_metrics,
            timeout=timeout,
            interval=0.2,
            message=lambda: f"the worker to serve /metrics: {self.log()}",
        )
        return self

    def _serves_metrics(self) -> bool:
        """Whether /metrics answers 200; raises if the process has exited."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited: {self.log()}")
        try:
            return self.metrics.get("/metrics").status_code == 200
        except httpx.TransportError:  # not listening yet
            return False

    def owns(self, pid: int) -> bool:
        """Whether process `pid` is this worker or one of its pool processes."""
        if self.process is None:
            return False
        try:
            return os.getpgid(pid) == self.process.pid
        except ProcessLookupError:
            return False

    def kill_hard(self) -> None:
        """SIGKILL the worker and its pool processes at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """Ask for a warm shutdown; kill whatever is left after a while."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        """The worker's output so far (for failure messages)."""
        path = self.root / f"{self.name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""
