"""The feasibility rules, written once: what `problems` finds, in which order, naming which
series; training raises the first of them and submission answers it, in the same words."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.ml.config import TrainConfig
from app.ml.feasibility import problems
from app.ml.model import ModelConfig
from app.ml.prepare import Panel
from app.ml.problems import Infeasible, Problem
from app.ml.roles import ColumnRoles
from app.ml.train import train

MODEL = ModelConfig(n_features=1, lookback=12, horizon=3, hidden_size=4, num_layers=1)
ROLES = ColumnRoles.of(1)


def test_a_configuration_that_fits_every_series_has_no_problem() -> None:
    assert problems(MODEL, TrainConfig(), ROLES, [(None, 300)]) == []
    assert problems(MODEL, TrainConfig(), ROLES, [("a", 300), ("b", 200)]) == []


def test_the_first_series_at_fault_is_named_with_its_rows() -> None:
    (found,) = problems(MODEL, TrainConfig(), ROLES, [("a", 300), ("b", 20), ("c", 10)])
    assert (found.field, found.code) == ("lookback", "series_too_short")
    assert found.message.startswith("series 'b' (20 rows): the validation split (2 rows)")
    (unnamed,) = problems(MODEL, TrainConfig(), ROLES, [(None, 20)])
    assert unnamed.message.startswith("the validation split (2 rows)")


def test_the_modes_come_before_the_series_and_each_rule_is_reported_once() -> None:
    config = TrainConfig(stateful=True, folds=5, test_rows=3)
    found = problems(MODEL, config, ROLES, [(f"s{n}", 100) for n in range(50)])
    assert [problem.field for problem in found] == ["stateful", "folds"]
    assert found[1].message.startswith("series 's0' (100 rows): 5 backtest folds")


def test_each_series_must_hold_a_sequence_in_its_training_and_validation_parts() -> None:
    patched = ModelConfig(n_features=1, lookback=12, horizon=3, patch=3, hidden_size=4)
    config = TrainConfig(sequence_steps=10)
    assert problems(patched, config, ROLES, [("long", 2000)]) == []
    (found,) = problems(patched, config, ROLES, [("long", 2000), ("short", 150)])
    assert (found.field, found.code) == ("sequence_steps", "series_too_short")
    assert "series 'short' (150 rows)" in found.message


def test_training_raises_the_first_problem_and_submission_answers_it_alike(
    client: TestClient,
) -> None:
    config = TrainConfig(folds=10, test_rows=5, epochs=1)
    series = np.sin(np.arange(400) * 0.1)[:, None]
    with pytest.raises(Infeasible) as raised:
        train(Panel.of_series(series), MODEL, config)
    expected: Problem = problems(MODEL, config, ROLES, [(None, 400)])[0]
    assert raised.value.problem == expected
    answer = client.post(
        "/v1/jobs",
        json={
            "model_name": "folds",
            "data": {"values": series[:, 0].tolist()},
            "window": {"lookback": 12, "horizon": 3},
            "training": {"folds": 10, "test_rows": 5, "epochs": 1},
        },
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["field"], error["message"]) == ("training.folds", expected.message)


@pytest.mark.parametrize("mode", [{"stateful": True}, {"search_trials": 4}])
def test_processes_share_the_fit_of_one_model_in_shuffled_batches(
    client: TestClient, mode: dict[str, object]
) -> None:
    found = problems(MODEL, TrainConfig(processes=2, **mode), ROLES, [(None, 400)])  # type: ignore[arg-type]
    assert "processes" in [problem.field for problem in found]
    assert problems(MODEL, TrainConfig(processes=2), ROLES, [("a", 400), ("b", 300)]) == []
    answer = client.post(
        "/v1/jobs",
        json={
            "model_name": "shared",
            "data": {"function": "sin"},
            "window": {"lookback": 12, "horizon": 1},
            "training": {"processes": 2, **mode},
        },
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "training.processes"
