"""A training job seen from the client: its latest view, live events, and waiting for its end."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx

from forecast_client.errors import NotFoundError, ServiceError
from forecast_client.events import parse_events
from forecast_client.progress import JobProgress
from forecast_client.transport import Transport

logger = logging.getLogger(__name__)
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
STREAM_READ_SECONDS = 60.0  # the service pings every 15 s: a silent minute is a dead stream
EVENT_ONLY = ("new_epochs", "new_epochs_offset")  # what an event has that a job's view has not


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
        """Read the job's view again (with its whole loss history)."""
        self.data = self._transport.request("GET", f"/v1/jobs/{self.id}").json()
        return self

    def cancel(self) -> Job:
        """Cancel it (a running job stops within an epoch)."""
        self.data = self._transport.request("POST", f"/v1/jobs/{self.id}/cancel").json()
        return self

    def events(self, read_timeout: float = STREAM_READ_SECONDS) -> Iterator[dict[str, Any]]:
        """The job's view as its event stream (GET /v1/jobs/{id}/events) changes it, kept in
        `data`, until the job has finished or the stream breaks (httpx.ReadTimeout after
        `read_timeout` s without a byte). Each event brings the epochs added since the one
        before; the history before the first is read once, and a finished job's metrics (each
        series' scores too) once at its end."""
        path = f"/v1/jobs/{self.id}/events"
        with self._transport.stream(path, read_timeout=read_timeout) as response:
            for event in parse_events(response.iter_lines()):
                if event.kind not in ("progress", "end"):
                    continue
                self._apply(json.loads(event.data))
                if event.kind == "end" and self.data.get("metrics") is not None:
                    self._apply(self._view_without_history())
                yield self.data
                if event.kind == "end":
                    return

    def _view_without_history(self) -> dict[str, Any]:
        """The job's view without its loss history (small), placed where its history ends."""
        view: dict[str, Any] = self._transport.request(
            "GET", f"/v1/jobs/{self.id}", params={"history": "false"}
        ).json()
        return view | {"new_epochs": [], "new_epochs_offset": view["history_length"]}

    def _apply(self, change: dict[str, Any]) -> None:
        """Take in a change (an event, or a view placed at its history's end): its fields, and
        its new epochs at their offset, after the epochs this lacks before them."""
        history = self.history
        if change.get("attempts") != self.data.get("attempts"):
            history = []  # another run of the job: its history starts again
        offset = int(change["new_epochs_offset"])
        if offset > len(history):
            history += self._history_between(len(history), offset)
        del history[offset:]  # an offset below the end: the history restarts there
        history += change["new_epochs"]
        fields = {k: v for k, v in change.items() if k not in ("history", *EVENT_ONLY)}
        self.data = self.data | fields | {"history": history}

    def _history_between(self, start: int, stop: int) -> list[dict[str, Any]]:
        """Epochs `start` to `stop` of the history, a page at a time."""
        epochs: list[dict[str, Any]] = []
        while start + len(epochs) < stop:
            offset = start + len(epochs)
            page = self._transport.request(  # the service answers a page of what is asked
                "GET",
                f"/v1/jobs/{self.id}/history",
                params={"offset": offset, "limit": stop - offset},
            ).json()
            if not page["items"]:
                break  # shorter than asked: the job started again meanwhile
            epochs += page["items"]
        return epochs[: stop - start]

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
        """Read the job every `poll_seconds` (its view without the history, and the epochs
        added since) until it has finished or the deadline passes."""
        while True:
            self._apply(self._view_without_history())
            bar.show(self.data)
            if self.finished:
                return
            _check_deadline(self, deadline)
            time.sleep(poll_seconds)


def _check_deadline(job: Job, deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError(f"job {job.id} is still {job.status}")
