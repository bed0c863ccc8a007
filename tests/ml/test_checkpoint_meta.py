"""CheckpointMeta: meta.json and the per-series files beside it as one type, written, read, and
read from older checkpoints (format 2, all in meta.json; the format-1 layouts of one series and
of many)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from app.jobs.bundled import _install
from app.ml import serving
from app.ml.checkpoint_meta import CheckpointError, CheckpointMeta, SeriesMeta
from app.ml.checkpoints import (
    load,
    read_meta,
    read_record,
    read_series_metrics,
    write,
    write_meta,
)
from app.ml.data import Scaler
from app.ml.intervals import LEVELS
from app.ml.model import ModelConfig, RecurrentForecaster

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "models" / "sine" / "1"
# The bundled model's meta.json as the format-1 and format-2 releases wrote it (same weights).
FORMAT_1 = ROOT / "tests" / "fixtures" / "format1_sine_meta.json"
FORMAT_2 = ROOT / "tests" / "fixtures" / "format2_sine_meta.json"
# meta.json's keys, in their stored order: what a job's checkpoint holds.
KEYS = [
    "name", "job_id", "spec", "created_at", "metrics", "device", "format_version", "config",
    "rollout_mode", "columns", "inputs", "targets", "series_count", "series_sha256",
    "series_metrics", "intervals", "weights_sha256", "versions",
]  # fmt: skip


def format_2(meta: CheckpointMeta) -> dict[str, Any]:
    """`meta` as a format-2 meta.json held it: its series and their scores inside."""
    stored = meta.to_json("")
    for key in ("series_count", "series_sha256", "series_metrics"):
        del stored[key]
    series = [entry.to_json() for entry in meta.series]
    return stored | {"format_version": 2, "series": series, "metrics": meta.metrics}


def covariate_meta() -> tuple[RecurrentForecaster, CheckpointMeta]:
    """A model of `load` from `temp` and `sin`, with the job's record and intervals."""
    config = ModelConfig(
        n_features=2, lookback=3, hidden_size=4, num_layers=1, target_inputs=(-1,),
        residual=False,
    )  # fmt: skip
    meta = CheckpointMeta(
        name="power", job_id="abc", spec={"model_name": "power"}, created_at="2026-01-02T03:04:05",
        metrics={"best_epoch": 3}, device="cpu", config=config, rollout_mode="window",
        columns=["sin", "load", "temp"], inputs=["temp", "sin"], targets=["load"],
        series=[
            SeriesMeta(
                None, Scaler("standard", (1.0, 2.0, 3.0), (0.5, 0.25, 2.0)),
                np.arange(9.0).reshape(3, 3),
            )
        ],
        interval_widths=np.linspace(0.1, 1.0, len(LEVELS) * 2).reshape(len(LEVELS), 2, 1),
    )  # fmt: skip
    return RecurrentForecaster(config), meta


def test_written_meta_json_has_the_stored_keys_and_reads_back(tmp_path: Path) -> None:
    model, meta = covariate_meta()
    write(tmp_path, model, meta)
    stored = json.loads((tmp_path / "meta.json").read_text())
    assert list(stored) == KEYS
    assert stored["inputs"] == ["temp", "sin"]
    assert stored["config"]["target_inputs"] == [-1]
    assert stored["intervals"]["levels"] == list(LEVELS)
    assert (stored["series_count"], stored["series_metrics"]) == (1, None)
    read = read_meta(tmp_path)
    (entry,) = read.series
    assert entry.to_json() == meta.series[0].to_json()  # from series.safetensors
    assert read.to_json(stored["series_sha256"]) == stored
    assert read.weights_sha256 is not None
    assert read.versions["torch"] == torch.__version__
    assert read.roles.inputs == (2, 0)
    loaded = load(tmp_path, CPU)
    assert loaded.covariates == ["temp", "sin"]
    plan = serving.continuing(loaded, [0])  # a forecast given no context continues the tail
    np.testing.assert_array_equal(plan.contexts, meta.series[0].tail[None][..., [2, 0]])


def test_the_bundled_checkpoint_reads_and_writes_back_byte_for_byte(tmp_path: Path) -> None:
    text = (BUNDLED / "meta.json").read_text()
    meta = read_meta(BUNDLED)
    assert (meta.name, meta.job_id, meta.device, meta.rollout_mode) == (
        "sine",
        None,
        "cpu",
        "state",
    )
    assert meta.columns == meta.inputs == meta.targets == ["sin"]
    assert [entry.id for entry in meta.series] == [None]
    assert meta.interval_widths is not None
    assert meta.interval_widths.shape == (len(LEVELS), 200, 1)
    stored = json.loads(text)
    assert meta.to_json(stored["series_sha256"]) == stored
    write_meta(tmp_path, meta)
    assert (tmp_path / "meta.json").read_text() == text
    for name in ("series.safetensors", "series_metrics.jsonl"):
        assert (tmp_path / name).read_bytes() == (BUNDLED / name).read_bytes()


