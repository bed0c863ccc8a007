"""Error metrics on the original scale, the model's and the naive last-value forecast's."""

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


def with_mase(model: dict[str, float], naive: dict[str, float]) -> dict[str, float | None]:
    """`model`'s errors plus MASE: its MAE over the naive forecast's MAE on the same targets."""
    scale = naive["mae"]
    return {**model, "mase": model["mae"] / scale if scale > 0 else None}
