"""A training request turned into the `ml` configs it describes."""

from __future__ import annotations

from app.core.config import Settings
from app.jobs.spec import TrainRequest
from app.ml.model import LSTMConfig
from app.ml.train import Columns, TrainConfig


def _columns(spec: TrainRequest, names: list[str]) -> Columns:
    """Positions of the spec's input and target columns in a series with columns `names`."""
    return Columns(
        tuple(names.index(name) for name in spec.inputs or ()),
        tuple(names.index(name) for name in spec.targets or ()),
    )


def ml_configs(
    spec: TrainRequest, names: list[str], settings: Settings
) -> tuple[LSTMConfig, TrainConfig, Columns]:
    """The `ml` model and fit configs of a request on a series with columns `names`, and the
    positions of its input and target columns."""
    arch, training = spec.architecture, spec.training
    columns = _columns(spec, names)
    inputs, targets = columns.resolve(len(names))
    model_config = LSTMConfig(
        n_features=len(inputs),
        target_inputs=columns.target_inputs(len(names)),
        lookback=spec.window.lookback,
        horizon=spec.window.horizon,
        patch=spec.window.patch,
        hidden_size=arch.hidden_size,
        num_layers=arch.num_layers,
        dropout=arch.dropout,
        dense_layers=tuple(arch.dense_layers),
        residual=arch.residual and set(targets) <= set(inputs),  # only a fed-in column
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
        time_limit_seconds=settings.max_train_seconds,
        interval_steps=training.interval_steps,
        stateful=training.stateful,
        tbptt=training.tbptt,
    )
    return model_config, train_config, columns
