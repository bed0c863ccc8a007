"""Guards: each series' model against the simple forecasts on its validation and test parts,
and the warnings of a model that loses to any of them.

On each held-out part (split) every series' rollout MAE is compared with the naive, seasonal
naive and drift forecasts' MAE on the same rows. Each series' comparison is kept in its line of
the metrics (`series[i].guards`); the job's `guards` counts the series losing to each baseline
on each split and names at most MAX_LISTED of them, so that the record of a panel of 100,000
series is the size of one of ten. A mean over series can win while some series lose: the
warnings name the losing series (as many as the record does), each with both MAEs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from app.ml.evaluation import baseline_name, loses, losing_text, losing_warning
from app.ml.fitted import SeriesScores

BASELINES = ("naive", "seasonal_naive", "drift")
SPLITS = ("validation", "test")
MAX_LISTED = 20  # losing series named per split and baseline (the count says how many lose)

SeriesGuard = dict[str, dict[str, Any]]  # by split: {"mae", "baselines", "loses_to"}


def _stored(mae: float) -> float:
    """An MAE to 6 significant digits, as warnings print it: a panel stores one per series,
    split and baseline."""
    return float(f"{mae:.6g}")


def series_guard(scores: SeriesScores) -> dict[str, Any]:
    """One series' comparison on one split: the model's MAE, each baseline's, the baselines it
    loses to (judged before the MAEs are rounded for storage) and the MAE of the mean of the
    model's and the drift forecast (`app.ml.combination`)."""
    model = scores.model["mae"]
    baselines = {name: found["mae"] for name, found in scores.baselines().items()}
    return {
        "mae": _stored(model),
        "baselines": {name: _stored(mae) for name, mae in baselines.items()},
        "loses_to": [name for name, mae in baselines.items() if loses(model, mae)],
        "combined_mae": _stored(scores.combined["mae"]),
    }


def series_guards(parts: Mapping[str, Sequence[SeriesScores]]) -> list[SeriesGuard]:
    """Each series' comparisons by split, for the splits that measured it (a job out of time
    measures fewer series): `parts` holds each split's scores, series by series in order."""
    count = max(len(found) for found in parts.values())
    return [
        {
            split: series_guard(found[number])
            for split, found in parts.items()
            if number < len(found)
        }
        for number in range(count)
    ]


def series_key(ids: Sequence[str | None], number: int) -> str | int:
    """A series as the guards name it: its id, or its index when it has none."""
    found = ids[number]
    return number if found is None else found


def _label(key: str | int) -> str:
    return f"series {key}" if isinstance(key, int) else repr(key)


def _checked(season: int) -> tuple[str, ...]:
    """The baselines warned of: with a season of 1 the seasonal naive is the naive forecast."""
    return BASELINES if season > 1 else ("naive", "drift")


def _mae(value: object) -> float:
    """A stored MAE (null where it was not finite) as a number."""
    return float(value) if isinstance(value, int | float) else math.nan


def guard_record(guards: Sequence[SeriesGuard], ids: Sequence[str | None]) -> dict[str, Any]:
    """The job's `guards`: for each split, the series it measured and for each baseline the
    count of series losing to it and the first MAX_LISTED of them (ids, or indexes)."""
    record: dict[str, Any] = {"listed_at_most": MAX_LISTED}
    for split in SPLITS:
        measured = [number for number, guard in enumerate(guards) if split in guard]
        losing: dict[str, Any] = {}
        for baseline in BASELINES:
            found = [n for n in measured if baseline in guards[n][split]["loses_to"]]
            listed = [series_key(ids, number) for number in found[:MAX_LISTED]]
            losing[baseline] = {"count": len(found), "series": listed}
        record[split] = {"series_measured": len(measured), "losing": losing}
    return record


def series_warnings(guard: Mapping[str, Any] | None, season: int) -> list[str]:
    """A series' warnings from its stored comparisons (`series[i].guards`): one for each split
    and baseline it loses to, with both MAEs; [] for a record without comparisons."""
    found: list[str] = []
    for split in SPLITS:
        compared = (guard or {}).get(split)
        if not isinstance(compared, Mapping):
            continue
        for baseline in _checked(season):
            if baseline in compared.get("loses_to", ()):
                model, other = _mae(compared["mae"]), _mae(compared["baselines"][baseline])
                where = f"on the {split} part"
                found.append(losing_text(model, other, baseline_name(baseline, season), where))
    return found


def panel_warnings(
    guards: Sequence[SeriesGuard], ids: Sequence[str | None], season: int
) -> list[str]:
    """For each split and baseline that any series loses to, a warning naming the first
    MAX_LISTED losing series with both MAEs and counting the rest."""
    found: list[str] = []
    for split in SPLITS:
        measured = [number for number, guard in enumerate(guards) if split in guard]
        for baseline in _checked(season):
            losing = [n for n in measured if baseline in guards[n][split]["loses_to"]]
            if not losing:
                continue
            named = ", ".join(
                f"{_label(series_key(ids, n))} (MAE {guards[n][split]['mae']:.6g} against "
                f"{guards[n][split]['baselines'][baseline]:.6g})"
                for n in losing[:MAX_LISTED]
            )
            more = len(losing) - MAX_LISTED
            rest = f", and {more} more (each series' `guards`)" if more > 0 else ""
            found.append(
                f"the model loses to the {baseline_name(baseline, season)} forecast on the "
                f"{split} parts of {len(losing)} of {len(measured)} series: {named}{rest}"
            )
    return found


def mean_warnings(validation: Sequence[SeriesScores], season: int) -> list[str]:
    """[a warning] when the model loses to the seasonal naive forecast on the validation parts
    as a mean over series; [] otherwise."""
    return losing_warning(
        float(np.mean([series.model["mae"] for series in validation])),
        float(np.mean([series.seasonal["mae"] for series in validation])),
        baseline_name("seasonal_naive", season),
        "on the validation part" + ("s (mean MAE over series)" if len(validation) > 1 else ""),
    )


def model_warnings(
    validation: Sequence[SeriesScores],
    guards: Sequence[SeriesGuard],
    ids: Sequence[str | None],
    season: int,
) -> list[str]:
    """The job's warnings: a model of one series those of its series; a panel's the mean
    validation warning, then each split's and baseline's losing series."""
    if len(guards) == 1:
        return series_warnings(guards[0], season)
    return mean_warnings(validation, season) + panel_warnings(guards, ids, season)
