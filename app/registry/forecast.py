"""Forecasts from saved checkpoints: the request checks around one `ml` forecast plan
(`app.ml.serving`); the answer is built by `answer`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from app.core.errors import AppError, InvalidInput
from app.core.metrics import ServiceMetrics
from app.core.schemas import Rows
from app.datasets import Limits, canonical_series_id, to_matrix
from app.ml import serving
from app.ml.checkpoints import Checkpoint
from app.ml.cost import rollout_flops
from app.ml.device import use_threads
from app.ml.serving import ContextNotScalable, ForecastPlan
from app.registry.answer import answer
from app.registry.batcher import RolloutBatcher
from app.registry.cache import ModelCache
from app.registry.limits import ForecastLimits
from app.registry.schemas import ForecastRequest, ForecastResponse


class ForecastAbandoned(Exception):
    """The caller stopped the forecast before every step was made: its client went away, which
    `app.core.disconnect.run_while_connected` answers as a client event."""


def _context_matrix(rows: Rows, checkpoint: Checkpoint, field: str, label: str) -> np.ndarray:
    lookback = checkpoint.model.config.lookback
    inputs = checkpoint.inputs
    # A context is one unnamed series: to_matrix reads only the row and column limits.
    limits = Limits(max_rows=10**9, max_columns=len(inputs), max_series=1, max_series_id_length=1)
    if rows and isinstance(rows[0], list) and len(rows[0]) != len(inputs):
        raise InvalidInput(
            f"context rows have {len(rows[0])} values; {label} reads columns {inputs}",
            field=field,
            code="context_width",
        )
    matrix, _ = to_matrix(rows, inputs, field=field, limits=limits)  # at most max_context_rows
    if len(matrix) < lookback:
        raise InvalidInput(
            f"context has {len(matrix)} rows; {label} needs at least {lookback} (its lookback)",
            field=field,
            code="context_too_short",
        )
    return matrix


def _series_numbers(request: ForecastRequest, checkpoint: Checkpoint, label: str) -> list[int]:
    """Positions of the requested series among the model's (every one by default)."""
    if request.series is None:
        return list(range(len(checkpoint.meta.series)))
    position = checkpoint.series_positions
    asked: dict[int, int] = {}  # a series' position -> where the request first named it
    for index, given in enumerate(request.series):
        series_id = canonical_series_id(given)  # as the dataset stored it
        if series_id not in position:
            raise InvalidInput(
                f"{label} has no series {series_id!r}; forecast a series it never saw by giving "
                "its recent rows as `context`",
                field=f"series[{index}]",
                code="unknown_series",
            )
        if position[series_id] in asked:
            raise InvalidInput(
                f"series {series_id!r} is asked for twice (first at series"
                f"[{asked[position[series_id]]}])",
                field=f"series[{index}]",
                code="duplicate_series",
            )
        asked[position[series_id]] = index
    return list(asked)


def _plan(request: ForecastRequest, checkpoint: Checkpoint, label: str) -> ForecastPlan:
    """What the request rolls out: the contexts it gives, or the training series' last rows."""
    if request.series is not None and checkpoint.series_ids is None:
        raise InvalidInput(
            f"{label} was trained on one series; it has no series ids",
            field="series",
            code="not_a_panel_model",
        )
    if request.history_rows and (request.contexts is not None or request.context is not None):
        raise InvalidInput(
            "history_rows answers the training series' last rows, for a forecast that "
            "continues them; a forecast from a context you send has that context as its history",
            field="history_rows",
            code="history_needs_training_series",
        )
    if request.contexts is not None:
        given = [
            _context_matrix(rows, checkpoint, f"contexts[{i}]", label)
            for i, rows in enumerate(request.contexts)
        ]
    elif request.context is not None:
        given = [_context_matrix(request.context, checkpoint, "context", label)]
    else:
        return serving.continuing(checkpoint, _series_numbers(request, checkpoint, label))
    try:
        return serving.given(checkpoint, given)
    except ContextNotScalable as exc:
        raise InvalidInput(str(exc), field="context", code="context_not_scalable") from None


def _future(
    request: ForecastRequest, checkpoint: Checkpoint, label: str, contexts: int
) -> np.ndarray | None:
    """[1, horizon, F] input rows ahead with the known covariates filled in (None: the model
    has none), from `request.future`."""
    covariates, given = checkpoint.covariates, request.future or {}
    if not covariates:
        if given:
            raise InvalidInput(
                f"{label} predicts every column it reads; it takes no future values",
                field="future",
                code="no_covariates",
            )
        return None
    if contexts > 1:
        raise InvalidInput(
            f"{label} needs future covariates per context; send one request per context",
            field="contexts" if request.contexts is not None else "series",
            code="covariates_need_one_context",
        )
    unknown = sorted(set(given) - set(covariates))
    if unknown:
        raise InvalidInput(
            f"{unknown} are not known covariates of {label}; it needs {covariates}",
            field=f"future.{unknown[0]}",
            code="unknown_covariate",
        )
    future = np.zeros((1, request.horizon, len(checkpoint.inputs)))
    for column in covariates:
        values = given.get(column)
        if values is None or len(values) < request.horizon:
            have = "none" if values is None else f"{len(values)} values"
            raise InvalidInput(
                f"{label} needs the next {request.horizon} values of its known covariate "
                f"{column!r} (one per forecast step); got {have}",
                field=f"future.{column}",
                code="covariates_missing",
            )
        row = np.asarray(values[: request.horizon], dtype=np.float64)
        if not np.isfinite(row).all():
            raise InvalidInput("future values must be finite", field=f"future.{column}")
        future[0, :, checkpoint.inputs.index(column)] = row
    return future


