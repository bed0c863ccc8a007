"""Column roles: which columns of a series a model reads and which it predicts.

The one place that knows what the roles imply: the target-to-input map a model config stores,
the known covariates a forecast must be given, and whether residual output and state carry are
possible as far as the columns go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class UnknownColumns(ValueError):
    """Names given for a role are not columns of the series."""

    def __init__(self, role: str, unknown: list[str]) -> None:
        super().__init__(f"{role} {unknown} are not columns of the series")
        self.role, self.unknown = role, unknown


@dataclass(frozen=True)
class ColumnRoles:
    """The inputs (read) and targets (predicted) of a model among `n_columns` series columns,
    by position, each in the model's order.

    Targets that are not inputs are predicted from the inputs alone; inputs that are not
    targets are known covariates, whose future a rollout is given.
    """

    n_columns: int
    inputs: tuple[int, ...]
    targets: tuple[int, ...]

    def __post_init__(self) -> None:
        for role, positions in (("inputs", self.inputs), ("targets", self.targets)):
            if not positions or len(set(positions)) != len(positions):
                raise ValueError(f"{role} must name at least one column, each once")
            if not all(0 <= position < self.n_columns for position in positions):
                raise ValueError(f"{role} must be positions among {self.n_columns} columns")

    @classmethod
    def of(
        cls, n_columns: int, inputs: Sequence[int] = (), targets: Sequence[int] = ()
    ) -> ColumnRoles:
        """Roles by position; empty inputs or targets mean every column."""
        every = tuple(range(n_columns))
        return cls(n_columns, tuple(inputs) or every, tuple(targets) or every)

    @classmethod
    def named(
        cls,
        columns: Sequence[str],
        inputs: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
    ) -> ColumnRoles:
        """Roles by column name; None or empty means every column. Raises UnknownColumns for
        names that are not columns (the inputs' first)."""
        position = {name: i for i, name in enumerate(columns)}
        for role, names in (("inputs", inputs), ("targets", targets)):
            unknown = [name for name in names or () if name not in position]
            if unknown:
                raise UnknownColumns(role, unknown)
        return cls.of(
            len(columns),
            [position[name] for name in inputs or ()],
            [position[name] for name in targets or ()],
        )

    @classmethod
    def of_model(cls, n_features: int, target_inputs: Sequence[int]) -> ColumnRoles:
        """The roles a model config records (`ModelConfig.target_inputs`), in the model's own
        columns: its `n_features` inputs first, then one column per target that is not one."""
        inputs = tuple(range(n_features))
        if not target_inputs:
            return cls(n_features, inputs, inputs)
        extra = iter(range(n_features, n_features + len(target_inputs)))
        targets = tuple(index if index >= 0 else next(extra) for index in target_inputs)
        return cls(n_features + list(target_inputs).count(-1), inputs, targets)

    def names(self, columns: Sequence[str]) -> tuple[list[str], list[str]]:
        """(input names, target names) among the series' `columns`."""
        return [columns[i] for i in self.inputs], [columns[i] for i in self.targets]

    @property
    def target_input_positions(self) -> list[int]:
        """Each target's position among the inputs, -1 for one that is not an input; a list,
        ready to index a tensor's last dimension."""
        among_inputs = {column: i for i, column in enumerate(self.inputs)}
        return [among_inputs.get(column, -1) for column in self.targets]

    @property
    def target_inputs(self) -> tuple[int, ...]:
        """What `ModelConfig.target_inputs` stores: `target_input_positions`, or () when the
        targets are the inputs (an autoregressive model)."""
        if self.inputs == self.targets:
            return ()
        return tuple(self.target_input_positions)

    @property
    def covariates(self) -> tuple[int, ...]:
        """Inputs that are not predicted (known covariates): a rollout is given their future."""
        predicted = set(self.targets)
        return tuple(column for column in self.inputs if column not in predicted)

    @property
    def residual_possible(self) -> bool:
        """Whether every target is an input, so a prediction can be the change from its last
        value (also what instance normalisation needs)."""
        return set(self.targets) <= set(self.inputs)

    @property
    def state_rollout_possible(self) -> bool:
        """Whether the targets are the inputs in order, so a prediction is a whole next input
        row, as carrying (h, c) needs (the architecture has its own conditions:
        `app.ml.forecast.state_rollout_possible`)."""
        return self.inputs == self.targets
