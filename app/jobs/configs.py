"""A training request turned into the `ml` configs it describes."""

from __future__ import annotations

from app.core.config import Settings
from app.jobs.spec import TrainRequest
from app.ml.model import LSTMConfig
from app.ml.roles import ColumnRoles
from app.ml.train import TrainConfig


def ml_configs(
    spec: TrainRequest, names: list[str], settings: Settings
) -> tuple[LSTMConfig, TrainConfig, ColumnRoles]:
    """The `ml` model and fit configs of a request on a series with columns `names`, and the
    roles of those columns. Raises UnknownColumns for a role naming no column."""
    arch, training = spec.architecture, spec.training
    roles = ColumnRoles.named(names, spec.inputs, spec.targets)
    model_config = LSTMConfig(
        n_features=len(roles.inputs),
        target_inputs=roles.target_inputs,
        lookback=spec.window.lookback,
        horizon=spec.window.horizon,
        patch=spec.window.patch,
        hidden_size=arch.hidden_size,
        num_layers=arch.num_layers,
        dropout=arch.dropout,
        dense_layers=tuple(arch.dense_layers),
        residual=arch.residual and roles.residual_possible,
        instance_norm=arch.instance_norm,
        highway=arch.highway,
    )
    train_config = TrainConfig(
        epochs=training.epochs,
        batch_size=training.batch_size,
        learning_rate=training.learning_rate,
        optimizer=training.optimizer,
        weight_decay=training.weight_decay,
        early_stopping_patience=training.early_stopping_patience,
        min_delta=training.min_delta,
        min_relative_delta=training.min_relative_delta,
        lr_decay_patience=training.lr_decay_patience,
        grad_clip=training.grad_clip,
        seed=training.seed,
        scaling=training.scaling,
        val_fraction=training.validation_fraction,
        test_fraction=training.test_fraction,
        val_rows=training.validation_rows,
        test_rows=training.test_rows,
        min_steps=training.min_steps,
        ensemble=training.ensemble,
        ensemble_lookbacks=tuple(training.ensemble_lookbacks),
        refit=training.refit,
        folds=training.folds,
        deseasonalise=training.deseasonalise,
        time_limit_seconds=settings.max_train_seconds,
        interval_steps=training.interval_steps,
        stateful=training.stateful,
        tbptt=training.tbptt,
        sequence_steps=training.sequence_steps,
    )
    return model_config, train_config, roles
