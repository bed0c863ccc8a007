"""Choosing a job's configuration on its own validation parts.

A small space of candidates (the lookback as a multiple of the horizon, the cell, the loss,
deseasonalised or not) is searched by Optuna's ask/tell interface with a sampler seeded by the
job's seed; the configuration as requested is always the first trial. Each candidate is fitted
as one model on the training rows and scored by rolling origins in every series' validation
part (`app.ml.backtest.rolling_origins`), so that a short series' choice is not one window's
luck. The score is relative to the seasonal naive forecast of the same rows, the mean of the
sMAPE ratio and of the MAE ratio (an OWA against seasonal naive): below 1 beats it.

The winner configures the job's model, and its ensemble takes members from the best distinct
lookbacks of the winner's kind (cell, loss, deseasonalisation), which err in less alike ways
than members that differ by seed alone. The test parts are never read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna
import torch

from app.ml.backtest import rolling_origins
from app.ml.budget import Budget, StopFn
from app.ml.config import TrainConfig
from app.ml.feasibility import deseasonalise_possible, problems
from app.ml.fit import ProgressFn, Trainer, TrainingDiverged
from app.ml.fitted import Fitted, SeriesScores, mean
from app.ml.losses import LossName
from app.ml.model import CellKind, ModelConfig
from app.ml.prepare import Panel, Prepared
from app.ml.roles import ColumnRoles

ORIGINS = 3  # forecast origins in each series' validation part, at most
LOOKBACK_MULTIPLES = range(2, 8)  # of the horizon, as N-BEATS's ensembles took them (2h-7h)
# A lookback joins the winner's ensemble only if its trial scored within this of the winner's.
DIVERSE_TOLERANCE = 1.05

optuna.logging.set_verbosity(optuna.logging.WARNING)  # the job's record says what was tried


@dataclass(frozen=True)
class Candidate:
    """One point of the search space."""

    lookback: int
    cell: CellKind
    loss: LossName
    deseasonalise: bool

    @classmethod
    def of(cls, model_config: ModelConfig, config: TrainConfig) -> Candidate:
        """The configuration as requested."""
        return cls(model_config.lookback, model_config.cell, config.loss, config.deseasonalise)

    @property
    def kind(self) -> tuple[CellKind, LossName, bool]:
        """What members of one ensemble must share: all but the lookback."""
        return self.cell, self.loss, self.deseasonalise

    def applied(
        self, model_config: ModelConfig, config: TrainConfig
    ) -> tuple[ModelConfig, TrainConfig]:
        """The job's configs with this candidate's settings, as one model."""
        return (
            replace(model_config, lookback=self.lookback, cell=self.cell),
            replace(
                config, loss=self.loss, deseasonalise=self.deseasonalise, ensemble=1,
                ensemble_lookbacks=(), folds=0, refit=False,
            ),
        )  # fmt: skip

    def to_json(self) -> dict[str, object]:
        return {
            "lookback": self.lookback,
            "cell": self.cell,
            "loss": self.loss,
            "deseasonalise": self.deseasonalise,
        }


@dataclass(frozen=True)
class Trial:
    """A candidate fitted and scored on the validation parts (score None: it failed)."""

    number: int  # from 1, in the order tried
    candidate: Candidate
    score: float | None  # the mean over origins of the OWA against seasonal naive
    smape: float | None  # the mean over origins and series
    mase: float | None  # the model's MAE over the naive forecast's, mean over origins and series
    best_epoch: int
    epochs_run: int
    seconds: float
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "trial": self.number,
            **self.candidate.to_json(),
            "score": self.score,
            "smape": self.smape,
            "mase": self.mase,
            "best_epoch": self.best_epoch,
            "epochs_run": self.epochs_run,
            "seconds": self.seconds,
            "error": self.error,
        }


@dataclass(frozen=True)
class Choice:
    """What the search chose: the job's configs, and every trial with the winner's."""

    model_config: ModelConfig
    config: TrainConfig
    trials: list[Trial]
    winner: Trial
    origins: int
    steps: int
    seconds: float

    def record(self) -> dict[str, object]:
        """The job's metrics' `search` entry."""
        return {
            "score": "mean over validation origins of (sMAPE / seasonal naive sMAPE + MAE / "
            "seasonal naive MAE) / 2; below 1 beats the seasonal naive forecast",
            "origins": self.origins,
            "steps": self.steps,
            "trials": [trial.to_json() for trial in self.trials],
            "winner": self.winner.number,
            "ensemble_lookbacks": list(self.config.member_lookbacks(self.model_config)),
            "seconds": self.seconds,
        }


def space(
    panel: Panel,
    model_config: ModelConfig,
    config: TrainConfig,
    roles: ColumnRoles,
    horizon: int,
) -> dict[str, list[Any]]:
    """Each setting's choices on these series: the lookbacks (the requested one and 2 to 7
    horizons, a multiple of the patch) whose windows fit every series' parts, both cells and
    losses, and deseasonalisation where the series have a season and every column allows."""
    requested = Candidate.of(model_config, config)
    patch = model_config.patch
    wanted = {requested.lookback} | {k * horizon for k in LOOKBACK_MULTIPLES}
    lookbacks = [
        lookback
        for lookback in sorted(wanted)
        if lookback % patch == 0
        and not problems(
            *replace(requested, lookback=lookback).applied(model_config, config),
            roles,
            panel.series,
        )  # fmt: skip
    ]
    seasonal = panel.season >= 2 and deseasonalise_possible(roles)
    return {
        "lookback": lookbacks or [requested.lookback],
        "cell": ["lstm", "gru"],
        "loss": ["mse", "mae"],
        "deseasonalise": [False, True] if seasonal else [requested.deseasonalise],
    }


def owa(scores: list[SeriesScores]) -> tuple[float, float | None, float | None]:
    """(score, mean sMAPE, mean MASE) of one origin's series scores; the score is infinite
    where the model's rollout is not finite on some series."""
    model_smape = mean([series.model["smape"] for series in scores])
    seasonal_smape = mean([series.seasonal["smape"] for series in scores])
    mase_seasonal = mean([series.mase_seasonal for series in scores])
    mase = mean([series.mase for series in scores])
    if not all(math.isfinite(series.model["mae"]) for series in scores):
        return math.inf, model_smape, mase
    if model_smape is None or mase_seasonal is None or not seasonal_smape:
        return mase_seasonal if mase_seasonal is not None else math.inf, model_smape, mase
    return 0.5 * (model_smape / seasonal_smape + mase_seasonal), model_smape, mase


