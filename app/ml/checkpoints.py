"""Self-describing checkpoints: `weights.safetensors`, `meta.json` and the per-series files
beside it (`series.safetensors`, `series_metrics.jsonl`), never a pickle.

`meta.json` is a `CheckpointMeta` (app.ml.checkpoint_meta) without its series, with the SHA-256
of the weights and of the series' state, which every load checks. Weights written when the
recurrent layers could only be an LSTM name them `lstm`; they load under the name the model
gives them now. A loaded `Checkpoint` is the model on its device with its metadata; how a
forecast scales and continues it is `app.ml.serving`'s.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import platform
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from safetensors.torch import load as load_safetensors  # parses tensors from bytes; no pickle

from app.ml import series_state
from app.ml.checkpoint_meta import (
    META_FILE,
    CheckpointError,
    CheckpointMeta,
    CheckpointMissing,
    CheckpointRecord,
    SeriesMeta,
)
from app.ml.forecast import RolloutMode, fuse
from app.ml.fused import FusedForecaster
from app.ml.model import EnsembleForecaster, Forecaster, RecurrentForecaster

WEIGHTS_FILE = "weights.safetensors"
SERIES_FILE = series_state.SERIES_FILE
SERIES_METRICS_FILE = "series_metrics.jsonl"  # a series' test scores a line, in series order
# What a listing of models shows of a version, apart from `meta.json`, whose per-series state
# grows with the series (tens of MB for 10,000): a listing reads this instead. Absent from
# checkpoints written before it: their `meta.json` is read.
SUMMARY_FILE = "summary.json"


@dataclass(eq=False)
class Checkpoint:
    """A loaded model with its metadata: everything a forecast needs."""

    model: Forecaster
    meta: CheckpointMeta

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
    def interval_widths(self) -> np.ndarray | None:
        """[len(LEVELS), steps, O] conformal half-widths in the model scale; None: none."""
        return self.meta.interval_widths

    @property
    def series_ids(self) -> list[str] | None:
        """The ids of the series it was trained on, in training order; None when it was trained
        on the one series of unnamed data."""
        return list(self.series_positions) if self.meta.named else None

    @cached_property
    def series_positions(self) -> dict[str, int]:
        """Each series id's position in training order, built once per loaded checkpoint (a
        forecast looks ids up on every request); empty for unnamed data."""
        return {
            entry.id: number
            for number, entry in enumerate(self.meta.series)
            if entry.id is not None
        }

    @cached_property
    def fused(self) -> FusedForecaster | None:
        """The model's weights stacked for the step loop once per loaded checkpoint, which
        never changes (a rollout of a live model stacks its own)."""
        with torch.inference_mode():
            return fuse(self.model)


def _current_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Weights by today's parameter names: the recurrent layers were once named `lstm`."""
    return {re.sub(r"(^|\.)lstm\.", r"\1recurrent.", key): value for key, value in state.items()}


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
    _write_flushed(directory / SUMMARY_FILE, json.dumps({"columns": meta.columns}).encode())
    weights_path.chmod(0o644)  # safetensors writes 0600; serving processes may run as other users
    with weights_path.open("rb") as handle:
        os.fsync(handle.fileno())


def write_meta(directory: Path, meta: CheckpointMeta) -> None:
    """Write a checkpoint's metadata: each series' state and scores, then `meta.json` (which
    names them), each flushed to disk, readable by every user."""
    state = series_state.to_bytes(meta.series)
    _write_flushed(directory / SERIES_FILE, state)
    rows = meta.series_metrics
    lines = "" if rows is None else "".join(json.dumps(row, allow_nan=False) + "\n" for row in rows)
    _write_flushed(directory / SERIES_METRICS_FILE, lines.encode())
    record = meta.to_json(hashlib.sha256(state).hexdigest())
    _write_flushed(directory / META_FILE, json.dumps(record, indent=2, allow_nan=False).encode())


def _write_flushed(path: Path, data: bytes) -> None:
    """Write `data` to `path`, flushed to disk, readable by every user."""
    path.write_bytes(data)
    path.chmod(0o644)
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def read_columns(directory: Path) -> list[str]:
    """A checkpoint's columns, from its summary where it has one (never its per-series state),
    else from `meta.json`; raises CheckpointError."""
    try:
        summary = json.loads((directory / SUMMARY_FILE).read_text())
    except FileNotFoundError:
        return read_meta(directory).columns
    except OSError as exc:  # its message would name the path: the reason is enough
        raise CheckpointError(f"cannot read {SUMMARY_FILE}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CheckpointError(f"cannot read {SUMMARY_FILE}: {exc}") from exc
    columns = summary.get("columns") if isinstance(summary, dict) else None
    if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
        raise CheckpointError(f"{SUMMARY_FILE} does not list the columns")
    return columns


def read_meta(directory: Path) -> CheckpointMeta:
    """Read and check a checkpoint's metadata, its series too; raises CheckpointError."""
    data = _meta_json(directory)

    def series(count: int, lookback: int, columns: int) -> list[SeriesMeta]:
        state = _read_bytes(directory / SERIES_FILE)
        if hashlib.sha256(state).hexdigest() != data.get("series_sha256"):
            raise CheckpointError(f"{SERIES_FILE} does not match the SHA-256 in {META_FILE}")
        try:
            return series_state.from_bytes(state, count, lookback, columns)
        except safetensors.SafetensorError as exc:
            raise ValueError(f"{SERIES_FILE}: {exc}") from exc

    return CheckpointMeta.from_json(data, series, lambda: read_series_metrics(directory))


def read_record(directory: Path) -> CheckpointRecord:
    """What `meta.json` says of a checkpoint, read without its series (a view shows this);
    raises CheckpointError."""
    return CheckpointRecord.from_json(_meta_json(directory))


def read_series_metrics(directory: Path, start: int = 0, stop: int | None = None) -> list[Any]:
    """Each series' test scores, series `start` to `stop`: a page reads the lines up to its
    last, no further ([] for a checkpoint that lists none). Raises CheckpointError."""
    try:
        with (directory / SERIES_METRICS_FILE).open("rb") as lines:
            return [json.loads(line) for line in itertools.islice(lines, start, stop)]
    except FileNotFoundError:  # an earlier format: in meta.json's metrics
        stored = _meta_json(directory)
    except OSError as exc:
        raise CheckpointError(f"cannot read {SERIES_METRICS_FILE}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CheckpointError(f"cannot read {SERIES_METRICS_FILE}: {exc}") from exc
    rows = (stored.get("metrics") or {}).get("series") if isinstance(stored, dict) else None
    return list(rows[start:stop]) if isinstance(rows, list) else []


def _meta_json(directory: Path) -> Any:
    try:
        return json.loads(_read_bytes(directory / META_FILE))
    except ValueError as exc:
        raise CheckpointError(f"cannot read {META_FILE}: {exc}") from exc


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointMissing(f"{path.name} is missing") from None
    except OSError as exc:  # its message would name the path: the reason is enough
        raise CheckpointError(f"cannot read {path.name}: {exc.strerror}") from exc


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
            RecurrentForecaster(meta.config)
            if meta.ensemble == 1
            else EnsembleForecaster(meta.config, meta.ensemble, meta.ensemble_lookbacks)
        )
        model.load_state_dict(_current_names(load_safetensors(data)))
    except (TypeError, ValueError, RuntimeError, safetensors.SafetensorError) as exc:
        raise CheckpointError(f"checkpoint does not describe a valid model: {exc}") from exc
    return Checkpoint(model.to(device).eval(), meta)
