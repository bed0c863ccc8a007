"""The training loop: windows of a series in, a fitted forecaster and its test metrics out.

`train` fits (epochs, early stopping, learning-rate decay) and hands the fitted model to
`app.ml.assess` for its rollout mode, metrics and intervals. Knows nothing of HTTP, jobs,
databases or queues: callers pass a progress callback and a stop predicate.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch
from torch import nn

from app.ml.assess import Fitted, assess, mean_loss
from app.ml.backtest import backtest
from app.ml.budget import Budget, StopFn, TrainingCancelled
from app.ml.data import (
    Scaler,
    ScalingKind,
    Segment,
    Split,
    column_windows,
    panel_starts,
    segments_of,
    split_problems,
)
from app.ml.fields import DESCRIPTION, described
from app.ml.forecast import RolloutMode, state_rollout_possible
from app.ml.model import EnsembleForecaster, Forecaster, LSTMConfig, LSTMForecaster
from app.ml.panel_assess import PanelFitted, assess_panel
from app.ml.roles import ColumnRoles
from app.ml.season import Seasonality
from app.ml.sequences import (
    SEQUENCE_NEEDS,
    mean_sequence_loss,
    sequence_loss,
    sequence_span,
    sequence_windows,
    sequences_too_long,
)

# Of a job's time limit, the share fitting may use: the rest is kept for measuring the model
# (rollouts, the rollout-mode choice, intervals), which the limit covers too.
FIT_SHARE = 0.8
OptimizerName = Literal["adam", "adagrad", "rmsprop", "sgd"]


@dataclass(frozen=True)
class TrainConfig:
    """How to fit: optimisation, early stopping, scaling and the split."""

    epochs: int = described(100, "maximum epochs")
    batch_size: int = 64
    learning_rate: float = 3e-3
    optimizer: OptimizerName = "adam"
    weight_decay: float = 0.0
    early_stopping_patience: int = described(
        10, "epochs without a better validation loss; 0 turns it off"
    )
    min_delta: float = described(0.0, "absolute improvement that counts")
    # A loss creeping down by 1e-11 an epoch is not progress worth an epoch.
    min_relative_delta: float = described(
        0.01,
        "relative improvement that counts (also for learning-rate decay): the default stops a "
        "loss that only creeps down by under 1% an epoch",
    )
    lr_decay_patience: int = described(
        3, "halve the learning rate after this many flat epochs; 0: never"
    )
    grad_clip: float = described(1.0, "max gradient norm; 0 turns it off")
    seed: int = 0
    scaling: ScalingKind = described("standard", "fitted on the training split only")
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    # Row counts win over the fractions: the same last rows of every series, however long.
    val_rows: int | None = described(None, "validation rows of each series (over the fraction)")
    test_rows: int | None = described(None, "test rows of each series (over the fraction)")
    # A short series is a few dozen windows: an epoch is one or two steps, and early stopping
    # judged on a handful of validation rows would end training before it starts.
    min_steps: int = described(0, "optimizer steps before early stopping may end training")
    ensemble: int = described(
        1,
        "models fitted from seeds seed, seed + 1, ...; forecasts are their median (rolled out by "
        "window)",
    )
    # Members that read windows of different lengths err in less alike ways than members that
    # differ only by seed.
    ensemble_lookbacks: tuple[int, ...] = field(
        default_factory=tuple,
        metadata={
            DESCRIPTION: "each ensemble member's lookback (as many as `ensemble`, the longest "
            "equal to the window's lookback, each a multiple of its patch); default: every "
            "member reads the whole window"
        },
    )
    # Validation chose the epochs; refitting then lets the newest rows, which validation and
    # test held out, inform the forecast. The metrics describe the model before the refit.
    refit: bool = described(
        False,
        "after measuring, fit again on every row (validation and test parts included) for the "
        "epochs and learning rates that validation chose, and serve that model",
    )
    folds: int = described(
        0,
        "rolling origins of a backtest in each series' test part (0: none); each fold "
        "forecasts interval_steps rows, or fewer to give every fold an origin of its own",
    )
    # The classical decomposition the M4 benchmarks used: what is left is trend and noise, which
    # a global model shares across series more easily than each series' own seasonal shape.
    deseasonalise: bool = described(
        False,
        "divide each series that passes the seasonality test (the autocorrelation at the "
        "season's lag, 90%) by its classical multiplicative seasonal indices, fitted on its "
        "training rows; forecasts multiply them back",
    )
    time_limit_seconds: float | None = None  # stop (keeping the best weights) once over it
    interval_steps: int = described(
        200,
        "forecast steps the prediction intervals are calibrated for (at most half the "
        "validation split)",
    )
    # Otherwise: shuffled windows from a zero state.
    stateful: bool = described(
        False,
        "train over the series in order as batch_size streams, carrying the LSTM state from one "
        "chunk of tbptt steps to the next (truncated backpropagation through time), predicting "
        "the next row at every step; needs horizon 1 and patch 1",
    )
    tbptt: int = described(20, "steps per chunk of stateful training")
    sequence_steps: int = described(
        0,
        "0: train on windows from a zero state. N: train on runs of the window and N - 1 more "
        "patches, the LSTM carrying its state through them, scored on the next horizon rows "
        "after the window and after every patch past it: what a state rollout (one LSTM step "
        "per patch, the fastest serving path) continues",
    )


def split_of(config: TrainConfig, rows: int) -> Split:
    """How a series of `rows` rows splits under `config`: its row counts, else its fractions."""
    if config.val_rows is None and config.test_rows is None:
        return Split.of(rows, config.val_fraction, config.test_fraction)
    fractions = Split.of(rows, config.val_fraction, config.test_fraction)
    val = fractions.val if config.val_rows is None else config.val_rows
    test = fractions.test if config.test_rows is None else config.test_rows
    return Split.sized(rows, val, test)


@dataclass(frozen=True)
class EpochStats:
    """What one finished epoch reports to the caller."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    best_val_loss: float
    best_epoch: int
    learning_rate: float
    seconds: float
    elapsed_seconds: float


