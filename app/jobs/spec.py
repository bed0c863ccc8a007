"""The training request: what a job trains on and how; stored, resolved, with the job."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from app.core.bounds import narrowed
from app.core.schemas import ID_PATTERN, ModelName, Rows, Schema
from app.datasets import Limits, bounded_columns, bounded_rows
from app.ml.backtest import MAX_FOLDS
from app.ml.config import MAX_PROCESSES, MAX_SEARCH_TRIALS, OptimizerName, TrainConfig
from app.ml.data import ScalingKind
from app.ml.device import DEVICE_PATTERN
from app.ml.fields import DESCRIPTION, config_field
from app.ml.functions import CATALOG
from app.ml.losses import LossName
from app.ml.model import MAX_ENSEMBLE, CellKind, ModelConfig

FunctionName = Literal[tuple(CATALOG)]  # type: ignore[valid-type]  # the catalog's names


class FunctionData(Schema):
    """Train on a built-in function (see GET /v1/functions for parameters and defaults)."""

    function: FunctionName  # type: ignore[valid-type]
    params: dict[str, int | float] = Field(default_factory=dict, max_length=32)


class DatasetData(Schema):
    """Train on an uploaded dataset."""

    dataset_id: str = Field(pattern=ID_PATTERN)


class InlineData(Schema):
    """Train on values sent with the request."""

    values: Rows = Field(description="rows in time order; a flat list is one column")
    columns: list[str] | None = None


# The tags sit in <> so they never clash with a field name: error locations leave them out
# (app.core.errors.location), so a bad function reads "data.function", not "data.function.function".
_KINDS = (("function", "<function>"), ("dataset_id", "<dataset>"), ("values", "<inline>"))


def _data_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return next((kind for key, kind in _KINDS if key in value), None)
    models = ((FunctionData, "<function>"), (DatasetData, "<dataset>"), (InlineData, "<inline>"))
    return next((kind for model, kind in models if isinstance(value, model)), None)


DataSource = FunctionData | DatasetData | InlineData
DataSpec = Annotated[
    Annotated[FunctionData, Tag("<function>")]
    | Annotated[DatasetData, Tag("<dataset>")]
    | Annotated[InlineData, Tag("<inline>")],
    Discriminator(
        _data_kind,
        custom_error_type="data_source",
        custom_error_message="give one of 'function', 'dataset_id' or 'values'",
    ),
]


def _ml(config: type[Any], name: str, **bounds: Any) -> Any:
    """A request field with the default and description of `config`'s field `name`: app.ml
    writes them once. `bounds` (ge, le, max_length...) are the API's validation, kept here."""
    spec = config_field(config, name)
    description = spec.metadata.get(DESCRIPTION)
    factory = spec.default_factory
    if factory is not dataclasses.MISSING:  # a tuple in app.ml, a JSON array here
        return Field(default_factory=lambda: list(factory()), description=description, **bounds)
    return Field(spec.default, description=description, **bounds)


class WindowSpec(Schema):
    """`lookback` past rows predict the next `horizon` rows at once (fields of the model's
    config, with their bounds)."""

    lookback: int = _ml(ModelConfig, "lookback", ge=1, le=10_000)
    horizon: int = _ml(ModelConfig, "horizon", ge=1, le=1000)
    patch: int = _ml(ModelConfig, "patch", ge=1, le=1000)


class ArchitectureSpec(Schema):
    """Stacked recurrent layers, optional dense layers, linear head (fields of the model's
    config, with their bounds)."""

    cell: CellKind = _ml(ModelConfig, "cell")
    hidden_size: int = _ml(ModelConfig, "hidden_size", ge=1, le=1024)
    num_layers: int = _ml(ModelConfig, "num_layers", ge=1, le=8)
    dropout: float = _ml(ModelConfig, "dropout", ge=0.0, le=0.9)
    dense_layers: list[Annotated[int, Field(ge=1, le=1024)]] = _ml(
        ModelConfig, "dense_layers", max_length=4
    )
    residual: bool = _ml(ModelConfig, "residual")
    highway: bool = _ml(ModelConfig, "highway")
    instance_norm: bool = _ml(ModelConfig, "instance_norm")