def test_a_format_2_checkpoint_reads_as_it_is_written_now(tmp_path: Path) -> None:
    """The release before kept every series (and their scores) inside meta.json."""
    shutil.copy(BUNDLED / "weights.safetensors", tmp_path)
    shutil.copy(FORMAT_2, tmp_path / "meta.json")
    older, now = load(tmp_path, CPU).meta, read_meta(BUNDLED)
    assert [entry.to_json() for entry in older.series] == [e.to_json() for e in now.series]
    assert older.to_json("") == now.to_json("")
    assert read_record(tmp_path).series_count == 1


def test_a_format_1_checkpoint_of_one_series_reads_as_a_series_list(tmp_path: Path) -> None:
    """The release before kept one series' scaler, tail and time axis at the top level, and its
    intervals on the series' original scale."""
    older: dict[str, Any] = json.loads(FORMAT_1.read_text())
    older["time_axis"] = {"kind": "numbers", "start": 0.0, "freq": 0.01}
    meta = CheckpointMeta.from_json(older)
    (entry,) = meta.series
    assert entry.id is None
    assert entry.scaler == Scaler.from_dict(older["scaler"])
    np.testing.assert_array_equal(entry.tail, np.asarray(older["tail"]))
    assert entry.time_axis == older["time_axis"]
    stored = np.asarray(older["intervals"]["half_widths"])
    assert meta.interval_widths is not None
    np.testing.assert_allclose(meta.interval_widths * entry.scaler.scale[0], stored, rtol=1e-12)
    shutil.copy(BUNDLED / "weights.safetensors", tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps(older))
    assert load(tmp_path, CPU).meta.weights_sha256 == older["weights_sha256"]


def test_a_format_1_checkpoint_of_many_series_keeps_them_and_drops_the_first_series_copy() -> None:
    older: dict[str, Any] = json.loads(FORMAT_1.read_text())
    first = {"id": "a", "scaler": older["scaler"], "tail": older["tail"], "time_axis": None}
    second = first | {"id": "b", "scaler": {"kind": "standard", "center": [5.0], "scale": [2.0]}}
    older["series"] = [first, second]  # intervals: in the model scale already
    meta = CheckpointMeta.from_json(older)
    assert [entry.id for entry in meta.series] == ["a", "b"]
    assert meta.series[1].scaler.center == (5.0,)
    np.testing.assert_array_equal(
        meta.interval_widths,
        np.asarray(older["intervals"]["half_widths"]),  # type: ignore[arg-type]
    )
    assert "scaler" not in meta.to_json("")


def test_bundling_rewrites_the_job_id_and_nothing_else(tmp_path: Path) -> None:
    built = tmp_path / "built"
    shutil.copytree(BUNDLED, built)
    write_meta(built, replace(read_meta(built), job_id="throwaway"))
    _install(built, tmp_path / "sine" / "1")
    installed = tmp_path / "sine" / "1"
    assert (installed / "meta.json").read_text() == (BUNDLED / "meta.json").read_text()
    assert load(installed, CPU).meta.job_id is None


def test_an_older_checkpoint_reads_with_what_it_lacks_defaulted(tmp_path: Path) -> None:
    stored: dict[str, Any] = json.loads(FORMAT_1.read_text())
    # as its model was before patches: one row a step
    stored["config"] |= {"horizon": 1, "patch": 1}
    config = ModelConfig.from_dict(stored["config"])
    write(tmp_path, RecurrentForecaster(config), replace(read_meta(BUNDLED), config=config))
    stored["weights_sha256"] = read_meta(tmp_path).weights_sha256
    for key in ("name", "job_id", "spec", "created_at", "metrics", "device", "inputs"):
        del stored[key]
    for key in ("targets", "intervals", "versions"):
        del stored[key]
    del stored["config"]["patch"], stored["config"]["highway"], stored["config"]["target_inputs"]
    (tmp_path / "meta.json").write_text(json.dumps(stored))
    meta = load(tmp_path, CPU).meta
    assert (meta.name, meta.spec, meta.metrics, meta.interval_widths) == (None, None, None, None)
    assert meta.inputs == meta.targets == ["sin"]
    assert meta.versions == {}
    assert (meta.config.patch, meta.config.highway, meta.config.target_inputs) == (1, False, ())


@pytest.mark.parametrize(
    ("key", "value"),
    [("name", 3), ("spec", "not a dict"), ("metrics", [1]), ("versions", "1.0"), ("inputs", 7)],
)
def test_a_mistyped_entry_is_a_checkpoint_error(key: str, value: object) -> None:
    stored = format_2(covariate_meta()[1])
    CheckpointMeta.from_json(stored)  # as it is: valid
    stored[key] = value
    with pytest.raises(CheckpointError, match="valid model"):
        CheckpointMeta.from_json(stored)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("targets", ["sin"]),  # the config says the target is not an input
        ("inputs", ["temp", "load"]),  # the target among the inputs: target_inputs differ
        ("inputs", ["temp", "nope"]),  # not a column
        ("columns", ["sin", "sin", "temp"]),
    ],
)
def test_roles_that_disagree_with_the_config_are_inconsistent(key: str, value: object) -> None:
    stored = format_2(covariate_meta()[1])
    stored[key] = value
    with pytest.raises(CheckpointError, match="inconsistent"):
        CheckpointMeta.from_json(stored)


def test_write_refuses_a_meta_of_another_config(tmp_path: Path) -> None:
    model, meta = covariate_meta()
    other = replace(meta, config=replace(meta.config, hidden_size=5))
    with pytest.raises(ValueError, match="another model config"):
        write(tmp_path, model, other)


def test_the_rows_kept_before_the_tail_read_back_and_no_forecast_reads_them(
    tmp_path: Path,
) -> None:
    model, meta = covariate_meta()
    (entry,) = meta.series
    past = np.arange(100.0, 115.0).reshape(5, 3)
    write(tmp_path, model, replace(meta, series=[replace(entry, past=past)]))
    loaded = load(tmp_path, CPU)
    (kept,) = loaded.meta.series
    np.testing.assert_array_equal(kept.past, past)
    assert kept.kept_rows == 8
    np.testing.assert_array_equal(kept.history(100), np.concatenate([past, entry.tail]))
    np.testing.assert_array_equal(kept.history(4), np.concatenate([past[-1:], entry.tail]))
    assert kept.history(0).shape == (0, 3)
    plan = serving.continuing(loaded, [0])  # the lookback's rows alone, as before
    np.testing.assert_array_equal(plan.contexts, entry.tail[None][..., [2, 0]])


def test_a_checkpoint_written_before_rows_were_kept_draws_its_tail() -> None:
    stored = json.loads(FORMAT_2.read_text())
    del stored["series"][0]["past"]  # the bundled model as it was written before rows were kept
    (entry,) = CheckpointMeta.from_json(stored).series
    assert entry.past is None
    assert entry.kept_rows == len(entry.tail) == 10
    np.testing.assert_array_equal(entry.history(50), entry.tail)
    assert "past" not in entry.to_json()


def test_rows_kept_before_the_tail_must_have_every_column() -> None:
    stored = format_2(covariate_meta()[1])
    stored["series"][0]["past"] = [[1.0, 2.0]]  # two of three columns
    with pytest.raises(CheckpointError, match="valid model"):
        CheckpointMeta.from_json(stored)


def test_each_series_scores_are_read_a_page_at_a_time_from_either_format(tmp_path: Path) -> None:
    model, meta = covariate_meta()
    rows = [{"id": None, "mae": 0.5, "guards": None}]
    meta = replace(meta, metrics={"best_epoch": 3, "series": rows})
    (tmp_path / "now").mkdir()
    write(tmp_path / "now", model, meta)
    stored = json.loads((tmp_path / "now" / "meta.json").read_text())
    assert "series" not in stored["metrics"]  # beside it, a line a series
    assert stored["series_metrics"] == 1  # the count a page's total is
    assert read_record(tmp_path / "now").series_scored == 1
    assert read_series_metrics(tmp_path / "now") == rows
    assert read_series_metrics(tmp_path / "now", 1, 5) == []
    assert read_meta(tmp_path / "now").metrics == meta.metrics  # loaded whole
    (tmp_path / "older").mkdir()
    (tmp_path / "older" / "meta.json").write_text(json.dumps(format_2(meta)))
    assert read_series_metrics(tmp_path / "older", 0, 1) == rows
    assert read_record(tmp_path / "older").series_scored == 1
