"""Live job events: one reader per watched job, shared by every open stream of it, and a cap on
the streams open at once.

A stream joins its job's feed. The feed's task reads the job's row once per tick in a worker
thread, at most READER_THREADS at once (a limit of its own, beside the requests'), where it also
builds and serialises the events of any change
(app.jobs.events), and hands those to each stream of the job. So the row reads grow with the
jobs watched, not with the streams; the shared thread pool stays free for requests; and the
event loop only copies small bodies. Streams that start together share one read of the job;
a finished job's stream gets its `end` at once, from the snapshots of the finished jobs last
streamed (such a job changes no more). When the server stops, streams end at the feeds' next tick
(their clients poll), since uvicorn waits for open responses.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
from anyio.abc import TaskGroup

from app.core.errors import ServiceUnavailable
from app.core.stopping import shutting_down
from app.jobs import submit
from app.jobs.events import Event, Snapshot, changes, snapshot, wire
from app.jobs.repository import JobRepository

logger = logging.getLogger(__name__)
T = TypeVar("T")

WATCH_SECONDS = 0.25  # how stale a progress event may be; each tick is one read per watched job
PING_SECONDS = 15.0  # a `: ping` comment after this much silence keeps proxies from closing
READER_THREADS = 2  # rows the feeds read at once, beside (not from) the requests' thread pool
BACKLOG = 256  # events a stream may lag by; past it, it skips to the job's latest state
FINISHED_KEPT = 256  # finished jobs whose last snapshot is kept (about 3 KB each)
PING = b": ping\n\n"


class Stream:
    """One open event stream: the events its job's feed handed it, not yet sent."""

    def __init__(self, first: Event) -> None:
        self._pending = deque([first])
        self._ready = anyio.Event()
        self._ready.set()
        self._closed = False

    def put(self, events: list[Event], latest: Event) -> None:
        """Queue `events`; a stream this far behind (a client that stopped reading) gets only
        `latest`, the job as it is now, and its client reads the epochs it missed."""
        if len(self._pending) + len(events) > BACKLOG:
            self._pending = deque([latest])
        else:
            self._pending.extend(events)
        self._ready.set()

    def close(self) -> None:
        """End the stream after what it has queued, without `end`: its client polls."""
        self._closed = True
        self._ready.set()

    async def wire(self) -> AsyncIterator[bytes]:
        """The stream's bytes: each event with its number as `id`, a ping after silence."""
        number = 0
        while True:
            with anyio.move_on_after(PING_SECONDS):
                await self._ready.wait()
            if not self._ready.is_set():
                yield PING
                continue
            self._ready = anyio.Event()
            while self._pending:
                event = self._pending.popleft()
                number += 1
                yield wire(event, number)
                if event.kind == "end":
                    return
            if self._closed or shutting_down.is_set():
                return


class _Feed:
    """A watched job: the latest snapshot of it and its open streams."""

    def __init__(self, latest: Snapshot) -> None:
        self.latest = latest
        self.streams: set[Stream] = set()

    def join(self) -> Stream:
        """A new stream, starting from the latest snapshot (a finished job's: only `end`)."""
        stream = Stream(self.latest.first)
        if not self.latest.finished:
            self.streams.add(stream)
        return stream

    def publish(self, latest: Snapshot, events: list[Event]) -> None:
        """Hand a change to every stream."""
        self.latest = latest
        for stream in self.streams:
            stream.put(events, latest.first)

    def close(self) -> None:
        """End every stream."""
        for stream in self.streams:
            stream.close()
        self.streams.clear()


class JobFeeds:
    """The feeds of the jobs with open event streams, and the count of those streams."""

    def __init__(
        self, jobs: JobRepository, *, max_streams: int, tick: float = WATCH_SECONDS
    ) -> None:
        self._jobs, self.max_streams, self._tick = jobs, max_streams, tick
        self._feeds: dict[str, _Feed] = {}  # the jobs watched: queued or running
        self._opening: dict[str, anyio.Event] = {}  # first reads under way
        self._finished: OrderedDict[str, Snapshot] = OrderedDict()  # the latest used last
        self._open = 0
        self._tasks: TaskGroup | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Where the feeds' tasks run: the service's lifespan."""
        self._limiter = anyio.CapacityLimiter(READER_THREADS)
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                self._tasks = None

    @asynccontextmanager
    async def stream(self, job_id: str) -> AsyncIterator[Stream | None]:
        """A stream of the job's events for as long as the context lasts; None when
        `max_streams` are open already; NotFound for an unknown job."""
        if self._open >= self.max_streams:
            yield None
            return
        self._open += 1
        try:
            feed = await self._feed(job_id)
            stream = feed.join()
            try:
                yield stream
            finally:
                feed.streams.discard(stream)
        finally:
            self._open -= 1

    async def _feed(self, job_id: str) -> _Feed:
        """The job's feed: started by its first stream, whose read of the job the streams that
        come meanwhile share; a finished job's from the snapshots kept."""
        while (opening := self._opening.get(job_id)) is not None:
            await opening.wait()  # if that read found no job, this one reads again: a 404
        feed = self._feeds.get(job_id)
        if feed is not None:
            return feed
        if (finished := self._finished.get(job_id)) is not None:
            self._finished.move_to_end(job_id)
            return _Feed(finished)
        self._opening[job_id] = opening = anyio.Event()
        try:
            latest = await self._read(
                lambda: snapshot(submit.get_job(jobs=self._jobs, job_id=job_id))
            )
        finally:
            del self._opening[job_id]
            opening.set()
        feed = _Feed(latest)
        if latest.finished:
            self._keep(job_id, latest)
        else:
            if self._tasks is None:  # the service is stopping: no new feed starts
                raise ServiceUnavailable("the service is stopping; poll the job instead")
            self._feeds[job_id] = feed
            self._tasks.start_soon(self._watch, job_id, feed)
        return feed

    def _keep(self, job_id: str, finished: Snapshot) -> None:
        """Keep a finished job's snapshot: it can change no more."""
        self._finished[job_id] = finished
        while len(self._finished) > FINISHED_KEPT:
            self._finished.popitem(last=False)

    async def _watch(self, job_id: str, feed: _Feed) -> None:
        """Read the job every tick while it has streams, and hand each change to them."""
        try:
            while not feed.latest.finished:
                await anyio.sleep(self._tick)
                if not feed.streams or shutting_down.is_set():
                    break
                read = await self._read(lambda: self._changes(job_id, feed.latest))
                if read is None:
                    break  # the job is gone
                feed.publish(*read)
        except Exception:  # the store blinked: the streams end and their clients poll
            logger.warning("job %s: its event streams stopped", job_id, exc_info=True)
        finally:
            if self._feeds.get(job_id) is feed:
                del self._feeds[job_id]
            if feed.latest.finished:
                self._keep(job_id, feed.latest)
            feed.close()

    def _changes(self, job_id: str, before: Snapshot) -> tuple[Snapshot, list[Event]] | None:
        row = self._jobs.get(job_id)
        return None if row is None else changes(row, before)

    async def _read(self, work: Callable[[], T]) -> T:
        """`work` in one of the feeds' worker threads."""
        return await anyio.to_thread.run_sync(work, limiter=self._limiter)