@dataclass
class TrainResult:
    """A fitted model with everything a checkpoint and a job record need."""

    model: Forecaster
    scalers: list[Scaler]  # each series' own, in order (one for a single series)
    history: list[EpochStats]
    best_epoch: int
    stop_reason: str
    metrics: dict[str, object]
    rollout_mode: RolloutMode
    seconds: float
    # [lookback, C] last rows of each series, original scale
    tails: list[np.ndarray] = field(repr=False)
    # each series' seasons phased to continue it (`Seasonality.rephased`); None: not adjusted
    seasons: list[Seasonality | None] = field(default_factory=list, repr=False)
    # [len(LEVELS), steps, O] conformal half-widths, on the original scale for one series and in
    # the model scale for many (each forecast multiplies them by its series' spread); None if
    # the validation split is too short to calibrate them
    interval_widths: np.ndarray | None = field(default=None, repr=False)

    @property
    def scaler(self) -> Scaler:
        """The first (for one series, the) series' scaler."""
        return self.scalers[0]

    @property
    def tail(self) -> np.ndarray:
        """The first (for one series, the) series' tail."""
        return self.tails[0]


DESEASONALISE_NEEDS = (
    "deseasonalising divides every column by its own seasons: it needs every column to be "
    "predicted, without known covariates"
)


def deseasonalise_possible(roles: ColumnRoles) -> bool:
    """Whether every column can be divided by its seasons and multiplied back: every column
    predicted, no known covariates."""
    return not roles.covariates and min(roles.target_input_positions) >= 0


