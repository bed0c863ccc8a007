"""Fitting one model: epochs of shuffled windows (or sequences, or ordered streams), early
stopping and learning-rate decay on the validation loss, and a refit on every row.

A `Trainer` fits one member of a job's model to the `Prepared` series; `app.ml.train` runs the
members and hands the fitted model on to be measured. Knows nothing of HTTP, jobs, databases or
queues: callers pass a progress callback and a stop predicate.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from app.ml.budget import StopFn, TrainingCancelled
from app.ml.config import TrainConfig
from app.ml.data import column_windows, panel_starts
from app.ml.fitted import mean_loss
from app.ml.losses import training_loss
from app.ml.model import ModelConfig, RecurrentForecaster, RecurrentState, detach_state
from app.ml.prepare import Prepared
from app.ml.ranks import CANCELLED, GO_ON, OUT_OF_TIME, SOLO, Ranks
from app.ml.sequences import mean_sequence_loss, sequence_loss, sequence_span, sequence_windows


@dataclass(frozen=True)
class EpochStats:
    """What one finished epoch of one ensemble member reports to the caller."""

    member: int  # 1-based
    members: int
    epoch: int  # of this member, 1-based
    epochs: int  # most epochs a member runs
    train_loss: float
    val_loss: float
    best_val_loss: float
    best_epoch: int  # of this member
    learning_rate: float
    seconds: float
    elapsed_seconds: float  # since the job's fitting began
    # "search": a candidate configuration's fit (member: the trial, members: the trials);
    # "fit": the job's model
    stage: Literal["search", "fit"] = "fit"


ProgressFn = Callable[[EpochStats], None]


@dataclass(frozen=True)
class MemberFit:
    """How one member's fit went."""

    seed: int
    lookback: int
    epochs_run: int
    best_epoch: int
    stop_reason: str  # max_epochs, early_stopping or time_limit
    seconds: float

    def to_json(self) -> dict[str, object]:
        """The member's line of a job's metrics."""
        return {
            "seed": self.seed,
            "lookback": self.lookback,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "stop_reason": self.stop_reason,
            "seconds": self.seconds,
        }


# Seeding torch's global generator and drawing a model's first weights from it are one step:
# a configuration search fits candidates in threads, whose draws would otherwise interleave.
_SEEDED_INIT = threading.Lock()


def seeded_model(model_config: ModelConfig, seed: int, device: torch.device) -> RecurrentForecaster:
    """A new model whose first weights are drawn from `seed`, on `device`."""
    with _SEEDED_INIT:
        torch.manual_seed(seed)
        return RecurrentForecaster(model_config).to(device)


class TrainingDiverged(Exception):
    """The loss became NaN or infinite."""


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params, lr, decay = model.parameters(), config.learning_rate, config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=decay)


class Plateau:
    """Watches the validation loss for early stopping and learning-rate decay.

    An epoch improves on the best when its loss is lower by both margins, the absolute
    `min_delta` and the relative `min_relative_delta`. After `lr_decay_patience` epochs in a
    row without an improvement the learning rate is halved, and the count starts afresh; after
    `early_stopping_patience` such epochs training stops.

    Not torch's ReduceLROnPlateau, which cannot give the same learning rates: its threshold is
    absolute or relative, never both (min_delta would have to override its private
    `_is_better`); its relative test `best * (1 - threshold)` rounds differently from
    `best - threshold * best`, so a loss on the margin is judged the other way; and early
    stopping needs the very same judgement, which the scheduler keeps to itself.
    tests/ml/test_plateau.py shows where the two agree and where they part.
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.best_loss, self.best_epoch = math.inf, 0
        self.since_best = self.since_decay = 0  # epochs without an improvement

    def improves(self, loss: float) -> bool:
        """Whether `loss` beats the best so far by both the absolute and the relative margin."""
        best, config = self.best_loss, self.config
        if not math.isfinite(best):
            return True
        return loss < best - max(config.min_delta, config.min_relative_delta * best)

    def update(self, epoch: int, loss: float) -> bool:
        """Record epoch `epoch`'s validation loss; whether it is the new best."""
        if self.improves(loss):
            self.best_loss, self.best_epoch, self.since_best, self.since_decay = loss, epoch, 0, 0
            return True
        self.since_best += 1
        self.since_decay += 1
        return False

    def decay_due(self) -> bool:
        """Whether to halve the learning rate now (then the count starts afresh)."""
        patience = self.config.lr_decay_patience
        if patience and self.since_decay >= patience:
            self.since_decay = 0
            return True
        return False

    def stop_due(self) -> bool:
        """Whether early stopping's patience has run out."""
        patience = self.config.early_stopping_patience
        return bool(patience) and self.since_best >= patience


