"""The losses a model may be fitted with: what training minimises and early stopping watches."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

LossName = Literal["mse", "mae"]


def training_loss(predicted: torch.Tensor, target: torch.Tensor, loss: LossName) -> torch.Tensor:
    """The mean `loss` of `predicted` against `target`, to backpropagate."""
    if loss == "mae":
        return nn.functional.l1_loss(predicted, target)
    return nn.functional.mse_loss(predicted, target)


def pointwise(error: torch.Tensor, loss: LossName) -> torch.Tensor:
    """Each value's `loss` of `error` (predicted - target), to sum over batches."""
    return error.abs() if loss == "mae" else error**2
