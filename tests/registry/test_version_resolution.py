"""The cache's answer to "which version": the store's answer, kept only while the model's
folder is unchanged."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
import torch

from app.core.errors import NotFound
from app.registry.cache import ModelCache
from app.registry.checkpoint_store import CheckpointStore
from tests.factories import BUNDLED_MODELS

HOUR_NS = 3600 * 10**9


@pytest.fixture
def cache(tmp_path: Path) -> ModelCache:
    """A cache over a store holding `sine` version 1, its folder last changed an hour ago."""
    shutil.copytree(BUNDLED_MODELS / "sine" / "1", tmp_path / "sine" / "1")
    settle(tmp_path / "sine")
    return ModelCache(CheckpointStore(tmp_path), torch.device("cpu"), size=2)


def settle(folder: Path) -> None:
    """Date the folder's last change an hour back."""
    os.utime(folder, ns=(time.time_ns() - HOUR_NS, time.time_ns() - HOUR_NS))


def test_it_answers_as_the_store(cache: ModelCache) -> None:
    assert cache.resolve_version("sine", None) == cache.checkpoints.resolve_version("sine", None)
    assert cache.resolve_version("sine", 1) == 1
    for name, version in (("sine", 7), ("nothing", None)):
        with pytest.raises(NotFound) as ours:
            cache.resolve_version(name, version)
        with pytest.raises(NotFound) as stores:
            cache.checkpoints.resolve_version(name, version)
        assert ours.value.message == stores.value.message
        assert ours.value.field == stores.value.field


def test_a_version_published_later_is_the_latest(cache: ModelCache) -> None:
    assert cache.resolve_version("sine", None) == 1
    shutil.copytree(cache.checkpoints.root / "sine" / "1", cache.checkpoints.root / "sine" / "2")
    assert cache.resolve_version("sine", None) == 2
    assert cache.get("sine", 2).meta.columns == ["sin"]


def test_a_deleted_version_or_model_is_gone(cache: ModelCache) -> None:
    shutil.copytree(cache.checkpoints.root / "sine" / "1", cache.checkpoints.root / "sine" / "2")
    settle(cache.checkpoints.root / "sine")
    assert cache.resolve_version("sine", None) == 2
    assert cache.resolve_version("sine", 2) == 2
    shutil.rmtree(cache.checkpoints.root / "sine" / "2")
    assert cache.resolve_version("sine", None) == 1
    with pytest.raises(NotFound):
        cache.resolve_version("sine", 2)
    shutil.rmtree(cache.checkpoints.root / "sine")
    with pytest.raises(NotFound):
        cache.resolve_version("sine", None)


def test_a_folder_changed_just_now_is_read_again(cache: ModelCache) -> None:
    """Its mtime may not move at the next change (a coarse clock tick): version 1 replaced by
    version 2 within the same tick leaves the folder's inode, mtime and link count as they
    were, so an answer kept from a fresh folder would be stale."""
    folder = cache.checkpoints.root / "sine"
    os.utime(folder)  # changed now
    before = os.stat(folder)
    assert cache.resolve_version("sine", None) == 1
    (folder / "1").rename(folder / "2")
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same tick
    assert cache.resolve_version("sine", None) == 2


def test_evict_forgets_the_model(cache: ModelCache) -> None:
    folder = cache.checkpoints.root / "sine"
    before = os.stat(folder)
    assert cache.resolve_version("sine", None) == 1
    (folder / "1").rename(folder / "2")
    os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))  # a change it cannot see
    cache.evict("sine")
    assert cache.resolve_version("sine", None) == 2
