"""Loaded checkpoints on the serving device: an LRU cache that notices replaced versions, and
which version a forecast asked for, without listing the model's folder on every request."""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from app.core.errors import AppError, NotFound
from app.ml.checkpoint_meta import CheckpointError, CheckpointMissing
from app.ml.checkpoints import WEIGHTS_FILE, Checkpoint, load
from app.registry.checkpoint_store import CheckpointStore


class CheckpointUnreadable(AppError):
    """A stored checkpoint failed its checks (a server-side fault, not the client's)."""

    status_code, code = 500, "checkpoint_unreadable"


@dataclass
class _Entry:
    checkpoint: Checkpoint
    stamp: tuple[int, int]  # (inode, mtime) of the weights: a replaced version is reloaded


Stamp = tuple[int, int, int]  # (inode, mtime, links) of a model's folder
# A folder changed this recently may change again within the same mtime tick (coarse on many
# file systems) unseen, so what was read of it is not kept (as git's "racily clean" entries).
_SETTLED_NS = 2 * 10**9


class ModelCache:
    """Loaded checkpoints on the serving device, least recently used evicted first."""

    def __init__(
        self, checkpoints: CheckpointStore, device: torch.device, size: int, threads: int = 1
    ) -> None:
        self.checkpoints, self.device, self.size = checkpoints, device, size
        self.threads = threads  # torch CPU threads of each forecast (FORECAST_SERVE_THREADS)
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        # Of models found: their folders (checked once) and the versions resolved in them, by
        # (name, version asked for), with the folder's stamp when they were resolved.
        self._folders: dict[str, str] = {}
        self._resolved: dict[tuple[str, int | None], tuple[Stamp, int]] = {}

    def resolve_version(self, name: str, version: int | None) -> int:
        """`checkpoints.resolve_version(name, version)`: `version`, or the latest; NotFound if
        the model or version does not exist. Asked again while the model's folder is unchanged,
        it answers from memory: one stat instead of resolving the path and listing the folder."""
        folder = self._folders.get(name) or str(self.checkpoints.model_dir(name))
        try:
            stat = os.stat(folder)
        except FileNotFoundError:
            stat = None
        if stat is not None:
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_nlink)
            with self._lock:
                known = self._resolved.get((name, version))
            if known is not None and known[0] == stamp:
                return known[1]
        found = self.checkpoints.resolve_version(name, version)  # raises NotFound
        if stat is not None and time.time_ns() - stat.st_mtime_ns > _SETTLED_NS:
            with self._lock:
                self._folders[name] = folder
                self._resolved[(name, version)] = (stamp, found)
        return found

    def _weights_stamp(self, name: str, version: int) -> tuple[Path, tuple[int, int]]:
        """A version's folder and its weights' (inode, mtime); NotFound when it is gone."""
        folder = self._folders.get(name)
        path = (
            self.checkpoints.version_dir(name, version)
            if folder is None
            else Path(folder, str(version))
        )
        try:
            stat = os.stat(os.path.join(path, WEIGHTS_FILE))
        except FileNotFoundError:
            self.evict(name, version)
            raise NotFound(f"model {name!r} has no version {version}", field="version") from None
        return path, (stat.st_ino, stat.st_mtime_ns)

    def cached(self, name: str, version: int) -> Checkpoint | None:
        """The checkpoint of one version if it is loaded and current, else None: one stat,
        nothing read or loaded."""
        _, stamp = self._weights_stamp(name, version)
        with self._lock:
            entry = self._entries.get((name, version))
        return entry.checkpoint if entry is not None and entry.stamp == stamp else None

    def get(self, name: str, version: int) -> Checkpoint:
        """The checkpoint of one version, loading it on a miss."""
        key = (name, version)
        path, stamp = self._weights_stamp(name, version)
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
        """Forget one version, or every version of a model (and which versions it has)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == name and version in (None, k[1])]:
                del self._entries[key]
            for asked in [k for k in self._resolved if k[0] == name]:
                del self._resolved[asked]
            self._folders.pop(name, None)

    def loaded(self) -> dict[tuple[str, int], str]:
        """{(name, version): device} of every cached version."""
        with self._lock:
            return {key: str(self.device) for key in self._entries}

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
