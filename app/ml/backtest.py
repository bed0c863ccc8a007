"""Rolling origins: a model forecast from several origins of each series' held-out part, each
fold scored like the test metrics. In the test part they are a backtest; in the validation
part, what a configuration search scores candidates by (`app.ml.search`).

The model is fitted once, on the training rows, and early stopping watched the validation rows:
every origin of a backtest lies in the test part, so no fold scores rows that chose anything.
Fold k's origin is `stride` rows after fold k - 1's, the last fold ending at the part's end;
every series has its folds at the same distance from its part's end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.ml.budget import Budget
from app.ml.fitted import (
    Fitted,
    HeldOut,
    SeriesScores,
    scaled_rollouts,
    scores_from,
    summarise,
)

MAX_FOLDS = 20


def fold_plan(test_rows: int, folds: int, wanted_steps: int) -> tuple[int, int]:
    """(steps, stride) of `folds` rolling origins in a test part of `test_rows` rows: each fold
    forecasts `wanted_steps` rows, or fewer so that every fold has an origin of its own."""
    if not 1 <= folds <= test_rows:
        raise ValueError(f"{folds} folds need at least {folds} test rows; there are {test_rows}")
    steps = max(1, min(wanted_steps, test_rows - folds + 1))
    stride = (test_rows - steps) // (folds - 1) if folds > 1 else 0
    return steps, stride


@dataclass(frozen=True)
class Origins:
    """Rollouts from rolling origins of a held-out part: each fold's series' scores, in fold
    order (fewer folds when the budget ran out)."""

    steps: int  # rows each fold forecasts
    stride: int  # rows between one fold's origin and the next's
    from_end: list[int]  # each fold's first forecast row, counted back from the part's end
    per_fold: list[list[SeriesScores]]


def rolling_origins(
    fitted: Fitted, part: HeldOut, folds: int, wanted_steps: int, budget: Budget
) -> Origins:
    """The model rolled out from `folds` origins of each series' `part`, every fold ending
    `stride` rows after the one before and the last at the part's end, and scored there."""
    segments = fitted.data.segments
    shortest = min(s.bounds(part)[1] - s.bounds(part)[0] for s in segments)
    steps, stride = fold_plan(shortest, folds, min(wanted_steps, fitted.max_steps()))
    from_end = [steps + (folds - 1 - fold) * stride for fold in range(folds)]
    part_ends = [s.bounds(part)[1] for s in segments]
    starts = np.asarray([end - back for back in from_end for end in part_ends])  # fold-major
    ends = np.asarray([s.end for _ in from_end for s in segments])  # covariates: to the end
    scaled = scaled_rollouts(fitted, starts, ends, steps, budget)
    per_fold = []
    for fold, back in enumerate(from_end):
        first = fold * len(segments)
        if first + len(segments) > len(scaled):  # the budget ran out before this fold
            break
        per_fold.append(
            [
                scores_from(fitted, number, end - s.offset - back, scaled[first + number])
                for number, (s, end) in enumerate(zip(segments, part_ends, strict=True))
            ]
        )
    return Origins(scaled.shape[1], stride, from_end, per_fold)


def backtest(fitted: Fitted, folds: int, wanted_steps: int, budget: Budget) -> dict[str, object]:
    """Per-fold means over series of the model's scores and both baselines' (fewer folds when
    the budget ran out): {"folds", "steps", "stride", "per_fold": [...]}."""
    found = rolling_origins(fitted, "test", folds, wanted_steps, budget)
    per_fold = [
        {"fold": fold + 1, "rows_from_end": back, **summarise(scores)}
        for fold, (back, scores) in enumerate(zip(found.from_end, found.per_fold, strict=False))
    ]
    return {"folds": folds, "steps": found.steps, "stride": found.stride, "per_fold": per_fold}
