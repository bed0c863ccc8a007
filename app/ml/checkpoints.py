"""Self-describing checkpoints: `weights.safetensors` + `meta.json`, never a pickle.

`meta.json` is a `CheckpointMeta`: who trained the model (job, spec, metrics), what rebuilds
it (config, scaler, rollout mode, columns and their roles, default context, intervals), and the
SHA-256 of the weights file, which every load checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from safetensors.torch import load as load_safetensors  # parses tensors from bytes; no pickle

from app.ml.data import Scaler, ScalerStack, Scaling
from app.ml.forecast import RolloutMode, forecast, fuse
from app.ml.fused import FusedForecaster
from app.ml.intervals import LEVELS
from app.ml.model import MAX_ENSEMBLE, EnsembleForecaster, Forecaster, LSTMConfig, LSTMForecaster
from app.ml.roles import ColumnRoles
from app.ml.season import Deseasonalised, Seasonality

FORMAT_VERSION = 1
Scalers = tuple[Scaling, Scaling]  # (input columns, output columns)
WEIGHTS_FILE = "weights.safetensors"
META_FILE = "meta.json"


def spread_ahead(scaling: Scaling, steps: int) -> np.ndarray:
    """[B, 1 or steps, O] what one unit of the model scale is in the original scale of each
    context's forecast rows: its scaler's spread, times its seasonal factors if it has them."""
    if isinstance(scaling, Deseasonalised):
        return np.asarray(spread_ahead(scaling.inner, steps) * scaling.ahead(steps))
    if isinstance(scaling, ScalerStack):
        return scaling.scale
    raise TypeError("a global model's contexts are scaled by a stack of scalers")


class CheckpointError(Exception):
    """A checkpoint is missing, malformed or does not match its recorded hash."""


class CheckpointMissing(CheckpointError):
    """A file of the checkpoint is not there (for example, the version was just deleted)."""


@dataclass(frozen=True, eq=False)
class SeriesMeta:
    """One series of a global model's training panel: what continues it."""

    id: str
    scaler: Scaler  # of every column, fitted on the series' own training rows
    tail: np.ndarray = field(repr=False)  # [lookback, C] its last rows, original scale
    time_axis: dict[str, Any] | None = None  # as the datasets domain writes it (opaque here)
    # Its seasons phased to continue it (row 0: the first forecast row); None: not adjusted.
    seasonal: Seasonality | None = None

    def to_json(self) -> dict[str, Any]:
        """The series' entry in `meta.json`."""
        return {
            "id": self.id,
            "scaler": self.scaler.to_dict(),
            "tail": self.tail.tolist(),
            "time_axis": self.time_axis,
        } | ({} if self.seasonal is None else {"seasonal": self.seasonal.to_json()})

    @classmethod
    def from_json(cls, data: Any, lookback: int, columns: int) -> SeriesMeta:
        """Inverse of `to_json`, checked; raises KeyError, TypeError or ValueError."""
        scaler = Scaler.from_dict(data["scaler"])
        if len(scaler.center) != columns:
            raise ValueError("a series' scaler does not cover every column")
        tail = np.asarray(data["tail"], dtype=np.float64).reshape(lookback, columns)
        seasonal = data.get("seasonal")
        return cls(
            str(data["id"]), scaler, tail, _optional(data, "time_axis", dict),
            None if seasonal is None else Seasonality.from_json(seasonal, columns),
        )  # fmt: skip


