"""A version's metrics as the API shows them (a job shows the metrics of the version it
produced): one layout for one series or many, older records read into it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from app.core.schemas import VIEW_SERIES, ReadSchema


class IntervalMetrics(ReadSchema):
    """How the conformal intervals, calibrated on validation rollouts, cover the test split."""

    calibrated_steps: int = Field(description="forecast steps the intervals are calibrated for")
    residuals: list[int] | None = Field(
        None,
        description="the validation residuals behind each calibrated step's widths (null: not "
        "counted by the version that calibrated them)",
    )
    calibrated_steps_by_level: dict[str, int] | None = Field(
        None,
        description="by level, the first steps with enough residuals for a calibrated interval "
        "(n >= q/(1-q)); at later steps the band is the largest error seen",
    )
    test_rollouts: int
    test_steps: int
    test_values: int | None = Field(None, description="test values the coverage counts")
    coverage: dict[str, float | None] = Field(
        description="percent of test values inside each level's interval, by level"
    )


class Scores(ReadSchema):
    """Errors of one forecast on the original scale, averaged over series where they are means;
    null where not finite (or not recorded by the version that measured them)."""

    mse: float | None = None
    rmse: float | None = None
    mae: float | None = None
    smape: float | None = Field(None, description="the M3 formula, 200·|A−F|/(|A|+|F|), in percent")


class ModelScores(Scores):
    """The model's errors, with MASE against both baselines on the same rows."""

    mase: float | None = Field(None, description="MAE over the naive (last value) forecast's MAE")
    mase_seasonal: float | None = Field(
        None, description="MAE over the seasonal naive (last season repeated) forecast's MAE"
    )


class SplitGuard(ReadSchema):
    """One series against the simple forecasts on one split: rollout MAEs on the same rows."""

    mae: float | None = Field(description="the model's")
    baselines: dict[str, float | None] = Field(
        description="by baseline: naive (last value), seasonal_naive (last season; the naive "
        "with a season of 1) and drift (the line through the series' first and last values "
        "before the split, continued)"
    )
    loses_to: list[str] = Field(description="the baselines whose MAE is lower than the model's")
    combined_mae: float | None = Field(
        None,
        description="the mean of the model's and the drift forecast's (on the validation part, "
        "what `training.drift_combination` compares with the model's); null: not recorded",
    )


class SeriesGuards(ReadSchema):
    """One series against the simple forecasts on its validation and test parts."""

    validation: SplitGuard | None = None
    test: SplitGuard | None = None


class SeriesScores(ModelScores):
    """One series' test scores."""

    id: str | None = Field(description="null for the one series of unnamed data")
    test_rows: int
    guards: SeriesGuards | None = Field(
        None, description="the series against each baseline on each split (null: not recorded)"
    )
    combined_with: Literal["drift"] | None = Field(
        None,
        description='"drift": served as the mean of the model\'s and its drift forecast (see '
        "`combination`); these scores stay the model's own",
    )


class LosingSeries(ReadSchema):
    """The series losing to one baseline on one split."""

    count: int
    series: list[str | int] = Field(
        description="the first `listed_at_most` of them: ids, or indexes of unnamed series"
    )


class SplitGuards(ReadSchema):
    """The series losing to each baseline on one split."""

    series_measured: int
    losing: dict[str, LosingSeries] = Field(description="by baseline: naive, seasonal_naive, drift")


class CombinationRead(ReadSchema):
    """The series forecast as the mean of the model's and their drift forecast, where that
    mean beat the model on their validation part."""

    combined_with: Literal["drift"] = Field(description="what the model is combined with")
    series_count: int
    listed_at_most: int
    series: list[str | int] = Field(
        description="the first `listed_at_most` combined series: ids, or indexes of unnamed ones"
    )
    served: ModelScores = Field(
        description="the test scores as served (means over series): each combined series' "
        "combination, every other series' model; the model's own are `mean`"
    )


class GuardsRead(ReadSchema):
    """How many series lose to each simple forecast on each split, naming a bounded few (each
    series' comparison is in its `series` entry)."""

    listed_at_most: int = Field(description="series named per split and baseline at most")
    validation: SplitGuards | None = None
    test: SplitGuards | None = None


