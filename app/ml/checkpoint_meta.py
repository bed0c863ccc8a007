"""What `meta.json` of a checkpoint holds: the model's record and everything that rebuilds and
continues it, one layout for one series or many.

Every model has a list of series (one entry for a model of one series): each series' id,
scaler, last rows, time axis and seasons, and the rows kept before its last to draw a forecast
against (`past`; none in a checkpoint written before they were kept). Format 3 keeps them
beside `meta.json`, in `series.safetensors` (app.ml.series_state), and each series' test
scores in `series_metrics.jsonl`, so `meta.json` stays small however many series there are
(`series_count` and the state file's SHA-256 are in it). Format 2 kept them in `meta.json`
(`series`, `metrics.series`); format 1 (one series at the top level, or a `series` list beside
the first series' scaler and tail; intervals of one series on its original scale) still reads,
turned into the same CheckpointMeta as it loads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from app.ml.data import Scaler
from app.ml.forecast import RolloutMode
from app.ml.intervals import LEVELS
from app.ml.model import MAX_ENSEMBLE, ModelConfig, lookbacks_fit
from app.ml.roles import ColumnRoles
from app.ml.season import Seasonality

FORMAT_VERSION = 3
READ_FORMATS = (1, 2, FORMAT_VERSION)
META_FILE = "meta.json"


class CheckpointError(Exception):
    """A checkpoint is missing, malformed or does not match its recorded hash."""


class CheckpointMissing(CheckpointError):
    """A file of the checkpoint is not there (for example, the version was just deleted)."""


@dataclass(frozen=True, eq=False)
class SeriesMeta:
    """One series a model was trained on: what continues it."""

    id: str | None  # None: the one series of unnamed data (a function, a plain CSV)
    scaler: Scaler  # of every column, fitted on the series' own training rows
    tail: np.ndarray = field(repr=False)  # [lookback, C] its last rows, original scale
    # Its seasons phased to continue it (row 0: the first forecast row); None: not adjusted.
    seasonal: Seasonality | None = None
    time_axis: dict[str, Any] | None = None  # as the datasets domain writes it (opaque here)
    # [P, C] its rows before `tail`, original scale: drawn before a forecast, never read by one
    # (None: none kept)
    past: np.ndarray | None = field(default=None, repr=False)
    # [C] the slope of its drift forecast, for a series forecast as the mean of the model's and
    # that line (`app.ml.combination`); None: the model's alone
    drift: np.ndarray | None = None

    def history(self, rows: int) -> np.ndarray:
        """[min(rows, kept), C] its last `rows` rows as kept (its past, then its tail)."""
        kept = self.tail if self.past is None else np.concatenate([self.past, self.tail])
        return kept[len(kept) - min(rows, len(kept)) :]

    @property
    def kept_rows(self) -> int:
        """How many of its last rows it keeps: its past and its tail."""
        return len(self.tail) + (0 if self.past is None else len(self.past))

    def to_json(self) -> dict[str, Any]:
        """The series' entry in `meta.json`."""
        return (
            {"id": self.id, "scaler": self.scaler.to_dict(), "tail": self.tail.tolist()}
            | ({} if self.time_axis is None else {"time_axis": self.time_axis})
            | ({} if self.seasonal is None else {"seasonal": self.seasonal.to_json()})
            | ({} if self.past is None or not len(self.past) else {"past": self.past.tolist()})
            | ({} if self.drift is None else {"drift": self.drift.tolist()})
        )

    @classmethod
    def from_json(cls, data: Any, lookback: int, columns: int) -> SeriesMeta:
        """Inverse of `to_json`, checked; raises KeyError, TypeError or ValueError."""
        scaler = Scaler.from_dict(data["scaler"])
        if len(scaler.center) != columns:
            raise ValueError("a series' scaler does not cover every column")
        tail = np.asarray(data["tail"], dtype=np.float64).reshape(lookback, columns)
        seasonal = data.get("seasonal")
        series_id = data.get("id")
        past, drift = data.get("past"), data.get("drift")
        return cls(
            None if series_id is None else str(series_id), scaler, tail,
            None if seasonal is None else Seasonality.from_json(seasonal, columns),
            _optional(data, "time_axis", dict),
            None if past is None else np.asarray(past, dtype=np.float64).reshape(-1, columns),
            None if drift is None else np.asarray(drift, dtype=np.float64).reshape(columns),
        )  # fmt: skip


