"""ColumnRoles: names and positions, the stored target-to-input map, covariates, and what the
roles allow (residual output, state carry)."""

from __future__ import annotations

import pytest

from app.ml.model import ModelConfig
from app.ml.roles import ColumnRoles, UnknownColumns

COLUMNS = ["sin", "cos", "load"]


def test_empty_roles_mean_every_column() -> None:
    roles = ColumnRoles.of(3)
    assert (roles.inputs, roles.targets) == ((0, 1, 2), (0, 1, 2))
    assert roles == ColumnRoles.named(COLUMNS) == ColumnRoles.named(COLUMNS, [], None)


def test_names_map_to_positions_in_the_models_order_and_back() -> None:
    roles = ColumnRoles.named(COLUMNS, ["load", "sin"], ["cos"])
    assert (roles.inputs, roles.targets) == ((2, 0), (1,))
    assert roles.names(COLUMNS) == (["load", "sin"], ["cos"])


def test_unknown_names_are_reported_by_role_inputs_first() -> None:
    with pytest.raises(UnknownColumns) as raised:
        ColumnRoles.named(COLUMNS, ["tan", "sin", "sec"], ["nope"])
    assert (raised.value.role, raised.value.unknown) == ("inputs", ["tan", "sec"])
    with pytest.raises(UnknownColumns) as raised:
        ColumnRoles.named(COLUMNS, None, ["nope"])
    assert (raised.value.role, raised.value.unknown) == ("targets", ["nope"])
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    ("inputs", "targets"), [((0, 0), (1,)), ((0,), (3,)), ((-1,), (0,))], ids=str
)
def test_repeated_or_out_of_range_positions_are_refused(
    inputs: tuple[int, ...], targets: tuple[int, ...]
) -> None:
    with pytest.raises(ValueError, match="inputs|targets"):
        ColumnRoles.of(3, inputs, targets)


@pytest.mark.parametrize(
    ("inputs", "targets", "target_inputs", "covariates", "residual", "state"),
    [
        ((), (), (), (), True, True),  # every column in, every column out
        ((0,), (1,), (-1,), (0,), False, False),  # cos from sin only
        ((0, 1), (1,), (1,), (0,), True, False),  # cos from both: sin is a covariate
        ((1, 0), (0, 1), (1, 0), (), True, False),  # the same columns, another order
        ((0,), (0, 1), (0, -1), (), False, False),  # sin fed back, cos from it
        ((0, 2), (0, 2), (), (), True, True),  # a subset, in and out alike
    ],
)
def test_what_the_roles_imply(
    inputs: tuple[int, ...],
    targets: tuple[int, ...],
    target_inputs: tuple[int, ...],
    covariates: tuple[int, ...],
    residual: bool,
    state: bool,
) -> None:
    roles = ColumnRoles.of(3, inputs, targets)
    assert roles.target_inputs == target_inputs
    assert roles.covariates == covariates
    assert roles.residual_possible is residual
    assert roles.state_rollout_possible is state
    # The model's own view of them, rebuilt from what its config stores, implies the same.
    config = ModelConfig(
        n_features=len(roles.inputs), target_inputs=roles.target_inputs, residual=residual
    )
    model = config.roles
    assert model.target_inputs == roles.target_inputs
    assert model.target_input_positions == roles.target_input_positions
    assert len(model.covariates) == len(covariates)
    assert (model.residual_possible, model.state_rollout_possible) == (residual, state)
    assert config.n_outputs == len(roles.targets)


def test_the_models_view_puts_targets_that_are_not_inputs_after_the_inputs() -> None:
    roles = ColumnRoles.of_model(2, (-1, 1, -1))
    assert roles == ColumnRoles(4, (0, 1), (2, 1, 3))
    assert roles.target_input_positions == [-1, 1, -1]
    assert ColumnRoles.of_model(2, ()) == ColumnRoles.of(2)
