"""Error metrics on the original scale, the model's and the simple forecasts it is measured
against: naive (last value), seasonal naive (last season) and drift (random walk with drift)."""

from __future__ import annotations

import math

import numpy as np


class ErrorSums:
    """Accumulates squared and absolute errors batch by batch; `errors()` of all of them."""

    def __init__(self) -> None:
        self.squared = self.absolute = 0.0
        self.count = 0

    def add(self, predicted: np.ndarray, actual: np.ndarray) -> None:
        """Add one batch of predictions and the values they predict (same shape)."""
        diff = np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)
        self.squared += float(np.sum(diff**2))
        self.absolute += float(np.sum(np.abs(diff)))
        self.count += diff.size

    def result(self) -> dict[str, float]:
        """MSE, RMSE and MAE over everything added."""
        mse = self.squared / self.count
        return {"mse": mse, "rmse": math.sqrt(mse), "mae": self.absolute / self.count}


def errors(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    """MSE, RMSE and MAE over every element of two arrays of the same shape."""
    sums = ErrorSums()
    sums.add(predicted, actual)
    return sums.result()


def naive_windows(series: np.ndarray, starts: np.ndarray, horizon: int) -> np.ndarray:
    """The last-value forecast of every window: [N, horizon, F], each row the value before start."""
    last = series[starts - 1]  # [N, F]
    return np.repeat(last[:, None, :], horizon, axis=1)  # [N, 1, F] -> [N, H, F]


def smape(predicted: np.ndarray, actual: np.ndarray) -> float:
    """The M3 competition's sMAPE in percent, 200·|A−F|/(|A|+|F|) averaged (0 where both are 0)."""
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(
        np.abs(actual - predicted), denominator, out=np.zeros_like(denominator),
        where=denominator > 0,
    )  # fmt: skip
    return float(200 * ratio.mean())


def seasonal_naive(history: np.ndarray, steps: int, season: int) -> np.ndarray:
    """[steps, O]: the last `season` rows of `history` repeated (the last row when it is
    shorter than a season, or the season is 1: the naive forecast)."""
    if season <= 1 or len(history) < season:
        return np.repeat(history[-1:], steps, axis=0)
    return history[-season:][np.arange(steps) % season]


def drift_slope(history: np.ndarray) -> np.ndarray:
    """[O]: the slope of the line through the first and last rows of `history` [n, O] (0 when
    there is only one row)."""
    if len(history) < 2:
        return np.zeros(history.shape[1:])
    return np.asarray((history[-1] - history[0]) / (len(history) - 1))


def drift_from(last: np.ndarray, slope: np.ndarray, steps: int) -> np.ndarray:
    """[steps, O]: the line of `slope` [O] continued `steps` rows past the row `last` [O]."""
    return np.asarray(last + slope * np.arange(1, steps + 1)[:, None])


def drift(history: np.ndarray, steps: int) -> np.ndarray:
    """[steps, O]: the random walk with drift, the line through the first and last rows of
    `history` continued `steps` rows past the last (the last row when there is only one)."""
    return drift_from(history[-1], drift_slope(history), steps)


def combined(forecast: np.ndarray, line: np.ndarray) -> np.ndarray:
    """The mean of `forecast` and the drift forecast `line` of the same rows: a forecast
    combination keeping half the series' own trend (`app.ml.combination` chooses where)."""
    return np.asarray((forecast + line) / 2)


def baseline_name(baseline: str, season: int) -> str:
    """How a warning names a baseline: "naive", "seasonal_naive" or "drift" (the seasonal naive
    with a season of 1 is the naive forecast)."""
    if baseline == "seasonal_naive":
        return "naive" if season <= 1 else f"seasonal naive (season {season})"
    return baseline


def loses(model_mae: float, baseline_mae: float) -> bool:
    """Whether the model's MAE is worse than a baseline's: a model whose rollout diverged (not
    finite) loses to a finite baseline; a tie does not lose."""
    return math.isfinite(baseline_mae) and not model_mae <= baseline_mae


def losing_warning(model_mae: float, baseline_mae: float, baseline: str, where: str) -> list[str]:
    """[a warning] when the model loses to the `baseline` forecast (named as by `baseline_name`)
    `where`: a job must not serve a model that loses to a simple forecast without saying so;
    [] otherwise."""
    return (
        [losing_text(model_mae, baseline_mae, baseline, where)]
        if loses(model_mae, baseline_mae)
        else []
    )


def losing_text(model_mae: float, baseline_mae: float, baseline: str, where: str) -> str:
    """The words of a warning that the model loses to `baseline` `where`, with both MAEs."""
    return (
        f"the model loses to the {baseline} forecast {where}: MAE {model_mae:.6g} against "
        f"{baseline_mae:.6g}"
    )
