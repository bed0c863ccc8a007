"""The training request: what a job trains on and how; stored, resolved, with the job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from app.core.schemas import ID_PATTERN, ModelName, Rows, Schema, VisibleText
from app.ml.device import DEVICE_PATTERN
from app.ml.functions import CATALOG

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
    kinds: dict[type, str] = {
        FunctionData: "<function>",
        DatasetData: "<dataset>",
        InlineData: "<inline>",
    }
    return kinds.get(type(value))


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


class WindowSpec(Schema):
    """`lookback` past rows predict the next `horizon` rows at once."""

    lookback: int = Field(10, ge=1, le=10_000)
    horizon: int = Field(1, ge=1, le=1000)
    patch: int = Field(
        1,
        ge=1,
        le=1000,
        description="rows each LSTM step sees (lookback must be a multiple): a window of "
        "1,000 samples with patch 100 is 10 LSTM steps",
    )

    @model_validator(mode="after")
    def _whole_patches(self) -> WindowSpec:
        if self.lookback % self.patch:
            raise ValueError(f"lookback {self.lookback} must be a multiple of patch {self.patch}")
        return self


class ArchitectureSpec(Schema):
    """Stacked LSTM, optional dense layers, linear head."""

    hidden_size: int = Field(32, ge=1, le=1024)
    num_layers: int = Field(2, ge=1, le=8)
    dropout: float = Field(0.0, ge=0.0, le=0.9, description="between LSTM layers")
    dense_layers: list[Annotated[int, Field(ge=1, le=1024)]] = Field(
        default_factory=list, max_length=4, description="widths of tanh layers after the LSTM"
    )
    residual: bool = Field(
        True, description="predict the change from the last input (starts at the naive forecast)"
    )
    highway: bool = Field(
        False,
        description="add a linear map from the whole window to the output (LSTNet's highway): "
        "learns the linear part of a relation at once, e.g. a target column from covariates",
    )
    instance_norm: bool = Field(
        False,
        description="normalise each window by its own mean and spread, on top of the global "
        "scaling: for series whose level or amplitude grows beyond the training range",
    )


class TrainingSpec(Schema):
    """Optimisation, early stopping, scaling and the chronological split."""

    epochs: int = Field(100, ge=1, le=5000, description="maximum epochs")
    batch_size: int = Field(64, ge=1, le=8192)
    learning_rate: float = Field(0.003, gt=0.0, le=10.0)
    optimizer: Literal["adam", "adagrad", "rmsprop", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    early_stopping_patience: int = Field(
        10, ge=0, le=1000, description="epochs without a better validation loss; 0 turns it off"
    )
    min_delta: float = Field(0.0, ge=0.0, le=1e3, description="absolute improvement that counts")
    min_relative_delta: float = Field(
        0.01,
        ge=0.0,
        lt=1.0,
        description="relative improvement that counts (also for learning-rate decay): the "
        "default stops a loss that only creeps down by under 1% an epoch",
    )
    lr_decay_patience: int = Field(
        3,
        ge=0,
        le=1000,
        description="halve the learning rate after this many flat epochs; 0: never",
    )
    grad_clip: float = Field(1.0, ge=0.0, le=1e6, description="max gradient norm; 0 turns it off")
    stateful: bool = Field(
        False,
        description="train over the series in order as batch_size streams, carrying the LSTM "
        "state from one chunk of tbptt steps to the next (truncated backpropagation through "
        "time), predicting the next row at every step; needs horizon 1 and patch 1",
    )
    tbptt: int = Field(20, ge=1, le=10_000, description="steps per chunk of stateful training")
    interval_steps: int = Field(
        200,
        ge=1,
        le=10_000,
        description="forecast steps the prediction intervals are calibrated for (at most half "
        "the validation split)",
    )
    seed: int = Field(0, ge=0, le=2**32 - 1)
    scaling: Literal["standard", "minmax", "none"] = Field(
        "standard", description="fitted on the training split only"
    )
    validation_fraction: float = Field(0.1, gt=0.0, le=0.5)
    test_fraction: float = Field(0.1, gt=0.0, le=0.5)


ColumnName = Annotated[VisibleText, Field(min_length=1, max_length=128)]


class TrainRequest(Schema):
    """A training job. Only `model_name` and `data` are required."""

    model_name: ModelName
    data: DataSpec
    window: WindowSpec = Field(default_factory=WindowSpec)
    architecture: ArchitectureSpec = Field(default_factory=ArchitectureSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="auto, cpu, cuda or cuda:N")
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
