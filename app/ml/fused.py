"""The forecaster's arithmetic for rollouts: the one step loop every rollout uses.

A small LSTM rolled out one step at a time spends its time on per-call overhead (an `nn.LSTM`
call with its checks and oneDNN set-up, the head's module calls), not on arithmetic. Here the
weights of a model, or of every member of an ensemble, are stacked once per rollout into
[E, ...] tensors, and one LSTM step is a few batched tensor ops (`baddbmm`, `sigmoid`, `tanh`)
computing nn.LSTM's gates with the same sums, so outputs match `LSTMForecaster.forward` to float
rounding. A whole window still goes through the members' own `nn.LSTM` in one call: over many
steps its oneDNN kernel is the faster one. Torch ops keep one implementation for CPU and CUDA.
"""

from __future__ import annotations

from collections.abc import Sequence
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

# Most rows a continuation steps through `FusedForecaster.step`. Measured on the bundled model
# (one thread): a step of 128 rows took 100 us here against 109 us by nn.LSTM, 192 rows 140
# against 124 us.
STEP_ROWS = 160
Linear = tuple[torch.Tensor, torch.Tensor]  # (weight [E, in, out], bias [E, 1, out])
FusedState = tuple[list[torch.Tensor], list[torch.Tensor]]  # (h, c) per layer, [E, N, hidden]


def _stacked(weights: list[torch.Tensor], biases: list[torch.Tensor]) -> Linear:
    """Members' (weight [out, in], bias [out]) -> ([E, in, out], [E, 1, out])."""
    return torch.stack(weights).transpose(1, 2).contiguous(), torch.stack(biases)[:, None]


