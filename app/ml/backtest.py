"""A rolling-origin backtest: the measured model forecast from several origins of each series'
test part, each fold scored like the test metrics.

The model is fitted once, on the training rows, and early stopping watched the validation rows:
every origin lies in the test part, so no fold scores rows that chose anything. Fold k's origin
is `stride` rows after fold k - 1's, the last fold ending at the series' end; every series has
its folds at the same distance from its end.
"""

from __future__ import annotations

import numpy as np

from app.ml.budget import Budget
from app.ml.fitted import Fitted, scaled_rollouts, scores_from, summarise

MAX_FOLDS = 20


def fold_plan(test_rows: int, folds: int, wanted_steps: int) -> tuple[int, int]:
    """(steps, stride) of `folds` rolling origins in a test part of `test_rows` rows: each fold
    forecasts `wanted_steps` rows, or fewer so that every fold has an origin of its own."""
    if not 1 <= folds <= test_rows:
        raise ValueError(f"{folds} folds need at least {folds} test rows; there are {test_rows}")
    steps = max(1, min(wanted_steps, test_rows - folds + 1))
    stride = (test_rows - steps) // (folds - 1) if folds > 1 else 0
    return steps, stride


def backtest(fitted: Fitted, folds: int, wanted_steps: int, budget: Budget) -> dict[str, object]:
    """Per-fold means over series of the model's scores and both baselines' (fewer folds when
    the budget ran out): {"folds", "steps", "stride", "per_fold": [...]}."""
    segments = fitted.data.segments
    shortest = min(segment.split.test for segment in segments)
    steps, stride = fold_plan(shortest, folds, min(wanted_steps, fitted.max_steps()))
    # From the end: the fold's first forecast row is `from_end` rows before each series' end.
    from_end = [steps + (folds - 1 - fold) * stride for fold in range(folds)]
    starts = np.asarray([s.end - back for back in from_end for s in segments])  # fold-major
    ends = np.asarray([s.end for _ in from_end for s in segments])
    scaled = scaled_rollouts(fitted, starts, ends, steps, budget)
    per_fold = []
    for fold, back in enumerate(from_end):
        first = fold * len(segments)
        if first + len(segments) > len(scaled):  # the budget ran out before this fold
            break
        scores = [
            scores_from(fitted, number, s.split.rows - back, scaled[first + number])
            for number, s in enumerate(segments)
        ]
        per_fold.append({"fold": fold + 1, "rows_from_end": back, **summarise(scores)})
    return {"folds": folds, "steps": scaled.shape[1], "stride": stride, "per_fold": per_fold}
