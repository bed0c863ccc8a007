"""The forecaster's arithmetic for rollouts: the one step loop every rollout uses.

A small LSTM rolled out one step at a time spends its time on per-op overhead, not on
arithmetic: an `nn.LSTM` call with its checks and oneDNN set-up, the head's module calls, every
temporary tensor. Here the weights of a model, or of every member of an ensemble, are stacked
once into tensors ([E, ...]; a single model's without that dimension, so its matmuls are plain
`addmm`s), and `Cells` steps the layers in place in preallocated buffers: per layer one matmul
over the layer's input and its own h together, then six elementwise ops, computing nn.LSTM's
gates so that outputs match `LSTMForecaster.forward` to float rounding. A whole window from a
zero state still goes through the members' own `nn.LSTM` in one call: over many steps its
oneDNN kernel is the faster one. Torch ops keep one implementation for CPU and CUDA.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn

from app.ml.model import (
    INSTANCE_NORM_FLOOR,
    EnsembleForecaster,
    Forecaster,
    LSTMConfig,
    LSTMForecaster,
)

Linear = tuple[torch.Tensor, torch.Tensor]  # (weight [.., in, out], bias [.., 1, out])
# A cell: (weight [.., 4 * hidden, in + hidden], bias [.., 4 * hidden, 1]), feature-major, gate
# blocks in the order i, f, o, g; it reads a layer's input and its own h stacked.
Cell = tuple[torch.Tensor, torch.Tensor]
MatMul = Callable[..., torch.Tensor]  # torch.addmm (one member) or torch.baddbmm (E members)


def _members(stacked: torch.Tensor) -> torch.Tensor:
    """A stack [E, ...] as the step loop keeps it: without the member dimension when E == 1,
    so one model's matmuls are plain `addmm`s."""
    return stacked[0] if stacked.shape[0] == 1 else stacked


def _stacked(weights: list[torch.Tensor], biases: list[torch.Tensor]) -> Linear:
    """Members' (weight [out, in], bias [out]) -> ([.., in, out], [.., 1, out])."""
    weight = torch.stack(weights).transpose(1, 2).contiguous()
    return _members(weight), _members(torch.stack(biases)[:, None])


def _gates_ifog(weight: torch.Tensor) -> torch.Tensor:
    """nn.LSTM's gate blocks (i, f, g, o) along dim 0 -> (i, f, o, g): the three sigmoid gates
    side by side, so one op covers them."""
    i, f, g, o = weight.chunk(4, dim=0)
    return torch.cat([i, f, o, g])


def _cell(lstms: list[nn.LSTM], layer: int) -> Cell:
    """Layer `layer` of every member as one cell: [W_ih | W_hh] and b_ih + b_hh."""
    weights, biases = [], []
    for lstm in lstms:
        w_ih, w_hh = (getattr(lstm, f"weight_{kind}_l{layer}") for kind in ("ih", "hh"))
        bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
        weights.append(_gates_ifog(torch.cat([w_ih, w_hh], 1)))
        biases.append(_gates_ifog(bias)[:, None])
    return _members(torch.stack(weights)), _members(torch.stack(biases))


def columns(positions: Sequence[int]) -> slice | list[int]:
    """Column positions as a slice when they are consecutive (a view, far cheaper to index
    with than a list)."""
    if positions and list(positions) == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return list(positions)


def _linear(layers: list[nn.Linear]) -> Linear:
    """The same layer of every member, stacked."""
    return _stacked([layer.weight for layer in layers], [layer.bias for layer in layers])


