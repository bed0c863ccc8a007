"""What makes a training request impossible: a problem names the config field at fault.

One type for every feasibility rule, so that submission answers it as a 422 naming the field
and training raises it as an error with the very same words.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """Why a configuration cannot train: the field at fault (a config field's name), a stable
    code, and a message a user can act on."""

    field: str
    message: str
    code: str = "invalid_input"


class Infeasible(ValueError):
    """A configuration that cannot train, for the reason of its `problem`."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem
