"""A forecast from a loaded checkpoint, in one plan: contexts in, scaled rollout and intervals
out, on the original scale.

A forecast continues either series the model was trained on (from their last rows, each
scaled by its own training statistics and continuing its own seasons) or contexts the caller
gives. A given context is scaled by the training series' statistics when the model was trained
on one series (a context is that series' later rows), and by its own otherwise (a global model
forecasting a series it may never have seen: a cold start). A model that deseasonalises divides
a given context by the context's own seasons. Intervals are the conformal half-widths (model
scale) times each context's spread, step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from app.ml.checkpoints import Checkpoint
from app.ml.combination import COMBINED_WITH, CombinedWith
from app.ml.data import Scaler, ScalerStack, Scaling
from app.ml.evaluation import combined, drift_from
from app.ml.forecast import Roll
from app.ml.forecast import forecast as rollout_forecast
from app.ml.intervals import half_widths
from app.ml.season import Deseasonalised, Seasonality

KeepGoing = Callable[[], bool]
Bounds = dict[int, tuple[np.ndarray, np.ndarray]]  # level -> (lower, upper) [B, steps, O]


class ContextNotScalable(ValueError):
    """A given context cannot be put on the model's scale."""


@dataclass(frozen=True)
class ForecastPlan:
    """What a forecast rolls out: contexts [B, lookback, F] on the original scale, how each is
    scaled in (input columns) and out (target columns), and the training series they continue
    (None: contexts given by the caller)."""

    contexts: np.ndarray
    scale_in: Scaling
    scale_out: Scaling
    continues: list[int] | None = None


# (input, target) column positions
Columns = tuple[list[int], list[int]]


class Scaled(NamedTuple):
    """One scaler per context, and the positions of the input and target columns among its."""

    stack: ScalerStack
    columns: Columns


class Seasons(NamedTuple):
    """Each context's seasons (None: none), and the positions of the input and target columns
    among theirs."""

    found: list[Seasonality | None]
    columns: Columns


@dataclass(frozen=True)
class Forecast:
    """A plan's forecast [B, steps, O] and its bounds by level, on the original scale (fewer
    steps when `keep_going` ended it)."""

    values: np.ndarray
    bounds: Bounds
    # The calibration residuals behind each step's half-widths, for the calibrated steps the
    # forecast reaches (None: no levels asked, or a model saved before they were counted).
    residuals: list[int] | None = None


def _columns(checkpoint: Checkpoint, of: Literal["series", "context"]) -> Columns:
    """(input, target) column positions: among a series' columns (a scaler's or seasons' of
    the training series), or among a context's, which holds the inputs alone."""
    roles = checkpoint.meta.roles
    if of == "series":
        return list(roles.inputs), list(roles.targets)
    return list(range(len(roles.inputs))), roles.target_input_positions


def continuing(checkpoint: Checkpoint, numbers: list[int]) -> ForecastPlan:
    """The plan continuing the training series at `numbers`, each from its last rows."""
    entries = [checkpoint.meta.series[number] for number in numbers]
    lookback, columns = checkpoint.model.config.lookback, _columns(checkpoint, "series")
    return _plan(
        np.stack([entry.tail[-lookback:] for entry in entries])[..., columns[0]],
        Scaled(ScalerStack.of([entry.scaler for entry in entries]), columns),
        Seasons([entry.seasonal for entry in entries], columns),
        numbers,
    )


def given(checkpoint: Checkpoint, contexts: list[np.ndarray]) -> ForecastPlan:
    """The plan of contexts [>= lookback, F] given by the caller (original scale, oldest row
    first). ContextNotScalable when a context of a model of many series cannot give the scale
    of a target (a target that is not an input)."""
    meta, lookback = checkpoint.meta, checkpoint.model.config.lookback
    tails = np.stack([rows[-lookback:] for rows in contexts])  # [B, lookback, F]
    own = _columns(checkpoint, "context")
    seasons = Seasons(_own_seasons(checkpoint, contexts), own)
    if len(meta.series) == 1:  # later rows of the series it was trained on
        stack = ScalerStack.of([meta.series[0].scaler] * len(contexts))
        return _plan(tails, Scaled(stack, _columns(checkpoint, "series")), seasons, None)
    if min(own[1]) < 0:
        raise ContextNotScalable("a target that is not an input has no scale in a context")
    adjusted = [
        rows if found is None else rows / found.factors(-len(rows), len(rows))
        for rows, found in zip(contexts, seasons.found, strict=True)
    ]
    kind = meta.series[0].scaler.kind
    stack = ScalerStack.of([Scaler.fit(kind, rows) for rows in adjusted])
    return _plan(tails, Scaled(stack, own), seasons, None)


