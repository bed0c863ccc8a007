"""Whether a configuration can train on series of given lengths: every rule, written once.

`problems` lists what stands in the way; submission answers the first as a 422 naming its
field, and training raises it (`check`) before it starts, with the same words. The model
config's own invariants (instance norm, patches) are its constructor's
(`ModelConfig.__post_init__`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from app.ml.config import TrainConfig
from app.ml.data import Split, window_starts
from app.ml.forecast import state_rollout_possible
from app.ml.model import ModelConfig, lookbacks_fit
from app.ml.problems import Infeasible, Problem
from app.ml.roles import ColumnRoles
from app.ml.sequences import sequence_span

SeriesLength = tuple[str | None, int]  # (id, rows); None: the one series of unnamed data

STATEFUL_NEEDS = (
    "stateful training predicts the next row after every step: it needs one series, horizon 1, "
    "patch 1, and neither instance normalisation nor the highway"
)
SEQUENCE_NEEDS = (
    "sequence training carries the recurrent state past the window, as a state rollout does: "
    "it needs a horizon that is a multiple of the patch, no known covariates, and neither "
    "instance normalisation nor the highway"
)
DESEASONALISE_NEEDS = (
    "deseasonalising divides every column by its own seasons: it needs every column to be "
    "predicted, without known covariates"
)

PROCESSES_NEED = (
    "processes share each batch of shuffled windows or sequences: the fit of one model, not "
    "stateful training (one stream in order) or a configuration search (many models)"
)


def stateful_possible(config: ModelConfig) -> bool:
    """Whether a model can be trained statefully (see `RecurrentForecaster.next_steps`)."""
    return (
        config.horizon == 1 and config.patch == 1 and not config.instance_norm
        and not config.highway
    )  # fmt: skip


def deseasonalise_possible(roles: ColumnRoles) -> bool:
    """Whether every column can be divided by its seasons and multiplied back: every column
    predicted, no known covariates."""
    return not roles.covariates and min(roles.target_input_positions) >= 0


def problems(
    model_config: ModelConfig,
    config: TrainConfig,
    roles: ColumnRoles,
    series: Sequence[SeriesLength],
) -> list[Problem]:
    """Why `config` cannot fit `model_config` on `series` with these column roles ([] if it
    can): the modes first, then each series' split (the first series at fault, named)."""
    return [*_mode_problems(model_config, config, roles, len(series)),
            *_series_problems(model_config, config, series)]  # fmt: skip


def check(
    model_config: ModelConfig,
    config: TrainConfig,
    roles: ColumnRoles,
    series: Sequence[SeriesLength],
) -> None:
    """Raise Infeasible with the first of `problems`, if any."""
    found = problems(model_config, config, roles, series)
    if found:
        raise Infeasible(found[0])


def _mode_problems(
    model_config: ModelConfig, config: TrainConfig, roles: ColumnRoles, count: int
) -> Iterator[Problem]:
    """The training modes' conditions on the model and the number of series."""
    if config.stateful and (count > 1 or not stateful_possible(model_config)):
        yield Problem("stateful", STATEFUL_NEEDS)
    if config.sequence_steps and (config.stateful or not state_rollout_possible(model_config)):
        yield Problem("sequence_steps", SEQUENCE_NEEDS)
    lookbacks = config.member_lookbacks(model_config)
    if not lookbacks_fit(lookbacks, config.ensemble, model_config):
        yield Problem(
            "ensemble_lookbacks",
            "ensemble_lookbacks needs one lookback per ensemble member, the longest equal to "
            f"the window's lookback, each a multiple of the patch: got {list(lookbacks)} for "
            f"ensemble {config.ensemble}, lookback {model_config.lookback} and patch "
            f"{model_config.patch}",
        )
    if config.deseasonalise and not deseasonalise_possible(roles):
        yield Problem("deseasonalise", DESEASONALISE_NEEDS)
    if config.processes > 1 and (config.stateful or config.search_trials):
        yield Problem("processes", PROCESSES_NEED)


def _series_problems(
    model_config: ModelConfig, config: TrainConfig, series: Sequence[SeriesLength]
) -> Iterator[Problem]:
    """Each rule on the series' parts, reported for the first series that breaks it."""
    lookback, horizon = model_config.lookback, model_config.horizon
    span = sequence_span(model_config, config.sequence_steps) if config.sequence_steps else 0
    broken: set[str] = set()  # rules already reported
    for series_id, rows in series:
        named = "" if series_id is None else f"series {series_id!r} ({rows} rows): "
        split = config.split(rows)
        for problem in _split_problems(split, lookback, horizon, span, config):
            if problem.field not in broken:
                broken.add(problem.field)
                yield Problem(problem.field, named + problem.message, problem.code)
        if len(broken) == 3:  # every rule is broken already: the rest adds nothing
            return


def split_problems(rows: int, split: Split, lookback: int, horizon: int) -> list[str]:
    """Why a series of `rows` rows cannot be trained and tested with this window; [] if it can."""
    need = {
        "training": window_starts(0, split.train, lookback, horizon).size,
        "validation": window_starts(split.val_start, split.test_start, lookback, horizon).size,
        "test": window_starts(split.test_start, rows, lookback, horizon).size,
    }
    return [
        f"the {name} split ({count_rows} rows) holds no window of lookback {lookback} + horizon "
        f"{horizon}; use more points, a smaller window or a larger {name} fraction"
        for (name, windows), count_rows in zip(
            need.items(), (split.train, split.val, split.test), strict=True
        )
        if windows == 0
    ]


def _split_problems(
    split: Split, lookback: int, horizon: int, span: int, config: TrainConfig
) -> Iterator[Problem]:
    """What one series' split cannot hold: a window in each part, a training sequence in its
    training and validation parts (span: rows a sequence predicts; 0: no sequences), a row for
    each backtest fold in its test part."""
    if split.train < 0:  # the held-out rows asked for are more than the series holds
        yield Problem(
            _held_out_field(config),
            f"{split.rows} rows cannot hold {split.val} validation and {split.test} test rows "
            "and a training part; use fewer validation_rows or test_rows, or more points",
            "series_too_short",
        )
        return
    found = split_problems(split.rows, split, lookback, horizon)
    if found:
        yield Problem("lookback", "; ".join(found), "series_too_short")
    if span and not (
        window_starts(0, split.train, lookback, span).size
        and window_starts(split.val_start, split.test_start, lookback, span).size
    ):
        yield Problem(
            "sequence_steps",
            f"a sequence of {config.sequence_steps} steps reads {lookback} rows and predicts the "
            f"{span} after them: the training and validation parts must each hold one; use fewer "
            "sequence_steps, more points or a larger validation part",
            "series_too_short",
        )
    if config.folds > split.test:
        yield Problem(
            "folds",
            f"{config.folds} backtest folds need as many test rows; the test part has "
            f"{split.test}: raise training.test_rows or use fewer folds",
        )


def _held_out_field(config: TrainConfig) -> str:
    """The setting that sized the held-out parts: row counts where given, else the fraction."""
    if config.validation_rows:
        return "validation_rows"
    return "test_rows" if config.test_rows else "test_fraction"