def _gates_ifog(weight: torch.Tensor) -> torch.Tensor:
    """nn.LSTM's gate blocks (i, f, g, o) along dim 0 -> (i, f, o, g): the three sigmoid gates
    side by side, so one op covers them."""
    i, f, g, o = weight.chunk(4, dim=0)
    return torch.cat([i, f, o, g])


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
    """A model's weights stacked over its E members (1 for a single model), and its forward
    pass in parts: the input projection, one step, a whole sequence, the head."""

    config: LSTMConfig
    # per LSTM layer: ((W_ih, b_ih + b_hh), W_hh), gate blocks in the order i, f, o, g
    layers: list[tuple[Linear, torch.Tensor]]
    dense: list[Linear]
    head: Linear  # -> [E, N, horizon * O]
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
        layers = []
        for layer in range(config.num_layers):
            w_ih = [_gates_ifog(getattr(m.lstm, f"weight_ih_l{layer}")) for m in members]
            bias = [
                _gates_ifog(
                    getattr(m.lstm, f"bias_ih_l{layer}") + getattr(m.lstm, f"bias_hh_l{layer}")
                )
                for m in members
            ]
            w_hh = torch.stack(
                [_gates_ifog(getattr(m.lstm, f"weight_hh_l{layer}")) for m in members]
            )
            layers.append((_stacked(w_ih, bias), w_hh.transpose(1, 2).contiguous()))
        linears = [[part for part in m.dense if isinstance(part, nn.Linear)] for m in members]
        dense = [_linear(list(same)) for same in zip(*linears, strict=True)]  # layer by layer
        highways = [m.highway for m in members if m.highway is not None]
        highway = _linear(highways) if highways else None
        head = _linear([m.head for m in members])
        return cls(config, layers, dense, head, highway, [m.lstm for m in members])

    @property
    def members(self) -> int:
        """E: how many members' predictions are combined."""
        return self.head[0].shape[0]

    def zero_state(self, rows: int, like: torch.Tensor) -> FusedState:
        """(h, c) of zeros for `rows` sequences: per layer [E, rows, hidden]."""
        shape = (self.members, rows, self.config.hidden_size)
        layers = range(self.config.num_layers)
        return [like.new_zeros(shape) for _ in layers], [like.new_zeros(shape) for _ in layers]

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Layer 0's input term for inputs x [N, P*F] -> [E, N, 4 * hidden] (bias included)."""
        w_ih, bias = self.layers[0][0]
        return torch.baddbmm(bias, x.expand(self.members, -1, -1), w_ih)

    def step(self, gates_in: torch.Tensor, state: FusedState) -> torch.Tensor:
        """One LSTM step of every layer, updating `state` in place, from layer 0's input term
        gates_in [E, N, 4 * hidden] (see `project`) -> the top layer's h [E, N, hidden]."""
        hs, cs = state
        hidden = self.config.hidden_size
        x = gates_in
        for layer, ((w_ih, bias), w_hh) in enumerate(self.layers):
            gates = torch.baddbmm(bias, x, w_ih) if layer else x
            gates = torch.baddbmm(gates, hs[layer], w_hh)  # [E, N, 4 * hidden]: i, f, o, g
            i, f, o = gates[..., : 3 * hidden].sigmoid().chunk(3, dim=2)  # each [E, N, hidden]
            c = torch.addcmul(f * cs[layer], i, gates[..., 3 * hidden :].tanh())
            x = o * c.tanh()
            hs[layer], cs[layer] = x, c
        return x

    def sequence(
        self, steps: torch.Tensor, state: FusedState | None
    ) -> tuple[torch.Tensor, FusedState]:
        """Run steps [B, T, P*F] from `state` (None: zeros) -> (top h [E, B, hidden], state).
        A continuation of a few rows, usually a step or two, goes through `step`; a sequence
        from zeros, or many rows, through the members' nn.LSTM."""
        if state is not None and steps.shape[0] <= STEP_ROWS:
            projected = self.project(steps.flatten(0, 1))  # [E, B * T, 4 * hidden]
            projected = projected.view(self.members, steps.shape[0], steps.shape[1], -1)
            top = state[0][-1]
            for t in range(steps.shape[1]):
                top = self.step(projected[:, :, t], state)
            return top, state
        tops, hs, cs = [], [], []
        for member, lstm in enumerate(self.lstms):
            given = None
            if state is not None:  # [layers, B, hidden] each, as nn.LSTM takes them
                given = (
                    torch.stack([h[member] for h in state[0]]),
                    torch.stack([c[member] for c in state[1]]),
                )
            out, (h, c) = lstm(steps, given)  # out: [B, T, hidden]; h, c: [layers, B, hidden]
            tops.append(out[:, -1])
            hs.append(h)
            cs.append(c)
        per_layer = list(torch.stack(hs, 1)), list(torch.stack(cs, 1))  # [E, B, hidden] each
        return torch.stack(tops), per_layer

    def forward(
        self, x: torch.Tensor, state: FusedState | None = None
    ) -> tuple[torch.Tensor, FusedState]:
        """`Forecaster.forward`: x [B, T, F] on from `state` (None: zeros) -> ([B, H, O],
        the state after x)."""
        config = self.config
        if config.instance_norm:
            center = x.mean(dim=1, keepdim=True)  # [B, 1, F]
            spread = x.std(dim=1, keepdim=True, unbiased=False).clamp_min(INSTANCE_NORM_FLOOR)
            x = (x - center) / spread
        top, state = self.sequence(self.chunks(x), state)
        step = self.predict(top, x)  # [E, B, H, O]
        if config.instance_norm:
            step = step * spread[:, :, self.targets] + center[:, :, self.targets]
        return self.combine(step), state

    def chunks(self, x: torch.Tensor) -> torch.Tensor:
        """Rows x [B, T, F] -> the LSTM's steps [B, T / patch, patch * F]."""
        return x.reshape(x.shape[0], -1, self.config.patch * x.shape[2])

    def predict(self, top: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """The head on the last step's top h [E, B, hidden], for windows [B, L, F] as the LSTM
        saw them (normalised when the model normalises) -> [E, B, horizon, O]."""
        config = self.config
        out = top
        for weight, bias in self.dense:
            out = torch.baddbmm(bias, out, weight).tanh()  # [E, B, width]
        step = torch.baddbmm(self.head[1], out, self.head[0])  # [E, B, H * O]
        if self.highway is not None:
            flat = window.flatten(1).expand(self.members, -1, -1)  # [E, B, L * F]
            step = step + torch.baddbmm(self.highway[1], flat, self.highway[0])
        step = step.view(self.members, -1, config.horizon, config.n_outputs)  # [E, B, H, O]
        if config.residual:
            step = step + window[:, -1:, self.targets]  # + [B, 1, O]
        return step

    def combine(self, step: torch.Tensor) -> torch.Tensor:
        """Members' predictions [E, B, H, O] -> the model's [B, H, O] (an ensemble's median)."""
        if self.members == 1:
            return step[0]
        return torch.quantile(step, 0.5, dim=0)