def member_lookbacks(config: TrainConfig, model_config: LSTMConfig) -> tuple[int, ...]:
    """Each ensemble member's lookback, longest first (members the time limit cuts off leave a
    model that reads the whole window); ValueError unless there is one per member, the longest
    is the window's and each is a multiple of the patch."""
    lookbacks = config.ensemble_lookbacks or (model_config.lookback,) * config.ensemble
    if (
        len(lookbacks) != config.ensemble
        or max(lookbacks) != model_config.lookback
        or any(rows % model_config.patch for rows in lookbacks)
    ):
        raise ValueError(
            "ensemble_lookbacks needs one lookback per ensemble member, the longest equal to "
            f"the window's lookback, each a multiple of the patch: got {list(lookbacks)} for "
            f"ensemble {config.ensemble}, lookback {model_config.lookback} and patch "
            f"{model_config.patch}"
        )
    return tuple(sorted(lookbacks, reverse=True))


STATEFUL_NEEDS = (
    "stateful training predicts the next row after every step: it needs one series, horizon 1, "
    "patch 1, and neither instance normalisation nor the highway"
)


def stateful_possible(config: LSTMConfig) -> bool:
    """Whether a model can be trained statefully (see `LSTMForecaster.next_steps`)."""
    return (
        config.horizon == 1 and config.patch == 1 and not config.instance_norm
        and not config.highway
    )  # fmt: skip


@dataclass(frozen=True)
class PanelLayout:
    """Many series laid end to end: their ids and row counts in order."""

    ids: tuple[str, ...]
    lengths: tuple[int, ...]


class TrainingDiverged(Exception):
    """The loss became NaN or infinite."""


ProgressFn = Callable[[EpochStats], None]


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


@dataclass(frozen=True, eq=False)
class _Scaled:
    """The series as every ensemble member trains on them, prepared once: each split on its
    own, divided by its seasons where asked, scaled by its own training rows, on the device."""

    raw: np.ndarray  # [T, C] original scale
    segments: list[Segment]
    seasons: list[Seasonality | None]
    factors: np.ndarray  # [T, C] what each row divides by to be seasonally adjusted (1: none)
    scalers: list[Scaler]
    series: torch.Tensor  # [T, C] model scale

    @classmethod
    def of(
        cls,
        series: np.ndarray,
        config: TrainConfig,
        roles: ColumnRoles,
        lengths: list[int],
        season: int,
        device: torch.device,
    ) -> _Scaled:
        """Split, adjust and scale `series` (many laid end to end, of `lengths` rows)."""
        if sum(lengths) != len(series):
            raise ValueError("the series' lengths do not add up to the rows given")
        segments = segments_of(lengths, lambda rows: split_of(config, rows))
        shortest_test = min(segment.split.test for segment in segments)
        if config.folds > shortest_test:
            raise ValueError(
                f"{config.folds} backtest folds need {config.folds} test rows in every series; "
                f"a series has {shortest_test}"
            )
        seasons: list[Seasonality | None] = [None] * len(segments)
        if config.deseasonalise and season >= 2:
            if not deseasonalise_possible(roles):
                raise ValueError(DESEASONALISE_NEEDS)
            seasons = [
                Seasonality.fit(series[s.offset : s.offset + s.split.train], season)
                for s in segments
            ]
        factors = np.concatenate(
            [
                np.ones((segment.split.rows, series.shape[1]))
                if found is None
                else found.factors(0, segment.split.rows)
                for found, segment in zip(seasons, segments, strict=True)
            ]
        )
        adjusted = series / factors
        # Each series is scaled by its own training rows: a global model sees every series on
        # a common scale whatever its level and spread.
        scalers = [
            Scaler.fit(config.scaling, adjusted[s.offset : s.offset + s.split.train])
            for s in segments
        ]
        scaled = np.concatenate(
            [
                scaler.transform(adjusted[segment.offset : segment.end])
                for scaler, segment in zip(scalers, segments, strict=True)
            ]
        )
        tensor = torch.as_tensor(scaled, dtype=torch.float32).to(device)
        return cls(series, segments, seasons, factors, scalers, tensor)


