"""A fitted model with the series it was fitted to, and what measuring it reads: its direct
predictions, its rollouts inside each series and each series' scores against the baselines
(naive, seasonal naive and drift).

Every series is rolled out and scored on its own original scale; one series is a panel of one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from app.ml.budget import Budget
from app.ml.data import ScalerStack, column_windows
from app.ml.evaluation import combined, drift, errors, seasonal_naive, smape
from app.ml.forecast import RolloutMode, rollout
from app.ml.losses import LossName, pointwise
from app.ml.model import Forecaster
from app.ml.prepare import Prepared
from app.ml.roles import ColumnRoles

# Long held-out parts are rolled out over their first steps only: a rollout is sequential, and
# tens of thousands of steps would cost more than the training itself.
MAX_ROLLOUT_EVAL_STEPS = 10_000
MAX_ROLLOUT_EVAL_CALLS = 2_000
# Windows per forward pass when evaluating: memory stays at one batch whatever the split's size.
EVAL_BATCH = 1024
UNLIMITED = Budget()  # no deadline and no stop predicate: it never runs out, so never changes
HeldOut = Literal["val", "test"]


@dataclass(frozen=True, eq=False)
class Fitted:
    """A fitted model, the prepared series it was fitted to, and how its rollouts continue."""

    model: Forecaster
    data: Prepared = field(repr=False)
    mode: RolloutMode = "window"  # the mode it is served by

    def max_steps(self) -> int:
        """Most steps an evaluation rollout runs: a rollout is sequential, one model call per
        `horizon` steps, so both the steps and the calls are capped."""
        return min(MAX_ROLLOUT_EVAL_STEPS, MAX_ROLLOUT_EVAL_CALLS * self.model.config.horizon)

    def original(self, scaled: np.ndarray, numbers: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Model-scale predictions [n, steps, O] of series `numbers` [n] at rows `rows`
        [n, steps] (indices into the laid-out series) -> original scale."""
        data, targets = self.data, list(self.data.roles.targets)
        stack = ScalerStack.of([data.scalers[number] for number in numbers]).subset(targets)
        return np.asarray(stack.inverse(scaled) * data.factors[rows][..., targets])

    def targets(self) -> np.ndarray:
        """[T, O] the target columns in the model scale, on the host."""
        return self.data.scaled[:, list(self.data.roles.targets)].double().cpu().numpy()


