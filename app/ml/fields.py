"""Config fields that carry their description, so a setting's default and its documentation
are written once, beside each other; the training request's schema (app/jobs/spec.py) is built
from them."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")
DESCRIPTION = "description"  # the metadata key


def described(default: T, description: str) -> T:
    """A dataclass field with `default` and a one-line `description` for users."""
    return dataclasses.field(default=default, metadata={DESCRIPTION: description})


def config_field(config: type[Any], name: str) -> dataclasses.Field[Any]:
    """The dataclass field `name` of `config`; KeyError if it has none."""
    return {spec.name: spec for spec in dataclasses.fields(config)}[name]
