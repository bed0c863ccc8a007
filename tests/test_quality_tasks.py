"""Small, fast versions of every task of `bench/quality.py`, through the same job path.

The benchmark checks the real targets; these check that each capability still works and beats
its baseline, so a regression shows in CI within seconds rather than in the next benchmark run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.quality import CHECKS, EXAMPLES, Job, run_request, vibration_ahead

pytestmark = pytest.mark.slow

SMALL = {"architecture": {"hidden_size": 8, "num_layers": 1}, "training": {"epochs": 10}}


def small(spec: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`spec` with a small model, few epochs and `changes` merged in, section by section."""
    merged = json.loads(json.dumps(spec))
    for key, value in (SMALL | changes).items():
        if isinstance(value, dict):
            merged[key] = merged.get(key, {}) | value
        else:
            merged[key] = value
    return merged


def example(name: str) -> dict[str, Any]:
    return dict(json.loads((EXAMPLES / f"{name}.json").read_text()))


def beats_naive(job: Job) -> None:
    metrics = job.metrics
    assert metrics["one_step"]["mase"] < 1, metrics["one_step"]
    assert metrics["one_step"]["mse"] < metrics["naive_one_step"]["mse"]


def test_every_benchmark_example_is_a_valid_request() -> None:
    from app.jobs.spec import TrainRequest

    names = {check.example for check in CHECKS}
    assert names == {path.stem for path in EXAMPLES.glob("*.json")}
    for name in names:
        TrainRequest.model_validate(example(name))


def test_sin_one_step_and_rollout(tmp_path: Path) -> None:
    job = run_request(
        small(example("sin"), data={"params": {"points": 2000, "stop": 200}}), tmp_path
    )
    beats_naive(job)
    assert job.metrics["mean"]["rmse"] < job.metrics["naive"]["rmse"]


def test_sin_and_cos_together(tmp_path: Path) -> None:
    job = run_request(
        small(example("sin_cos"), data={"params": {"points": 2000, "stop": 200}}), tmp_path
    )
    beats_naive(job)


def test_x_sin_with_instance_norm_beats_global_scaling_alone(tmp_path: Path) -> None:
    data = {"params": {"points": 4000, "stop": 100}}
    sized = {"hidden_size": 16, "num_layers": 1}
    normalised = run_request(
        small(example("x_sin"), data=data, architecture=sized | {"instance_norm": True}),
        tmp_path / "instance",
    )
    plain = small(example("x_sin"), data=data, architecture=sized | {"instance_norm": False})
    globally = run_request(plain, tmp_path / "global")
    beats_naive(normalised)
    assert normalised.metrics["one_step"]["mse"] < globally.metrics["one_step"]["mse"]


def test_sine_from_50_points_with_windows_of_5(tmp_path: Path) -> None:
    spec = example("sine_50_points")
    spec["training"] |= {"epochs": 300}
    job = run_request(spec, tmp_path)
    beats_naive(job)
    assert job.metrics["test_rows"] == 25  # the second half
    assert job.metrics["mean"]["rmse"] < job.metrics["naive"]["rmse"]


def test_cos_from_sin(tmp_path: Path) -> None:
    spec = small(example("sin_to_cos"), data={"params": {"points": 1500}})
    spec["architecture"]["highway"] = True
    job = run_request(spec, tmp_path)
    beats_naive(job)


def test_vibration_in_chunks_beats_naive_and_seasonal_naive(tmp_path: Path) -> None:
    spec = small(
        example("vibration_chunks"),
        data={"params": {"points": 12000, "stop": 12.0}},
        window={"lookback": 200, "patch": 20, "horizon": 100},
        training={"epochs": 6},
    )
    job = run_request(spec, tmp_path)
    ahead = vibration_ahead(job)
    assert ahead["mase"] < 1
    assert set(ahead) == {"model", "naive", "seasonal", "mase", "vs_seasonal"}
    coverage = job.metrics["intervals"]["coverage"]
    assert abs(coverage["80"] - 80) < 15, coverage


def test_intervals_cover_roughly_their_level(tmp_path: Path) -> None:
    spec = small(example("sin_noisy"), data={"params": {"points": 4000, "stop": 400}})
    job = run_request(spec, tmp_path)
    coverage = job.metrics["intervals"]["coverage"]
    assert abs(coverage["80"] - 80) < 12, coverage
    assert abs(coverage["95"] - 95) < 8, coverage