@torch.inference_mode()
def direct_batches(
    model: Forecaster, series: torch.Tensor, starts: torch.Tensor, roles: ColumnRoles
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(starts, predictions [b, H, O], targets [b, H, O]) of EVAL_BATCH windows at a time."""
    model.eval()
    config = model.config
    for begin in range(0, len(starts), EVAL_BATCH):
        batch = starts[begin : begin + EVAL_BATCH]
        inputs, targets = column_windows(series, batch, config.lookback, config.horizon, roles)
        yield batch, model(inputs)[0], targets


def mean_loss(
    model: Forecaster,
    series: torch.Tensor,
    starts: torch.Tensor,
    roles: ColumnRoles,
    loss: LossName = "mse",
) -> float:
    """The mean `loss` of the windows at `starts` on the model scale: the training loss's
    measure."""
    batches = direct_batches(model, series, starts, roles)
    total = sum(float(pointwise(p - t, loss).sum()) for _, p, t in batches)
    return total / (len(starts) * model.config.horizon * model.config.n_outputs)


def scaled_rollouts(
    fitted: Fitted, starts: np.ndarray, ends: np.ndarray, steps: int, budget: Budget
) -> np.ndarray:
    """Rollouts of `steps` rows from each start (a row index into the laid-out series), every
    one inside its own series (known covariates are read up to `ends`, exclusive): [n, steps, O]
    in the model scale; fewer rollouts or steps when the budget ran out."""
    lookback, device = fitted.model.config.lookback, fitted.data.device
    inputs, series = list(fitted.data.roles.inputs), fitted.data.scaled
    first = torch.as_tensor(starts, device=device)[:, None]
    history = first + torch.arange(-lookback, 0, device=device)
    last = torch.as_tensor(ends - 1, device=device)[:, None]
    ahead = torch.minimum(first + torch.arange(0, steps, device=device), last)
    predicted: list[torch.Tensor] = []
    for begin in range(0, len(starts), EVAL_BATCH):
        if predicted and not budget.left():
            break
        batch = slice(begin, begin + EVAL_BATCH)
        predicted.append(
            rollout(
                fitted.model,
                series[history[batch]][..., inputs],
                steps,
                fitted.mode,
                series[ahead[batch]][..., inputs],
                keep_going=budget.left,
            )
        )
    done = min(chunk.shape[1] for chunk in predicted)
    return torch.cat([chunk[:, :done] for chunk in predicted]).double().cpu().numpy()


SCORES = ("mse", "rmse", "mae", "smape")
# A baseline error this small next to the values is rounding, not error: no ratio to it.
EXACT_BASELINE = 1e-9


def scores(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """MSE, RMSE, MAE and sMAPE of `predicted` against `actual` (same shape)."""
    return errors(predicted, actual) | {"smape": smape(predicted, actual)}


def ratio(mae: float, baseline: float, level: float) -> float | None:
    """`mae` over a baseline's MAE (a MASE); None where the baseline is exact."""
    return mae / baseline if baseline > EXACT_BASELINE * max(level, 1e-300) else None


def mean(values: list[float | None]) -> float | None:
    """The mean of the finite values; None when there are none."""
    known = [value for value in values if value is not None and math.isfinite(value)]
    return float(np.mean(known)) if known else None


@dataclass(frozen=True)
class SeriesScores:
    """One series' scores over some rows: the model's, the naive forecast's, the seasonal
    naive's and the drift forecast's."""

    rows: int
    level: float  # mean |actual|: what a baseline's error is small against
    model: dict[str, float]
    naive: dict[str, float]
    seasonal: dict[str, float]
    drift: dict[str, float]
    # The mean of the model's and the drift forecast (`app.ml.combination`)
    combined: dict[str, float]

    def baselines(self) -> dict[str, dict[str, float]]:
        """Each baseline's scores by the name the metrics give it."""
        return {"naive": self.naive, "seasonal_naive": self.seasonal, "drift": self.drift}

    @property
    def mase(self) -> float | None:
        """The model's MAE over the naive forecast's, on the same rows (< 1 beats it)."""
        return ratio(self.model["mae"], self.naive["mae"], self.level)

    @property
    def mase_seasonal(self) -> float | None:
        """The model's MAE over the seasonal naive forecast's, on the same rows."""
        return ratio(self.model["mae"], self.seasonal["mae"], self.level)

    def row(self, series_id: str | None) -> dict[str, object]:
        """The series' line of the metrics: the model's scores and its MASE against both."""
        return {
            "id": series_id,
            "test_rows": self.rows,
            **self.model,
            "mase": self.mase,
            "mase_seasonal": self.mase_seasonal,
        }


def scores_from(fitted: Fitted, number: int, origin: int, scaled: np.ndarray) -> SeriesScores:
    """Series `number`'s scores of `scaled` [steps, O], a model-scale rollout from row `origin`
    of that series, against the naive, seasonal naive and drift forecasts from the same rows
    (each from every row of the series before `origin`)."""
    data = fitted.data
    segment, targets, steps = data.segments[number], list(data.roles.targets), len(scaled)
    at = segment.offset + origin
    history = data.raw[segment.offset : at][:, targets]
    actual = data.raw[at : at + steps][:, targets]
    rows = (at + np.arange(steps))[None]
    predicted = fitted.original(scaled[None], np.array([number]), rows)[0]
    line = drift(history, steps)
    return SeriesScores(
        steps,
        float(np.mean(np.abs(actual))),
        scores(predicted, actual),
        scores(np.repeat(history[-1:], steps, axis=0), actual),
        scores(seasonal_naive(history, steps, data.season), actual),
        scores(line, actual),
        scores(combined(predicted, line), actual),
    )


def part_scores(fitted: Fitted, budget: Budget, part: HeldOut) -> list[SeriesScores]:
    """Every series' scores over its held-out `part`, each rolled out from the row before the
    part, all series in one pass (fewer series or rows when the budget ran out)."""
    segments = fitted.data.segments
    starts, stops = np.asarray([segment.bounds(part) for segment in segments]).T
    rows = stops - starts
    ends = np.asarray([segment.end for segment in segments])
    scaled = scaled_rollouts(fitted, starts, ends, min(int(rows.max()), fitted.max_steps()),
                             budget)  # fmt: skip
    return [
        scores_from(
            fitted,
            number,
            int(starts[number]) - segments[number].offset,
            scaled[number][: rows[number]],
        )  # fmt: skip
        for number in range(len(scaled))
    ]


def means(found: list[dict[str, float]]) -> dict[str, float | None]:
    """Each score's mean over `found` (series or folds), ignoring what is not finite."""
    return {name: mean([score[name] for score in found]) for name in SCORES}


def summarise(found: list[SeriesScores]) -> dict[str, object]:
    """The means over series: the model's scores with its MASE against the naive and seasonal
    naive forecasts, and the naive, seasonal naive and drift forecasts' scores."""
    return {
        "mean": {
            **means([score.model for score in found]),
            "mase": mean([score.mase for score in found]),
            "mase_seasonal": mean([score.mase_seasonal for score in found]),
        },
        "naive": means([score.naive for score in found]),
        "seasonal_naive": means([score.seasonal for score in found]),
        "drift": means([score.drift for score in found]),
    }