class Search:
    """One job's search: its candidates' data, prepared once per deseasonalisation."""

    def __init__(
        self,
        panel: Panel,
        model_config: ModelConfig,
        config: TrainConfig,
        roles: ColumnRoles,
        device: torch.device,
        horizon: int,
    ) -> None:
        self.panel, self.model_config, self.config = panel, model_config, config
        self.roles, self.device, self.horizon = roles, device, horizon
        self.prepared: dict[bool, Prepared] = {}
        self.origins = self.steps = 0  # what each trial was scored on (the same for all)

    def data(self, config: TrainConfig) -> Prepared:
        """The series prepared for `config` (deseasonalised or not), once each."""
        if config.deseasonalise not in self.prepared:
            self.prepared[config.deseasonalise] = Prepared.of(
                self.panel, config, self.roles, self.device
            )
        return self.prepared[config.deseasonalise]

    def run_trial(
        self,
        number: int,
        of: int,
        candidate: Candidate,
        search_began: float,
        deadline: float | None,
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
    ) -> Trial:
        """Fit `candidate` as one model from the job's seed and score it on the validation
        parts' rolling origins (trial `number` of `of`, its epochs timed from `search_began`)."""
        began = time.perf_counter()
        model_config, config = candidate.applied(self.model_config, self.config)
        trainer = Trainer(self.data(config), model_config, config, deadline)
        heard = None if on_progress is None else _as_search(on_progress)
        try:
            fit = trainer.fit((number, of), search_began, heard, should_stop)
        except TrainingDiverged as exc:
            return Trial(number, candidate, None, None, None, 0, len(trainer.history),
                         time.perf_counter() - began, str(exc))  # fmt: skip
        fitted = Fitted(trainer.model, trainer.data)
        val_rows = min(s.split.val for s in fitted.data.segments)
        self.origins = max(1, min(ORIGINS, val_rows))
        found = rolling_origins(fitted, "val", self.origins, self.horizon,
                                Budget(None, should_stop))  # fmt: skip
        self.steps = found.steps
        per_origin = [owa(scores) for scores in found.per_fold]
        score = float(np.mean([found[0] for found in per_origin]))
        return Trial(
            number,
            candidate,
            score if math.isfinite(score) else None,
            mean([found[1] for found in per_origin]),
            mean([found[2] for found in per_origin]),
            fit.best_epoch,
            fit.epochs_run,
            time.perf_counter() - began,
        )