class FoldRead(ReadSchema):
    """One fold of a backtest: forecasts from the same distance before every series' end."""

    fold: int
    rows_from_end: int = Field(description="rows from the fold's first forecast row to the end")
    mean: ModelScores = Field(description="the model's scores (averaged over series)")
    naive: Scores
    seasonal_naive: Scores
    drift: Scores | None = None


class BacktestRead(ReadSchema):
    """A rolling-origin backtest in the test parts (`training.folds`)."""

    folds: int
    steps: int = Field(description="rows each fold forecasts")
    stride: int = Field(description="rows between one fold's origin and the next")
    per_fold: list[FoldRead] = Field(description="fewer than `folds` when time ran out")


class MemberRead(ReadSchema):
    """How one model of the ensemble (or the one model) was fitted."""

    seed: int
    lookback: int
    epochs_run: int
    best_epoch: int = Field(description="the epoch whose weights it keeps")
    stop_reason: str = Field(description="max_epochs, early_stopping or time_limit")
    seconds: float


class TrialRead(ReadSchema):
    """One candidate configuration, fitted as one model and scored on the validation parts."""

    trial: int = Field(description="from 1, in the order tried (1: the request's own)")
    lookback: int
    cell: Literal["lstm", "gru"]
    loss: Literal["mse", "mae"]
    deseasonalise: bool
    score: float | None = Field(description="see `search.score`; null: the fit failed")
    smape: float | None = Field(description="the mean over origins and series")
    mase: float | None = Field(
        description="the MAE over the naive forecast's, the mean over origins and series"
    )
    best_epoch: int
    epochs_run: int
    seconds: float
    error: str | None = Field(None, description="why the fit failed")


class SearchRead(ReadSchema):
    """The configuration search (`training.search_trials`): every candidate tried on rolling
    origins of the validation parts, and the winner the job's model was trained as."""

    score: str = Field(description="what a trial's score measures: lower is better")
    origins: int = Field(description="forecast origins in each series' validation part")
    steps: int = Field(description="rows each origin forecasts")
    trials: list[TrialRead]
    winner: int = Field(description="the trial the model was trained as")
    joined: list[int] = Field(
        default_factory=list,
        description="the trials whose fitted models are members of the ensemble: the winner "
        "and the best of its kind (cell, deseasonalisation) within 5% of its score; members "
        "beyond them are fitted as the winner",
    )
    ensemble_lookbacks: list[int] = Field(description="each ensemble member's lookback")
    seconds: float = Field(description="the search's time, part of `train_seconds`")
    stop_reason: str | None = Field(
        None,
        description="why no more candidates were tried: trials (as many as asked for), space "
        "(every candidate there is), budget (`training.search_budget`) or time_limit",
    )


class FitRecord(ReadSchema):
    """What every job's metrics carry besides its errors: how the fit went and what it chose."""

    season_length: int = Field(1, description="the seasonal naive baseline's period (1: naive)")
    warnings: list[str] = Field(
        default_factory=list,
        description="where the model loses: to the seasonal naive forecast on the validation "
        "parts as a mean over series, and to the naive, seasonal naive or drift forecast on any "
        "series' validation or test part (naming at most `guards.listed_at_most` series, each "
        "with both MAEs)",
    )
    guards: GuardsRead | None = Field(
        None, description="the series losing to each simple forecast on each split"
    )
    combination: CombinationRead | None = Field(
        None,
        description="with `training.drift_combination`: the series served as the mean of the "
        "model's and their drift forecast",
    )
    search: SearchRead | None = Field(
        None,
        description="with `training.search_trials`: the candidates tried and the winner",
    )
    rollout_mode: Literal["window", "state"]
    ensemble: int = Field(1, description="models whose median is the forecast (1: one model)")
    members: list[MemberRead] | None = Field(
        None, description="how each model was fitted, in order (one entry for one model)"
    )
    epochs_run: int = Field(description="epochs run, over every model")
    best_epoch: int | None = Field(
        description="the one model's best epoch (null for an ensemble: see `members`)"
    )
    stop_reason: str | None = Field(
        description="why the one model stopped (null for an ensemble: see `members`)"
    )
    train_seconds: float
    refit_members: int | None = Field(
        None,
        description="with `refit`: the models fitted again on every row, which is what is "
        "served (the metrics above measure the models before, on the rows they did not see); "
        "fewer than `ensemble` when the time limit passed",
    )
    refit_seconds: float | None = Field(None, description="with `refit`: the seconds it took")
    backtest: BacktestRead | None = Field(
        None, description="with `training.folds`: the rolling-origin backtest's folds"
    )
    evaluation_cut_short: bool = Field(
        False,
        description="the job's time limit passed while measuring: rollouts and intervals cover "
        "fewer steps than asked",
    )


