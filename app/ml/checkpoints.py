"""Self-describing checkpoints: `weights.safetensors` + `meta.json`, never a pickle.

`meta.json` is a `CheckpointMeta` (app.ml.checkpoint_meta), with the SHA-256 of the weights
file, which every load checks. Weights written when the recurrent layers could only be an LSTM
name them `lstm`; they load under the name the model gives them now. A loaded `Checkpoint` is
the model on its device with its metadata; how a forecast scales and continues it is
`app.ml.serving`'s.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import torch
from safetensors.torch import load as load_safetensors  # parses tensors from bytes; no pickle

from app.ml.checkpoint_meta import META_FILE, CheckpointError, CheckpointMeta, CheckpointMissing
from app.ml.forecast import RolloutMode, fuse
from app.ml.fused import FusedForecaster
from app.ml.model import EnsembleForecaster, Forecaster, RecurrentForecaster

WEIGHTS_FILE = "weights.safetensors"
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
    _write_flushed(directory / SUMMARY_FILE, json.dumps({"columns": meta.columns}))
    weights_path.chmod(0o644)  # safetensors writes 0600; serving processes may run as other users
    with weights_path.open("rb") as handle:
        os.fsync(handle.fileno())


def write_meta(directory: Path, meta: CheckpointMeta) -> None:
    """Write `meta.json` of a checkpoint, flushed to disk, readable by every user."""
    _write_flushed(directory / META_FILE, json.dumps(meta.to_json(), indent=2, allow_nan=False))


def _write_flushed(path: Path, text: str) -> None:
    """Write `text` to `path`, flushed to disk, readable by every user."""
    path.write_text(text)
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
            RecurrentForecaster(meta.config)
            if meta.ensemble == 1
            else EnsembleForecaster(meta.config, meta.ensemble, meta.ensemble_lookbacks)
        )
        model.load_state_dict(_current_names(load_safetensors(data)))
    except (TypeError, ValueError, RuntimeError, safetensors.SafetensorError) as exc:
        raise CheckpointError(f"checkpoint does not describe a valid model: {exc}") from exc
    return Checkpoint(model.to(device).eval(), meta)
