"""One fit across processes: the ranks of a torch.distributed group sharing every batch.

Every rank prepares the same series and draws the same shuffled windows (its generator is
seeded alike), computes the loss of its share of each global batch, and DDP averages the
gradients, so every rank steps to the weights one process would reach with the whole batch.
What a rank sees alone (its clock, a cancel request, its validation loss) is agreed on before
anyone acts on it: a rank that stopped alone would leave the others waiting in a collective.

`SOLO`, the group of one process, does no collective at all, so one code path serves both.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch._C._distributed_c10d import Store  # the public name torch.distributed.Store is untyped
from torch.nn.parallel import DistributedDataParallel

# How long a rank waits in one collective for the others before the fit fails: long enough for
# a rank that measures its model a while longer than the rest, short of a stuck job forever.
GROUP_TIMEOUT = datetime.timedelta(hours=1)

# A verdict the ranks agree on after every batch: the most severe one any rank reached.
GO_ON, OUT_OF_TIME, CANCELLED = 0, 1, 2


@dataclass(frozen=True)
class Ranks:
    """This process's place in the group that fits one model together."""

    rank: int = 0
    size: int = 1
    # Where the collectives' tensors live: NCCL reduces only CUDA tensors, gloo CPU ones.
    device: torch.device = torch.device("cpu")

    @property
    def leads(self) -> bool:
        """Whether this rank is the one whose caller reports progress and keeps the model."""
        return self.rank == 0

    def share(self, starts: torch.Tensor) -> tuple[torch.Tensor, float]:
        """This rank's windows of a global batch (every size-th, from its rank's) and the
        weight of their mean loss that makes DDP's average over ranks the batch's mean loss.
        A rank left without a window reads the first at weight 0: every rank must step."""
        if self.size == 1:
            return starts, 1.0
        mine = starts[self.rank :: self.size]
        if len(mine) == 0:
            return starts[:1], 0.0
        return mine, len(mine) * self.size / len(starts)

    def wrap(self, module: nn.Module) -> nn.Module:
        """`module` as this group trains it: DDP's wrapper, which averages the gradients of
        its forward's result over the ranks (the module itself for one process)."""
        if self.size == 1:
            return module
        ids = [self.device] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def most(self, verdict: int) -> int:
        """The largest of every rank's `verdict`."""
        if self.size == 1:
            return verdict
        found = torch.tensor([verdict], device=self.device)
        dist.all_reduce(found, op=dist.ReduceOp.MAX)
        return int(found.item())

    def total(self, values: torch.Tensor) -> torch.Tensor:
        """The sum of `values` over the ranks."""
        if self.size == 1:
            return values
        summed = values.to(self.device, copy=True)
        dist.all_reduce(summed)
        return summed

    def leader_value(self, value: float) -> float:
        """Rank 0's `value`, on every rank: what every rank then decides alike."""
        if self.size == 1:
            return value
        found = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(found, src=0)
        return float(found.item())


SOLO = Ranks()


def join(rank: int, size: int, device: torch.device, store: Store | None = None) -> Ranks:
    """Join the group of `size` processes as `rank` (NCCL on a GPU, gloo on the CPU), meeting
    the others at `store`, or else where MASTER_ADDR and MASTER_PORT say (as `torchrun` and
    `app.jobs.rank` set them)."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(
        backend, store=store, rank=rank, world_size=size, timeout=GROUP_TIMEOUT,
        init_method=None if store is not None else "env://",
    )  # fmt: skip
    return Ranks(rank, size, device)


def leave(ranks: Ranks) -> None:
    """Leave the group `ranks` joined (nothing for `SOLO`)."""
    if ranks.size > 1 and dist.is_initialized():
        dist.destroy_process_group()