class _Trainer:
    """One fitting run; split into steps to keep each one readable."""

    def __init__(
        self,
        data: _Scaled,
        model_config: LSTMConfig,
        config: TrainConfig,
        device: torch.device,
        roles: ColumnRoles,
        deadline: float | None,
    ) -> None:
        self.config, self.device, self.roles = config, device, roles
        chosen = (roles.n_columns, len(roles.inputs), roles.target_inputs)
        if chosen != (data.raw.shape[1], model_config.n_features, model_config.target_inputs):
            raise ValueError("the model config does not match the chosen input/target columns")
        self.raw, self.segments, self.seasons = data.raw, data.segments, data.seasons
        self.factors, self.scalers, self.series = data.factors, data.scalers, data.series
        self.split = self.segments[0].split  # the series' split, when there is one series
        lookback, horizon = model_config.lookback, model_config.horizon
        for number, segment in enumerate(self.segments):
            problems = split_problems(segment.split.rows, segment.split, lookback, horizon)
            if problems:
                named = "" if len(self.segments) == 1 else f"series {number + 1}: "
                raise ValueError(named + "; ".join(problems))
        if config.stateful and (len(self.segments) > 1 or not stateful_possible(model_config)):
            raise ValueError(STATEFUL_NEEDS)
        if config.sequence_steps:  # a sequence's horizon spans every scored step's
            if config.stateful or not state_rollout_possible(model_config):
                raise ValueError(SEQUENCE_NEEDS)
            horizon = sequence_span(model_config, config.sequence_steps)
        self.span = horizon  # rows the targets of one training sample cover
        self.train_starts = torch.as_tensor(panel_starts(self.segments, "train", lookback, horizon))
        self.val_starts = torch.as_tensor(
            panel_starts(self.segments, "val", lookback, horizon), device=device
        )
        if config.sequence_steps and not (len(self.train_starts) and len(self.val_starts)):
            raise ValueError(sequences_too_long(config.sequence_steps, lookback, horizon))
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.model = LSTMForecaster(model_config).to(device)
        self.optimizer = _optimizer(self.model, config)
        self.deadline = deadline  # the job's time limit (perf_counter seconds), or None
        self.steps = 0  # optimizer steps taken
        self.best_epoch = 0  # of the last `fit`

    def step(self, loss: torch.Tensor) -> None:
        """One optimiser step on `loss`."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.steps += 1

    def stateful_epoch(self, should_stop: StopFn | None) -> float:
        """One pass over the training rows as `batch_size` streams in order, `tbptt` steps at a
        time, carrying (h, c) between chunks; returns the mean loss."""
        model, config = self.model, self.config
        model.train()
        streams = min(config.batch_size, max(1, (self.split.train - 1) // 2))
        length = (self.split.train - 1) // streams
        shift = int(torch.randint(0, self.split.train - streams * length, (1,),
                                  generator=self.generator))  # fmt: skip
        rows = shift + torch.arange(streams)[:, None] * length + torch.arange(length + 1)
        data = self.series[rows.to(self.device)]  # [streams, length + 1, C]
        inputs = data[:, :-1, list(self.roles.inputs)]
        targets = data[:, 1:, list(self.roles.targets)]
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        total, seen = torch.zeros((), device=self.device), 0
        for begin in range(0, length, config.tbptt):
            chunk = slice(begin, begin + config.tbptt)
            prediction, (h, c) = model.next_steps(inputs[:, chunk], state)
            prediction = prediction[:, :, 0]  # horizon 1: [streams, steps, O]
            loss = nn.functional.mse_loss(prediction, targets[:, chunk])
            self.step(loss)
            state = (h.detach(), c.detach())  # carried on, but no gradient flows back past it
            total += loss.detach() * prediction.shape[1]
            seen += prediction.shape[1]
            if should_stop is not None and should_stop():
                raise TrainingCancelled
            if self.past_deadline():
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
        total = torch.zeros((), device=self.device)  # summed on the device: no sync per batch
        seen = 0
        for begin in range(0, len(order), self.config.batch_size):
            starts = order[begin : begin + self.config.batch_size]
            loss = self.batch_loss(starts)
            self.step(loss)
            total += loss.detach() * len(starts)
            seen += len(starts)
            if should_stop is not None and should_stop():
                raise TrainingCancelled
            if self.past_deadline():  # an epoch may be long: the limit is checked every batch
                break
        return float(total) / seen

    def batch_loss(self, starts: torch.Tensor) -> torch.Tensor:
        """The training loss of the windows (or sequences) at `starts`."""
        model, config = self.model, self.model.config
        if self.config.sequence_steps:
            inputs, targets = sequence_windows(
                self.series, starts, config, self.config.sequence_steps, self.roles
            )
            return sequence_loss(model, inputs, targets)
        inputs, targets = column_windows(
            self.series, starts, config.lookback, config.horizon, self.roles
        )
        prediction, _ = model(inputs)
        return nn.functional.mse_loss(prediction, targets)

    def val_loss(self) -> float:
        """The validation loss, measured as the model trains (windows or sequences)."""
        if self.config.sequence_steps:
            return mean_sequence_loss(
                self.model, self.series, self.val_starts, self.config.sequence_steps, self.roles
            )
        return mean_loss(self.model, self.series, self.val_starts, self.roles)

    def past_deadline(self) -> bool:
        """Whether the training time limit has passed."""
        return self.deadline is not None and time.perf_counter() > self.deadline

    def set_learning_rate(self, factor: float) -> float:
        """Multiply the learning rate by `factor`; returns the new rate."""
        for group in self.optimizer.param_groups:
            group["lr"] *= factor
        return float(self.optimizer.param_groups[0]["lr"])

    def fit(self, on_progress: ProgressFn | None, should_stop: StopFn | None) -> tuple[int, str]:
        """Run epochs until max epochs or early stopping; restores the best weights."""
        config, plateau = self.config, Plateau(self.config)
        best_state = copy.deepcopy(self.model.state_dict())
        learning_rate = config.learning_rate
        began = time.perf_counter()
        self.history: list[EpochStats] = []
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
                epoch, config.epochs, train_loss, val_loss, plateau.best_loss, plateau.best_epoch,
                learning_rate, now - tick, now - began,
            )  # fmt: skip
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
        self.best_epoch = plateau.best_epoch
        return plateau.best_epoch, stop_reason

    def refit(self, should_stop: StopFn | None) -> bool:
        """Fit a new model from the same seed on windows of every row, with the learning rate
        of each of the first fit's epochs up to its best, and keep it; False (keeping the first
        model) when the time limit passed first."""
        model_config, config = self.model.config, self.config
        rates = [config.learning_rate] + [stats.learning_rate for stats in self.history]
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        validated, self.model = self.model, LSTMForecaster(model_config).to(self.device)
        self.optimizer = _optimizer(self.model, config)
        self.train_starts = torch.as_tensor(
            panel_starts(self.segments, "all", model_config.lookback, self.span)
        )
        for epoch in range(self.best_epoch):
            for group in self.optimizer.param_groups:
                group["lr"] = rates[epoch]
            self.epoch(should_stop)
            if self.past_deadline():
                self.model = validated
                return False
        return True

    def fitted(self) -> Fitted:
        """The model with the series it was fitted to, for `app.ml.assess`."""
        targets = list(self.roles.targets)
        return Fitted(
            self.model, self.series, self.raw[:, targets], self.split, self.roles,
            self.scalers[0].subset(targets), self.factors[:, targets],
        )  # fmt: skip

    def panel_fitted(self, ids: list[str]) -> PanelFitted:
        """The model with the many series it was fitted to, for `app.ml.panel_assess`."""
        return PanelFitted(
            self.model, self.series, self.raw, self.segments, self.roles, self.scalers, ids,
            self.factors,
        )  # fmt: skip


def _numbered(on_progress: ProgressFn, offset: int, config: TrainConfig) -> ProgressFn:
    """`on_progress` of an ensemble member: its epochs numbered after the members before it,
    out of every member's epochs."""

    def report(stats: EpochStats) -> None:
        on_progress(
            replace(
                stats,
                epoch=stats.epoch + offset,
                epochs=config.epochs * config.ensemble,
                best_epoch=stats.best_epoch + offset,
            )
        )

    return report