class MetricsRead(FitRecord):
    """Test metrics on the original scale: each series rolled out over its own test rows from
    its own history and scored on its own scale beside the naive and seasonal naive forecasts
    of the same rows, and the means over series. A model of one series also shows its scores
    under the names `rollout`, `naive_rollout` and `seasonal_naive_rollout`."""

    series_count: int
    series_measured: int = Field(description="fewer than series_count when time ran out")
    test_rows: int = Field(description="test rows scored, over every series")
    test_windows: int | None = Field(None, description="windows the one-step scores cover")
    rollout_steps: int | None = Field(None, description="the longest rollout over a test part")
    one_step: ModelScores | None = Field(
        None, description="direct predictions from true history (means over series)"
    )
    naive_one_step: Scores | None = Field(None, description="last value, same windows")
    mean: ModelScores = Field(description="the model's rollout scores, averaged over series")
    naive: Scores = Field(description="the naive forecast's, averaged over series")
    seasonal_naive: Scores = Field(description="the seasonal naive forecast's, averaged")
    drift: Scores | None = Field(
        None, description="the drift forecast's (random walk with drift), averaged"
    )
    series: list[SeriesScores] | None = Field(
        None,
        description=f"each series' scores: the first {VIEW_SERIES} in a job's or a model "
        "version's view (GET /v1/models/{name}/versions/{version}/series pages them all), "
        "none in job listings",
    )
    intervals: IntervalMetrics | None = Field(
        None, description="prediction intervals: coverage on rollouts over the test parts"
    )
    validation_rollout_mae: dict[str, float | None] | None = Field(
        None,
        description="validation rollouts' MAE (each series' original scale, the mean over "
        "series) by window and by state (null where not measured): state is chosen only "
        "within 5% of window",
    )
    validation_rollout_rmse: dict[str, float | None] | None = Field(
        None, description="the same rollouts' RMSE (the mean over series)"
    )
    rollout: ModelScores | None = Field(None, description="one series: `mean`")
    naive_rollout: Scores | None = Field(None, description="one series: `naive`")
    seasonal_naive_rollout: Scores | None = Field(None, description="one series: `seasonal_naive`")

    @model_validator(mode="before")
    @classmethod
    def _one_layout(cls, data: Any) -> Any:
        return metrics_view(data) if isinstance(data, dict) else data


# A model of one series: its means are its own scores, shown under these names as well.
ONE_SERIES_NAMES = {
    "mean": "rollout",
    "naive": "naive_rollout",
    "seasonal_naive": "seasonal_naive_rollout",
}


def metrics_view(stored: dict[str, Any]) -> dict[str, Any]:
    """Stored metrics in the one layout: a record of one series written before every model's
    metrics were per series (scores named `rollout`...) gets its means, one of many series
    before the fit's per-model record its counts; a model of one series shows its means under
    the one-series names too."""
    found = dict(stored)
    if "mean" not in found and "rollout" in found:  # one series, as first recorded
        found |= {"series_count": 1, "series_measured": 1} | {
            many: found[one] for many, one in ONE_SERIES_NAMES.items() if found.get(one)
        }
        found.setdefault("seasonal_naive", {})
    found.setdefault("best_epoch", None)
    found.setdefault("stop_reason", None)
    if found.get("series_count") == 1:  # (a record without a seasonal baseline shows none)
        found |= {one: found.get(many) or None for many, one in ONE_SERIES_NAMES.items()}
    return found
