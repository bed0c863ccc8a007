"""Dynamic batching: concurrent forecasts of one loaded version run as one batched rollout.

A rollout of one context costs nearly what a rollout of dozens does (per-step overhead, not
arithmetic, dominates), so forecasts that wait anyway are better served together. The batcher
rolls out contexts already on the model's scale (each forecast scales its own in and out), so
forecasts of any series share a rollout. A forecast
that finds its model version idle runs at once, alone: a lone request is never held. Those
that arrive while a rollout of the same version and horizon is under way queue, and the first
of them, when that rollout ends, runs everyone queued by then (after a short gathering window,
FORECAST_BATCH_WINDOW_MS) as one rollout, and hands each its rows. A batch that fails is run
again one forecast at a time, so an error reaches only the forecast that caused it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from app.ml.checkpoints import Checkpoint
from app.ml.forecast import rollout

Key = tuple[Checkpoint, int]  # (the loaded checkpoint, compared by identity; steps)


@dataclass
class _Ask:
    """One forecast's part of a batch: its contexts, and what its rollout gave."""

    checkpoint: Checkpoint
    contexts: torch.Tensor  # [b, lookback, F], model scale, on the checkpoint's device
    keep_going: Callable[[], bool] | None
    done: bool = False
    values: torch.Tensor | None = None
    error: Exception | None = None

    def wanted(self) -> bool:
        """Whether its caller still waits for it."""
        return self.keep_going is None or self.keep_going()


@dataclass
class _Line:
    """The forecasts of one key waiting for their turn, and whether a rollout is under way."""

    waiting: list[_Ask] = field(default_factory=list)
    running: bool = False


class RolloutBatcher:
    """Runs concurrent forecasts of the same loaded version and horizon as one rollout."""

    def __init__(self, window_seconds: float, max_contexts: int) -> None:
        self.window_seconds, self.max_contexts = window_seconds, max_contexts
        self._lines: dict[Key, _Line] = {}
        self._changed = threading.Condition()
        # forecasts in each rollout run, oldest first (the latest few: it is for looking at)
        self.batch_sizes: deque[int] = deque(maxlen=256)

    def rollout(
        self,
        checkpoint: Checkpoint,
        contexts: torch.Tensor,
        steps: int,
        keep_going: Callable[[], bool] | None = None,
    ) -> torch.Tensor:
        """The checkpoint's rollout of model-scale `contexts` [b, lookback, F], batched with
        concurrent rollouts of the same version and horizon: [b, steps, O] model scale (fewer
        steps when every caller in its batch stopped waiting)."""
        ask, key = _Ask(checkpoint, contexts, keep_going), (checkpoint, steps)
        with self._changed:
            line = self._lines.setdefault(key, _Line())
            line.waiting.append(ask)
            gathered = line.running  # it found a rollout under way: its batch may grow
            while not ask.done and (line.running or line.waiting[0] is not ask):
                self._changed.wait()
            if not ask.done:
                line.running = True
        if not ask.done:
            self._lead(key, line, gathered)
        if ask.error is not None:
            raise ask.error
        assert ask.values is not None
        return ask.values

    def waiting(self) -> int:
        """Forecasts queued behind a rollout under way, over every key."""
        with self._changed:
            return sum(len(line.waiting) for line in self._lines.values())

    def _lead(self, key: Key, line: _Line, gathered: bool) -> None:
        """Take the forecasts queued for `key` and run them as one rollout."""
        if gathered and self.window_seconds > 0:
            time.sleep(self.window_seconds)  # let the requests of this burst join
        with self._changed:
            batch: list[_Ask] = []
            while line.waiting and (
                not batch
                or sum(len(a.contexts) for a in batch) + len(line.waiting[0].contexts)
                <= self.max_contexts
            ):
                batch.append(line.waiting.pop(0))
        try:
            self._run(batch, key[1])
        finally:
            with self._changed:
                for ask in batch:
                    ask.done = True
                line.running = False
                if not line.waiting:
                    del self._lines[key]
                self.batch_sizes.append(len(batch))
                self._changed.notify_all()

    def _run(self, batch: list[_Ask], steps: int) -> None:
        """One rollout for the forecasts of the batch whose callers still wait (those gone
        while queued get no rows); on failure, one per forecast."""
        checkpoint = batch[0].checkpoint
        wanted = [ask.wanted() for ask in batch]
        for ask, still in zip(batch, wanted, strict=True):
            if not still:
                outputs = checkpoint.model.config.n_outputs
                ask.values = ask.contexts.new_empty(len(ask.contexts), 0, outputs)
        batch = [ask for ask, still in zip(batch, wanted, strict=True) if still]
        if not batch:
            return
        try:
            values = _rolled(
                checkpoint,
                torch.cat([ask.contexts for ask in batch]),
                steps,
                lambda: any(ask.wanted() for ask in batch),
            )
        except Exception:  # told apart below, forecast by forecast
            for ask in batch:
                try:
                    ask.values = _rolled(checkpoint, ask.contexts, steps, ask.keep_going)
                except Exception as exc:  # handed to its own caller
                    ask.error = exc
            return
        at = 0
        for ask in batch:
            ask.values = values[at : at + len(ask.contexts)]
            at += len(ask.contexts)


def _rolled(
    checkpoint: Checkpoint,
    contexts: torch.Tensor,
    steps: int,
    keep_going: Callable[[], bool] | None,
) -> torch.Tensor:
    """The checkpoint's own rollout of model-scale contexts, in its rollout mode."""
    return rollout(
        checkpoint.model, contexts, steps, checkpoint.rollout_mode, None, keep_going,
        checkpoint.fused,
    )  # fmt: skip
