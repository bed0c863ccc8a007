"""A training job seen from the client: its latest view, live events, and waiting for its end."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from app.client.errors import NotFoundError, ServiceError
from app.client.events import parse_events
from app.client.progress import JobProgress
from app.client.transport import Transport

logger = logging.getLogger(__name__)
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
STREAM_READ_SECONDS = 60.0  # the service pings every 15 s: a silent minute is a dead stream


class JobFailedError(ServiceError):
    """The job ended failed or cancelled; `job` is its final view, `message` its error."""

    def __init__(self, job: Job) -> None:
        why = job.data.get("error") or f"the job was {job.status}"
        super().__init__(why, code=f"job_{job.status}")
        self.job = job


class Job:
    """One job: `data` is its latest view (the JSON of GET /v1/jobs/{id})."""

    def __init__(self, transport: Transport, data: dict[str, Any]) -> None:
        self._transport, self.data = transport, data

    def __repr__(self) -> str:
        return f"Job({self.id!r}, status={self.status!r})"

    @property
    def id(self) -> str:
        """The job's id."""
        return str(self.data["id"])

    @property
    def status(self) -> str:
        """queued, running, succeeded, failed or cancelled."""
        return str(self.data["status"])

    @property
    def finished(self) -> bool:
        """Whether the job can change no more."""
        return self.status in FINISHED

    @property
    def model(self) -> tuple[str, int] | None:
        """(name, version) of the model it produced, once it has."""
        ref = self.data.get("model")
        return (ref["name"], int(ref["version"])) if ref else None

    @property
    def metrics(self) -> dict[str, Any] | None:
        """Test metrics beside the naive baselines, once it has succeeded."""
        return self.data.get("metrics")

    @property
    def history(self) -> list[dict[str, Any]]:
        """The loss history: one dict per epoch of each model, in the order they ran (member,
        epoch, train_loss, val_loss, ...); an ensemble's models each count epochs from 1."""
        return list(self.data.get("history") or [])

    def refresh(self) -> Job:
        """Read the job's view again."""
        self.data = self._transport.request("GET", f"/v1/jobs/{self.id}").json()
        return self

    def cancel(self) -> Job:
        """Cancel it (a running job stops within an epoch)."""
        self.data = self._transport.request("POST", f"/v1/jobs/{self.id}/cancel").json()
        return self

    def events(self, read_timeout: float = STREAM_READ_SECONDS) -> Iterator[dict[str, Any]]:
        """The job's views as the service streams them (GET /v1/jobs/{id}/events), each also
        kept in `data`, until the job has finished or the stream breaks (httpx.ReadTimeout after
        `read_timeout` s without a byte)."""
        path = f"/v1/jobs/{self.id}/events"
        with self._transport.stream(path, read_timeout=read_timeout) as response:
            for event in parse_events(response.iter_lines()):
                if event.kind not in ("progress", "end"):
                    continue
                self.data = json.loads(event.data)
                yield self.data
                if event.kind == "end":
                    return

    def wait(
        self,
        *,
        progress: bool = True,
        timeout: float | None = None,
        poll_seconds: float = 1.0,
        raise_on_failure: bool = True,
    ) -> Job:
        """Block until the job has finished, following its event stream (polling if the stream
        fails), with a progress bar of epochs (over every model of an ensemble), losses and ETA.
        JobFailedError if it failed or was cancelled (unless `raise_on_failure` is False);
        TimeoutError after `timeout` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = JobProgress(self.id, enabled=progress)
        try:
            self._follow(bar, deadline)
            if not self.finished:
                self._poll(bar, deadline, poll_seconds)
        finally:
            bar.close()
        if raise_on_failure and self.status != "succeeded":
            raise JobFailedError(self)
        return self

    def _follow(self, bar: JobProgress, deadline: float | None) -> None:
        """Show the streamed views until the end, the deadline or a broken stream."""
        read_timeout = STREAM_READ_SECONDS
        if deadline is not None:  # a silent stream must not outlast the deadline
            read_timeout = max(0.1, min(read_timeout, deadline - time.monotonic()))
        try:
            for view in self.events(read_timeout):
                bar.show(view)
                _check_deadline(self, deadline)
        except NotFoundError:
            raise
        except (ServiceError, httpx.HTTPError, ValueError) as error:
            logger.info("job %s: event stream lost (%s); polling instead", self.id, error)

    def _poll(self, bar: JobProgress, deadline: float | None, poll_seconds: float) -> None:
        """Refresh every `poll_seconds` until the job has finished or the deadline passes."""
        while True:
            bar.show(self.refresh().data)
            if self.finished:
                return
            _check_deadline(self, deadline)
            time.sleep(poll_seconds)


def _check_deadline(job: Job, deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"job {job.id} is still {job.status}")