def search(
    panel: Panel,
    model_config: ModelConfig,
    config: TrainConfig,
    *,
    roles: ColumnRoles,
    trials: int,
    horizon: int,
    device: torch.device | None = None,
    deadline: float | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    on_trial: Callable[[Trial], None] | None = None,
) -> Choice:
    """Search `trials` candidates (fewer once past `deadline`, perf_counter seconds, or where
    the space is smaller) and return the job's configs for the winner. `on_progress` hears each
    trial's epochs as member (trial, trials); `on_trial` each trial's result. Raises
    TrainingCancelled if `should_stop` returns True, ValueError when every candidate failed."""
    began = time.perf_counter()
    job = Search(panel, model_config, config, roles, device or torch.device("cpu"), horizon)
    choices = space(panel, model_config, config, roles, horizon)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=config.seed)
    )
    requested = Candidate.of(model_config, config)
    study.enqueue_trial(requested.to_json())
    distributions: dict[str, optuna.distributions.BaseDistribution] = {
        name: optuna.distributions.CategoricalDistribution(values)
        for name, values in choices.items()
    }
    size = math.prod(len(values) for values in choices.values())
    tried: dict[Candidate, Trial] = {}
    done: list[Trial] = []
    while len(done) < min(trials, size):
        if done and deadline is not None and time.perf_counter() > deadline:
            break
        asked = study.ask(distributions)
        candidate = Candidate(**asked.params)
        if candidate in tried:  # the sampler proposed one already scored: tell it the same
            study.tell(asked, tried[candidate].score, skip_if_finished=True)
            if len(study.trials) > 10 * trials:  # the sampler keeps to what is known
                break
            continue
        trial = job.run_trial(len(done) + 1, min(trials, size), candidate, began, deadline,
                              on_progress, should_stop)  # fmt: skip
        tried[candidate] = trial
        done.append(trial)
        if trial.score is None:
            study.tell(asked, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(asked, trial.score)
        if on_trial is not None:
            on_trial(trial)
    scored = sorted((trial for trial in done if trial.score is not None),
                    key=lambda trial: trial.score or math.inf)  # fmt: skip
    if not scored:
        raise ValueError(f"every candidate configuration failed: {done[0].error}")
    winner = scored[0]
    model_config, config = _ensemble_of(winner, scored, model_config, config)
    return Choice(model_config, config, done, winner, job.origins, job.steps,
                  time.perf_counter() - began)  # fmt: skip


def _as_search(on_progress: ProgressFn) -> ProgressFn:
    """`on_progress` told that the epochs are a candidate's."""
    return lambda stats: on_progress(replace(stats, stage="search"))


def _ensemble_of(
    winner: Trial, scored: list[Trial], model_config: ModelConfig, config: TrainConfig
) -> tuple[ModelConfig, TrainConfig]:
    """The job's configs for `winner`, its ensemble's members reading the best distinct
    lookbacks of the winner's kind that scored within DIVERSE_TOLERANCE of it, the rest the
    winner's own (every member from its own seed)."""
    best = winner.score or math.inf
    lookbacks = [winner.candidate.lookback]
    for trial in scored[1:]:
        close = trial.score is not None and trial.score <= best * DIVERSE_TOLERANCE
        if close and trial.candidate.kind == winner.candidate.kind:
            if trial.candidate.lookback not in lookbacks:
                lookbacks.append(trial.candidate.lookback)
    members = (lookbacks + [winner.candidate.lookback] * config.ensemble)[: config.ensemble]
    chosen = winner.candidate
    return (
        replace(model_config, lookback=max(members), cell=chosen.cell),
        replace(
            config, loss=chosen.loss, deseasonalise=chosen.deseasonalise,
            ensemble_lookbacks=tuple(sorted(members, reverse=True)) if len(set(members)) > 1
            else (),
        ),
    )  # fmt: skip
