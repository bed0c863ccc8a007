"""Recursive multi-step rollout: each prediction is fed back as the next input.

Two ways to continue past the context, both batched (one tensor pass per model call):
- "window": re-run the model on the last `lookback` rows every call. This is exactly what a model
  trained on fixed windows from a zero state has seen; it costs ceil(steps / horizon) calls over
  `lookback` recurrent steps each.
- "state": run the context once, then feed only the new predictions while carrying the recurrent
  state ((h, c) of an LSTM, h of a GRU). It costs `steps` recurrent steps in all, but past
  `lookback` steps the state is in a regime a window-trained model never saw, so it is only
  right for a model whose validation rollout says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch

from app.ml.data import Scaling
from app.ml.fused import Cells, FusedForecaster, columns
from app.ml.model import INSTANCE_NORM_FLOOR, EnsembleForecaster, Forecaster, ModelConfig

RolloutMode = Literal["window", "state"]
# Most rows (windows under way x contexts) one wavefront step batches. Measured on the bundled
# model (one thread): sharing steps wins up to about 16 contexts (160 rows), while past that
# the per-step elementwise ops cost more than nn.LSTM's oneDNN kernel over whole windows.
WAVEFRONT_ROWS = 192


def state_rollout_possible(config: ModelConfig) -> bool:
    """Whether carrying the recurrent state can continue this model: not when each window is
    normalised on its own, nor when the predicted chunk cannot be cut into whole patches."""
    return (
        config.roles.state_rollout_possible
        and not config.instance_norm
        and not config.highway  # it reads a whole window, not a continuation
        and config.horizon % config.patch == 0
    )


def carries_state(model: Forecaster) -> bool:
    """Whether `model` can be rolled out by state: its config allows it and it is one model
    (an ensemble's members carry states of their own)."""
    return state_rollout_possible(model.config) and not isinstance(model, EnsembleForecaster)


@torch.inference_mode()
def rollout(
    model: Forecaster,
    context: torch.Tensor,
    steps: int,
    mode: RolloutMode = "window",
    future: torch.Tensor | None = None,
    keep_going: Callable[[], bool] | None = None,
    fused: FusedForecaster | None = None,
) -> torch.Tensor:
    """context: [B, >= lookback, F] scaled input rows; only its last `lookback` rows are used.
    future: [B, >= steps, F] scaled input rows ahead, read only in the columns that are not
    predicted (known covariates); needed when the model has such columns. `keep_going`, asked
    before every model call after the first, ends the rollout early when it answers False.

    Returns the next `steps` predicted rows, [B, steps, O] scaled (fewer, whole calls of
    `horizon` rows, when `keep_going` ended it). `fused`: the model's weights stacked already
    (a loaded checkpoint keeps them); default: stacked for this rollout.
    """
    model.eval()
    config = model.config
    lookback, horizon = config.lookback, config.horizon
    if context.shape[1] < lookback:
        raise ValueError(f"context has {context.shape[1]} rows; the model needs {lookback}")
    if context.shape[2] != config.n_features:  # the step loop would read them as more rows
        raise ValueError(
            f"context rows have {context.shape[2]} columns; the model reads {config.n_features}"
        )
    covariates = bool(config.roles.covariates)
    if covariates and (future is None or future.shape[1] < steps):
        raise ValueError(f"this model needs {steps} future rows of its known covariates")
    context = context[:, -lookback:]  # [B, lookback, F]
    calls = -(-steps // horizon)  # ceil
    if mode == "state":
        if covariates:
            raise ValueError("a model with known covariates rolls out by window")
        if isinstance(model, EnsembleForecaster):
            raise ValueError("an ensemble rolls out by window")
        return _state_rollout(model, context, calls, keep_going, fused)[:, :steps]
    return _window_rollout(model, context, calls, future, keep_going, fused)[:, :steps]


def fuse(model: Forecaster) -> FusedForecaster | None:
    """The weights of `model` stacked for the step loop; None for an ensemble whose members
    read windows of different lengths, which share no step loop (each reads its own), or for
    a cell whose arithmetic the step loop does not know: those roll out by their own forward."""
    if isinstance(model, EnsembleForecaster) and len(set(model.lookbacks)) > 1:
        return None
    if not FusedForecaster.serves(model.config):
        return None
    return FusedForecaster.of(model)


def _state_rollout(
    model: Forecaster,
    context: torch.Tensor,
    calls: int,
    keep_going: Callable[[], bool] | None,
    fused: FusedForecaster | None,
) -> torch.Tensor:
    """Run the context once, then feed back each predicted chunk carrying the state:
    [B, calls * H, F] (fewer whole chunks when `keep_going` ended it)."""
    if fused is None:
        fused = fuse(model)
    if fused is None:
        return _module_state_rollout(model, context, calls, keep_going)
    config = fused.config
    batch, width = context.shape[0], config.patch * config.n_features
    cells = Cells(fused, batch, context)
    # Feature-major like the cells: call k's chunk is rows [k * H * O, (k + 1) * H * O), row
    # h * O + o, so its patches (the next inputs) are contiguous blocks of P * F rows.
    out = context.new_empty(calls, config.horizon * config.n_outputs, batch)
    rows = context.permute(1, 2, 0)  # [T, F, B]
    for call in range(calls):
        if call:
            if keep_going is not None and not keep_going():
                out = out[:call]
                break
            rows = out[call - 1].view(config.horizon, -1, batch)  # [H, F, B]
        scale = _normalise(rows) if config.instance_norm else None
        if scale is not None:
            rows = (rows - scale[0]) / scale[1]
        for patch in rows.reshape(-1, width, batch):  # a view, but for the context's rows
            cells.x.copy_(patch)
            cells.step()
        fused.emit(cells, out[call])
        if scale is not None:
            out[call].view(config.horizon, -1, batch).mul_(scale[1]).add_(scale[0])
    return out.view(-1, config.n_outputs, batch).permute(2, 0, 1)


def _module_state_rollout(
    model: Forecaster, context: torch.Tensor, calls: int, keep_going: Callable[[], bool] | None
) -> torch.Tensor:
    """`_state_rollout` by the model's own forward, for a model the step loop cannot serve."""
    chunks: list[torch.Tensor] = []
    rows, state = context, None
    for call in range(calls):
        if call and keep_going is not None and not keep_going():
            break
        rows, state = model(rows, state)  # the next chunk [B, H, F], fed back
        chunks.append(rows)
    return torch.cat(chunks, 1)


def _normalise(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Instance norm's (center, spread) [1, F, B] of rows [T, F, B] (the model's own steps)."""
    center = rows.mean(dim=0, keepdim=True)
    spread = rows.std(dim=0, keepdim=True, unbiased=False).clamp_min(INSTANCE_NORM_FLOOR)
    return center, spread


class _Window:
    """The rows a window rollout reads and writes: the context, then the rows ahead (known
    covariates given, predicted columns filled in as each call makes them)."""

    def __init__(
        self, config: ModelConfig, context: torch.Tensor, calls: int, future: torch.Tensor | None
    ) -> None:
        self.config = config
        batch, _, width = context.shape
        ahead = context.new_zeros(batch, calls * config.horizon, width)
        if future is not None:
            known = future[:, : calls * config.horizon]
            ahead[:, : known.shape[1]] = known
        self.rows = torch.cat([context, ahead], 1)  # [B, lookback + calls * H, F]
        # Predicted columns that are also inputs are fed back; the rest of the inputs are given.
        pairs = [
            (out, at_input)
            for out, at_input in enumerate(config.roles.target_input_positions)
            if at_input >= 0
        ]
        self.fed = bool(pairs)
        self.outputs = columns(tuple(out for out, _ in pairs))
        self.inputs = columns(tuple(at_input for _, at_input in pairs))
        self.predicted = context.new_empty(batch, calls * config.horizon, config.n_outputs)

    def of_call(self, call: int) -> torch.Tensor:
        """The window model call `call` reads: [B, lookback, F]."""
        begin = call * self.config.horizon
        return self.rows[:, begin : begin + self.config.lookback]

    def record(self, call: int, chunk: torch.Tensor) -> None:
        """Keep call `call`'s prediction [B, H, O] and feed its input columns back."""
        horizon, at = self.config.horizon, self.config.lookback + call * self.config.horizon
        self.predicted[:, call * horizon : (call + 1) * horizon] = chunk
        if self.fed:
            self.rows[:, at : at + horizon, self.inputs] = chunk[..., self.outputs]


def _window_rollout(
    model: Forecaster,
    context: torch.Tensor,
    calls: int,
    future: torch.Tensor | None,
    keep_going: Callable[[], bool] | None,
    fused: FusedForecaster | None,
) -> torch.Tensor:
    """Re-run the model on the last `lookback` rows for every chunk, predicted inputs fed
    back and known covariates read from `future`: [B, calls * H, O] (fewer whole chunks when
    `keep_going` ended it)."""
    window = _Window(model.config, context, calls, future)
    forward: Callable[[torch.Tensor], torch.Tensor]
    if fused is None:
        fused = fuse(model)
    if fused is None:  # members reading windows of their own lengths
        forward = lambda rows: model(rows)[0]  # noqa: E731
    else:
        overlapping = _overlapping_windows(model.config)
        # Its first window takes a window's steps before any output: that pays back only over
        # about as many calls as a window has steps.
        steps_per_window = model.config.lookback // model.config.patch
        if 1 < overlapping <= WAVEFRONT_ROWS // len(context) and calls >= steps_per_window:
            return _wavefront(fused, window, calls, keep_going)
        forward = fused.forward
    for call in range(calls):
        if call and keep_going is not None and not keep_going():
            return window.predicted[:, : call * model.config.horizon]
        window.record(call, forward(window.of_call(call)))
    return window.predicted


def _overlapping_windows(config: ModelConfig) -> int:
    """How many windows of a window rollout can be under way at one recurrent step (1: run them
    one after another). Windows overlap when a chunk is shorter than the window, and can
    share steps when every window starts on a patch boundary and is not normalised on its
    own (instance norm needs a whole window before its first step)."""
    steps, horizon, patch = config.lookback // config.patch, config.horizon, config.patch
    if config.instance_norm or horizon % patch:
        return 1
    return -(-steps // (horizon // patch))  # ceil


def _wavefront(
    fused: FusedForecaster, window: _Window, calls: int, keep_going: Callable[[], bool] | None
) -> torch.Tensor:
    """The window rollout as one pass over the rows: every window under way reads the same
    next patch, so their recurrent steps run as one batch (K windows, each from its own zero
    state at its own start), and a window ends exactly when the rows it predicts are next.
    Sequential steps: about (lookback + steps) / patch instead of steps / horizon windows of
    lookback / patch steps each; the arithmetic is the same."""
    config = fused.config
    steps, every = config.lookback // config.patch, config.horizon // config.patch
    slots, batch = _overlapping_windows(config), window.rows.shape[0]
    # Feature-major like the cells, views of the rows: they see the rows fed back.
    patches = fused.chunks(window.rows).permute(1, 2, 0)[:, :, None]  # [steps, P * F, 1, B]
    cells = Cells(fused, slots * batch, window.rows)  # window c in columns of slot c % slots
    shared = cells.x.view(*fused.lead, -1, slots, batch)  # every slot reads the same patch
    for at in range((calls - 1) * every + steps):
        if at % every == 0 and at // every < calls:  # window at // every starts here
            cells.restart(slice((at // every) % slots * batch, ((at // every) % slots + 1) * batch))
        shared.copy_(patches[at])
        top = cells.step()  # [.., hidden, K * B]
        ended = at - steps + 1
        if ended < 0 or ended % every:
            continue
        call, slot = ended // every, (ended // every) % slots
        mine = top[..., slot * batch : (slot + 1) * batch].transpose(-1, -2)  # [.., B, hidden]
        window.record(call, fused.combine(fused.predict(mine, window.of_call(call))))
        if call + 1 < calls and keep_going is not None and not keep_going():
            return window.predicted[:, : (call + 1) * config.horizon]
    return window.predicted


# Rolls model-scale contexts [B, lookback, F] out `steps` rows: [B, <= steps, O] model scale.
Roll = Callable[[torch.Tensor, int, Callable[[], bool] | None], torch.Tensor]


def forecast(
    model: Forecaster,
    scalers: tuple[Scaling, Scaling],
    contexts: np.ndarray,
    steps: int,
    mode: RolloutMode,
    device: torch.device,
    future: np.ndarray | None = None,
    keep_going: Callable[[], bool] | None = None,
    fused: FusedForecaster | None = None,
    roll: Roll | None = None,
) -> np.ndarray:
    """contexts: [B, >= lookback, F] input rows, original scale (future: [B, >= steps, F] rows
    ahead, for a model with known covariates) -> [B, steps, O] predicted rows, original scale
    (fewer steps when `keep_going`, asked between model calls, ended the rollout).

    `scalers` are the (input, output) column scalers: one for every context, or a stack of
    one per context (each series of a global model keeps its own). `roll` rolls the scaled
    contexts out instead of `rollout` (a batcher's, sharing one rollout between forecasts; not
    for a model with known covariates). The one place where a forecast is scaled in and out.
    """
    scale_in, scale_out = scalers
    tail = contexts[:, -model.config.lookback :]  # [B, lookback, F]
    scaled = torch.as_tensor(scale_in.transform(tail), dtype=torch.float32, device=device)
    if roll is not None and future is None:
        out = roll(scaled, steps, keep_going)
    else:
        ahead = None
        if future is not None:
            ahead = torch.as_tensor(scale_in.transform(future), dtype=torch.float32, device=device)
        out = rollout(model, scaled, steps, mode, ahead, keep_going, fused)  # [B, steps, O]
    return scale_out.inverse(out.double().cpu().numpy())
