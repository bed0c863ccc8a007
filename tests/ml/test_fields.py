"""Defaults and descriptions written once, in app.ml's configs, and read by the request schema."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import BaseModel

from app.jobs.spec import ArchitectureSpec, TrainingSpec, WindowSpec
from app.ml.config import TrainConfig
from app.ml.fields import DESCRIPTION, config_field, described
from app.ml.model import ModelConfig

# Request field -> (app.ml config, its field): the same name in both.
SOURCES = {
    **{(WindowSpec, name): (ModelConfig, name) for name in WindowSpec.model_fields},
    **{(ArchitectureSpec, name): (ModelConfig, name) for name in ArchitectureSpec.model_fields},
    **{(TrainingSpec, name): (TrainConfig, name) for name in TrainingSpec.model_fields},
}
# What the configs hold that a request does not set: the columns' roles, and a setting.
NOT_REQUESTED = {"n_features", "target_inputs", "time_limit_seconds"}


def test_the_request_sections_hold_every_ml_config_field_under_its_own_name() -> None:
    """So a request maps onto the configs without restating a field (app/jobs/configs.py)."""
    model = {field.name for field in dataclasses.fields(ModelConfig)} - NOT_REQUESTED
    fit = {field.name for field in dataclasses.fields(TrainConfig)} - NOT_REQUESTED
    assert set(WindowSpec.model_fields) | set(ArchitectureSpec.model_fields) == model
    assert not set(WindowSpec.model_fields) & set(ArchitectureSpec.model_fields)
    assert set(TrainingSpec.model_fields) == fit


def test_described_fields_keep_default_and_description() -> None:
    @dataclasses.dataclass(frozen=True)
    class Example:
        size: int = described(3, "how many")
        plain: int = 4

    assert Example().size == 3
    assert config_field(Example, "size").metadata[DESCRIPTION] == "how many"
    assert DESCRIPTION not in config_field(Example, "plain").metadata
    with pytest.raises(KeyError):
        config_field(Example, "missing")


@pytest.mark.parametrize(("request_field", "source"), list(SOURCES.items()), ids=str)
def test_each_request_field_has_the_default_and_description_of_its_ml_field(
    request_field: tuple[type[BaseModel], str], source: tuple[type, str]
) -> None:
    section, name = request_field
    spec, ml = section.model_fields[name], config_field(*source)
    assert spec.description == ml.metadata.get(DESCRIPTION)
    default = section().model_dump()[name]
    expected = ml.default if ml.default_factory is dataclasses.MISSING else ml.default_factory()
    assert default == (list(expected) if isinstance(expected, tuple) else expected)
