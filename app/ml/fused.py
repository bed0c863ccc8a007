"""The forecaster's arithmetic for rollouts: the one step loop every rollout uses.

A small recurrent model rolled out one step at a time spends its time on per-op overhead, not
on arithmetic: an `nn.LSTM` or `nn.GRU` call with its checks and oneDNN set-up, the head's
module calls, every temporary tensor. Here the weights of a model, or of every member of an
ensemble, are stacked once into tensors ([E, ...]; a single model's without that dimension, so
its matmuls are plain `addmm`s), and `Cells` steps the layers in place in preallocated buffers:
per layer one matmul over the layer's input and its own h together, then a few elementwise ops,
computing the torch cell's equations so that outputs match `RecurrentForecaster.forward` to float
rounding. A whole window from a zero state still goes through the members' own module in one
call: over many steps its oneDNN kernel is the faster one. Torch ops keep one implementation
for CPU and CUDA.
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
    ModelConfig,
    RecurrentForecaster,
)

Linear = tuple[torch.Tensor, torch.Tensor]  # (weight [.., in, out], bias [.., 1, out])
# One recurrent layer as the step loop reads it: (weight [.., 4 * hidden, in + hidden], bias
# [.., 4 * hidden, 1]), feature-major, over the layer's input and its own h stacked. Its four
# blocks of hidden rows: i, f, o, g for an LSTM; r, z, n_x, n_h for a GRU.
LayerWeights = tuple[torch.Tensor, torch.Tensor]
Recurrent = nn.LSTM | nn.GRU
MatMul = Callable[..., torch.Tensor]  # torch.addmm (one member) or torch.baddbmm (E members)


def _members(stacked: torch.Tensor) -> torch.Tensor:
    """A stack [E, ...] as the step loop keeps it: without the member dimension when E == 1,
    so one model's matmuls are plain `addmm`s."""
    return stacked[0] if stacked.shape[0] == 1 else stacked


def _stacked(weights: list[torch.Tensor], biases: list[torch.Tensor]) -> Linear:
    """Members' (weight [out, in], bias [out]) -> ([.., in, out], [.., 1, out])."""
    weight = torch.stack(weights).transpose(1, 2).contiguous()
    return _members(weight), _members(torch.stack(biases)[:, None])