@dataclass(frozen=True, kw_only=True, eq=False)
class CheckpointMeta:
    """What `meta.json` holds (format `FORMAT_VERSION`), field by field in its order.

    The job's record (name to device) is None where a checkpoint does not hold it; a checkpoint
    older than column roles reads every column as input and target, one older than intervals
    reads none, one older than their residual counts (kept in the metrics' interval record)
    reads them as unknown. `write` fills in `weights_sha256` and `versions`.
    """

    name: str | None = None  # the model's name
    job_id: str | None = None  # the job that trained it (None: bundled)
    spec: dict[str, Any] | None = None  # the training request, resolved
    created_at: str | None = None  # ISO 8601
    metrics: dict[str, Any] | None = None  # the job's test metrics
    device: str | None = None  # where it was trained
    config: ModelConfig
    rollout_mode: RolloutMode
    columns: list[str]  # the series' columns: each scaler's and tail's
    inputs: list[str]  # columns a context gives, in order
    targets: list[str]  # columns a forecast predicts, in order
    series: list[SeriesMeta]  # in training order
    # [len(LEVELS), steps, O] conformal half-widths in the model scale (a forecast multiplies
    # them by its series' spread); stored as "intervals"
    interval_widths: np.ndarray | None = field(default=None, repr=False)
    weights_sha256: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  # libraries that wrote it
    # Members of an ensemble (their weights side by side in the weights file); 1: one model.
    ensemble: int = 1
    # Each member's lookback where they differ (None: every member's is the config's).
    ensemble_lookbacks: list[int] | None = None
    # The season a model that deseasonalises divides its series by (None: it does not).
    deseasonalise_season: int | None = None

    @cached_property
    def roles(self) -> ColumnRoles:
        """The input and target columns among `columns`."""
        return ColumnRoles.named(self.columns, self.inputs, self.targets)

    @cached_property
    def interval_residuals(self) -> list[int] | None:
        """The residuals behind each calibrated step's half-widths, as the job's interval
        metrics record them; None: no intervals, or unknown (saved before they were counted)."""
        return _interval_residuals(self.metrics, self.interval_widths)

    @property
    def named(self) -> bool:
        """Whether its series have ids (it was trained on a dataset of named series)."""
        return self.series[0].id is not None

    @property
    def series_metrics(self) -> list[Any] | None:
        """Each series' test scores as the job's metrics list them (None: not listed)."""
        rows = (self.metrics or {}).get("series")
        return rows if isinstance(rows, list) else None

    def to_json(self, series_sha256: str) -> dict[str, Any]:
        """The `meta.json` object, keys in their stored order: everything but the per-series
        state and scores, kept beside it (`series_sha256`: the state file's digest)."""
        widths = self.interval_widths
        metrics = None if self.metrics is None else dict(self.metrics)
        if metrics is not None:
            metrics.pop("series", None)
        return (
            {
                "name": self.name,
                "job_id": self.job_id,
                "spec": self.spec,
                "created_at": self.created_at,
                "metrics": metrics,
                "device": self.device,
                "format_version": FORMAT_VERSION,
                "config": self.config.to_dict(),
                "rollout_mode": self.rollout_mode,
                "columns": list(self.columns),
                "inputs": list(self.inputs),
                "targets": list(self.targets),
                "series_count": len(self.series),
                "series_sha256": series_sha256,
                # How many series' scores the scores' file lists (None: none listed).
                "series_metrics": None if self.series_metrics is None else len(self.series_metrics),
                "intervals": (
                    None
                    if widths is None
                    else {"levels": list(LEVELS), "half_widths": widths.tolist()}
                ),
                "weights_sha256": self.weights_sha256,
                "versions": dict(self.versions),
            }
            | ({} if self.ensemble == 1 else {"ensemble": self.ensemble})
            | (
                {}
                if self.ensemble_lookbacks is None
                else {"ensemble_lookbacks": list(self.ensemble_lookbacks)}
            )
            | (
                {}
                if self.deseasonalise_season is None
                else {"deseasonalise_season": self.deseasonalise_season}
            )
        )

    @classmethod
    def from_json(
        cls,
        data: object,
        series: Callable[[int, int, int], list[SeriesMeta]] | None = None,
        series_metrics: Callable[[], list[Any] | None] | None = None,
    ) -> CheckpointMeta:
        """Inverse of `to_json` (formats 1 and 2 read as well), checked; raises
        CheckpointError. Format 3 reads its series with `series(count, lookback, columns)`
        and their scores with `series_metrics()` (the files beside it)."""
        if not isinstance(data, dict) or data.get("format_version") not in READ_FORMATS:
            raise CheckpointError(f"{META_FILE} is not a format-{FORMAT_VERSION} checkpoint")
        try:
            config = ModelConfig.from_dict(data["config"])
            columns = [str(column) for column in data["columns"]]
            record = {key: _optional(data, key, kind) for key, kind in _RECORD.items()}
            if data["format_version"] == FORMAT_VERSION:
                if series is None or series_metrics is None:
                    raise ValueError("a format-3 checkpoint's series are read from its files")
                entries = series(int(data["series_count"]), config.lookback, len(columns))
                rows = None if data.get("series_metrics") is None else series_metrics()
                if rows is not None and record["metrics"] is not None:
                    record["metrics"] = record["metrics"] | {"series": rows}
            else:
                entries = _series(data, config.lookback, len(columns))
            widths = _interval_widths(data.get("intervals"), config.n_outputs)
            meta = cls(
                **record,
                config=config,
                rollout_mode=data["rollout_mode"],
                columns=columns,
                inputs=[str(column) for column in data.get("inputs", columns)],
                targets=[str(column) for column in data.get("targets", columns)],
                series=entries,
                interval_widths=widths,
                weights_sha256=_optional(data, "weights_sha256", str),
                versions=_optional(data, "versions", dict) or {},
                ensemble=int(data.get("ensemble", 1)),
                ensemble_lookbacks=(
                    None
                    if data.get("ensemble_lookbacks") is None
                    else [int(rows) for rows in data["ensemble_lookbacks"]]
                ),
                deseasonalise_season=_optional(data, "deseasonalise_season", int),
            )
            _interval_residuals(meta.metrics, widths)  # counts that do not fit: not valid
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not describe a valid model: {exc}") from exc
        if not meta._consistent():
            raise CheckpointError("checkpoint metadata is inconsistent with its model")
        if data["format_version"] == 1 and "series" not in data and widths is not None:
            return _one_series_widths_to_model_scale(meta)
        return meta

    def _consistent(self) -> bool:
        """Whether the columns, roles, series and rollout mode fit the config and each other."""
        config, inputs, targets = self.config, self.inputs, self.targets
        ids = [entry.id for entry in self.series]
        return (
            self.rollout_mode in ("window", "state")
            and 1 <= self.ensemble <= MAX_ENSEMBLE
            and (self.ensemble == 1 or self.rollout_mode == "window")
            and (
                self.ensemble_lookbacks is None
                or lookbacks_fit(self.ensemble_lookbacks, self.ensemble, config)
            )
            and len(set(self.columns)) == len(self.columns)
            and len(set(inputs)) == len(inputs) == config.n_features
            and len(set(targets)) == len(targets) == config.n_outputs
            and set(inputs) | set(targets) <= set(self.columns)
            and config.target_inputs == self.roles.target_inputs  # roles well defined by now
            and len(set(ids)) == len(ids)  # unique, and None only for a lone series
            and (None not in ids or len(ids) == 1)
            and (self.deseasonalise_season is None or self.deseasonalise_season >= 2)
            and (
                self.deseasonalise_season is not None
                or all(entry.seasonal is None for entry in self.series)
            )
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class CheckpointRecord:
    """What `meta.json` says of a version, read without its series: what a view shows."""

    created_at: str | None
    job_id: str | None
    spec: dict[str, Any] | None
    metrics: dict[str, Any] | None  # without each series' scores (format 3)
    columns: list[str]
    config: ModelConfig
    rollout_mode: str
    weights_sha256: str | None
    series_count: int
    series_scored: int  # how many series' test scores it lists

    @classmethod
    def from_json(cls, data: object) -> CheckpointRecord:
        """The record of a `meta.json` object, checked as far as it goes without the series
        (an earlier format's, whole); raises CheckpointError."""
        if isinstance(data, dict) and data.get("format_version") in READ_FORMATS[:-1]:
            meta = CheckpointMeta.from_json(data)
            return cls(
                created_at=meta.created_at, job_id=meta.job_id, spec=meta.spec,
                metrics=meta.metrics, columns=meta.columns, config=meta.config,
                rollout_mode=meta.rollout_mode, weights_sha256=meta.weights_sha256,
                series_count=len(meta.series), series_scored=len(meta.series_metrics or []),
            )  # fmt: skip
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{META_FILE} is not a format-{FORMAT_VERSION} checkpoint")
        try:
            count, scored = data["series_count"], data.get("series_metrics") or 0
            if not isinstance(count, int) or count < 1:
                raise ValueError("series_count must be a positive integer")
            if not isinstance(scored, int) or scored < 0:
                raise ValueError("series_metrics must be a count")
            return cls(
                created_at=_optional(data, "created_at", str),
                job_id=_optional(data, "job_id", str),
                spec=_optional(data, "spec", dict),
                metrics=_optional(data, "metrics", dict),
                columns=[str(column) for column in data["columns"]],
                config=ModelConfig.from_dict(data["config"]),
                rollout_mode=str(data["rollout_mode"]),
                weights_sha256=_optional(data, "weights_sha256", str),
                series_count=count,
                series_scored=scored,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not describe a valid model: {exc}") from exc


# The job's record in meta.json and the type of each entry (None where absent).
_RECORD: dict[str, type] = {
    "name": str,
    "job_id": str,
    "spec": dict,
    "created_at": str,
    "metrics": dict,
    "device": str,
}


def _optional(data: dict[str, Any], key: str, kind: type) -> Any:
    """`data[key]` if it is a `kind`, None if absent or null; TypeError otherwise."""
    value = data.get(key)
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{key} must be a {kind.__name__}")
    return value


def _series(data: dict[str, Any], lookback: int, columns: int) -> list[SeriesMeta]:
    """The series entries, checked: format 2's list, format 1's list of a global model, or
    format 1's one series at the top level."""
    entries = data.get("series")
    if entries is None and data["format_version"] == 1:  # one series, at the top level
        entries = [{key: data.get(key) for key in ("scaler", "tail", "time_axis", "seasonal")}]
    if not isinstance(entries, list) or not entries:
        raise TypeError("series must be a non-empty list")
    return [SeriesMeta.from_json(entry, lookback, columns) for entry in entries]


def _interval_widths(intervals: Any, n_outputs: int) -> np.ndarray | None:
    """The stored half-widths, checked; None for a checkpoint without intervals."""
    if intervals is None:
        return None
    if list(intervals["levels"]) != list(LEVELS):
        raise ValueError("interval levels differ from this version's")
    widths = np.asarray(intervals["half_widths"], dtype=np.float64)
    if widths.ndim != 3 or widths.shape[0] != len(LEVELS) or widths.shape[2] != n_outputs:
        raise ValueError("interval half-widths have the wrong shape")
    if not np.isfinite(widths).all() or (widths < 0).any():
        raise ValueError("interval half-widths must be finite and non-negative")
    return widths


def _interval_residuals(
    metrics: dict[str, Any] | None, widths: np.ndarray | None
) -> list[int] | None:
    """The residual counts of the metrics' interval record, checked against the half-widths
    [levels, steps, O]: one non-negative count a step; None where either is absent."""
    record = (metrics or {}).get("intervals")
    counts = record.get("residuals") if isinstance(record, dict) else None
    if widths is None or counts is None:
        return None
    if not isinstance(counts, list) or len(counts) != widths.shape[1]:
        raise ValueError("interval residual counts do not match the half-widths' steps")
    if not all(isinstance(count, int) and count >= 0 for count in counts):
        raise ValueError("interval residual counts must be non-negative integers")
    return [int(count) for count in counts]


def _one_series_widths_to_model_scale(meta: CheckpointMeta) -> CheckpointMeta:
    """A format-1 model of one series kept its half-widths on the series' original scale: in
    the model scale they are those over the target columns' spread (for a model that also
    deseasonalised, a forecast's bands then follow its seasons)."""
    assert meta.interval_widths is not None
    spread = np.asarray(meta.series[0].scaler.subset(list(meta.roles.targets)).scale)
    return replace(meta, interval_widths=meta.interval_widths / spread)