Target = tuple[int, Checkpoint]  # a resolved version and its loaded checkpoint
# A forecast of at most this much work runs on the event loop, which it holds meanwhile: here
# the whole forecast of 0.28 MFLOP (h=100 of the bundled model) took 0.43 ms and of 0.83 MFLOP
# 1.0 ms, against 0.4 ms of an h=1 request's 2.0 ms for the hop to a worker thread and back.
INLINE_FLOP = 1e6


@dataclass(frozen=True)
class Forecasting:
    """Everything a forecast request uses of the app, gathered once by its lifespan (one
    dependency to resolve per request instead of one for each)."""

    cache: ModelCache
    batcher: RolloutBatcher
    limits: ForecastLimits
    metrics: ServiceMetrics

    def inline_target(self, name: str, request: ForecastRequest) -> Target | None:
        """The version and loaded checkpoint of a forecast small enough for the event loop
        (one context of a loaded model of one series, or a context given: at most INLINE_FLOP
        of work), else None. It never loads a checkpoint or waits for the batcher there; every
        other forecast (or error) goes to a worker thread."""
        if request.contexts is not None or request.series is not None:
            return None
        try:
            version = self.cache.resolve_version(name, request.version)
            checkpoint = self.cache.cached(name, version)
        except AppError:
            return None
        if checkpoint is None or (request.context is None and len(checkpoint.meta.series) > 1):
            return None
        work = checkpoint.meta.ensemble * rollout_flops(checkpoint.model.config, 1, request.horizon)
        return (version, checkpoint) if work <= INLINE_FLOP else None


def _check_work(
    checkpoint: Checkpoint,
    contexts: int,
    request: ForecastRequest,
    limits: ForecastLimits,
    history: int = 0,
) -> None:
    """Refuse a forecast whose answer (with `history` values of history) or work is too large."""
    config = checkpoint.model.config
    per_step = config.n_outputs * (1 + 2 * len(request.levels))  # forecast and bounds
    values = contexts * request.horizon * per_step + history
    if values > limits.max_values:
        raise InvalidInput(
            f"{contexts} context(s) x {request.horizon} steps x {per_step} value(s) a step "
            f"({config.n_outputs} column(s), lower and upper per level)"
            f"{f' and {history} values of history' if history else ''} is {values} values; "
            f"the limit is {limits.max_values} (FORECAST_MAX_FORECAST_VALUES)",
            field="horizon",
            code="forecast_too_large",
        )
    # every member of an ensemble rolls out
    gflop = checkpoint.meta.ensemble * rollout_flops(config, contexts, request.horizon) / 1e9
    if gflop > limits.max_gflop:
        raise InvalidInput(
            f"this forecast needs about {gflop:,.0f} GFLOP ({contexts} context(s) x "
            f"{request.horizon} steps on a model of lookback {config.lookback}, hidden size "
            f"{config.hidden_size}, {config.num_layers} layer(s)); the limit is "
            f"{limits.max_gflop:g} (FORECAST_MAX_FORECAST_GFLOP): ask for fewer steps or contexts",
            field="horizon",
            code="forecast_too_large",
        )


def make_forecast(
    *,
    cache: ModelCache,
    name: str,
    request: ForecastRequest,
    limits: ForecastLimits,
    metrics: ServiceMetrics,
    keep_going: Callable[[], bool] | None = None,
    batcher: RolloutBatcher | None = None,
    target: Target | None = None,
) -> ForecastResponse:
    """Roll a saved model forward `request.horizon` steps from each context; `keep_going`,
    asked between model calls, abandons the work (ForecastAbandoned) when it answers False.
    With a `batcher`, concurrent forecasts of the same version share one rollout. `target`:
    the version and checkpoint, when the caller resolved them already."""
    began = time.perf_counter()
    if keep_going is not None and not keep_going():  # its client left while it waited
        raise ForecastAbandoned
    if target is None:
        version = cache.resolve_version(name, request.version)
        target = version, cache.get(name, version)
    version, checkpoint = target
    label = f"model {name!r} v{version}"
    plan = _plan(request, checkpoint, label)
    future = _future(request, checkpoint, label, len(plan.contexts))
    _check_work(
        checkpoint, len(plan.contexts), request, limits, _history_values(checkpoint, plan, request)
    )
    if request.levels and checkpoint.interval_widths is None:
        raise InvalidInput(
            f"{label} has no calibrated prediction intervals (trained before they existed, or "
            "its validation split was too short for them); retrain it to get them",
            field="levels",
            code="intervals_unavailable",
        )
    use_threads(cache.threads)  # this worker thread's own count, not torch's default
    found = serving.forecast(
        checkpoint, plan, request.horizon, request.levels, future=future, keep_going=keep_going,
        roll=None if batcher is None else partial(batcher.rollout, checkpoint),
    )  # fmt: skip
    if found.values.shape[1] < request.horizon:  # [B, H, O]: ended early
        raise ForecastAbandoned
    if not np.isfinite(found.values).all():
        raise InvalidInput(
            f"the forecast of {label} left the range of finite numbers; the context is too far "
            "from anything the model was trained on",
            field="context",
            code="forecast_not_finite",
        )
    metrics.forecast_duration.labels(str(cache.device)).observe(time.perf_counter() - began)
    metrics.forecast_horizon.observe(request.horizon)
    return answer(name, version, checkpoint, request, plan, found)


def _history_values(checkpoint: Checkpoint, plan: ForecastPlan, request: ForecastRequest) -> int:
    """The values of history an answer holds: the rows asked of each continued series (as many
    as it kept), of every target column."""
    if not request.history_rows or plan.continues is None:
        return 0
    series = checkpoint.meta.series
    rows = sum(min(request.history_rows, series[number].kept_rows) for number in plan.continues)
    return rows * len(checkpoint.targets)
