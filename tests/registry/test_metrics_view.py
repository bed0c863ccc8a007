"""A version's metrics as the API shows them: one layout for one series or many, and records
written before it (one series' scores named `rollout`..., a panel's without the per-model fit)
read into it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.ml.fitted import SeriesScores
from app.ml.guards import guard_record, series_guards
from app.registry.metrics_view import MetricsRead

FORMAT_1 = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "format1_sine_meta.json"
SCORES = {"mse": 4.0, "rmse": 2.0, "mae": 1.5, "smape": 3.0}
FIT = {"rollout_mode": "window", "epochs_run": 9, "train_seconds": 1.5}


def test_a_one_series_record_of_the_earlier_layout_reads_with_its_means() -> None:
    stored: dict[str, Any] = json.loads(FORMAT_1.read_text())["metrics"]
    assert "mean" not in stored
    view = MetricsRead.model_validate(stored)
    assert (view.series_count, view.series_measured) == (1, 1)
    assert view.mean.model_dump() == view.rollout.model_dump()  # type: ignore[union-attr]
    assert view.mean.rmse == stored["rollout"]["rmse"]
    assert view.naive.mae == stored["naive_rollout"]["mae"]
    assert view.seasonal_naive.smape == stored["seasonal_naive_rollout"]["smape"]
    assert view.best_epoch == stored["best_epoch"]
    assert view.members is None  # not recorded then


def test_a_record_without_a_seasonal_baseline_shows_none() -> None:
    stored = {**FIT, "best_epoch": 3, "stop_reason": "max_epochs", "test_rows": 30,
              "rollout": SCORES | {"mase": 0.5}, "naive_rollout": SCORES}  # fmt: skip
    view = MetricsRead.model_validate(stored)
    assert view.seasonal_naive_rollout is None
    assert view.seasonal_naive.mae is None
    assert view.mean.mase == 0.5


def test_a_panel_record_of_the_earlier_layout_reads_without_the_one_series_names() -> None:
    stored = {**FIT, "best_epoch": 40, "stop_reason": "early_stopping", "series_count": 3,
              "series_measured": 3, "test_rows": 57, "season_length": 12,
              "mean": SCORES | {"mase": 0.4, "mase_seasonal": 0.9}, "naive": SCORES,
              "seasonal_naive": SCORES,
              "validation_rollout_mae": {"window": 1.0, "state": None}}  # fmt: skip
    view = MetricsRead.model_validate(stored)
    assert view.rollout is None
    assert view.one_step is None  # not measured for many series then
    assert view.mean.mase_seasonal == 0.9
    assert view.validation_rollout_rmse is None


def test_an_ensemble_reports_each_model_and_no_single_best_epoch() -> None:
    member = {"seed": 0, "lookback": 12, "epochs_run": 5, "best_epoch": 4,
              "stop_reason": "max_epochs", "seconds": 0.5}  # fmt: skip
    stored = {**FIT, "ensemble": 2, "members": [member, member | {"seed": 1, "best_epoch": 2}],
              "best_epoch": None, "stop_reason": None, "series_count": 1, "series_measured": 1,
              "test_rows": 30, "mean": SCORES, "naive": SCORES,
              "seasonal_naive": SCORES}  # fmt: skip
    view = MetricsRead.model_validate(stored)
    assert view.best_epoch is None
    assert [model.best_epoch for model in view.members or []] == [4, 2]
    assert view.rollout is not None
    assert view.rollout.rmse == 2.0


def test_a_record_with_guards_reads_them_and_one_without_shows_none() -> None:
    def scored(model: float, baseline: float) -> SeriesScores:
        at = {
            name: SCORES | {"mae": baseline} for name in ("naive", "seasonal", "drift", "combined")
        }
        return SeriesScores(5, 10.0, SCORES | {"mae": model}, **at)

    found = [scored(1.0, 2.0), scored(3.0, 2.0)]
    guards = series_guards({"validation": found, "test": found})
    stored = {**FIT, "best_epoch": 3, "stop_reason": "max_epochs", "series_count": 2,
              "series_measured": 2, "test_rows": 10, "mean": SCORES, "naive": SCORES,
              "seasonal_naive": SCORES, "drift": SCORES,
              "guards": guard_record(guards, [None, None]),
              "series": [SCORES | {"id": None, "test_rows": 5, "guards": guard}
                         for guard in guards]}  # fmt: skip
    view = MetricsRead.model_validate(stored)
    assert view.guards is not None
    assert view.guards.test is not None
    assert view.guards.test.losing["drift"].model_dump() == {"count": 1, "series": [1]}
    assert view.drift is not None
    assert view.drift.mae == SCORES["mae"]
    row = (view.series or [])[1].guards
    assert row is not None
    assert row.validation is not None
    assert row.validation.loses_to == ["naive", "seasonal_naive", "drift"]
    assert row.validation.baselines["drift"] == 2.0
    fields = ("guards", "drift", "series")
    older = MetricsRead.model_validate({k: v for k, v in stored.items() if k not in fields})
    assert (older.guards, older.drift) == (None, None)
