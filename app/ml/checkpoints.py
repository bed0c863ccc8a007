"""Self-describing checkpoints: `weights.safetensors` + `meta.json`, never a pickle.

`meta.json` holds the model config, scaler, rollout mode and whatever the caller adds (spec,
metrics, columns), plus the SHA-256 of the weights file, which every load checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from safetensors.torch import load as load_safetensors  # parses tensors from bytes; no pickle

from app.ml.data import Scaler
from app.ml.forecast import RolloutMode
from app.ml.intervals import LEVELS
from app.ml.model import LSTMConfig, LSTMForecaster
from app.ml.roles import ColumnRoles

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
META_FILE = "meta.json"


class CheckpointError(Exception):
    """A checkpoint is missing, malformed or does not match its recorded hash."""


@dataclass
class Checkpoint:
    """A loaded model with what it needs to forecast."""

    model: LSTMForecaster
    scaler: Scaler
    rollout_mode: RolloutMode
    columns: list[str]
    tail: np.ndarray  # [lookback, F] default context, original scale
    meta: dict[str, Any]
    # [len(LEVELS), steps, O] conformal half-widths (original scale); None: not calibrated
    interval_widths: np.ndarray | None = None
    inputs: list[str] = field(default_factory=list)  # columns a context gives, in order
    targets: list[str] = field(default_factory=list)  # columns a forecast predicts, in order

    @cached_property
    def roles(self) -> ColumnRoles:
        """The input and target columns among `columns`."""
        return ColumnRoles.named(self.columns, self.inputs, self.targets)

    @property
    def covariates(self) -> list[str]:
        """Input columns that are not predicted: a forecast needs their future values."""
        return [self.columns[i] for i in self.roles.covariates]

    @cached_property
    def scalers(self) -> tuple[Scaler, Scaler]:
        """(input, output) column scalers for `forecast`, picked once per loaded checkpoint."""
        roles = self.roles
        return self.scaler.subset(list(roles.inputs)), self.scaler.subset(list(roles.targets))


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


def write(
    directory: Path,
    model: LSTMForecaster,
    scaler: Scaler,
    rollout_mode: RolloutMode,
    columns: list[str],
    tail: np.ndarray,
    extra: dict[str, Any],
    interval_widths: np.ndarray | None = None,
    roles: tuple[list[str], list[str]] | None = None,
) -> None:
    """Write a checkpoint into the existing, empty `directory`, flushed to disk. `columns` are
    the series' columns (the scaler's and the tail's); `roles` the (input, target) columns, by
    default all of them."""
    weights_path = directory / WEIGHTS_FILE
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    safetensors.torch.save_file(state, str(weights_path))
    meta = {
        **extra,
        "format_version": FORMAT_VERSION,
        "config": model.config.to_dict(),
        "scaler": scaler.to_dict(),
        "rollout_mode": rollout_mode,
        "columns": columns,
        "inputs": list(roles[0]) if roles else list(columns),
        "targets": list(roles[1]) if roles else list(columns),
        "tail": tail.tolist(),
        "intervals": (
            None
            if interval_widths is None
            else {"levels": list(LEVELS), "half_widths": interval_widths.tolist()}
        ),
        "weights_sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
        "versions": library_versions(),
    }
    meta_path = directory / META_FILE
    meta_path.write_text(json.dumps(meta, indent=2, allow_nan=False))
    for path in (weights_path, meta_path):
        path.chmod(0o644)  # safetensors writes 0600; serving processes may run as other users
        with path.open("rb") as handle:
            os.fsync(handle.fileno())


def read_meta(directory: Path) -> dict[str, Any]:
    """Parse `meta.json` of a checkpoint; raises CheckpointError."""
    try:
        meta = json.loads((directory / META_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {META_FILE}: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{META_FILE} is not a format-{FORMAT_VERSION} checkpoint")
    return meta


def load(directory: Path, device: torch.device) -> Checkpoint:
    """Load and verify a checkpoint onto `device`; raises CheckpointError."""
    meta = read_meta(directory)
    try:
        data = (directory / WEIGHTS_FILE).read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read {WEIGHTS_FILE}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != meta.get("weights_sha256"):
        raise CheckpointError(f"{WEIGHTS_FILE} does not match the SHA-256 recorded in {META_FILE}")
    try:
        config = LSTMConfig.from_dict(meta["config"])
        scaler = Scaler.from_dict(meta["scaler"])
        model = LSTMForecaster(config)
        model.load_state_dict(load_safetensors(data))
        columns = [str(column) for column in meta["columns"]]
        inputs = [str(column) for column in meta.get("inputs", columns)]
        targets = [str(column) for column in meta.get("targets", columns)]
        tail = np.asarray(meta["tail"], dtype=np.float64).reshape(config.lookback, len(columns))
        rollout_mode = meta["rollout_mode"]
        widths = _interval_widths(meta.get("intervals"), config.n_outputs)
    except (KeyError, TypeError, ValueError, RuntimeError, safetensors.SafetensorError) as exc:
        raise CheckpointError(f"checkpoint does not describe a valid model: {exc}") from exc
    consistent = (
        rollout_mode in ("window", "state")
        and len(set(columns)) == len(columns)
        and len(set(inputs)) == len(inputs) == config.n_features
        and len(set(targets)) == len(targets) == config.n_outputs
        and set(inputs) | set(targets) <= set(columns)
        and len(scaler.center) == len(columns)
    )  # only then are the roles well defined
    if not consistent or config.target_inputs != (
        ColumnRoles.named(columns, inputs, targets).target_inputs
    ):
        raise CheckpointError("checkpoint metadata is inconsistent with its model")
    model = model.to(device).eval()
    return Checkpoint(model, scaler, rollout_mode, columns, tail, meta, widths, inputs, targets)


def _interval_widths(intervals: Any, n_features: int) -> np.ndarray | None:
    """The stored half-widths, checked; None for a checkpoint without intervals."""
    if intervals is None:
        return None
    if list(intervals["levels"]) != list(LEVELS):
        raise ValueError("interval levels differ from this version's")
    widths = np.asarray(intervals["half_widths"], dtype=np.float64)
    if widths.ndim != 3 or widths.shape[0] != len(LEVELS) or widths.shape[2] != n_features:
        raise ValueError("interval half-widths have the wrong shape")
    if not np.isfinite(widths).all() or (widths < 0).any():
        raise ValueError("interval half-widths must be finite and non-negative")
    return widths