class TrainingSpec(Schema):
    """Optimisation, early stopping, scaling, the chronological split and the ensemble: the
    fields of `app.ml.config.TrainConfig` (but its time limit, a setting), with their bounds."""

    epochs: int = _ml(TrainConfig, "epochs", ge=1, le=5000)
    batch_size: int = _ml(TrainConfig, "batch_size", ge=1, le=8192)
    learning_rate: float = _ml(TrainConfig, "learning_rate", gt=0.0, le=10.0)
    optimizer: OptimizerName = _ml(TrainConfig, "optimizer")
    weight_decay: float = _ml(TrainConfig, "weight_decay", ge=0.0, le=1.0)
    early_stopping_patience: int = _ml(TrainConfig, "early_stopping_patience", ge=0, le=1000)
    min_delta: float = _ml(TrainConfig, "min_delta", ge=0.0, le=1e3)
    min_relative_delta: float = _ml(TrainConfig, "min_relative_delta", ge=0.0, lt=1.0)
    lr_decay_patience: int = _ml(TrainConfig, "lr_decay_patience", ge=0, le=1000)
    grad_clip: float = _ml(TrainConfig, "grad_clip", ge=0.0, le=1e6)
    stateful: bool = _ml(TrainConfig, "stateful")
    tbptt: int = _ml(TrainConfig, "tbptt", ge=1, le=10_000)
    sequence_steps: int = _ml(TrainConfig, "sequence_steps", ge=0, le=10_000)
    interval_steps: int = _ml(TrainConfig, "interval_steps", ge=1, le=10_000)
    seed: int = _ml(TrainConfig, "seed", ge=0, le=2**32 - 1)
    scaling: ScalingKind = _ml(TrainConfig, "scaling")
    validation_fraction: float = _ml(TrainConfig, "validation_fraction", gt=0.0, le=0.5)
    test_fraction: float = _ml(TrainConfig, "test_fraction", gt=0.0, le=0.5)
    validation_rows: int | None = _ml(TrainConfig, "validation_rows", ge=1, le=1_000_000)
    test_rows: int | None = _ml(TrainConfig, "test_rows", ge=1, le=1_000_000)
    min_steps: int = _ml(TrainConfig, "min_steps", ge=0, le=1_000_000)
    ensemble: int = _ml(TrainConfig, "ensemble", ge=1, le=MAX_ENSEMBLE)
    ensemble_lookbacks: list[Annotated[int, Field(ge=1, le=10_000)]] = _ml(
        TrainConfig, "ensemble_lookbacks", max_length=MAX_ENSEMBLE
    )
    refit: bool = _ml(TrainConfig, "refit")
    folds: int = _ml(TrainConfig, "folds", ge=0, le=MAX_FOLDS)
    deseasonalise: bool = _ml(TrainConfig, "deseasonalise")
    drift_combination: bool = _ml(TrainConfig, "drift_combination")
    loss: LossName = _ml(TrainConfig, "loss")
    search_trials: int = _ml(TrainConfig, "search_trials", ge=0, le=MAX_SEARCH_TRIALS)
    search_budget: float = _ml(TrainConfig, "search_budget", ge=0.0, le=1000.0)
    processes: int = _ml(TrainConfig, "processes", ge=1, le=MAX_PROCESSES)


ColumnName = Annotated[str, Field(min_length=1, max_length=128)]
MAX_FORECAST_HORIZON = 1000  # the largest `forecast_horizon` a request may give


class TrainRequest(Schema):
    """A training job. Only `model_name` and `data` are required."""

    model_name: ModelName
    data: DataSpec
    window: WindowSpec = Field(default_factory=WindowSpec)
    architecture: ArchitectureSpec = Field(default_factory=ArchitectureSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="auto, cpu, cuda or cuda:N")
    forecast_horizon: int | None = Field(
        None,
        ge=1,
        le=MAX_FORECAST_HORIZON,
        description="the steps ahead you will forecast: the job then chooses every setting you "
        "do not give for it and your series (window, output chunk, held-out rows, season, "
        "normalisation, steps), and stores its choices in this spec",
    )
    season_length: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="rows per season (12 for monthly data with a yearly pattern); default: from "
        "the time index's frequency, or the autocorrelation of a numeric index. Sets the "
        "seasonal naive baseline and, with forecast_horizon, the window",
    )
    inputs: list[ColumnName] | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="columns the model reads (default: all). Inputs that are not targets are "
        "known covariates: a forecast gives their future values",
    )
    targets: list[ColumnName] | None = Field(
        None,
        min_length=1,
        max_length=4096,
        description="columns the model predicts (default: all). A target that is not an input "
        "is predicted from the inputs alone (then residual output is turned off)",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"model_name": "sine", "data": {"function": "sin"}},
                {"model_name": "sales", "data": {"dataset_id": "<id>"}, "forecast_horizon": 18},
                {
                    "model_name": "sine",
                    "data": {"function": "sin", "params": {"points": 2000}},
                    "window": {"lookback": 10, "horizon": 1},
                    "architecture": {"hidden_size": 32, "num_layers": 2},
                    "training": {"epochs": 100, "batch_size": 64, "learning_rate": 0.003},
                    "device": "auto",
                },
            ]
        }
    }

    @model_validator(mode="after")
    def _splits_leave_training_rows(self) -> TrainRequest:
        if self.training.validation_fraction + self.training.test_fraction > 0.8:
            raise ValueError("validation_fraction + test_fraction must be at most 0.8")
        for name, names in (("inputs", self.inputs), ("targets", self.targets)):
            if names is not None and len(set(names)) != len(names):
                raise ValueError(f"{name} name a column twice")
        return self


def train_request_model(limits: Limits) -> type[TrainRequest]:
    """`TrainRequest` with `limits`' bounds on inline data's values and columns."""
    inline = narrowed(
        InlineData, values=bounded_rows(limits), columns=bounded_columns(limits) | None
    )
    data: Any = (  # told apart by the field's own discriminator, which `narrowed` keeps
        Annotated[FunctionData, Tag("<function>")]
        | Annotated[DatasetData, Tag("<dataset>")]
        | Annotated[inline, Tag("<inline>")]
    )
    return narrowed(TrainRequest, data=data)


class JobSpec(TrainRequest):
    """The training request a job runs, as stored: its data a function with every parameter
    filled in, or a dataset (inline values are stored as one when the job is submitted)."""

    data: FunctionData | DatasetData


SECTIONS: dict[str, type[Schema]] = {
    "window": WindowSpec,
    "architecture": ArchitectureSpec,
    "training": TrainingSpec,
}


def request_field(name: str) -> str:
    """Where a field of the `ml` configs sits in the request (`lookback` -> window.lookback);
    `name` itself for one that is no section's."""
    return next(
        (f"{section}.{name}" for section, spec in SECTIONS.items() if name in spec.model_fields),
        name,
    )
