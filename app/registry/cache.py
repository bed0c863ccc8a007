"""Loaded checkpoints on the serving device: an LRU cache that notices replaced versions."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch

from app.core.errors import AppError, NotFound
from app.ml.checkpoints import WEIGHTS_FILE, Checkpoint, CheckpointError, CheckpointMissing, load
from app.registry.checkpoint_store import CheckpointStore


class CheckpointUnreadable(AppError):
    """A stored checkpoint failed its checks (a server-side fault, not the client's)."""

    status_code, code = 500, "checkpoint_unreadable"


@dataclass
class _Entry:
    checkpoint: Checkpoint
    stamp: tuple[int, int]  # (inode, mtime) of the weights: a replaced version is reloaded


class ModelCache:
    """Loaded checkpoints on the serving device, least recently used evicted first."""

    def __init__(
        self, checkpoints: CheckpointStore, device: torch.device, size: int, threads: int = 1
    ) -> None:
        self.checkpoints, self.device, self.size = checkpoints, device, size
        self.threads = threads  # torch CPU threads of each forecast (FORECAST_SERVE_THREADS)
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str, version: int) -> Checkpoint:
        """The checkpoint of one version, loading it on a miss."""
        key, path = (name, version), self.checkpoints.version_dir(name, version)
        try:
            stat = (path / WEIGHTS_FILE).stat()
        except FileNotFoundError:
            self.evict(name, version)
            raise NotFound(f"model {name!r} has no version {version}", field="version") from None
        stamp = (stat.st_ino, stat.st_mtime_ns)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.stamp == stamp:
                self._entries.move_to_end(key)
                return entry.checkpoint
        try:
            checkpoint = load(path, self.device)
        except CheckpointMissing:  # deleted since the stat above (a delete renames it away)
            self.evict(name, version)
            raise NotFound(f"model {name!r} has no version {version}", field="version") from None
        except CheckpointError as exc:
            raise CheckpointUnreadable(f"model {name!r} version {version}: {exc}") from exc
        with self._lock:
            self._entries[key] = _Entry(checkpoint, stamp)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return checkpoint

    def evict(self, name: str, version: int | None = None) -> None:
        """Forget one version, or every version of a model."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == name and version in (None, k[1])]:
                del self._entries[key]

    def loaded(self) -> dict[tuple[str, int], str]:
        """{(name, version): device} of every cached version."""
        with self._lock:
            return {key: str(self.device) for key in self._entries}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
