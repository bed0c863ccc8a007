"""Checkpoints: safetensors weights plus meta.json, hash-checked, never pickled."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import app.ml
from app.ml import checkpoints, serving
from app.ml.checkpoint_meta import CheckpointError, CheckpointMeta, CheckpointMissing, SeriesMeta
from app.ml.checkpoints import load, read_meta, write
from app.ml.data import Scaler
from app.ml.forecast import forecast
from app.ml.model import ModelConfig, RecurrentForecaster

CPU = torch.device("cpu")
ML_SOURCES = sorted(Path(app.ml.__file__).parent.glob("*.py"))


def model_with_random_head() -> RecurrentForecaster:
    torch.manual_seed(0)
    config = ModelConfig(n_features=2, lookback=5, horizon=2, hidden_size=4, num_layers=2)
    model = RecurrentForecaster(config)
    with torch.no_grad():
        model.head.weight.normal_(0.0, 0.5)
    return model.eval()


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, RecurrentForecaster, Scaler, np.ndarray]:
    model = model_with_random_head()
    scaler = Scaler("standard", (1.5, -2.0), (0.5, 3.0))
    tail = np.arange(10.0).reshape(5, 2)
    directory = tmp_path / "ckpt"
    directory.mkdir()
    meta = CheckpointMeta(
        spec={"name": "x"}, config=model.config, rollout_mode="state", columns=["a", "b"],
        inputs=["a", "b"], targets=["a", "b"], series=[SeriesMeta(None, scaler, tail)],
    )  # fmt: skip
    write(directory, model, meta)
    return directory, model, scaler, tail


def test_written_checkpoint_loads_back_with_identical_predictions(
    saved: tuple[Path, RecurrentForecaster, Scaler, np.ndarray],
) -> None:
    directory, model, scaler, tail = saved
    loaded = load(directory, CPU)
    assert loaded.model.config == model.config
    assert not loaded.model.training
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[key], value), key
    assert loaded.meta.series[0].scaler == scaler
    assert loaded.rollout_mode == "state"
    assert loaded.meta.columns == ["a", "b"]
    np.testing.assert_array_equal(loaded.meta.series[0].tail, tail)
    contexts = np.random.default_rng(0).normal(size=(3, 5, 2))
    for mode in ("window", "state"):
        np.testing.assert_array_equal(
            forecast(loaded.model, (scaler, scaler), contexts, 7, mode, CPU),
            forecast(model, (scaler, scaler), contexts, 7, mode, CPU),
        )
    plan = serving.given(loaded, list(contexts))  # scaled by the one training series' scaler
    np.testing.assert_array_equal(
        serving.forecast(loaded, plan, 7, []).values,
        forecast(model, (scaler, scaler), contexts, 7, "state", CPU),
    )


def test_meta_json_records_config_scaler_hash_versions_and_extra(
    saved: tuple[Path, RecurrentForecaster, Scaler, np.ndarray],
) -> None:
    directory, model, _, _ = saved
    assert sorted(path.name for path in directory.iterdir()) == [
        "meta.json",
        "series.safetensors",
        "series_metrics.jsonl",
        "summary.json",
        "weights.safetensors",
    ]
    meta = json.loads((directory / "meta.json").read_text())
    assert (meta["format_version"], meta["series_count"]) == (3, 1)
    assert meta["config"] == model.config.to_dict()
    (series,) = read_meta(directory).series  # from series.safetensors
    assert series.scaler.to_dict() == {
        "kind": "standard",
        "center": [1.5, -2.0],
        "scale": [0.5, 3.0],
    }
    assert meta["spec"] == {"name": "x"}
    assert len(meta["weights_sha256"]) == 64
    assert meta["versions"]["torch"] == torch.__version__
    assert set(meta["versions"]) == {"app", "torch", "numpy", "safetensors", "python"}


def test_flipped_byte_in_the_weights_fails_the_sha256_check(
    saved: tuple[Path, RecurrentForecaster, Scaler, np.ndarray],
) -> None:
    directory = saved[0]
    weights = directory / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # inside the last tensor's data
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load(directory, CPU)


def test_a_changed_series_file_fails_its_sha256_check(
    saved: tuple[Path, RecurrentForecaster, Scaler, np.ndarray],
) -> None:
    state = saved[0] / "series.safetensors"
    data = bytearray(state.read_bytes())
    data[-3] ^= 0x01  # inside the last array's data
    state.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="series.safetensors does not match the SHA-256"):
        load(saved[0], CPU)
    state.unlink()
    with pytest.raises(CheckpointError, match="series.safetensors is missing"):
        load(saved[0], CPU)


def test_missing_weights_file_raises_checkpoint_error(
    saved: tuple[Path, RecurrentForecaster, Scaler, np.ndarray],
) -> None:
    directory = saved[0]
    (directory / "weights.safetensors").unlink()
    with pytest.raises(CheckpointMissing, match="^weights.safetensors is missing$"):
        load(directory, CPU)


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '{"format_version": 99}'])
def test_malformed_meta_json_raises_checkpoint_error(
    saved: tuple[Path, RecurrentForecaster, Scaler, np.ndarray], text: str
) -> None:
    directory = saved[0]
    (directory / "meta.json").write_text(text)
    with pytest.raises(CheckpointError, match="meta.json"):
        load(directory, CPU)


def test_missing_meta_json_raises_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointMissing, match="^meta.json is missing$"):  # no path in it
        load(tmp_path, CPU)


def test_an_unreadable_file_is_named_without_its_path(tmp_path: Path) -> None:
    (tmp_path / "meta.json").mkdir()  # a folder where the file should be
    with pytest.raises(CheckpointError) as caught:
        load(tmp_path, CPU)
    assert str(caught.value) == "cannot read meta.json: Is a directory"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("config", {"n_features": 2, "lookback": 5, "hidden_size": 8}, "valid model"),
        ("config", "not a dict", "valid model"),
        (
            "series",
            [
                {
                    "id": None,
                    "scaler": {"kind": "log", "center": [0.0], "scale": [1.0]},
                    "tail": [[0.0, 0.0]] * 5,
                }
            ],
            "valid model",
        ),
        (
            "series",
            [
                {
                    "id": None,
                    "scaler": {"kind": "none", "center": [0.0, 0.0], "scale": [1.0, 1.0]},
                    "tail": [1.0, 2.0],
                }
            ],
            "valid model",
        ),
        ("series", [], "valid model"),
        (
            "series",
            [
                {
                    "id": None,
                    "scaler": {"kind": "none", "center": [0.0, 0.0], "scale": [1.0, 1.0]},
                    "tail": [[0.0, 0.0]] * 5,
                }
            ]
            * 2,
            "inconsistent",
        ),  # an unnamed series is the only one
        ("columns", ["only one"], "valid model|inconsistent"),
        ("rollout_mode", "teleport", "inconsistent"),
        ("series_count", 2, "valid model"),  # its series file holds one
        ("series_count", "one", "valid model"),
    ],
)
def test_meta_that_does_not_match_the_weights_raises_checkpoint_error(
    saved: tuple[Path, RecurrentForecaster, Scaler, np.ndarray],
    key: str,
    value: object,
    message: str,
) -> None:
    directory = saved[0]
    meta = json.loads((directory / "meta.json").read_text())
    meta[key] = value
    if key == "series":  # inside meta.json, as format 2 kept them
        meta["format_version"] = 2
    (directory / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message):
        load(directory, CPU)


def test_weights_that_are_not_safetensors_raise_checkpoint_error_even_with_a_matching_hash(
    saved: tuple[Path, RecurrentForecaster, Scaler, np.ndarray],
) -> None:
    # load() promises CheckpointError; safetensors' own SafetensorError must not escape it.
    directory = saved[0]
    garbage = b"not a safetensors file"
    (directory / "weights.safetensors").write_bytes(garbage)
    meta = json.loads((directory / "meta.json").read_text())
    meta["weights_sha256"] = hashlib.sha256(garbage).hexdigest()
    (directory / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError):
        load(directory, CPU)


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


@pytest.mark.parametrize("path", ML_SOURCES, ids=lambda path: path.name)
def test_app_ml_never_calls_torch_load_or_pickle(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    unsafe_modules = {"pickle", "cPickle", "_pickle", "dill", "joblib", "marshal", "shelve"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {alias.name.split(".")[0] for alias in node.names} & unsafe_modules
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in unsafe_modules
            if node.module in ("torch", "torch.serialization"):
                assert not {alias.name for alias in node.names} & {"load", "save"}
        elif isinstance(node, ast.Attribute):
            assert _dotted(node) not in {"torch.load", "torch.save", "torch.serialization"}
            assert "pickle" not in _dotted(node).split(".")


def test_source_scan_covers_the_checkpoint_module() -> None:
    assert Path(checkpoints.__file__) in ML_SOURCES
    text = Path(checkpoints.__file__).read_text()
    assert "from safetensors.torch import load as load_safetensors" in text
    assert "load_safetensors(data)" in text  # weights are parsed by safetensors
    assert "torch.load(" not in text
