"""How to fit: the training configuration, its chronological split and its ensemble members.

Field names are the training request's own (app/jobs/spec.py builds the request's `training`
section from these fields, defaults and descriptions), so a request maps onto this config
without renames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from app.ml.data import ScalingKind, Split
from app.ml.fields import DESCRIPTION, described
from app.ml.losses import LossName
from app.ml.model import ModelConfig

OptimizerName = Literal["adam", "adagrad", "rmsprop", "sgd"]
MAX_SEARCH_TRIALS = 32  # candidate configurations a job may try
MAX_PROCESSES = 64  # processes a job's fit may be shared by


@dataclass(frozen=True)
class TrainConfig:
    """How to fit: optimisation, early stopping, scaling, the split and the ensemble."""

    epochs: int = described(100, "maximum epochs (of each ensemble member)")
    batch_size: int = 64
    learning_rate: float = 3e-3
    optimizer: OptimizerName = "adam"
    # Absolute errors weigh a series' spikes less than squared ones: the forecast follows the
    # median rather than the mean, which sMAPE and MASE reward.
    loss: LossName = described(
        "mse",
        "what training minimises on the scaled windows, and early stopping watches on the "
        "validation windows: mse, or mae",
    )
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
    # Otherwise: shuffled windows from a zero state.
    stateful: bool = described(
        False,
        "train over the series in order as batch_size streams, carrying the recurrent state "
        "from one chunk of tbptt steps to the next (truncated backpropagation through time), "
        "predicting the next row at every step; needs one series, horizon 1 and patch 1",
    )
    tbptt: int = described(20, "steps per chunk of stateful training")
    sequence_steps: int = described(
        0,
        "0: train on windows from a zero state. N: train on runs of the window and N - 1 more "
        "patches, the recurrent state carried through them, scored on the next horizon rows "
        "after the window and after every patch past it: what a state rollout (one step per "
        "patch, the fastest serving path) continues",
    )
    interval_steps: int = described(
        200,
        "forecast steps the prediction intervals are calibrated for (fewer where the "
        "validation parts are too short to calibrate that many)",
    )
    seed: int = 0
    scaling: ScalingKind = described("standard", "fitted on each series' training rows only")
    validation_fraction: float = 0.1
    test_fraction: float = 0.1
    # Row counts win over the fractions: the same last rows of every series, however long.
    validation_rows: int | None = described(
        None, "validation rows of each series (over the fraction)"
    )
    test_rows: int | None = described(None, "test rows of each series (over the fraction)")
    # A short series is a few dozen windows: an epoch is one or two steps, and early stopping
    # judged on a handful of validation rows would end training before it starts.
    min_steps: int = described(0, "optimizer steps before early stopping may end training")
    ensemble: int = described(
        1,
        "models fitted from seeds drawn from `seed` (the first member's is `seed` itself); "
        "forecasts are their median (rolled out by window)",
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
    # A series whose line is steeper than its model follows (short yearly series, mostly)
    # keeps the drift forecast's trend in half its forecast; the validation part decides.
    drift_combination: bool = described(
        False,
        "forecast each series without a season by the mean of the model's and its drift "
        "forecast (the line through its first and last values) where that mean beat the model "
        "on the series' validation part; the metrics and each forecast say which are combined",
    )
    # Chosen on the job's own validation parts, so that the configuration travels to data
    # nobody tuned it on; app.ml.search says how.
    search_trials: int = described(
        0,
        "candidate configurations fitted (one model each) and scored on rolling origins of "
        "the validation parts before the job's model is trained (0: none): the lookback (the "
        "requested one and 2 to 7 forecast horizons), the cell, the loss and deseasonalisation; "
        "the best configures the model, whose ensemble members read the best distinct "
        "lookbacks of its kind, and the job's metrics list every trial",
    )
    # What makes a search's cost proportional to the data: its first candidates' time.
    search_budget: float = described(
        4.0,
        "the search proposes no more candidates once it has run this many times as long as "
        "its first candidates took (0: only search_trials and the job's time limit bound it)",
    )
    # For a panel that outgrows one process: DDP (app.ml.ranks) on this host, or torchrun's.
    processes: int = described(
        1,
        "processes that share the fit, each the loss of its share of every batch, their "
        "gradients averaged (PyTorch DDP: gloo on the CPU, NCCL with a GPU per process): the "
        "same loss curve as one process with the same batch_size (dropout aside). Not with "
        "stateful training or a configuration search",
    )
    time_limit_seconds: float | None = None  # stop (keeping the best weights) once over it

    def split(self, rows: int) -> Split:
        """How a series of `rows` rows splits: its row counts, else its fractions."""
        fractions = Split.of(rows, self.validation_fraction, self.test_fraction)
        if self.validation_rows is None and self.test_rows is None:
            return fractions
        val = fractions.val if self.validation_rows is None else self.validation_rows
        test = fractions.test if self.test_rows is None else self.test_rows
        return Split.sized(rows, val, test)

    def member_lookbacks(self, model_config: ModelConfig) -> tuple[int, ...]:
        """Each ensemble member's lookback, longest first (members the time limit cuts off
        leave a model that reads the whole window); `app.ml.feasibility` checks them."""
        lookbacks = self.ensemble_lookbacks or (model_config.lookback,) * self.ensemble
        return tuple(sorted(lookbacks, reverse=True))


def member_seed(seed: int, member: int) -> int:
    """The seed of ensemble member `member` (from 0) of a job seeded `seed`: the first keeps
    `seed`, the others draw theirs from (seed, member) through numpy's SeedSequence. Consecutive
    seeds (seed + member) would let jobs of neighbouring seeds share all but one member, and
    make the spread between seeds look smaller than it is."""
    if member == 0:
        return seed
    return int(np.random.SeedSequence([seed, member]).generate_state(1)[0])
