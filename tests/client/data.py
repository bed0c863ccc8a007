"""What the client's tests upload and train (their server is tests/conftest.py's `service`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

TINY_TRAINING = {"epochs": 4, "early_stopping_patience": 0, "ensemble": 1}  # one quick model
WINDOW = {"lookback": 12, "horizon": 3}


def monthly(periods: int, start: str = "2015-01-01", level: float = 100.0) -> pd.Series:
    """A seasonal monthly series with a trend, as a user would hold it."""
    steps = np.arange(periods)
    values = level + 10 * np.sin(steps * 2 * np.pi / 12) + 0.3 * steps
    index = pd.date_range(start, periods=periods, freq="MS")
    return pd.Series(values, index=index, name="sales")
