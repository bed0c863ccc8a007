"""Training a job's model: the panel in, a fitted and measured forecaster out.

`train` prepares the series once, fits each ensemble member (`app.ml.fit`), measures the
model (`app.ml.assess`: rollout mode, test metrics, intervals; a backtest where asked), refits
on every row where asked, and returns what a checkpoint and a job record need. Knows nothing of
HTTP, jobs, databases or queues: callers pass a progress callback and a stop predicate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from app.ml.assess import assess
from app.ml.backtest import backtest
from app.ml.budget import Budget, StopFn
from app.ml.checkpoint_meta import SeriesMeta
from app.ml.config import TrainConfig, member_seed
from app.ml.evaluation import drift_slope
from app.ml.feasibility import check
from app.ml.fit import EpochStats, MemberFit, ProgressFn, Trainer
from app.ml.fitted import Fitted
from app.ml.forecast import RolloutMode
from app.ml.model import EnsembleForecaster, Forecaster, ModelConfig
from app.ml.prepare import Panel, Prepared
from app.ml.ranks import GO_ON, OUT_OF_TIME, SOLO, Ranks
from app.ml.roles import ColumnRoles
from app.ml.search import search

# Of a job's time limit, the share fitting may use: the rest is kept for measuring the model
# (rollouts, the rollout-mode choice, intervals), which the limit covers too.
FIT_SHARE = 0.8
# Of a job's time limit, the share a configuration search may use before the model's fit.
SEARCH_SHARE = 0.5


@dataclass
class TrainResult:
    """A fitted model with everything a checkpoint and a job record need."""

    model: Forecaster
    config: TrainConfig  # how it was fitted: the search's choice where the job searched
    rollout_mode: RolloutMode
    # Each series' id, scaler, last rows, continuing seasons and the rows kept before them, in
    # training order (no time axis: the caller's data knows it)
    series: list[SeriesMeta] = field(repr=False)
    members: list[MemberFit]  # how each ensemble member's fit went, in order
    history: list[EpochStats] = field(repr=False)  # every member's epochs, in order
    metrics: dict[str, object]  # the measured model's (`app.ml.assess`), and the fit's
    seconds: float
    # [len(LEVELS), steps, O] conformal half-widths in the model scale (a forecast multiplies
    # them by its series' spread); None if the validation parts are too short to calibrate
    interval_widths: np.ndarray | None = field(default=None, repr=False)


def train(
    panel: Panel,
    model_config: ModelConfig,
    config: TrainConfig,
    *,
    roles: ColumnRoles | None = None,
    device: torch.device | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    horizon: int | None = None,
    search_parallel: int = 1,
    ranks: Ranks = SOLO,
) -> TrainResult:
    """Fit a forecaster to the series of `panel` and measure it on their test parts; with
    `config.search_trials`, first choose the configuration on the validation parts
    (`app.ml.search`, lookbacks as multiples of `horizon`, default the interval steps;
    `search_parallel` candidates at a time).

    `roles` picks the input and target columns (default: every column, both); `model_config`
    must describe them (n_features = inputs, target_inputs = `roles.target_inputs`). One global
    model is fitted to windows of every series, each series scaled and split on its own, and
    measured series by series.

    Raises Infeasible (a ValueError naming the field) when the configuration cannot train on
    these series, TrainingCancelled if `should_stop` returns True, TrainingDiverged if the loss
    stops being finite.

    With `ranks` of a group (`app.ml.ranks`), every rank calls this with the same panel and
    configs, and each member's fit shares every batch among them; every rank then holds the
    same model and measures it. Only rank 0 should pass `on_progress` and `should_stop`.
    """
    began = time.perf_counter()
    limit = config.time_limit_seconds
    budget = Budget(None if limit is None else began + limit, should_stop)  # the whole job's
    fit_deadline = None if limit is None else began + FIT_SHARE * limit
    roles = roles or ColumnRoles.of(panel.values.shape[1])
    if (roles.n_columns, len(roles.inputs), roles.target_inputs) != (
        panel.values.shape[1],
        model_config.n_features,
        model_config.target_inputs,
    ):
        raise ValueError("the model config does not match the chosen input/target columns")
    check(model_config, config, roles, panel.series)
    chosen: dict[str, object] = {}
    prefit: list[tuple[Trainer, MemberFit]] = []  # the search's models that join the ensemble
    tried = 0  # the search's trials, each fitted from a seed of its own
    if config.search_trials:
        choice = search(
            panel, model_config, config, roles=roles, trials=config.search_trials,
            horizon=horizon or config.interval_steps, parallel=search_parallel, device=device,
            deadline=None if limit is None else began + SEARCH_SHARE * limit,
            on_progress=on_progress, should_stop=should_stop,
        )  # fmt: skip
        model_config, config, chosen = choice.model_config, choice.config, choice.record()
        prefit, tried = choice.members, len(choice.trials)
    data = prefit[0][0].data if prefit else Prepared.of(panel, config, roles,
                                                        device or torch.device("cpu"))  # fmt: skip
    trainers, fits = [trainer for trainer, _ in prefit], [fit for _, fit in prefit]
    for trainer in trainers:  # a refit keeps to the job's fitting deadline, not the search's
        trainer.deadline = fit_deadline
    lookbacks = list(config.member_lookbacks(model_config))
    for trainer in trainers:
        lookbacks.remove(trainer.model.config.lookback)
    # Members fitted after a search draw seeds the trials did not use.
    seeds = tried - len(trainers)
    for number in range(len(trainers), config.ensemble):
        over = fit_deadline is not None and time.perf_counter() > fit_deadline
        if fits and ranks.most(OUT_OF_TIME if over else GO_ON) == OUT_OF_TIME:
            break  # out of time (by any rank's clock): the members fitted so far
        member = Trainer(
            data,
            replace(model_config, lookback=lookbacks[number - len(prefit)]),
            replace(config, seed=member_seed(config.seed, seeds + number)),
            fit_deadline,
            ranks,
        )
        fits.append(member.fit((number + 1, config.ensemble), began, on_progress, should_stop))
        trainers.append(member)
    fitted, metrics, widths, combined = assess(
        Fitted(_combined(model_config, trainers), data),
        config.interval_steps,
        budget,
        combine=config.drift_combination,
    )
    metrics |= _fit_record(fits) | ({"search": chosen} if chosen else {})
    if config.folds:
        metrics["backtest"] = backtest(fitted, config.folds, config.interval_steps, budget)
    model = fitted.model
    if config.refit and not config.stateful:
        refit_began = time.perf_counter()
        metrics["refit_members"] = sum(
            member.refit(done.best_epoch, should_stop)
            for member, done in zip(trainers, fits, strict=True)
        )
        model = _combined(model_config, trainers)
        metrics["refit_seconds"] = time.perf_counter() - refit_began
    seconds = metrics["train_seconds"] = time.perf_counter() - began
    return TrainResult(
        model=model.cpu(),
        config=config,
        rollout_mode=fitted.mode,
        series=[
            SeriesMeta(
                series_id,
                scaler,
                tail,
                seasonal,
                past=past,
                drift=drift_slope(rows) if combine else None,
            )  # fmt: skip
            for series_id, scaler, tail, seasonal, past, rows, combine in zip(
                data.ids,
                data.scalers,
                data.tails(model_config.lookback),
                data.continuing_seasons(),
                data.pasts(model_config.lookback),
                data.whole(),
                combined,
                strict=True,
            )  # fmt: skip
        ],
        members=fits,
        history=[  # numbered as members of this model (a search's trials had their own)
            replace(stats, member=number + 1, members=len(trainers), stage="fit")
            for number, member in enumerate(trainers)
            for stats in member.history
        ],
        metrics=metrics,
        seconds=seconds,
        interval_widths=widths,
    )


def _combined(model_config: ModelConfig, trainers: list[Trainer]) -> Forecaster:
    """The members' models as one: the model itself, or the ensemble of them."""
    if len(trainers) == 1:
        return trainers[0].model
    return EnsembleForecaster(model_config, [member.model for member in trainers])


def _fit_record(fits: list[MemberFit]) -> dict[str, object]:
    """How the fit went, for the metrics: each member's fit, and for one model its best epoch
    and why it stopped (an ensemble's members each have their own)."""
    one = fits[0] if len(fits) == 1 else None
    return {
        "ensemble": len(fits),
        "members": [member.to_json() for member in fits],
        "epochs_run": sum(member.epochs_run for member in fits),
        "best_epoch": None if one is None else one.best_epoch,
        "stop_reason": None if one is None else one.stop_reason,
    }
