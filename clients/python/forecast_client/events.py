"""Server-Sent Events read from a stream's lines (the WHATWG format, what the service sends)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One event: its type (`progress`, `end`, ...), id and data (the lines joined by \\n)."""

    kind: str
    id: str | None
    data: str


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """The events in `lines` (without their line endings); comments (`: ping`) are skipped and
    an event is complete at its blank line, so a stream cut mid-event yields nothing of it."""
    kind, ident, data = "message", None, list[str]()
    for line in lines:
        if not line:
            if data:
                yield Event(kind, ident, "\n".join(data))
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            ident = value
