"""The configuration a request leaves to the job: chosen from the data and the horizon.

A request with `forecast_horizon` gets every setting it does not give chosen for that horizon
and its series; a request on the user's data without one, for the conventional horizon of its
date frequency (M4's), else 10% of its shortest series. The settings: the season (from the
frequency, or the autocorrelation of a numeric index), an input window of two seasons and
three output chunks within what the shortest series allows, an output chunk that divides the
horizon, held-out parts of the last rows of each series, instance-normalised windows, epochs
and patience scaled to the optimizer steps of an epoch, drift combination and an ensemble.
The choices are written into the stored spec, so the user sees what ran; every explicit
setting wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import InvalidInput
from app.datasets import DatasetRepository, LoadedSeries, conventional_horizon
from app.jobs import sources
from app.jobs.spec import MAX_FORECAST_HORIZON, DatasetData, FunctionData, TrainRequest
from app.ml.config import TrainConfig
from app.ml.data import window_starts

MIN_LOOKBACK = 10  # the window a short season or horizon still gets, where the series allow
MIN_NORMALISED_LOOKBACK = 2  # instance-normalised windows need two rows
HOLDOUT_SHARE = 0.1  # held-out rows of each part, as a share of the shortest series, at least
# Optimizer steps a job may run (short series: epochs), as a ceiling, not a floor: early
# stopping keeps the best epoch's weights, and as a floor on M1's validation parts it ran the
# yearly models 250 epochs for a best epoch of 2 and the quarterly ones 50 for 7 to 13.
STEPS_ALLOWED = 1000
MAX_EPOCHS = 5000  # what a request may ask for
# Optimizer steps the learning rate's patience spans at least (early stopping's: three times):
# what the defaults' 3 epochs give M3's smallest panel ("other", 174 series, 15 steps an
# epoch), so that every M3 group keeps the defaults and its benchmark figures.
PATIENCE_STEPS = 45
PANEL_BATCH = 256  # windows per step on many series: thousands of windows an epoch
PANEL_HIDDEN = 64  # the width bench/panel.py measured on the 1,428 M3 monthly series
# Members of the ensemble a horizon gets: on M3's held-out parts three members lowered sMAPE
# from 12.01 to 11.87 (yearly), 6.32 to 6.05 (quarterly) and 4.68 to 4.52 (other) for about
# twice the training time; five (bench/m3.py --validation) moved yearly, quarterly and other
# by -0.01, -0.11 and +0.03 for 5/3 of the epochs: not taken.
ENSEMBLE = 3


@dataclass(frozen=True)
class WindowPlan:
    """The window chosen for a horizon: `lookback` rows in, `chunk` rows out per model call,
    `holdout` validation rows at the end of each series and `test` rows after them (a
    backtest's folds, one row apart, each forecast the horizon)."""

    lookback: int
    chunk: int
    holdout: int
    test: int


def plan_window(horizon: int, season: int, shortest: int, folds: int = 0) -> WindowPlan | None:
    """The largest output chunk dividing `horizon` for which the shortest series still holds a
    training window of a lookback covering two seasons and two chunks; the lookback covers two
    seasons and three chunks where the series allow; None: nothing fits. `folds` backtest
    origins lengthen the test part by a row each after the first."""
    extra = max(folds - 1, 0)
    for chunk in sorted((d for d in range(1, horizon + 1) if horizon % d == 0), reverse=True):
        holdout = max(chunk, round(HOLDOUT_SHARE * shortest))
        room = shortest - 2 * holdout - extra - chunk  # the longest lookback with a training window
        if room >= max(2 * season, 2 * chunk, 2) or (chunk == 1 and room >= 2):
            # Chosen on M3's held-out parts: "other" (h 8) went from sMAPE 4.68 at lookback 10
            # to 4.06 at 16 and 4.02 at 24; monthly tied at 24 and 30 (12.04, 12.07), 30 at
            # twice the training time.
            lookback = min(max(2 * season, 3 * chunk, MIN_LOOKBACK), room)
            return WindowPlan(lookback, chunk, holdout, holdout + extra)
    return None


def _explicit(section: Any) -> dict[str, Any]:
    """The fields of a request section its sender gave."""
    return dict(section.model_dump(include=section.model_fields_set))


def default_horizon(loaded: LoadedSeries, shortest: int) -> int:
    """The horizon a request without one is configured for: the date frequency's conventional
    one (`conventional_horizon`), else 10% of the shortest series."""
    usual = conventional_horizon(sources.date_frequency(loaded))
    share = min(MAX_FORECAST_HORIZON, max(1, round(HOLDOUT_SHARE * shortest)))
    return share if usual is None else usual


def configure(
    request: TrainRequest, data: FunctionData | DatasetData, *, datasets: DatasetRepository
) -> TrainRequest:
    """`request` with what it leaves to the job chosen for its `forecast_horizon`, or, on the
    user's data, for `default_horizon` when it gives none (a built-in function's request is
    then unchanged: the tutorials' tasks keep their settings, and so is one on data too short
    for its default horizon, or whose given held-out rows leave no window, which the job's
    checks then name). InvalidInput when even a one-step window does not fit the shortest
    series at a given horizon."""
    given = request.forecast_horizon
    if given is None and isinstance(data, FunctionData):
        return request
    sources.data_shape(datasets=datasets, data=data)  # a 422 naming a dataset that is not there
    loaded = sources.load_series(datasets=datasets, data=data)
    lengths = [part.rows for part in loaded.series or []] or [len(loaded.values)]
    season = sources.season_of(loaded, request.season_length)
    horizon = default_horizon(loaded, min(lengths)) if given is None else given
    plan = plan_window(horizon, season, min(lengths), request.training.folds)
    if plan is None and given is None:  # too short for its usual horizon: the plain defaults
        return request
    if plan is None:
        raise InvalidInput(
            f"the shortest series has {min(lengths)} rows: too few for a window and held-out "
            f"parts at forecast_horizon {horizon}",
            field="forecast_horizon",
            code="series_too_short",
        )
    many = len(lengths) > 1  # one series is a panel of one, named or not
    window = {"lookback": plan.lookback, "horizon": plan.chunk, "patch": 1}
    architecture = {"instance_norm": True} | ({"hidden_size": PANEL_HIDDEN} if many else {})
    given_split = request.training.model_fields_set  # a fraction given wins over rows chosen
    training = {
        "validation_rows": None if "validation_fraction" in given_split else plan.holdout,
        "test_rows": None if "test_fraction" in given_split else plan.test,
        "interval_steps": horizon,
        "ensemble": ENSEMBLE,
        "drift_combination": True,
    } | ({"batch_size": PANEL_BATCH} if many else {})
    training = request.training.model_dump() | training | _explicit(request.training)
    room = _training_rows(min(lengths), training) - plan.chunk
    if room < MIN_NORMALISED_LOOKBACK:  # a given split leaves no window: the job is refused
        return request  # for it, in its own words, rather than for a window chosen around it
    if "lookback" not in request.window.model_fields_set:
        window["lookback"] = min(plan.lookback, room)
    window |= _explicit(request.window)
    scaled = epoch_counts(lengths, window, training)
    training |= {name: count for name, count in scaled.items()
                 if name not in request.training.model_fields_set}  # fmt: skip
    return request.model_validate(
        request.model_dump()
        | {
            "data": data.model_dump(),
            "forecast_horizon": horizon,
            "season_length": season,
            "window": window,
            "architecture": request.architecture.model_dump()
            | architecture
            | _explicit(request.architecture),
            "training": training,
        }
    )


def _training_rows(rows: int, training: dict[str, Any]) -> int:
    """The training rows a series of `rows` rows keeps under `training`'s split (a fraction a
    request gives can hold out more rows than the plan did)."""
    names = ("validation_fraction", "test_fraction", "validation_rows", "test_rows")
    return TrainConfig(**{name: training[name] for name in names}).split(rows).train


def steps_per_epoch(lengths: list[int], window: dict[str, Any], training: dict[str, Any]) -> int:
    """Optimizer steps of one epoch over the training windows of series of `lengths` rows."""
    windows = sum(
        len(window_starts(0, _training_rows(rows, training), window["lookback"], window["horizon"]))
        for rows in lengths
    )
    return max(1, -(-windows // int(training["batch_size"])))


def epoch_counts(
    lengths: list[int], window: dict[str, Any], training: dict[str, Any]
) -> dict[str, int]:
    """The settings counted in epochs, scaled for short series, where an epoch is a step or
    two: the epochs reach STEPS_ALLOWED optimizer steps, and the patience of the learning-rate
    decay and of early stopping spans at least PATIENCE_STEPS and 3 x PATIENCE_STEPS steps.
    Counted in epochs of one step, the defaults halved the rate to 1e-13 by epoch 100 and left
    the model at the naive forecast it starts from (three store series: sMAPE 17.9 against the
    seasonal naive's 2.3). Long series keep the defaults."""
    per_epoch = steps_per_epoch(lengths, window, training)

    def at_least(name: str, steps: int) -> int:
        return min(MAX_EPOCHS, max(int(training[name]), -(-steps // per_epoch)))

    return {
        "epochs": at_least("epochs", STEPS_ALLOWED),
        "lr_decay_patience": at_least("lr_decay_patience", PATIENCE_STEPS),
        "early_stopping_patience": at_least("early_stopping_patience", 3 * PATIENCE_STEPS),
    }