@dataclass(frozen=True)
class FusedForecaster:
    """A model's weights stacked over its E members (1 for a single model: then without the
    member dimension), and its forward pass in parts: cells to step, a whole sequence, the
    head."""

    config: LSTMConfig
    cells: list[Cell]  # per LSTM layer
    dense: list[Linear]
    head: Linear  # -> [.., N, horizon * O]
    highway: Linear | None
    lstms: list[nn.LSTM]  # the members' own, for whole windows

    @cached_property
    def targets(self) -> slice | list[int]:
        """Where the predicted columns are among the inputs (residual and instance norm)."""
        return columns(self.config.roles.target_input_positions)

    @classmethod
    def of(cls, model: Forecaster) -> FusedForecaster:
        """Stack the weights of `model` (read now: a later training step is not seen)."""
        members = (
            [m for m in model.members if isinstance(m, LSTMForecaster)]
            if isinstance(model, EnsembleForecaster)
            else [model]
        )
        config = model.config
        lstms = [m.lstm for m in members]
        cells = [_cell(lstms, layer) for layer in range(config.num_layers)]
        linears = [[part for part in m.dense if isinstance(part, nn.Linear)] for m in members]
        dense = [_linear(list(same)) for same in zip(*linears, strict=True)]  # layer by layer
        highways = [m.highway for m in members if m.highway is not None]
        highway = _linear(highways) if highways else None
        head = _linear([m.head for m in members])
        return cls(config, cells, dense, head, highway, lstms)

    @property
    def members(self) -> int:
        """E: how many members' predictions are combined."""
        return len(self.lstms)

    @property
    def lead(self) -> tuple[int, ...]:
        """The member dimension of the stacked tensors: () for one model, (E,) for E."""
        return () if self.members == 1 else (self.members,)

    @property
    def mm(self) -> MatMul:
        """bias + a @ b over the stacked tensors."""
        return torch.addmm if self.members == 1 else torch.baddbmm

    @cached_property
    def emission(self) -> Linear:
        """A single model's head feature-major: (weight [H * O, width], bias [H * O, 1])."""
        weight, bias = self.head
        return weight.T, bias.T

    def emit(self, cells: Cells, out: torch.Tensor) -> torch.Tensor:
        """A single model's next chunk from the last step of `cells` into out [H * O, N]
        (feature-major: row h * O + o), as `forward` makes it: the head after the dense layers
        on the top h, plus the last row fed when residual."""
        top = cells.top
        for weight, bias in self.dense:
            top = torch.addmm(bias.T, weight.T, top).tanh_()
        torch.addmm(self.emission[1], self.emission[0], top, out=out)
        if self.config.residual:  # [H, O, N] + [O, N]
            out.view(self.config.horizon, -1, out.shape[-1]).add_(cells.last_row[self.targets])
        return out

    def sequence(self, steps: torch.Tensor) -> torch.Tensor:
        """Run steps [B, T, P*F] from a zero state through the members' nn.LSTM (over a whole
        window its oneDNN kernel is the faster one) -> top h of the last step [.., B, hidden]."""
        tops = [lstm(steps)[0][:, -1] for lstm in self.lstms]  # each [B, hidden]
        return tops[0] if self.members == 1 else torch.stack(tops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`Forecaster.forward` from a zero state: x [B, T, F] -> [B, H, O]."""
        config = self.config
        if config.instance_norm:
            center = x.mean(dim=1, keepdim=True)  # [B, 1, F]
            spread = x.std(dim=1, keepdim=True, unbiased=False).clamp_min(INSTANCE_NORM_FLOOR)
            x = (x - center) / spread
        step = self.predict(self.sequence(self.chunks(x)), x)  # [.., B, H, O]
        if config.instance_norm:
            step = step * spread[:, :, self.targets] + center[:, :, self.targets]
        return self.combine(step)

    def chunks(self, x: torch.Tensor) -> torch.Tensor:
        """Rows x [B, T, F] -> the LSTM's steps [B, T / patch, patch * F]."""
        return x.reshape(x.shape[0], -1, self.config.patch * x.shape[2])

    def predict(self, top: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """The head on the last step's top h [.., B, hidden], for windows [B, L, F] as the LSTM
        saw them (normalised when the model normalises) -> [.., B, horizon, O]."""
        config = self.config
        out = top
        for weight, bias in self.dense:
            out = self.mm(bias, out, weight).tanh_()  # [.., B, width]
        step = self.mm(self.head[1], out, self.head[0])  # [.., B, H * O]
        if self.highway is not None:
            flat = window.flatten(1).expand(*self.lead, -1, -1)  # [.., B, L * F]
            step = step + self.mm(self.highway[1], flat, self.highway[0])
        step = step.view(*self.lead, -1, config.horizon, config.n_outputs)  # [.., B, H, O]
        if config.residual:
            step = step + window[:, -1:, self.targets]  # + [B, 1, O]
        return step

    def combine(self, step: torch.Tensor) -> torch.Tensor:
        """Members' predictions [.., B, H, O] -> the model's [B, H, O] (an ensemble's median)."""
        return step if self.members == 1 else torch.quantile(step, 0.5, dim=0)


class Cells:
    """The LSTM layers of every member stepping N sequences in place, from a zero state.

    Feature-major: each sequence is a column, so every gate block, state and input is a
    contiguous run of rows (elementwise ops run several times faster over those than over
    strided columns). `stack` [.., P*F + layers * hidden, N] holds x over h_0 .. h_{L-1}, so
    one matmul reads a layer's input with its own h (x and h_0, h_{k-1} and h_k). A step costs
    seven ops per layer and allocates nothing.
    """

    def __init__(self, fused: FusedForecaster, sequences: int, like: torch.Tensor) -> None:
        config, lead = fused.config, fused.lead
        hidden, layers = config.hidden_size, config.num_layers
        width = config.patch * config.n_features
        self.mm, self.weights = fused.mm, fused.cells
        self.stack = like.new_zeros(*lead, width + layers * hidden, sequences)
        self.x = self.stack[..., :width, :]  # the input of the next step, for the caller to fill
        self.last_row = self.x.view(*lead, config.patch, -1, sequences)[..., -1, :, :]  # [.., F, N]
        self.h = [
            self.stack[..., width + k * hidden : width + (k + 1) * hidden, :] for k in range(layers)
        ]
        self.top = self.h[-1]
        self.reads = [self.stack[..., : width + hidden, :]] + [
            self.stack[..., width + (k - 1) * hidden : width + (k + 1) * hidden, :]
            for k in range(1, layers)
        ]
        self.c = like.new_zeros(*lead, layers, hidden, sequences)
        self.cell = list(self.c.unbind(-3))
        self.gates = like.new_empty(*lead, 4 * hidden, sequences)
        self.sigmoids = self.gates[..., : 3 * hidden, :]
        self.i, self.f, self.o, self.g = self.gates.chunk(4, dim=-2)
        self.tanh_c = like.new_empty(*lead, hidden, sequences)

    def step(self) -> torch.Tensor:
        """One step of every layer from `x` -> the top h [.., hidden, N] (a view of `stack`)."""
        for (weight, bias), reads, h, c in zip(
            self.weights, self.reads, self.h, self.cell, strict=True
        ):
            self.mm(bias, weight, reads, out=self.gates)
            self.sigmoids.sigmoid_()
            self.g.tanh_()
            c.mul_(self.f).addcmul_(self.i, self.g)
            torch.tanh(c, out=self.tanh_c)
            torch.mul(self.o, self.tanh_c, out=h)
        return self.top

    def restart(self, sequences: slice) -> None:
        """Zero the state of some sequences (columns), to start them afresh."""
        self.stack[..., self.x.shape[-2] :, sequences] = 0
        self.c[..., sequences] = 0
