"""The checkpoint store on disk: models/<name>/<version>/, written atomically.

Every path comes from `version_dir`/`model_dir`, which accept only valid names and refuse to
leave the store. A version appears by renaming a complete temporary folder into place, so a crash
never leaves half a checkpoint, and disappears by a rename to a trash folder before removal.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from app.core.errors import InvalidInput, NotFound
from app.core.schemas import MODEL_NAME_PATTERN
from app.ml.checkpoint_meta import CheckpointError
from app.ml.checkpoints import read_columns

_NAME = re.compile(MODEL_NAME_PATTERN)
_VERSION = re.compile(r"^[1-9][0-9]{0,8}$")  # ASCII only: str.isdigit() also accepts '²'
_TEMP_PREFIX, _TRASH_PREFIX = ".tmp-", ".trash-"
_LAST_VERSION = ".last_version"  # the highest version ever published: numbers are never reused
_STALE_SECONDS = 3600  # a temporary folder this old was left by a crash, not a running save


class CheckpointStore:
    """Versions of named models in one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def ensure(self) -> None:
        """Create the store and clear the temporary folders a crash left behind."""
        self.root.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - _STALE_SECONDS
        for pattern in (f"{_TEMP_PREFIX}*", f"{_TRASH_PREFIX}*"):
            for leftover in self.root.glob(pattern):
                if leftover.stat().st_mtime < cutoff:
                    shutil.rmtree(leftover, ignore_errors=True)

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """Serialise publishing, deleting and listing versions of one model, across processes."""
        self.model_dir(name)  # a valid name, before it names a lock file
        locks = self.root / ".locks"
        locks.mkdir(parents=True, exist_ok=True)
        with FileLock(locks / f"{name}.lock"):
            yield

    def check_writable(self) -> None:
        """Raise OSError unless the store is a writable directory."""
        if not self.root.is_dir() or not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"{self.root} is not a writable directory")

    def model_dir(self, name: str) -> Path:
        """The folder of model `name`; InvalidInput for a name that is not allowed."""
        if not _NAME.match(name):
            raise InvalidInput(f"invalid model name {name!r}", field="model_name")
        path = (self.root / name).resolve()
        if path.parent != self.root:
            raise InvalidInput(f"invalid model name {name!r}", field="model_name")
        return path

    def version_dir(self, name: str, version: int) -> Path:
        """The folder of one version."""
        return self.model_dir(name) / str(int(version))

    def all_versions(self) -> dict[str, list[int]]:
        """{name: versions, ascending} of every model with at least one version, by name."""
        if not self.root.is_dir():
            return {}
        found = {p.name: self.versions(p.name) for p in self.root.iterdir() if _NAME.match(p.name)}
        return {name: versions for name, versions in sorted(found.items()) if versions}

    def versions(self, name: str) -> list[int]:
        """Saved versions of `name`, ascending ([] if none)."""
        folder = self.model_dir(name)
        if not folder.is_dir():
            return []
        return sorted(
            int(p.name) for p in folder.iterdir() if _VERSION.match(p.name) and p.is_dir()
        )

    def resolve_version(self, name: str, version: int | None) -> int:
        """`version`, or the latest; NotFound if the model or version does not exist."""
        versions = self.versions(name)
        if not versions:
            raise NotFound(f"no model named {name!r}", field="model_name")
        if version is None:
            return versions[-1]
        if version not in versions:
            raise NotFound(
                f"model {name!r} has no version {version}; it has {versions}", field="version"
            )
        return version

    def columns(self, name: str, version: int) -> list[str]:
        """A version's columns, read without its per-series state; NotFound if unreadable."""
        try:
            return read_columns(self.version_dir(name, version))
        except CheckpointError as exc:
            raise NotFound(f"model {name!r} version {version} is unreadable: {exc}") from exc

    def _last_published(self, folder: Path) -> int:
        try:
            return int((folder / _LAST_VERSION).read_text())
        except (OSError, ValueError):
            return 0

    def save(self, name: str, write: Callable[[Path], None]) -> int:
        """Have `write` fill a temporary folder, then publish it as the next version."""
        folder = self.model_dir(name)
        self.root.mkdir(parents=True, exist_ok=True)
        temp = self.root / f"{_TEMP_PREFIX}{uuid.uuid4().hex}"
        temp.mkdir()
        try:
            write(temp)
            with self._locked(name):
                folder.mkdir(exist_ok=True)
                version = max([0, *self.versions(name), self._last_published(folder)]) + 1
                os.rename(temp, folder / str(version))  # fails rather than overwrite a version
                (folder / _LAST_VERSION).write_text(str(version))
            return version
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def _to_trash(self, path: Path) -> Path:
        trash = self.root / f"{_TRASH_PREFIX}{uuid.uuid4().hex}"
        os.rename(path, trash)  # gone from view at once; removed after the lock is released
        return trash

    def delete_version(self, name: str, version: int) -> None:
        """Remove one version; NotFound if it does not exist. Its number is not reused."""
        self._existing(name)
        with self._locked(name):
            self.resolve_version(name, version)
            trash = self._to_trash(self.version_dir(name, version))
        shutil.rmtree(trash, ignore_errors=True)

    def delete_model(self, name: str) -> list[int]:
        """Remove a model and every version; returns the versions removed."""
        self._existing(name)
        with self._locked(name):
            versions = self.versions(name)
            if not versions:
                raise NotFound(f"no model named {name!r}", field="model_name")
            trash = self._to_trash(self.model_dir(name))
        shutil.rmtree(trash, ignore_errors=True)
        return versions

    def _existing(self, name: str) -> None:
        """NotFound for a model with no folder, before any lock file is made for its name."""
        if not self.model_dir(name).is_dir():
            raise NotFound(f"no model named {name!r}", field="model_name")

    @contextmanager
    def unchanging(self, name: str) -> Iterator[None]:
        """Hold off publishing and deleting versions of `name` (briefly: a listing reads small
        files under it), so a listing never shows a version half gone. A model that does not
        exist takes no lock, so probing names creates no lock files."""
        if not self.model_dir(name).is_dir():
            yield
            return
        with self._locked(name):
            yield