@dataclass(frozen=True, kw_only=True, eq=False)
class CheckpointMeta:
    """What `meta.json` holds (format `FORMAT_VERSION`), field by field in its order.

    The job's record (name to device) is None where a checkpoint does not hold it; a checkpoint
    older than column roles reads every column as input and target, one older than intervals
    reads none. `write` fills in `weights_sha256` and `versions`.
    """

    name: str | None = None  # the model's name
    job_id: str | None = None  # the job that trained it (None: bundled)
    spec: dict[str, Any] | None = None  # the training request, resolved
    created_at: str | None = None  # ISO 8601
    metrics: dict[str, Any] | None = None  # the job's test metrics
    device: str | None = None  # where it was trained
    config: LSTMConfig
    scaler: Scaler  # of every column
    rollout_mode: RolloutMode
    columns: list[str]  # the series' columns: the scaler's and the tail's
    inputs: list[str]  # columns a context gives, in order
    targets: list[str]  # columns a forecast predicts, in order
    tail: np.ndarray = field(repr=False)  # [lookback, C] last rows of the series, original scale
    # [len(LEVELS), steps, O] conformal half-widths, original scale; stored as "intervals"
    interval_widths: np.ndarray | None = field(default=None, repr=False)
    weights_sha256: str | None = None
    versions: dict[str, str] = field(default_factory=dict)  # libraries that wrote it
    # The series' time axis, as the datasets domain writes it (opaque here); written only when
    # the series had one, so older checkpoints read and write back unchanged.
    time_axis: dict[str, Any] | None = None
    # A global model's series, in training order (None: one series). `scaler` and `tail` are
    # then the first series', and `interval_widths` are in the model scale: a forecast of a
    # series multiplies them by that series' spread.
    series: list[SeriesMeta] | None = None
    # Members of an ensemble (their weights side by side in the weights file); 1: one model.
    ensemble: int = 1
    # Each member's lookback where they differ (None: every member's is the config's).
    ensemble_lookbacks: list[int] | None = None
    # The season a model that deseasonalises divides its series by (None: it does not), and
    # the one series' seasons phased to continue it (None: it had none; a global model keeps
    # each series' own in `series`).
    deseasonalise_season: int | None = None
    seasonal: Seasonality | None = None

    @cached_property
    def roles(self) -> ColumnRoles:
        """The input and target columns among `columns`."""
        return ColumnRoles.named(self.columns, self.inputs, self.targets)

    def to_json(self) -> dict[str, Any]:
        """The `meta.json` object, keys in their stored order."""
        widths = self.interval_widths
        return (
            {
                "name": self.name,
                "job_id": self.job_id,
                "spec": self.spec,
                "created_at": self.created_at,
                "metrics": self.metrics,
                "device": self.device,
                "format_version": FORMAT_VERSION,
                "config": self.config.to_dict(),
                "scaler": self.scaler.to_dict(),
                "rollout_mode": self.rollout_mode,
                "columns": list(self.columns),
                "inputs": list(self.inputs),
                "targets": list(self.targets),
                "tail": self.tail.tolist(),
                "intervals": (
                    None
                    if widths is None
                    else {"levels": list(LEVELS), "half_widths": widths.tolist()}
                ),
                "weights_sha256": self.weights_sha256,
                "versions": dict(self.versions),
            }
            | ({} if self.time_axis is None else {"time_axis": self.time_axis})
            | (
                {}
                if self.series is None
                else {"series": [entry.to_json() for entry in self.series]}
            )
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
            | ({} if self.seasonal is None else {"seasonal": self.seasonal.to_json()})
        )

    @classmethod
    def from_json(cls, data: object) -> CheckpointMeta:
        """Inverse of `to_json`, checked; raises CheckpointError."""
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{META_FILE} is not a format-{FORMAT_VERSION} checkpoint")
        try:
            config = LSTMConfig.from_dict(data["config"])
            columns = [str(column) for column in data["columns"]]
            meta = cls(
                **{key: _optional(data, key, kind) for key, kind in _RECORD.items()},
                config=config,
                scaler=Scaler.from_dict(data["scaler"]),
                rollout_mode=data["rollout_mode"],
                columns=columns,
                inputs=[str(column) for column in data.get("inputs", columns)],
                targets=[str(column) for column in data.get("targets", columns)],
                tail=np.asarray(data["tail"], dtype=np.float64).reshape(
                    config.lookback, len(columns)
                ),
                interval_widths=_interval_widths(data.get("intervals"), config.n_outputs),
                weights_sha256=_optional(data, "weights_sha256", str),
                versions=_optional(data, "versions", dict) or {},
                time_axis=_optional(data, "time_axis", dict),
                series=_series(data.get("series"), config.lookback, len(columns)),
                ensemble=int(data.get("ensemble", 1)),
                ensemble_lookbacks=(
                    None
                    if data.get("ensemble_lookbacks") is None
                    else [int(rows) for rows in data["ensemble_lookbacks"]]
                ),
                deseasonalise_season=_optional(data, "deseasonalise_season", int),
                seasonal=(
                    None
                    if data.get("seasonal") is None
                    else Seasonality.from_json(data["seasonal"], len(columns))
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint does not describe a valid model: {exc}") from exc
        if not meta._consistent():
            raise CheckpointError("checkpoint metadata is inconsistent with its model")
        return meta

    def _consistent(self) -> bool:
        """Whether the columns, roles, scaler and rollout mode fit the config and each other."""
        config, inputs, targets = self.config, self.inputs, self.targets
        return (
            self.rollout_mode in ("window", "state")
            and 1 <= self.ensemble <= MAX_ENSEMBLE
            and (self.ensemble == 1 or self.rollout_mode == "window")
            and (
                self.ensemble_lookbacks is None
                or (
                    len(self.ensemble_lookbacks) == self.ensemble
                    and max(self.ensemble_lookbacks) == config.lookback
                    and all(
                        rows >= 1 and rows % config.patch == 0 for rows in self.ensemble_lookbacks
                    )
                )
            )
            and len(set(self.columns)) == len(self.columns)
            and len(set(inputs)) == len(inputs) == config.n_features
            and len(set(targets)) == len(targets) == config.n_outputs
            and set(inputs) | set(targets) <= set(self.columns)
            and len(self.scaler.center) == len(self.columns)
            and config.target_inputs == self.roles.target_inputs  # roles well defined by now
            and (self.deseasonalise_season is None or self.deseasonalise_season >= 2)
            and (self.seasonal is None or self.deseasonalise_season is not None)
        )


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


def _series(entries: Any, lookback: int, columns: int) -> list[SeriesMeta] | None:
    """A global model's series entries, checked; None for a one-series checkpoint."""
    if entries is None:
        return None
    if not isinstance(entries, list) or not entries:
        raise TypeError("series must be a non-empty list")
    found = [SeriesMeta.from_json(entry, lookback, columns) for entry in entries]
    if len({entry.id for entry in found}) != len(found):
        raise ValueError("series ids must be unique")
    return found


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


@dataclass(eq=False)
class Checkpoint:
    """A loaded model with its metadata: everything a forecast needs."""

    model: Forecaster
    meta: CheckpointMeta

    @property
    def columns(self) -> list[str]:
        """The training series' columns."""
        return self.meta.columns

    @property
    def inputs(self) -> list[str]:
        """Columns a context gives, in order."""
        return self.meta.inputs

    @property
    def targets(self) -> list[str]:
        """Columns a forecast predicts, in order."""
        return self.meta.targets

    @property
    def covariates(self) -> list[str]:
        """Input columns that are not predicted: a forecast needs their future values."""
        return [self.meta.columns[i] for i in self.meta.roles.covariates]

    @property
    def device(self) -> torch.device:
        """Where its weights were loaded."""
        return next(self.model.parameters()).device

    @property
    def rollout_mode(self) -> RolloutMode:
        """How a forecast continues past the context."""
        return self.meta.rollout_mode

    @property
    def tail(self) -> np.ndarray:
        """[lookback, C] the training series' last rows, every column, original scale."""
        return self.meta.tail

    @property
    def default_context(self) -> np.ndarray:
        """[1, lookback, F] the context of a forecast given none: the tail's input columns."""
        return self.meta.tail[None][..., list(self.meta.roles.inputs)]

    @property
    def interval_widths(self) -> np.ndarray | None:
        """[len(LEVELS), steps, O] conformal half-widths; None: not calibrated."""
        return self.meta.interval_widths

    @cached_property
    def scalers(self) -> tuple[Scaler, Scaler]:
        """(input, output) column scalers, picked once per loaded checkpoint."""
        roles, scaler = self.meta.roles, self.meta.scaler
        return scaler.subset(list(roles.inputs)), scaler.subset(list(roles.targets))

    @property
    def series_ids(self) -> list[str] | None:
        """A global model's series ids in training order; None for a one-series model."""
        return None if self.meta.series is None else list(self.series_positions)

    @cached_property
    def series_positions(self) -> dict[str, int]:
        """Each series id's position in training order, built once per loaded checkpoint (a
        forecast looks ids up on every request); empty for a one-series model."""
        return {entry.id: number for number, entry in enumerate(self.meta.series or [])}

    def series_contexts(self, numbers: list[int]) -> tuple[np.ndarray, Scalers]:
        """The tails of the training series at `numbers` as contexts [B, lookback, F], and the
        scalers of each (every series keeps its own, and its seasons where it has them)."""
        entries = self.meta.series or []
        roles = self.meta.roles
        tails = np.stack([entries[number].tail for number in numbers])[..., list(roles.inputs)]
        stack = ScalerStack.of([entries[number].scaler for number in numbers])
        scalers = stack.subset(list(roles.inputs)), stack.subset(list(roles.targets))
        return tails, self._seasonal(scalers, [entries[number].seasonal for number in numbers])

    def own_scalers(self, contexts: list[np.ndarray]) -> Scalers:
        """Scalers fitted on each context's own rows: how a global model forecasts a series it
        never saw (a cold start). Every target must be an input for its scale to be known. A
        model that deseasonalises divides each context by its own seasons (`context_seasons`)."""
        positions = self.meta.roles.target_input_positions
        if min(positions) < 0:
            raise ValueError("a target that is not an input has no scale in a context")
        seasons = self.context_seasons(contexts)
        kind = self.meta.scaler.kind
        stack = ScalerStack.of(
            [
                Scaler.fit(
                    kind, rows if found is None else rows / found.factors(-len(rows), len(rows))
                )
                for rows, found in zip(contexts, seasons, strict=True)
            ]
        )
        return self._seasonal((stack, stack.subset(positions)), seasons)

    def context_seasons(self, contexts: list[np.ndarray]) -> list[Seasonality | None]:
        """Each given context's own seasons, phased to continue it, for a model that
        deseasonalises (the phase of a context the model never saw is unknown, so its seasons
        come from its own rows: it needs three seasons to show them); None where it has none."""
        season = self.meta.deseasonalise_season
        if season is None:
            return [None] * len(contexts)
        found = [Seasonality.fit(rows, season) for rows in contexts]
        return [
            None if seasons is None else seasons.rephased(len(rows))
            for seasons, rows in zip(found, contexts, strict=True)
        ]

    def default_scalers(self) -> Scalers | None:
        """The scalers continuing a one-series model's own series: its seasons, where it was
        deseasonalised (None: the plain `scalers`)."""
        return self._seasonal(self.scalers, [self.meta.seasonal]) if self.meta.seasonal else None

    def context_scalers(self, contexts: list[np.ndarray]) -> Scalers | None:
        """The scalers of contexts given to a one-series model: its own scaler, with each
        context's own seasons where the model deseasonalises (None: the plain `scalers`)."""
        seasons = self.context_seasons(contexts)
        if all(found is None for found in seasons):
            return None
        return self._seasonal(self.scalers, seasons)

    def _seasonal(
        self, scalers: tuple[Scaling, Scaling], seasons: list[Seasonality | None]
    ) -> Scalers:
        """`scalers` with each context divided by its seasons first, where any has them."""
        if all(found is None for found in seasons):
            return scalers
        roles = self.meta.roles
        return (
            Deseasonalised(scalers[0], seasons, list(roles.inputs)),
            Deseasonalised(scalers[1], seasons, list(roles.targets)),
        )

    def forecast(
        self,
        contexts: np.ndarray,
        steps: int,
        device: torch.device,
        future: np.ndarray | None = None,
        keep_going: Callable[[], bool] | None = None,
        scalers: Scalers | None = None,
    ) -> np.ndarray:
        """contexts: [B, >= lookback, F] input rows, original scale (future: [B, >= steps, F]
        rows ahead, for a model with known covariates) -> [B, steps, O], original scale (fewer
        steps when `keep_going`, asked between model calls, ended it). `scalers` (input,
        output) scale each context on its own; default: the training series' scalers."""
        return forecast(
            self.model,
            scalers or self.scalers,
            contexts,
            steps,
            self.meta.rollout_mode,
            device,
            future,
            keep_going,
            self.fused,
        )

    @cached_property
    def fused(self) -> FusedForecaster | None:
        """The model's weights stacked for the step loop once per loaded checkpoint, which
        never changes (a rollout of a live model stacks its own)."""
        with torch.inference_mode():
            return fuse(self.model)


def library_versions() -> dict[str, str]:
    """Versions recorded in every checkpoint, to explain a checkpoint that stops loading."""
    from app import __version__

    return {
        "app": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


def write(directory: Path, model: Forecaster, meta: CheckpointMeta) -> None:
    """Write `model` with `meta` (whose config must be the model's) into the existing, empty
    `directory`, flushed to disk; the weights' SHA-256 and the library versions are filled in."""
    if meta.config != model.config:
        raise ValueError("the metadata describes another model config")
    members = len(model.members) if isinstance(model, EnsembleForecaster) else 1
    if members != meta.ensemble:
        raise ValueError("the metadata describes another ensemble size")
    lookbacks = model.lookbacks if isinstance(model, EnsembleForecaster) else [meta.config.lookback]
    if (meta.ensemble_lookbacks or [meta.config.lookback] * members) != lookbacks:
        raise ValueError("the metadata describes other member lookbacks")
    weights_path = directory / WEIGHTS_FILE
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    safetensors.torch.save_file(state, str(weights_path))
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    write_meta(directory, replace(meta, weights_sha256=digest, versions=library_versions()))
    weights_path.chmod(0o644)  # safetensors writes 0600; serving processes may run as other users
    with weights_path.open("rb") as handle:
        os.fsync(handle.fileno())


def write_meta(directory: Path, meta: CheckpointMeta) -> None:
    """Write `meta.json` of a checkpoint, flushed to disk, readable by every user."""
    meta_path = directory / META_FILE
    meta_path.write_text(json.dumps(meta.to_json(), indent=2, allow_nan=False))
    meta_path.chmod(0o644)
    with meta_path.open("rb") as handle:
        os.fsync(handle.fileno())


def read_meta(directory: Path) -> CheckpointMeta:
    """Read and check `meta.json` of a checkpoint; raises CheckpointError."""
    try:
        data = json.loads((directory / META_FILE).read_text())
    except FileNotFoundError:
        raise CheckpointMissing(f"{META_FILE} is missing") from None
    except OSError as exc:  # its message would name the path: the reason is enough
        raise CheckpointError(f"cannot read {META_FILE}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CheckpointError(f"cannot read {META_FILE}: {exc}") from exc
    return CheckpointMeta.from_json(data)


def load(directory: Path, device: torch.device) -> Checkpoint:
    """Load and verify a checkpoint onto `device`; raises CheckpointError."""
    meta = read_meta(directory)
    try:
        data = (directory / WEIGHTS_FILE).read_bytes()
    except FileNotFoundError:
        raise CheckpointMissing(f"{WEIGHTS_FILE} is missing") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {WEIGHTS_FILE}: {exc.strerror}") from exc
    if hashlib.sha256(data).hexdigest() != meta.weights_sha256:
        raise CheckpointError(f"{WEIGHTS_FILE} does not match the SHA-256 recorded in {META_FILE}")
    try:
        model: Forecaster = (
            LSTMForecaster(meta.config)
            if meta.ensemble == 1
            else EnsembleForecaster(meta.config, meta.ensemble, meta.ensemble_lookbacks)
        )
        model.load_state_dict(load_safetensors(data))
    except (TypeError, ValueError, RuntimeError, safetensors.SafetensorError) as exc:
        raise CheckpointError(f"checkpoint does not describe a valid model: {exc}") from exc
    return Checkpoint(model.to(device).eval(), meta)
