"""Choosing a job's configuration on its own validation parts.

A small space of candidates (the lookback as a multiple of the horizon, the cell, the loss,
deseasonalised or not) is searched by Optuna's ask/tell interface with a sampler seeded by the
job's seed; the configuration as requested is always the first trial. Each candidate is fitted
as one model from a seed of its own on the training rows (a few at a time, in threads: torch's
kernels run outside the interpreter's lock, and the threads share the prepared series without
a copy) and scored by rolling origins in every series' validation part
(`app.ml.backtest.rolling_origins`), so that a short series' choice is not one window's luck.
The score is relative to the seasonal naive forecast of the same rows, the mean of the sMAPE
ratio and of the MAE ratio (an OWA against seasonal naive): below 1 beats it.

The winner configures the job's model. Its ensemble is made of the fitted models of the best
trials of its kind (cell and deseasonalisation) within 5% of its score: distinct
configurations from distinct seeds, which err in less alike ways than one configuration's
seeds, at no cost beyond the search. Members still missing are fitted afterwards as the
winner's configuration. The test parts are never read.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import optuna
import torch

from app.ml.backtest import rolling_origins
from app.ml.budget import Budget, StopFn
from app.ml.config import TrainConfig, member_seed
from app.ml.feasibility import deseasonalise_possible, problems
from app.ml.fit import MemberFit, ProgressFn, Trainer, TrainingDiverged
from app.ml.fitted import Fitted, SeriesScores, mean
from app.ml.losses import LossName
from app.ml.model import CellKind, ModelConfig
from app.ml.prepare import Panel, Prepared
from app.ml.roles import ColumnRoles

ORIGINS = 3  # forecast origins in each series' validation part, at most
LOOKBACK_MULTIPLES = range(2, 8)  # of the horizon, as N-BEATS's ensembles took them (2h-7h)
MAX_ASKS = 100  # proposals asked for one batch of new candidates, at most
# A trial's model joins the winner's ensemble only if it scored within this of the winner's.
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
    def kind(self) -> tuple[CellKind, bool]:
        """What members of one ensemble must share: the cell (one checkpoint config) and the
        prepared series; the lookback and the loss may differ."""
        return self.cell, self.deseasonalise

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
    stop_reason: str  # trials (all asked for ran), space (all there are), budget or time_limit
    # The trials whose fitted models join the job's ensemble (the winner's first), and their
    # fitted models in the same order
    joined: list[int] = field(default_factory=list)
    members: list[tuple[Trainer, MemberFit]] = field(default_factory=list, repr=False)

    def record(self) -> dict[str, object]:
        """The job's metrics' `search` entry."""
        return {
            "score": "mean over validation origins of (sMAPE / seasonal naive sMAPE + MAE / "
            "seasonal naive MAE) / 2; below 1 beats the seasonal naive forecast",
            "origins": self.origins,
            "steps": self.steps,
            "trials": [trial.to_json() for trial in self.trials],
            "winner": self.winner.number,
            "joined": self.joined,
            "ensemble_lookbacks": list(self.config.member_lookbacks(self.model_config)),
            "seconds": self.seconds,
            "stop_reason": self.stop_reason,
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
        self.fitted: dict[int, tuple[Trainer, MemberFit]] = {}  # by trial number

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
        """Fit `candidate` as one model from a seed of its own (the first trial's is the job's)
        and score it on the validation parts' rolling origins (trial `number` of `of`, its
        epochs timed from `search_began`); the fitted model is kept in `fitted`."""
        began = time.perf_counter()
        model_config, config = candidate.applied(self.model_config, self.config)
        config = replace(config, seed=member_seed(self.config.seed, number - 1))
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
        self.fitted[number] = trainer, fit
        per_origin = [owa(scores) for scores in found.per_fold]
        score = float(np.mean([origin[0] for origin in per_origin]))
        return Trial(
            number,
            candidate,
            score if math.isfinite(score) else None,
            mean([origin[1] for origin in per_origin]),
            mean([origin[2] for origin in per_origin]),
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
    parallel: int = 1,
    device: torch.device | None = None,
    deadline: float | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Choice:
    """Search `trials` candidates, `parallel` at a time (fewer once past `deadline`,
    perf_counter seconds, or where the space is smaller) and return the job's configs for the
    winner. `on_progress` hears each trial's epochs as member (trial, trials). Raises
    TrainingCancelled if `should_stop` returns True, ValueError when every candidate failed."""
    began = time.perf_counter()
    job = Search(panel, model_config, config, roles, device or torch.device("cpu"), horizon)
    choices = space(panel, model_config, config, roles, horizon)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=config.seed)
    )
    study.enqueue_trial(Candidate.of(model_config, config).to_json())
    wanted = min(trials, math.prod(len(values) for values in choices.values()))
    heard, asked_to_stop = _serialised(on_progress), _serialised(should_stop)
    done: list[Trial] = []
    ends = {"time_limit": deadline}  # and, after the first candidates, the search's budget
    stop_reason = "trials" if wanted == trials else "space"
    with ThreadPoolExecutor(max(1, parallel), thread_name_prefix="search") as pool:
        while len(done) < wanted:
            passed = [name for name, end in ends.items()
                      if done and end is not None and time.perf_counter() > end]  # fmt: skip
            if passed:
                stop_reason = passed[0]
                break
            batch = _proposals(study, choices, min(parallel, wanted - len(done)),
                               {trial.candidate for trial in done})  # fmt: skip
            if not batch:  # the sampler keeps proposing what was tried
                stop_reason = "space"
                break
            for _, candidate in batch:  # prepared here, once, not by two threads at a time
                job.data(candidate.applied(model_config, config)[1])
            numbers = range(len(done) + 1, len(done) + 1 + len(batch))
            found = list(
                pool.map(
                    lambda number, candidate: job.run_trial(
                        number, wanted, candidate, began, deadline, heard, asked_to_stop
                    ),
                    numbers,
                    [candidate for _, candidate in batch],
                )
            )
            for (asked, _), trial in zip(batch, found, strict=True):
                if trial.score is None:
                    study.tell(asked, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(asked, trial.score)
            done.extend(found)
            if config.search_budget and "budget" not in ends:
                ends["budget"] = began + config.search_budget * (time.perf_counter() - began)
    scored = sorted((trial for trial in done if trial.score is not None),
                    key=lambda trial: trial.score or math.inf)  # fmt: skip
    if not scored:
        raise ValueError(f"every candidate configuration failed: {done[0].error}")
    winner, joining = scored[0], _members(scored, config.ensemble)
    chosen_model, chosen = _configs(winner, joining, model_config, config)
    return Choice(chosen_model, chosen, done, winner, job.origins, job.steps,
                  time.perf_counter() - began, stop_reason, [trial.number for trial in joining],
                  [job.fitted[trial.number] for trial in joining])  # fmt: skip


def _proposals(
    study: optuna.Study, choices: dict[str, list[Any]], count: int, tried: set[Candidate]
) -> list[tuple[optuna.trial.Trial, Candidate]]:
    """Up to `count` new candidates the sampler proposes (a repeat of one tried or proposed
    is told as pruned: it adds nothing)."""
    distributions: dict[str, optuna.distributions.BaseDistribution] = {
        name: optuna.distributions.CategoricalDistribution(values)
        for name, values in choices.items()
    }
    batch: list[tuple[optuna.trial.Trial, Candidate]] = []
    for _ in range(MAX_ASKS):
        if len(batch) == count:
            break
        asked = study.ask(distributions)
        candidate = Candidate(**asked.params)
        if candidate in tried or any(candidate == other for _, other in batch):
            study.tell(asked, state=optuna.trial.TrialState.PRUNED)
            continue
        batch.append((asked, candidate))
    return batch


_T = TypeVar("_T")


def _serialised(callback: Callable[..., _T] | None) -> Callable[..., _T] | None:
    """`callback` called by one thread at a time (a job's progress writes are not shared)."""
    if callback is None:
        return None
    lock = threading.Lock()

    def one_at_a_time(*args: Any) -> _T:
        with lock:
            return callback(*args)

    return one_at_a_time


def _as_search(on_progress: ProgressFn) -> ProgressFn:
    """`on_progress` told that the epochs are a candidate's."""
    return lambda stats: on_progress(replace(stats, stage="search"))


def _members(scored: list[Trial], ensemble: int) -> list[Trial]:
    """The trials whose models join an ensemble of `ensemble`: the winner (the first of
    `scored`, best first) and the next best of its kind within DIVERSE_TOLERANCE of its
    score. Distinct configurations from distinct seeds err in less alike ways than one
    configuration's seeds."""
    winner = scored[0]
    best = winner.score if winner.score is not None else math.inf
    close = [
        trial
        for trial in scored[1:]
        if trial.candidate.kind == winner.candidate.kind
        and trial.score is not None
        and trial.score <= best * DIVERSE_TOLERANCE
    ]
    return [winner, *close][:ensemble]


def _configs(
    winner: Trial, joining: list[Trial], model_config: ModelConfig, config: TrainConfig
) -> tuple[ModelConfig, TrainConfig]:
    """The job's configs: the winner's settings, each member's lookback (the joining trials',
    then the winner's for members still to fit), the window the longest of them."""
    won = winner.candidate
    lookbacks = [trial.candidate.lookback for trial in joining]
    lookbacks += [won.lookback] * (config.ensemble - len(lookbacks))
    return (
        replace(model_config, lookback=max(lookbacks), cell=won.cell),
        replace(
            config, loss=won.loss, deseasonalise=won.deseasonalise,
            ensemble_lookbacks=tuple(sorted(lookbacks, reverse=True))
            if len(set(lookbacks)) > 1 else (),
        ),
    )  # fmt: skip
