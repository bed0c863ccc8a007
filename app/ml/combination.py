"""Forecast combination with the drift forecast, chosen series by series on validation.

A global model learns one way of continuing a trend for a whole panel; a short series whose own
line is steeper or flatter loses to its drift forecast (the line through its first and last
values). Where a job combines (`TrainConfig.drift_combination`), each series' validation part
decides: a series without a season whose mean of the model's and the drift forecast
(`evaluation.combined`) scored a lower MAE there than the model alone is forecast by that
mean, the line continued from its last row (`SeriesMeta.drift`). Nothing is substituted
silently: the model's own figures stay in the metrics, `combination` names the combined series
and gives the test figures as served, and each forecast says which series it combined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from app.ml.fitted import SeriesScores, mean, means, ratio
from app.ml.guards import MAX_LISTED, series_key
from app.ml.prepare import Prepared
from app.ml.season import is_seasonal

CombinedWith = Literal["drift"]
COMBINED_WITH: CombinedWith = "drift"


def eligible(data: Prepared) -> list[bool]:
    """Whether each series may be combined: a line has no season, so a series whose training
    rows pass the seasonality test at the job's season (any target column) keeps the model's
    forecast. On M1's validation parts combining seasonal series too raised the monthly sMAPE
    from 17.27 to 17.77."""
    targets = list(data.roles.targets)
    return [
        not any(
            is_seasonal(data.raw[segment.offset : segment.train_end, column], data.season)
            for column in targets
        )
        for segment in data.segments
    ]


def chosen(validation: Sequence[SeriesScores], allowed: Sequence[bool]) -> list[bool]:
    """Whether each series is combined: where it is `allowed`, its validation part was
    measured and the combination's MAE there is below the model's."""
    found = [scores.combined["mae"] < scores.model["mae"] for scores in validation]
    found += [False] * (len(allowed) - len(found))  # not measured: the job ran out of time
    return [chose and may for chose, may in zip(found, allowed, strict=True)]


def record(
    combined: Sequence[bool], test: Sequence[SeriesScores], ids: Sequence[str | None]
) -> dict[str, Any]:
    """The metrics' `combination`: what series are combined with, how many and the first
    MAX_LISTED of them (ids, or indexes), and the means over series of the test scores as
    served (each combined series' combination, every other series' model)."""
    numbers = [number for number, chose in enumerate(combined) if chose]
    served = [
        scores.combined if combined[number] else scores.model for number, scores in enumerate(test)
    ]
    mase = [
        ratio(found["mae"], scores.naive["mae"], scores.level)
        for found, scores in zip(served, test, strict=True)
    ]
    return {
        "combined_with": COMBINED_WITH,
        "series_count": len(numbers),
        "listed_at_most": MAX_LISTED,
        "series": [series_key(ids, number) for number in numbers[:MAX_LISTED]],
        "served": means(served) | {"mase": mean(mase)},
    }
