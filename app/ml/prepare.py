"""The series a job fits, prepared once: split, seasonally adjusted where asked, scaled.

Every job trains on a `Panel`: one or many series laid end to end (one series is a panel of
one). Each series is split on its own (its validation and test parts are its last rows), divided
by its seasons where asked, and scaled by the statistics of its own training rows, so a global
model sees every series on a common scale whatever its level and spread. Every ensemble member
and every measurement reads the same `Prepared` series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from app.ml.config import TrainConfig
from app.ml.data import Scaler, Segment, segments_of
from app.ml.feasibility import SeriesLength
from app.ml.roles import ColumnRoles
from app.ml.season import Seasonality

# What a checkpoint keeps of each series beyond the rows that continue it, to draw a forecast
# against the series it continues: its last few seasons (a short stretch where it has none),
# never more than a chart reads, and within a budget for the whole panel (a panel holds up to
# 10,000 series, and every kept row is stored in the checkpoint's meta.json).
HISTORY_SEASONS = 3
MIN_HISTORY_ROWS = 24
MAX_HISTORY_ROWS = 2_000
PANEL_HISTORY_ROWS = 250_000


def history_rows(lookback: int, season: int, series: int) -> int:
    """Rows a checkpoint keeps of each of `series` series (a series with fewer keeps them all):
    the last `HISTORY_SEASONS` seasons, at least MIN_HISTORY_ROWS, within the caps, and never
    fewer than the `lookback` rows that continue it."""
    wanted = max(HISTORY_SEASONS * season, MIN_HISTORY_ROWS)
    return max(lookback, min(wanted, MAX_HISTORY_ROWS, PANEL_HISTORY_ROWS // series))


@dataclass(frozen=True, eq=False)
class Panel:
    """Series laid end to end, in order: what a job trains on."""

    values: np.ndarray = field(repr=False)  # [T, C] every series' rows, original scale
    lengths: tuple[int, ...]  # rows of each series
    # Each series' id; None for the one series of unnamed data (a function, a plain CSV)
    ids: tuple[str | None, ...]
    season: int = 1  # rows per season (1: none): the seasonal naive baseline's and the adjustment's

    def __post_init__(self) -> None:
        if len(self.lengths) != len(self.ids) or not self.lengths:
            raise ValueError("a panel needs one id per series, and at least one series")
        if sum(self.lengths) != len(self.values) or min(self.lengths) < 1:
            raise ValueError("the series' lengths do not add up to the rows given")

    @classmethod
    def of_series(cls, values: np.ndarray, season: int = 1) -> Panel:
        """One unnamed series [T, C]."""
        values = np.asarray(values, dtype=np.float64)
        return cls(values, (len(values),), (None,), season)

    @property
    def series(self) -> list[SeriesLength]:
        """(id, rows) of every series, in order."""
        return list(zip(self.ids, self.lengths, strict=True))


@dataclass(frozen=True, eq=False)
class Prepared:
    """A panel as every member fits and every measurement reads it."""

    raw: np.ndarray = field(repr=False)  # [T, C] original scale
    segments: list[Segment]  # each series' rows among the T and its split
    ids: tuple[str | None, ...]
    roles: ColumnRoles
    season: int
    seasons: list[Seasonality | None]  # each series' own, numbered from its first row
    # [T, C] what each row divides by to be seasonally adjusted (1: not adjusted)
    factors: np.ndarray = field(repr=False)
    scalers: list[Scaler]  # each series' own, of every column
    scaled: torch.Tensor = field(repr=False)  # [T, C] model scale, on the device

    @classmethod
    def of(
        cls, panel: Panel, config: TrainConfig, roles: ColumnRoles, device: torch.device
    ) -> Prepared:
        """Split, adjust and scale every series of `panel` on its own."""
        raw = np.asarray(panel.values, dtype=np.float64)
        segments = segments_of(panel.lengths, config.split)
        seasons: list[Seasonality | None] = [None] * len(segments)
        if config.deseasonalise and panel.season >= 2:
            seasons = [Seasonality.fit(raw[s.offset : s.train_end], panel.season) for s in segments]
        factors = np.concatenate(
            [
                np.ones((segment.split.rows, raw.shape[1]))
                if found is None
                else found.factors(0, segment.split.rows)
                for found, segment in zip(seasons, segments, strict=True)
            ]
        )
        adjusted = raw / factors
        scalers = [Scaler.fit(config.scaling, adjusted[s.offset : s.train_end]) for s in segments]
        scaled = np.concatenate(
            [
                scaler.transform(adjusted[segment.offset : segment.end])
                for scaler, segment in zip(scalers, segments, strict=True)
            ]
        )
        tensor = torch.as_tensor(scaled, dtype=torch.float32).to(device)
        return cls(raw, segments, panel.ids, roles, panel.season, seasons, factors, scalers,
                   tensor)  # fmt: skip

    @property
    def device(self) -> torch.device:
        """Where the scaled series are."""
        return self.scaled.device

    def tails(self, lookback: int) -> list[np.ndarray]:
        """[lookback, C] the last rows of each series, original scale: what continues it."""
        return [self.raw[segment.end - lookback : segment.end].copy() for segment in self.segments]

    def whole(self) -> list[np.ndarray]:
        """[rows, C] every row of each series, original scale (views: read, never write)."""
        return [self.raw[segment.offset : segment.end] for segment in self.segments]

    def pasts(self, lookback: int) -> list[np.ndarray]:
        """[P, C] the rows before each series' tail that a checkpoint keeps to draw it (P >= 0,
        see `history_rows`), original scale; a forecast never reads them."""
        kept = history_rows(lookback, self.season, len(self.segments))
        return [
            self.raw[max(segment.offset, segment.end - kept) : segment.end - lookback].copy()
            for segment in self.segments
        ]

    def continuing_seasons(self) -> list[Seasonality | None]:
        """Each series' seasons phased to continue it (row 0: the row after its last)."""
        return [
            None if found is None else found.rephased(segment.split.rows)
            for found, segment in zip(self.seasons, self.segments, strict=True)
        ]
