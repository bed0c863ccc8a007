"""Plain typed helpers that build test data through the real code paths."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from sqlalchemy import Engine, event

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.datasets import DatasetRepository, DatasetRow
from app.jobs.executors.inline import InlineRunner
from app.jobs.repository import JobRepository, open_repositories
from app.jobs.spec import TrainRequest
from app.jobs.submit import submit_training
from app.jobs.table import JobRow, JobStatus
from app.migrations import upgrade as upgrade_schema
from app.ml.fitted import SeriesScores
from app.ml.guards import guard_record, model_warnings, series_guards

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


class Repositories(NamedTuple):
    """The job and dataset repositories over one test database."""

    jobs: JobRepository
    datasets: DatasetRepository


ROOT = Path(__file__).resolve().parent.parent
# The models the repository ships, file by file: a test's store holds these and nothing a user
# left in models/ (a `sine` v2 their own job trained would change "the latest version").
SHIPPED_MODELS = tuple(
    f"sine/1/{name}"
    for name in ("meta.json", "series.safetensors", "series_metrics.jsonl", "weights.safetensors")
)


def _shipped_store() -> Path:
    """A folder, made once per test process, holding the shipped models alone."""
    store = Path(tempfile.mkdtemp(prefix="shipped-models-"))
    atexit.register(shutil.rmtree, store, ignore_errors=True)
    for name in SHIPPED_MODELS:
        (store / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / "models" / name, store / name)
    return store


BUNDLED_MODELS = _shipped_store()

TINY = {"architecture": {"hidden_size": 8, "num_layers": 1}, "training": {"epochs": 8}}
# Trained once per session: a one-column sine on a coarse grid and a two-column pair.
SESSION_MODELS: list[dict[str, Any]] = [
    {"model_name": "tiny-sine", "data": {"function": "sin", "params": {"points": 600, "stop": 60}}}
    | TINY,
    {
        "model_name": "pair",
        "data": {"function": "sin_cos", "params": {"points": 600, "stop": 60}},
        "window": {"lookback": 6, "horizon": 2},
    }
    | TINY,
]


def make_settings(root: Path, **overrides: Any) -> Settings:
    """Settings isolated under `root`, on CPU, ignoring any FORECAST_* of the environment."""
    values: dict[str, Any] = {
        "models_dir": root / "models",
        "datasets_dir": root / "datasets",
        "database_url": f"sqlite:///{root}/jobs.db",
        "device": "cpu",
        "workers": 0,
        "allowed_hosts": ("testserver",),  # the Host header TestClient sends
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


def inline_repositories(root: Path) -> tuple[Settings, Repositories]:
    """Settings and repositories under `root` for running jobs in-process."""
    settings = make_settings(root)
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    return settings, Repositories(
        *open_repositories(make_session_factory(engine), settings.datasets_dir)
    )


def run_inline(settings: Settings, repos: Repositories, spec: dict[str, Any]) -> JobRow:
    """Submit `spec` and run it to its end in this process; returns the final job row."""
    request = TrainRequest.model_validate(spec)
    row = submit_training(
        jobs=repos.jobs,
        datasets=repos.datasets,
        runner=InlineRunner(settings, repos.jobs, repos.datasets),
        settings=settings,
        request=request,
    )
    final = repos.jobs.get(row.id)
    assert final is not None
    return final


def train_models(root: Path) -> Path:
    """Train SESSION_MODELS under `root`; returns their models directory."""
    settings, repos = inline_repositories(root)
    for spec in SESSION_MODELS:
        final = run_inline(settings, repos, spec)
        assert final.status == JobStatus.SUCCEEDED, final.error
    return settings.models_dir


# Three monthly series of different lengths, starts, levels and spreads: (start, rows, level).
PANEL_SERIES = {
    "north": ("2015-01-01", 96, 500.0),
    "south": ("2017-07-01", 72, 20.0),
    "east": ("2016-03-01", 84, 3_000.0),
}
PANEL_SPEC: dict[str, Any] = {
    "model_name": "stores",
    "window": {"lookback": 12, "horizon": 3},
    "architecture": {"hidden_size": 16, "num_layers": 1},
    # One model in batches of 64, quick and still learning the waves: a request on a dataset
    # is otherwise configured for its frequency's horizon (three models, batches of 256)
    "training": {
        "epochs": 25,
        "validation_fraction": 0.2,
        "test_fraction": 0.2,
        "batch_size": 64,
        "ensemble": 1,
    },
}


def panel_csv() -> str:
    """PANEL_SERIES as a long CSV (unique_id, ds, sales), as pandas writes a long frame: a yearly
    wave with 2% noise around each series' level."""
    rng = np.random.default_rng(0)
    frames = []
    for number, (name, (start, rows, level)) in enumerate(PANEL_SERIES.items()):
        t = np.arange(rows)
        wave = 1 + 0.2 * np.sin(2 * np.pi * t / 12 + number) + rng.normal(0, 0.02, rows)
        values = (level * wave).round(2)
        dates = pd.date_range(start, periods=rows, freq="MS")
        frames.append(pd.DataFrame({"unique_id": name, "ds": dates, "sales": values}))
    return str(pd.concat(frames).to_csv(index=False))


