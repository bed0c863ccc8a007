"""A training request turned into the `ml` configs it describes.

The request's sections hold the `ml` configs' own fields under the same names (app/jobs/spec.py
builds them from those fields), so the mapping names only what the request does not hold (the
columns' roles, and the time limit, a setting) and the one rule the roles impose on a field: no
residual output for a target that is not an input.
"""

from __future__ import annotations

from typing import Any

from app.core.config import Settings
from app.jobs.spec import TrainRequest
from app.ml.config import TrainConfig
from app.ml.model import ModelConfig
from app.ml.roles import ColumnRoles


def _frozen(fields: dict[str, Any]) -> dict[str, Any]:
    """Request fields as a frozen config holds them: JSON arrays as tuples."""
    return {name: tuple(value) if isinstance(value, list) else value
            for name, value in fields.items()}  # fmt: skip


def ml_configs(
    spec: TrainRequest, names: list[str], settings: Settings
) -> tuple[ModelConfig, TrainConfig, ColumnRoles]:
    """The `ml` model and fit configs of a request on a series with columns `names`, and the
    roles of those columns. Raises UnknownColumns for a role naming no column, Infeasible for
    a model config that cannot be built."""
    roles = ColumnRoles.named(names, spec.inputs, spec.targets)
    architecture = _frozen(spec.architecture.model_dump())
    # A target that is not an input has no last value to add a change to.
    architecture["residual"] = architecture["residual"] and roles.residual_possible
    model_config = ModelConfig(
        n_features=len(roles.inputs),
        target_inputs=roles.target_inputs,
        **spec.window.model_dump(),
        **architecture,
    )
    train_config = TrainConfig(
        **_frozen(spec.training.model_dump()), time_limit_seconds=settings.max_train_seconds
    )
    return model_config, train_config, roles