def forecast(
    checkpoint: Checkpoint,
    plan: ForecastPlan,
    steps: int,
    levels: list[int],
    *,
    future: np.ndarray | None = None,
    keep_going: KeepGoing | None = None,
    roll: Roll | None = None,
) -> Forecast:
    """The plan rolled out `steps` rows: values and the bounds of each of `levels` (which need
    calibrated intervals). `future` [B, >= steps, F]: the input rows ahead, original scale, for
    a model with known covariates. `roll` rolls model-scale contexts out (default: this
    checkpoint's rollout on its device; a batcher passes one that shares rollouts)."""
    values = rollout_forecast(
        checkpoint.model, (plan.scale_in, plan.scale_out), plan.contexts, steps,
        checkpoint.rollout_mode, checkpoint.device, future, keep_going, checkpoint.fused, roll,
    )  # fmt: skip
    values = _with_drift(checkpoint, plan, values)
    return Forecast(values, *_bounds(checkpoint, plan, values, levels))


def combined_with(checkpoint: Checkpoint, number: int) -> CombinedWith | None:
    """What training series `number`'s forecasts are combined with (None: the model alone)."""
    return None if checkpoint.meta.series[number].drift is None else COMBINED_WITH


def _with_drift(checkpoint: Checkpoint, plan: ForecastPlan, values: np.ndarray) -> np.ndarray:
    """`values` [B, steps, O] with each continued series that its job combined replaced by the
    mean of the model's forecast and the series' drift forecast (a copy: a shared rollout's
    values are not written). Given contexts keep the model's forecast: their series is not
    known."""
    numbers = plan.continues or []
    series = checkpoint.meta.series
    if all(series[number].drift is None for number in numbers):
        return values
    values, targets = values.copy(), list(checkpoint.meta.roles.targets)
    for at, number in enumerate(numbers):
        slope = series[number].drift
        if slope is not None:
            line = drift_from(series[number].tail[-1, targets], slope[targets], values.shape[1])
            values[at] = combined(values[at], line)
    return values


def _plan(
    tails: np.ndarray, scaled: Scaled, seasons: Seasons, continues: list[int] | None
) -> ForecastPlan:
    """A plan of `tails` [B, lookback, F], each scaled by its scaler of the stack and, where
    any has seasons, divided by them first."""
    scale_in: Scaling = scaled.stack.subset(scaled.columns[0])
    scale_out: Scaling = scaled.stack.subset(scaled.columns[1])
    if any(found is not None for found in seasons.found):
        scale_in = Deseasonalised(scale_in, seasons.found, seasons.columns[0])
        scale_out = Deseasonalised(scale_out, seasons.found, seasons.columns[1])
    return ForecastPlan(tails, scale_in, scale_out, continues)


def _own_seasons(checkpoint: Checkpoint, contexts: list[np.ndarray]) -> list[Seasonality | None]:
    """Each given context's own seasons, phased to continue it, for a model that deseasonalises
    (the phase of a context is unknown, so its seasons come from its own rows: it needs three
    seasons to show them); None where it has none."""
    season = checkpoint.meta.deseasonalise_season
    if season is None:
        return [None] * len(contexts)
    found = [Seasonality.fit(rows, season) for rows in contexts]
    return [
        None if seasons is None else seasons.rephased(len(rows))
        for seasons, rows in zip(found, contexts, strict=True)
    ]


def _bounds(
    checkpoint: Checkpoint, plan: ForecastPlan, values: np.ndarray, levels: list[int]
) -> tuple[Bounds, list[int] | None]:
    """Conformal (lower, upper) [B, steps, O] around `values` for each of `levels`: the
    model-scale half-widths times each context's spread in its forecast rows; and the residuals
    behind the widths of the calibrated steps among them (None: unknown, or no levels)."""
    if not levels:
        return {}, None
    widths = checkpoint.interval_widths
    if widths is None:
        raise ValueError("the model has no calibrated prediction intervals")
    steps = values.shape[1]
    spread = _spread(plan.scale_out, steps)  # [B, 1 or steps, O]
    found = {}
    for level in sorted(levels):
        half = half_widths(widths, level, steps)[None] * spread  # [B, steps, O]
        found[level] = (values - half, values + half)
    counts = checkpoint.meta.interval_residuals
    return found, None if counts is None else counts[:steps]


def _spread(scaling: Scaling, steps: int) -> np.ndarray:
    """[B, 1 or steps, O] what one unit of the model scale is in the original scale of each
    context's forecast rows: its scaler's spread, times its seasonal factors if it has them."""
    if isinstance(scaling, Deseasonalised):
        return np.asarray(_spread(scaling.inner, steps) * scaling.ahead(steps))
    assert isinstance(scaling, ScalerStack)
    return scaling.scale
