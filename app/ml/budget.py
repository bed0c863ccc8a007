"""When a job's work must stop: the caller's cancel request and the job's time limit.

Both hold for the whole job, fitting and measuring alike: measuring a long series (thousands
of sequential rollout steps) can take longer than fitting it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

StopFn = Callable[[], bool]


class TrainingCancelled(Exception):
    """The caller's stop predicate asked to stop."""


@dataclass
class Budget:
    """A deadline (perf_counter seconds; None: no limit) and the caller's stop predicate."""

    deadline: float | None = None
    should_stop: StopFn | None = None
    ran_out: bool = False  # whether some work was cut short at the deadline

    def left(self) -> bool:
        """Whether work may go on: False once the deadline has passed (and then `ran_out`).
        Raises TrainingCancelled when the caller asked to stop."""
        if self.should_stop is not None and self.should_stop():
            raise TrainingCancelled
        if self.deadline is None or time.perf_counter() < self.deadline:
            return True
        self.ran_out = True
        return False