class BatchLoss(nn.Module):
    """The training loss of the windows (or sequences) at some starts: the module DDP wraps,
    which averages the gradients of its forward's result over the ranks."""

    def __init__(self, model: RecurrentForecaster, data: Prepared, config: TrainConfig) -> None:
        super().__init__()
        self.model, self.config = model, config
        self.data = data  # read, never a parameter or buffer: no rank broadcasts it

    def forward(self, starts: torch.Tensor) -> torch.Tensor:
        model, config, data = self.model, self.model.config, self.data
        if self.config.sequence_steps:
            inputs, targets = sequence_windows(
                data.scaled, starts, config, self.config.sequence_steps, data.roles
            )
            return sequence_loss(model, inputs, targets, self.config.loss)
        inputs, targets = column_windows(
            data.scaled, starts, config.lookback, config.horizon, data.roles
        )
        prediction, _ = model(inputs)
        return training_loss(prediction, targets, self.config.loss)


class Trainer:
    """One member's fit to the prepared series: its model, optimizer and sampling order, on
    this process or shared by the `ranks` of a group (`app.ml.ranks`)."""

    def __init__(
        self,
        data: Prepared,
        model_config: ModelConfig,
        config: TrainConfig,
        deadline: float | None,
        ranks: Ranks = SOLO,
    ) -> None:
        self.data, self.config, self.device, self.ranks = data, config, data.device, ranks
        lookback = model_config.lookback
        # Rows the targets of one training sample cover: a sequence's span every scored step's.
        self.span = (
            sequence_span(model_config, config.sequence_steps)
            if config.sequence_steps
            else model_config.horizon
        )
        self.train_starts = torch.as_tensor(panel_starts(data.segments, "train", lookback,
                                                         self.span))  # fmt: skip
        self.val_starts = torch.as_tensor(
            panel_starts(data.segments, "val", lookback, self.span), device=self.device
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.model, self.batch_loss, self.optimizer = self._fresh(model_config)
        self.deadline = deadline  # the job's fitting deadline (perf_counter seconds), or None
        self.steps = 0  # optimizer steps taken
        self.history: list[EpochStats] = []

    def _fresh(
        self, model_config: ModelConfig
    ) -> tuple[RecurrentForecaster, nn.Module, torch.optim.Optimizer]:
        """A model drawn from the config's seed, the batch loss that trains it (DDP's wrapper
        across ranks) and its optimizer."""
        model = seeded_model(model_config, self.config.seed, self.device)
        return (
            model,
            self.ranks.wrap(BatchLoss(model, self.data, self.config)),
            _optimizer(model, self.config),
        )

    def step(self, loss: torch.Tensor) -> None:
        """One optimiser step on `loss`."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.steps += 1

    def stateful_epoch(self, should_stop: StopFn | None) -> float:
        """One pass over the (one) series' training rows as `batch_size` streams in order,
        `tbptt` steps at a time, carrying the state between chunks; returns the mean loss."""
        model, config, roles = self.model, self.config, self.data.roles
        model.train()
        train_rows = self.data.segments[0].split.train
        streams = min(config.batch_size, max(1, (train_rows - 1) // 2))
        length = (train_rows - 1) // streams
        shift = int(torch.randint(0, train_rows - streams * length, (1,),
                                  generator=self.generator))  # fmt: skip
        rows = shift + torch.arange(streams)[:, None] * length + torch.arange(length + 1)
        data = self.data.scaled[rows.to(self.device)]  # [streams, length + 1, C]
        inputs = data[:, :-1, list(roles.inputs)]
        targets = data[:, 1:, list(roles.targets)]
        state: RecurrentState | None = None
        total, seen = torch.zeros((), device=self.device), 0
        for begin in range(0, length, config.tbptt):
            chunk = slice(begin, begin + config.tbptt)
            prediction, state = model.next_steps(inputs[:, chunk], state)
            prediction = prediction[:, :, 0]  # horizon 1: [streams, steps, O]
            loss = training_loss(prediction, targets[:, chunk], config.loss)
            self.step(loss)
            state = detach_state(state)  # carried on, but no gradient flows back past it
            total += loss.detach() * prediction.shape[1]
            seen += prediction.shape[1]
            if self.halt(should_stop):
                break
        return float(total) / seen

    def epoch(self, should_stop: StopFn | None) -> float:
        """One pass over the training windows in shuffled order (sequences: as many as score
        each training row about once); returns the mean loss."""
        if self.config.stateful:
            return self.stateful_epoch(should_stop)
        self.model.train()
        order = self.train_starts[torch.randperm(len(self.train_starts), generator=self.generator)]
        if self.config.sequence_steps:
            order = order[: max(1, len(order) // self.config.sequence_steps)]
        order = order.to(self.device)
        # Summed on the device (no sync per batch): each rank's share of the batches' sums.
        total = torch.zeros((), device=self.device)
        seen = 0
        for begin in range(0, len(order), self.config.batch_size):
            starts = order[begin : begin + self.config.batch_size]
            mine, weight = self.ranks.share(starts)
            loss = self.batch_loss(mine)
            self.step(loss * weight)
            total += loss.detach() * (weight * len(starts) / self.ranks.size)
            seen += len(starts)
            if self.halt(should_stop):  # an epoch may be long: the limit is checked every batch
                break
        return float(self.ranks.total(total)) / seen

    def val_loss(self) -> float:
        """The validation loss, measured as the model trains (windows or sequences): rank 0's,
        on which every rank's early stopping and learning-rate decay then agree."""
        data = self.data
        if self.config.sequence_steps:
            loss = mean_sequence_loss(
                self.model, data.scaled, self.val_starts, self.config.sequence_steps, data.roles,
                self.config.loss,
            )  # fmt: skip
        else:
            loss = mean_loss(self.model, data.scaled, self.val_starts, data.roles,
                             self.config.loss)  # fmt: skip
        return self.ranks.leader_value(loss)

    def past_deadline(self) -> bool:
        """Whether the fitting deadline has passed, by any rank's clock: once one rank's has,
        every rank stops."""
        return self.ranks.most(self._clock()) == OUT_OF_TIME

    def halt(self, should_stop: StopFn | None) -> bool:
        """After a batch: whether the deadline has passed (by any rank's clock). Raises
        TrainingCancelled when the caller (of any rank) asked to stop."""
        cancel = should_stop is not None and should_stop()
        verdict = self.ranks.most(CANCELLED if cancel else self._clock())
        if verdict == CANCELLED:
            raise TrainingCancelled
        return verdict == OUT_OF_TIME

    def _clock(self) -> int:
        """This rank's own verdict on the deadline."""
        over = self.deadline is not None and time.perf_counter() > self.deadline
        return OUT_OF_TIME if over else GO_ON

    def set_learning_rate(self, factor: float) -> float:
        """Multiply the learning rate by `factor`; returns the new rate."""
        for group in self.optimizer.param_groups:
            group["lr"] *= factor
        return float(self.optimizer.param_groups[0]["lr"])

    def fit(
        self,
        member: tuple[int, int],
        began: float,
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
    ) -> MemberFit:
        """Run epochs until max epochs, early stopping or the deadline, reporting each as
        member `member` = (number, of how many) of a fit that began at `began`
        (perf_counter); restores the best weights."""
        config, plateau = self.config, Plateau(self.config)
        best_state = copy.deepcopy(self.model.state_dict())
        learning_rate = config.learning_rate
        fit_began = time.perf_counter()
        stop_reason = "max_epochs"
        for epoch in range(1, config.epochs + 1):
            tick = time.perf_counter()
            train_loss = self.epoch(should_stop)
            val_loss = self.val_loss()
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                raise TrainingDiverged(
                    f"the loss became {train_loss if not math.isfinite(train_loss) else val_loss} "
                    f"in epoch {epoch}; lower the learning rate or turn on gradient clipping"
                )
            if plateau.update(epoch, val_loss):
                best_state = copy.deepcopy(self.model.state_dict())
            if plateau.decay_due():
                learning_rate = self.set_learning_rate(0.5)
            now = time.perf_counter()
            stats = EpochStats(
                member=member[0],
                members=member[1],
                epoch=epoch,
                epochs=config.epochs,
                train_loss=train_loss,
                val_loss=val_loss,
                best_val_loss=plateau.best_loss,
                best_epoch=plateau.best_epoch,
                learning_rate=learning_rate,
                seconds=now - tick,
                elapsed_seconds=now - began,
            )
            self.history.append(stats)
            if on_progress is not None:
                on_progress(stats)
            if plateau.stop_due() and self.steps >= config.min_steps:
                stop_reason = "early_stopping"
                break
            if self.past_deadline():
                stop_reason = "time_limit"
                break
        self.model.load_state_dict(best_state)
        return MemberFit(
            config.seed, self.model.config.lookback, len(self.history), plateau.best_epoch,
            stop_reason, time.perf_counter() - fit_began,
        )  # fmt: skip

    def refit(self, best_epoch: int, should_stop: StopFn | None) -> bool:
        """Fit a new model from the same seed on windows of every row, with the learning rate
        of each of the first fit's epochs up to its best, and keep it; False (keeping the first
        model) when the deadline passed first."""
        model_config, config = self.model.config, self.config
        rates = [config.learning_rate] + [stats.learning_rate for stats in self.history]
        self.generator = torch.Generator().manual_seed(config.seed)
        validated = self.model
        self.model, self.batch_loss, self.optimizer = self._fresh(model_config)
        self.train_starts = torch.as_tensor(
            panel_starts(self.data.segments, "all", model_config.lookback, self.span)
        )
        for epoch in range(best_epoch):
            for group in self.optimizer.param_groups:
                group["lr"] = rates[epoch]
            self.epoch(should_stop)
            if self.past_deadline():
                self.model = validated
                return False
        return True