def _parameters(module: Recurrent, layer: int) -> tuple[torch.Tensor, ...]:
    """Layer `layer`'s W_ih [G * hidden, in], W_hh [G * hidden, hidden], b_ih and b_hh."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return tuple(getattr(module, f"{name}_l{layer}") for name in names)


def _lstm_layer(lstm: Recurrent, layer: int) -> LayerWeights:
    """An nn.LSTM layer as [W_ih | W_hh] and b_ih + b_hh, its gate blocks (i, f, g, o)
    reordered to (i, f, o, g): the three sigmoid gates side by side, so one op covers them."""
    w_ih, w_hh, b_ih, b_hh = _parameters(lstm, layer)

    def ifog(rows: torch.Tensor) -> torch.Tensor:
        i, f, g, o = rows.chunk(4, dim=0)
        return torch.cat([i, f, o, g])

    return ifog(torch.cat([w_ih, w_hh], 1)), ifog(b_ih + b_hh)[:, None]


def _gru_layer(gru: Recurrent, layer: int) -> LayerWeights:
    """An nn.GRU layer (gate blocks r, z, n) as one block matrix over [x; h] whose rows give
    r and z before their sigmoid, and n's input and recurrent parts apart (r scales only the
    latter): rows [W_ir W_hr], [W_iz W_hz], [W_in 0], [0 W_hn]; biases b_ir + b_hr,
    b_iz + b_hz, b_in, b_hn."""
    w_ih, w_hh, b_ih, b_hh = _parameters(gru, layer)
    hidden, width = w_hh.shape[1], w_ih.shape[1]
    both = torch.cat([w_ih[: 2 * hidden], w_hh[: 2 * hidden]], 1)  # r and z: [2H, in + H]
    n_x = torch.cat([w_ih[2 * hidden :], w_ih.new_zeros(hidden, hidden)], 1)  # [H, in + H]
    n_h = torch.cat([w_hh.new_zeros(hidden, width), w_hh[2 * hidden :]], 1)  # [H, in + H]
    bias = torch.cat(
        [b_ih[: 2 * hidden] + b_hh[: 2 * hidden], b_ih[2 * hidden :], b_hh[2 * hidden :]]
    )
    return torch.cat([both, n_x, n_h]), bias[:, None]


def _layer(modules: list[Recurrent], layer: int, cell: str) -> LayerWeights:
    """Layer `layer` of every member, stacked."""
    weights, biases = zip(
        *(ARITHMETIC[cell].layer(module, layer) for module in modules), strict=True
    )
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

    config: ModelConfig
    layers: list[LayerWeights]  # per recurrent layer
    dense: list[Linear]
    head: Linear  # -> [.., N, horizon * O]
    highway: Linear | None
    recurrent: list[Recurrent]  # the members' own layers, for whole windows

    @cached_property
    def targets(self) -> slice | list[int]:
        """Where the predicted columns are among the inputs (residual and instance norm)."""
        return columns(self.config.roles.target_input_positions)

    @staticmethod
    def serves(config: ModelConfig) -> bool:
        """Whether the step loop knows the arithmetic of the model's cell."""
        return config.cell in ARITHMETIC

    @classmethod
    def of(cls, model: Forecaster) -> FusedForecaster:
        """Stack the weights of `model` (read now: a later training step is not seen)."""
        members = (
            [m for m in model.members if isinstance(m, RecurrentForecaster)]
            if isinstance(model, EnsembleForecaster)
            else [model]
        )
        config = model.config
        if not cls.serves(config):
            raise ValueError(f"the step loop has no arithmetic for the {config.cell} cell")
        recurrent = [m.recurrent for m in members]
        layers = [_layer(recurrent, k, config.cell) for k in range(config.num_layers)]
        linears = [[part for part in m.dense if isinstance(part, nn.Linear)] for m in members]
        dense = [_linear(list(same)) for same in zip(*linears, strict=True)]  # layer by layer
        highways = [m.highway for m in members if m.highway is not None]
        highway = _linear(highways) if highways else None
        head = _linear([m.head for m in members])
        return cls(config, layers, dense, head, highway, recurrent)

    @property
    def members(self) -> int:
        """E: how many members' predictions are combined."""
        return len(self.recurrent)

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
        """Run steps [B, T, P*F] from a zero state through the members' own recurrent layers
        (over a whole window their oneDNN kernel is the faster one) -> top h of the last step
        [.., B, hidden]."""
        tops = [module(steps)[0][:, -1] for module in self.recurrent]  # each [B, hidden]
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
        """Rows x [B, T, F] -> the recurrent layers' steps [B, T / patch, patch * F]."""
        return x.reshape(x.shape[0], -1, self.config.patch * x.shape[2])

    def predict(self, top: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """The head on the last step's top h [.., B, hidden], for windows [B, L, F] as the layers
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
    """The recurrent layers of every member stepping N sequences in place, from a zero state.

    Feature-major: each sequence is a column, so every gate block, state and input is a
    contiguous run of rows (elementwise ops run several times faster over those than over
    strided columns). `stack` [.., P*F + layers * hidden, N] holds x over h_0 .. h_{L-1}, so
    one matmul reads a layer's input with its own h (x and h_0, h_{k-1} and h_k) into `gates`;
    the cell's update then turns them into the layer's new h. A step allocates nothing.
    """

    def __init__(self, fused: FusedForecaster, sequences: int, like: torch.Tensor) -> None:
        config, lead = fused.config, fused.lead
        hidden, layers = config.hidden_size, config.num_layers
        width = config.patch * config.n_features
        self.mm, self.weights = fused.mm, fused.layers
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
        self.gates = like.new_empty(*lead, 4 * hidden, sequences)
        self.update = ARITHMETIC[config.cell].update(self.gates, layers)
        self.layers = list(zip(range(layers), self.weights, self.reads, self.h, strict=True))

    def step(self) -> torch.Tensor:
        """One step of every layer from `x` -> the top h [.., hidden, N] (a view of `stack`)."""
        mm, gates, update = self.mm, self.gates, self.update
        for layer, (weight, bias), reads, h in self.layers:
            mm(bias, weight, reads, out=gates)
            update(layer, h)
        return self.top

    def restart(self, sequences: slice) -> None:
        """Zero the state of some sequences (columns), to start them afresh."""
        self.stack[..., self.x.shape[-2] :, sequences] = 0
        self.update.restart(sequences)


class _LSTMUpdate:
    """nn.LSTM's equations over the gates [.., 4 * hidden, N] (blocks i, f, o, g), in place:
    c' = f * c + i * g, h' = o * tanh(c'). Keeps every layer's c."""

    def __init__(self, gates: torch.Tensor, layers: int) -> None:
        hidden, sequences = gates.shape[-2] // 4, gates.shape[-1]
        self.sigmoids = gates[..., : 3 * hidden, :]
        self.i, self.f, self.o, self.g = gates.chunk(4, dim=-2)
        self.c = gates.new_zeros(*gates.shape[:-2], layers, hidden, sequences)
        self.cell = list(self.c.unbind(-3))
        self.tanh_c = gates.new_empty(*gates.shape[:-2], hidden, sequences)

    def __call__(self, layer: int, h: torch.Tensor) -> None:
        """Layer `layer`'s gates, computed already, into its c and h."""
        c = self.cell[layer]
        self.sigmoids.sigmoid_()
        self.g.tanh_()
        c.mul_(self.f).addcmul_(self.i, self.g)
        torch.tanh(c, out=self.tanh_c)
        torch.mul(self.o, self.tanh_c, out=h)

    def restart(self, sequences: slice) -> None:
        """Zero the c of some sequences."""
        self.c[..., sequences] = 0


class _GRUUpdate:
    """nn.GRU's equations over the gates [.., 4 * hidden, N] (blocks r, z before their sigmoid,
    n_x = W_in x + b_in, n_h = W_hn h + b_hn), in place: n = tanh(n_x + r * n_h),
    h' = (1 - z) * n + z * h, written as torch writes it, (h - n) * z + n."""

    def __init__(self, gates: torch.Tensor, layers: int) -> None:
        self.sigmoids = gates[..., : gates.shape[-2] // 2, :]
        self.r, self.z, self.n, self.n_h = gates.chunk(4, dim=-2)

    def __call__(self, layer: int, h: torch.Tensor) -> None:
        """A layer's gates, computed already, into its h (a GRU carries nothing else)."""
        self.sigmoids.sigmoid_()
        self.n.addcmul_(self.r, self.n_h).tanh_()
        h.sub_(self.n).mul_(self.z).add_(self.n)

    def restart(self, sequences: slice) -> None:
        """Nothing: a GRU's state is its h, in the stack."""


@dataclass(frozen=True)
class CellArithmetic:
    """What the step loop knows of a cell kind: how a layer's weights stack into one matmul,
    and how the gates it yields update the layer's state."""

    layer: Callable[[Recurrent, int], LayerWeights]
    update: type[_LSTMUpdate] | type[_GRUUpdate]


ARITHMETIC = {  # by `ModelConfig.cell`
    "lstm": CellArithmetic(_lstm_layer, _LSTMUpdate),
    "gru": CellArithmetic(_gru_layer, _GRUUpdate),
}
