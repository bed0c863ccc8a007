"""Scaling, chronological splits and windows: numpy in, tensors out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, cast, get_args

import numpy as np
import torch

from app.ml.roles import ColumnRoles

ScalingKind = Literal["standard", "minmax", "none"]


@dataclass(frozen=True)
class Scaler:
    """Per-column affine scaling `(x - center) / scale`, fitted on the training rows only."""

    kind: ScalingKind
    center: tuple[float, ...]
    scale: tuple[float, ...]

    @classmethod
    def fit(cls, kind: ScalingKind, rows: np.ndarray) -> Scaler:
        """Fit on `rows` [N, F]; a constant column gets scale 1 so it never divides by zero."""
        columns = rows.shape[1]
        if kind == "standard":
            center, scale = rows.mean(axis=0), rows.std(axis=0)
        elif kind == "minmax":
            center, scale = rows.min(axis=0), rows.max(axis=0) - rows.min(axis=0)
        else:
            center, scale = np.zeros(columns), np.ones(columns)
        scale = np.where(scale > 1e-12, scale, 1.0)
        return cls(kind, tuple(map(float, center)), tuple(map(float, scale)))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """[..., F] original scale -> [..., F] model scale."""
        return np.asarray((values - np.asarray(self.center)) / np.asarray(self.scale))

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """[..., F] model scale -> [..., F] original scale."""
        return np.asarray(values * np.asarray(self.scale) + np.asarray(self.center))

    def subset(self, columns: list[int]) -> Scaler:
        """The scaler of some columns, in the order given."""
        pick = [self.center[i] for i in columns], [self.scale[i] for i in columns]
        return Scaler(self.kind, tuple(pick[0]), tuple(pick[1]))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form for checkpoint metadata."""
        return {"kind": self.kind, "center": list(self.center), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Scaler:
        """Inverse of `to_dict`; raises ValueError on a malformed entry."""
        try:
            kind, center, scale = data["kind"], data["center"], data["scale"]
            if not isinstance(center, list) or not isinstance(scale, list):
                raise TypeError("center and scale must be lists")
            centers, scales = np.asarray(center, dtype=float), np.asarray(scale, dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed scaler: {exc!r}") from None
        if kind not in get_args(ScalingKind):
            raise ValueError(f"unknown scaler kind {kind!r}")
        kind = cast(ScalingKind, kind)
        if centers.shape != scales.shape or centers.ndim != 1:
            raise ValueError("scaler center and scale must be lists of equal length")
        if not (np.isfinite(centers).all() and np.isfinite(scales).all() and (scales > 0).all()):
            raise ValueError("scaler center must be finite, its scale finite and positive")
        return cls(kind, tuple(map(float, centers)), tuple(map(float, scales)))


class Scaling(Protocol):
    """What a forecast scales its contexts in and its predictions out with."""

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Original scale -> model scale."""
        ...

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Model scale -> original scale."""
        ...


@dataclass(frozen=True)
class ScalerStack:
    """One scaler per context of a batch (a panel's series each keep their own statistics):
    center and scale [B, 1, F] broadcast over the rows of [B, T, F] values."""

    center: np.ndarray
    scale: np.ndarray

    @classmethod
    def of(cls, scalers: Sequence[Scaler]) -> ScalerStack:
        """The stack of `scalers`, one per context, in order."""
        center = np.asarray([scaler.center for scaler in scalers], dtype=np.float64)[:, None]
        scale = np.asarray([scaler.scale for scaler in scalers], dtype=np.float64)[:, None]
        return cls(center, scale)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """[B, T, F] original scale -> model scale, each context by its own scaler."""
        return np.asarray((values - self.center) / self.scale)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """[B, T, F] model scale -> original scale, each context by its own scaler."""
        return np.asarray(values * self.scale + self.center)

    def subset(self, columns: list[int]) -> ScalerStack:
        """The stack of some columns, in the order given."""
        return ScalerStack(self.center[..., columns], self.scale[..., columns])


@dataclass(frozen=True)
class Split:
    """Row counts of the chronological train / validation / test split."""

    train: int
    val: int
    test: int

    @classmethod
    def of(cls, rows: int, val_fraction: float, test_fraction: float) -> Split:
        """Split `rows` chronologically; validation and test each keep at least one row if asked."""
        test = max(int(round(rows * test_fraction)), 1 if test_fraction > 0 else 0)
        val = max(int(round(rows * val_fraction)), 1 if val_fraction > 0 else 0)
        return cls(rows - val - test, val, test)

    @classmethod
    def sized(cls, rows: int, val: int, test: int) -> Split:
        """Split `rows` chronologically with the last `test` rows for testing and the `val`
        before them for validation (a panel's "last horizon of each series")."""
        return cls(rows - val - test, val, test)

    @property
    def rows(self) -> int:
        """Rows of the whole series."""
        return self.train + self.val + self.test

    @property
    def val_start(self) -> int:
        """Index of the first validation row."""
        return self.train

    @property
    def test_start(self) -> int:
        """Index of the first test row."""
        return self.train + self.val


@dataclass(frozen=True)
class Segment:
    """One series of a panel: rows [offset, offset + split.rows) of the concatenated values, and
    its own chronological split (a short series gives every split its share too)."""

    offset: int
    split: Split

    @property
    def end(self) -> int:
        """One past the segment's last row."""
        return self.offset + self.split.rows

    @property
    def train_end(self) -> int:
        """One past the segment's last training row."""
        return self.offset + self.split.train

    def bounds(self, part: SplitPart) -> tuple[int, int]:
        """[begin, end) of `part`'s rows, as indices into the concatenated values."""
        split = self.split
        begin, stop = {
            "train": (0, split.train),
            "val": (split.val_start, split.test_start),
            "test": (split.test_start, split.rows),
            "all": (0, split.rows),
        }[part]
        return self.offset + begin, self.offset + stop

    def starts(self, part: SplitPart, lookback: int, horizon: int) -> np.ndarray:
        """Window starts (indices into the concatenated values) whose targets lie in `part`;
        a window's lookback may reach back before the part, inside the series."""
        begin, stop = self.bounds(part)
        return self.offset + window_starts(begin - self.offset, stop - self.offset, lookback,
                                           horizon)  # fmt: skip


SplitPart = Literal["train", "val", "test", "all"]


def segments_of(lengths: Sequence[int], split: Callable[[int], Split]) -> list[Segment]:
    """The segments of series of `lengths` rows laid end to end, each split on its own."""
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    return [
        Segment(int(offset), split(int(rows)))
        for offset, rows in zip(offsets, lengths, strict=True)
    ]


def panel_starts(
    segments: Sequence[Segment], part: SplitPart, lookback: int, horizon: int
) -> np.ndarray:
    """Window starts of `part` of every segment: no window crosses from one series into the
    next, since each window's lookback lies inside its own series."""
    found = [segment.starts(part, lookback, horizon) for segment in segments]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


def window_starts(start: int, stop: int, lookback: int, horizon: int) -> np.ndarray:
    """First target index of every window whose `horizon` targets lie in rows [start, stop).

    The `lookback` inputs of a window may reach back before `start` (into the previous split):
    that is history the model is allowed to see.
    """
    first = max(start, lookback)
    last = stop - horizon  # inclusive
    return np.arange(first, last + 1) if last >= first else np.zeros(0, dtype=np.int64)


def gather_windows(
    series: torch.Tensor, starts: torch.Tensor, lookback: int, horizon: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut windows out of `series` [T, F] without materialising them all up front.

    starts: [B] first target indices. Returns inputs [B, lookback, F] and targets [B, horizon, F].
    """
    offsets = torch.arange(-lookback, horizon, device=series.device)  # [L + H]
    rows = series[starts[:, None] + offsets]  # [B, L + H, F]
    return rows[:, :lookback], rows[:, lookback:]


def column_windows(
    series: torch.Tensor,
    starts: torch.Tensor,
    lookback: int,
    horizon: int,
    roles: ColumnRoles,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`gather_windows` of a model's columns: inputs [B, lookback, F] of the input columns and
    targets [B, horizon, O] of the target columns."""
    inputs, targets = gather_windows(series, starts, lookback, horizon)
    return inputs[..., list(roles.inputs)], targets[..., list(roles.targets)]
