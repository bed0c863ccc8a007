"""The configuration search: its space, its trials on the validation parts and its choice."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from app.ml.config import TrainConfig, member_seed
from app.ml.fit import EpochStats
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.roles import ColumnRoles
from app.ml.search import Candidate, Trial, _configs, _members, search, space
from app.ml.train import train

HORIZON = 4


def seasonal_panel(series: int = 6, rows: int = 56, seed: int = 0) -> Panel:
    """`series` noisy waves of period 8 on rising lines, each of its own length."""
    rng = np.random.default_rng(seed)
    values, lengths = [], []
    for number in range(series):
        t = np.arange(rows + number)
        wave = 3 * np.sin(2 * np.pi * t / 8 + number)
        values.append(20 + 0.1 * t + wave + rng.normal(0, 0.2, len(t)))
        lengths.append(len(t))
    ids = tuple(f"s{number}" for number in range(series))
    return Panel(np.concatenate(values)[:, None], tuple(lengths), ids, season=8)


MODEL = ModelConfig(n_features=1, lookback=8, horizon=HORIZON, hidden_size=8, num_layers=1,
                    instance_norm=True)  # fmt: skip
CONFIG = TrainConfig(epochs=4, validation_rows=HORIZON + 2, test_rows=HORIZON,
                     interval_steps=HORIZON, ensemble=2,
                     search_budget=0.0)  # as many trials as asked for  # fmt: skip


def test_the_space_holds_the_lookbacks_that_fit_and_deseasonalises_only_a_season() -> None:
    panel = seasonal_panel()
    found = space(panel, MODEL, CONFIG, ColumnRoles.of(1), HORIZON)
    # 56 rows - 6 validation - 4 test = 46 training rows; a window needs lookback + 4 of them
    assert found["lookback"] == [8, 12, 16, 20, 24, 28]
    assert found["cell"] == ["lstm", "gru"]
    assert found["loss"] == ["mse", "mae"]
    assert found["deseasonalise"] == [False, True]
    short = space(replace(panel, season=1), MODEL, CONFIG, ColumnRoles.of(1), 10)
    assert short["deseasonalise"] == [False]  # no season: nothing to divide by
    assert short["lookback"] == [8, 20, 30, 40]  # 50 and longer leave the training no window


def test_the_requested_configuration_is_tried_first_and_the_best_score_wins() -> None:
    heard: list[EpochStats] = []
    choice = search(seasonal_panel(), MODEL, CONFIG, roles=ColumnRoles.of(1), trials=4,
                    horizon=HORIZON, on_progress=heard.append)  # fmt: skip
    assert len(choice.trials) == 4
    assert choice.trials[0].candidate == Candidate(8, "lstm", "mse", False)
    assert len({trial.candidate for trial in choice.trials}) == 4  # each tried once
    scores = [trial.score for trial in choice.trials]
    assert all(score is not None and math.isfinite(score) for score in scores)
    assert choice.winner.score == min(score for score in scores if score is not None)
    assert (choice.origins, choice.steps) == (3, HORIZON)  # 6 validation rows: 3 origins of 4
    assert {stats.stage for stats in heard} == {"search"}
    assert {(stats.member, stats.members) for stats in heard} == {(n, 4) for n in (1, 2, 3, 4)}
    won = choice.winner.candidate
    assert (choice.model_config.cell, choice.config.loss) == (won.cell, won.loss)
    assert choice.config.deseasonalise == won.deseasonalise
    assert choice.config.ensemble == CONFIG.ensemble
    record = choice.record()
    assert [row["trial"] for row in record["trials"]] == [1, 2, 3, 4]  # type: ignore[index]
    assert record["winner"] == choice.winner.number


def test_a_seeded_search_tries_the_same_candidates_and_never_reads_the_test_parts() -> None:
    panel = seasonal_panel()
    first = search(panel, MODEL, CONFIG, roles=ColumnRoles.of(1), trials=3, horizon=HORIZON)
    values = panel.values.copy()
    ends = np.cumsum(panel.lengths)
    for end in ends:  # every series' test part, far off its line
        values[end - HORIZON : end] *= 50
    moved = search(replace(panel, values=values), MODEL, CONFIG, roles=ColumnRoles.of(1),
                   trials=3, horizon=HORIZON)  # fmt: skip
    assert [t.candidate for t in moved.trials] == [t.candidate for t in first.trials]
    for before, after in zip(first.trials, moved.trials, strict=True):
        assert after.score == pytest.approx(before.score, rel=1e-5)


def trial(number: int, lookback: int, score: float, cell: str = "lstm", loss: str = "mse") -> Trial:
    candidate = Candidate(lookback, cell, loss, False)  # type: ignore[arg-type]
    return Trial(number, candidate, score, 1.0, 1.0, 1, 1, 0.1)


def test_the_ensemble_joins_the_best_trials_of_the_winners_kind() -> None:
    ranked = [trial(1, 12, 0.80), trial(2, 12, 0.81, "gru"), trial(5, 12, 0.82, loss="mae"),
              trial(3, 20, 0.83), trial(4, 16, 0.90)]  # best first  # fmt: skip
    joining = _members(ranked, 3)
    # gru is another kind (another checkpoint config); 16 scored more than 5% behind
    assert [t.number for t in joining] == [1, 5, 3]  # the loss may differ within a kind
    model_config, config = _configs(ranked[0], joining, MODEL, replace(CONFIG, ensemble=3))
    assert config.ensemble_lookbacks == (20, 12, 12)
    assert model_config.lookback == 20  # the window covers the longest member's
    assert config.loss == "mse"  # the winner's, for members still to fit
    alone = _members([ranked[4]], 3)
    model_config, config = _configs(ranked[4], alone, MODEL, replace(CONFIG, ensemble=3))
    assert (model_config.lookback, config.ensemble_lookbacks) == (16, ())  # then seeds alone


def test_a_job_that_searches_records_its_trials_and_trains_the_winner() -> None:
    config = replace(CONFIG, search_trials=3, drift_combination=True)
    result = train(seasonal_panel(), MODEL, config, horizon=HORIZON)
    found = result.metrics["search"]
    assert isinstance(found, dict)
    won = found["trials"][found["winner"] - 1]
    assert result.model.config.cell == won["cell"]
    assert result.config.loss == won["loss"]
    assert result.config.search_trials == 3
    assert len(result.members) == CONFIG.ensemble
    # the winner's own fitted model is the first member: not fitted again
    assert result.members[0].seed == member_seed(CONFIG.seed, found["winner"] - 1)
    assert found["joined"][0] == found["winner"]
    assert [stats.member for stats in result.history] == sorted(
        stats.member for stats in result.history
    )  # the members' epochs, renumbered as the ensemble's
    assert "mean" in result.metrics
    assert "guards" in result.metrics


def test_a_model_fitted_on_absolute_errors_watches_them_on_validation() -> None:
    config = replace(CONFIG, loss="mae", ensemble=1)
    result = train(seasonal_panel(), MODEL, config)
    assert result.history
    assert all(math.isfinite(stats.val_loss) for stats in result.history)
    assert result.config.loss == "mae"


def test_candidates_fitted_in_parallel_score_as_they_do_one_at_a_time() -> None:
    panel = seasonal_panel()
    one = search(panel, MODEL, CONFIG, roles=ColumnRoles.of(1), trials=4, horizon=HORIZON)
    two = search(panel, MODEL, CONFIG, roles=ColumnRoles.of(1), trials=4, horizon=HORIZON,
                 parallel=2)  # fmt: skip
    assert [t.candidate for t in two.trials] == [t.candidate for t in one.trials]
    assert [t.score for t in two.trials] == [t.score for t in one.trials]  # seeded, not raced


def test_the_budget_stops_the_search_after_its_multiple_of_the_first_candidates_time() -> None:
    panel, roles = seasonal_panel(), ColumnRoles.of(1)
    budgeted = replace(CONFIG, search_budget=1.0)  # no more time than the first took
    choice = search(panel, MODEL, budgeted, roles=roles, trials=6, horizon=HORIZON)
    assert (len(choice.trials), choice.stop_reason) == (1, "budget")
    choice = search(panel, MODEL, CONFIG, roles=roles, trials=3, horizon=HORIZON)
    assert (len(choice.trials), choice.stop_reason) == (3, "trials")
    short = replace(MODEL, horizon=1)
    only = search(replace(panel, season=1), short, CONFIG, roles=roles, trials=32, horizon=14)
    assert only.stop_reason == "space"
    assert len(only.trials) == 12  # lookbacks 8, 28 and 42 x 2 cells x 2 losses


def test_a_searched_ensemble_refits_every_member_on_every_row() -> None:
    config = replace(CONFIG, search_trials=3, refit=True, ensemble=2)
    result = train(seasonal_panel(), MODEL, config, horizon=HORIZON)
    assert result.metrics["refit_members"] == 2  # the trials' models and any fitted after