def train_on_panel(root: Path, spec: dict[str, Any], csv: str | None = None) -> JobRow:
    """Upload `csv` (default `panel_csv()`) under `root` through the API, run `spec` on it in
    this process and return the succeeded job's row."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(make_settings(root))) as client:
        files = {"file": ("p.csv", (csv or panel_csv()).encode(), "text/csv")}
        answer = client.post("/v1/datasets", files=files)
        assert answer.status_code == 201, answer.text
    settings, repos = inline_repositories(root)
    final = run_inline(settings, repos, spec | {"data": {"dataset_id": answer.json()["id"]}})
    assert final.status == JobStatus.SUCCEEDED, final.error
    return final


def serve_panel_model(root: Path, spec: dict[str, Any]) -> Iterator[tuple[TestClient, str]]:
    """A test client of a store under `root` holding the model `spec` trained on `panel_csv()`,
    and its job's id: for module fixtures to yield from."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    final = train_on_panel(root, spec)
    with TestClient(create_app(make_settings(root))) as client:
        yield client, final.id


def untimed(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """A job's metrics without what two runs of the same job differ in: the seconds things
    took."""
    assert metrics is not None
    members = [{**member, "seconds": None} for member in metrics.get("members", [])]
    return {**metrics, "train_seconds": None, "members": members}


SCORES = {"mse": 0.5, "rmse": 0.7071, "mae": 0.6, "smape": 12.5}


def many_series_metrics(series: int) -> dict[str, Any]:
    """Metrics of a model of `series` series, each series scored and compared with the simple
    forecasts (every third losing to the naive one on test): what a large job stores."""
    model = SCORES | {"mase": 0.9, "mase_seasonal": 0.8}
    ids = [f"store-{n:05d}" for n in range(series)]
    seasonal_and_drift = (SCORES | {"mae": 0.8}, SCORES | {"mae": 0.9})  # naive's MAE: 0.6
    wins, loses = (
        SeriesScores(20, 10.0, SCORES | {"mae": mae}, SCORES, *seasonal_and_drift, SCORES)
        for mae in (0.5, 0.7)
    )
    guards = series_guards(
        {"validation": [wins] * series, "test": [loses if n % 3 else wins for n in range(series)]}
    )
    return {
        "rollout_mode": "window", "epochs_run": 300, "best_epoch": 290,
        "stop_reason": "max_epochs", "train_seconds": 61.5, "series_count": series,
        "series_measured": series, "test_rows": 20 * series, "season_length": 12, "mean": model,
        "naive": SCORES, "seasonal_naive": SCORES | {"mae": 0.8}, "drift": SCORES | {"mae": 0.9},
        "guards": guard_record(guards, ids),
        "warnings": model_warnings([wins] * series, guards, ids, 12),
        "series": [model | {"id": id_, "test_rows": 20, "guards": guard}
                   for id_, guard in zip(ids, guards, strict=True)],
    }  # fmt: skip


def reads_of_jobs() -> tuple[list[str], Any]:
    """Every SELECT on the jobs table from now on, by any engine; and the listener, to remove
    with `sqlalchemy.event.remove(Engine, "before_cursor_execute", listener)`."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM jobs" in statement:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    return seen, record


def store_as_an_earlier_version(datasets: DatasetRepository, row: DatasetRow) -> None:
    """Insert `row` as versions before the dataset files stored one: values (and a panel's
    series index) in the row itself, no files."""
    with datasets._session() as session:  # the repository's own writes all make files
        session.add(row)
