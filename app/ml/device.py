"""The one place a torch.device is chosen."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Checked where settings and requests are parsed, which must not pay for importing torch.
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d{1,2})?)$"
_DEVICE = re.compile(DEVICE_PATTERN)


class DeviceUnavailable(RuntimeError):
    """The requested device does not exist on this host."""


def is_device_name(name: str) -> bool:
    """Whether `name` is one of auto, cpu, cuda, cuda:N."""
    return bool(_DEVICE.match(name))


def resolve_device(preference: str) -> torch.device:
    """Turn auto / cpu / cuda / cuda:N into a torch.device that exists here."""
    import torch

    if not is_device_name(preference):
        raise DeviceUnavailable(f"unknown device {preference!r}; use auto, cpu, cuda or cuda:N")
    if preference == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if preference == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"device {preference!r} was asked for but this host has no CUDA GPU"
        )
    device = torch.device(preference if ":" in preference else "cuda:0")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceUnavailable(
            f"device {preference!r} was asked for but this host has "
            f"{torch.cuda.device_count()} CUDA GPU(s)"
        )
    return device


def rank_device(device: torch.device, local_rank: int) -> torch.device:
    """The device of the process `local_rank` (from 0) of a fit shared by processes on this
    host: `device` itself on the CPU; on GPUs, the `local_rank`-th GPU from `device`'s, each
    process a GPU of its own (NCCL puts one rank on one GPU)."""
    import torch

    if device.type != "cuda" or local_rank == 0:
        return device
    count, first = torch.cuda.device_count(), device.index or 0
    if first + local_rank >= count:
        raise DeviceUnavailable(
            f"the fit's process {local_rank + 1} needs a GPU of its own, and this host has "
            f"{count} CUDA GPU(s) from {device}: ask for fewer training.processes, or the cpu"
        )
    return torch.device("cuda", first + local_rank)


def use_threads(count: int) -> None:
    """Run this thread's torch CPU work on `count` threads. OpenMP keeps the count per thread:
    a thread that started before the service set it (a server's worker threads) keeps torch's
    default, one per core, which under load from training is many times slower."""
    import torch

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
