"""A real server on loopback for the client's tests, shared by a module (it trains small
models in a worker process), and series to upload."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from tests.e2e.server import Server

TINY_TRAINING = {"epochs": 4, "early_stopping_patience": 0}
WINDOW = {"lookback": 12, "horizon": 3}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`forecast-service serve` with one worker process."""
    running = Server(tmp_path_factory.mktemp("client-service")).start()
    yield running
    running.stop()


def monthly(periods: int, start: str = "2015-01-01", level: float = 100.0) -> pd.Series:
    """A seasonal monthly series with a trend, as a user would hold it."""
    steps = np.arange(periods)
    values = level + 10 * np.sin(steps * 2 * np.pi / 12) + 0.3 * steps
    index = pd.date_range(start, periods=periods, freq="MS")
    return pd.Series(values, index=index, name="sales")