def train(
    series: np.ndarray,
    model_config: LSTMConfig,
    config: TrainConfig,
    device: torch.device,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    roles: ColumnRoles | None = None,
    panel: PanelLayout | None = None,
    season: int = 1,
) -> TrainResult:
    """Fit a forecaster to `series` [T, C] (original scale) and measure it on the test split.

    `roles` picks the input and target columns (default: all of them, both); `model_config`
    must describe them (n_features = inputs, target_inputs = `roles.target_inputs`). `panel`
    says the rows are many series laid end to end: one global model is fitted to windows of
    them all, each series scaled and split on its own, and measured series by series.
    `season` is the period of the seasonal naive baseline the metrics compare with (1: naive).

    Raises ValueError if a series is too short for the split and window, TrainingCancelled if
    `should_stop` returns True, TrainingDiverged if the loss stops being finite.
    """
    began = time.perf_counter()
    limit = config.time_limit_seconds
    budget = Budget(None if limit is None else began + limit, should_stop)  # the whole job's
    fit_deadline = None if limit is None else began + FIT_SHARE * limit
    series = np.asarray(series, dtype=np.float64)
    roles = roles or ColumnRoles.of(series.shape[1])
    lengths = [len(series)] if panel is None else list(panel.lengths)
    lookbacks = member_lookbacks(config, model_config)
    data = _Scaled.of(series, config, roles, lengths, season, device)
    members: list[_Trainer] = []
    for member in range(config.ensemble):
        if members and members[-1].past_deadline():  # out of time: the members fitted so far
            break
        member_config = replace(config, seed=config.seed + member)
        member_model = replace(model_config, lookback=lookbacks[member])
        trainer = _Trainer(data, member_model, member_config, device, roles, fit_deadline)
        offset = sum(len(done.history) for done in members)
        progress = None if on_progress is None else _numbered(on_progress, offset, config)
        best_epoch, stop_reason = trainer.fit(progress, should_stop)
        members.append(trainer)
    model: Forecaster = trainer.model
    if len(members) > 1:
        model = EnsembleForecaster(model_config, [done.model for done in members])
    if panel is None:
        fitted = replace(trainer.fitted(), model=model)
        mode, metrics, widths = assess(fitted, config.interval_steps, budget, season)
    else:
        on_panel = replace(trainer.panel_fitted(list(panel.ids)), model=model)
        mode, metrics, widths = assess_panel(on_panel, season, config.interval_steps, budget)
    metrics["ensemble"] = len(members)
    if config.folds:
        ids = ["series"] if panel is None else list(panel.ids)
        on_folds = replace(trainer.panel_fitted(ids), model=model, mode=mode)
        metrics["backtest"] = backtest(
            on_folds, config.folds, config.interval_steps, season, budget
        )
    if config.refit and not config.stateful:
        refit_began = time.perf_counter()
        metrics["refit_members"] = sum(done.refit(should_stop) for done in members)
        model = members[0].model
        if len(members) > 1:
            model = EnsembleForecaster(model_config, [done.model for done in members])
        metrics["refit_seconds"] = time.perf_counter() - refit_began
    lookback = model_config.lookback
    return TrainResult(
        model=model.cpu(),
        scalers=trainer.scalers,
        history=[stats for done in members for stats in done.history],
        best_epoch=best_epoch + sum(len(done.history) for done in members[:-1]),
        stop_reason=stop_reason,
        metrics=metrics,
        rollout_mode=mode,
        seconds=time.perf_counter() - began,
        tails=[series[segment.end - lookback : segment.end].copy() for segment in trainer.segments],
        interval_widths=widths,
        seasons=[
            None if found is None else found.rephased(segment.split.rows)
            for found, segment in zip(trainer.seasons, trainer.segments, strict=True)
        ],
    )
