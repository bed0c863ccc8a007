"""Retrain the bundled default model, models/sine/1, through the ordinary job path.

A development tool, but it stays in the package, beside the job path it drives: it is the CLI's
`bundle-default-model` command (`make default-model`), and it needs nothing but the job path
every user runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.jobs.executors.inline import InlineRunner
from app.jobs.repository import open_repositories
from app.jobs.spec import TrainRequest
from app.jobs.submit import submit_training
from app.jobs.table import JobStatus
from app.migrations import upgrade as upgrade_schema
from app.ml.checkpoints import read_meta, write_meta

logger = logging.getLogger(__name__)
# The README's minimal request, trained for the fast state rollout: each LSTM step reads and
# predicts 10 rows (1,000 steps ahead are 100 LSTM steps), and sequence training makes the
# carried state right past the window. Smaller batches and longer patience than the defaults:
# an epoch of sequences is a few dozen steps. On the CPU so that the weights are reproducible.
DEFAULT_REQUEST = {
    "model_name": "sine",
    "data": {"function": "sin"},
    "window": {"lookback": 10, "horizon": 10, "patch": 10},
    "training": {
        "sequence_steps": 20,
        "epochs": 300,
        "batch_size": 16,
        "early_stopping_patience": 30,
        "lr_decay_patience": 10,
    },
    "device": "cpu",
}


def _install(built: Path, target: Path) -> None:
    """Put a copy of `built` at `target` in one rename, so a running server never misses it."""
    staged = target.with_name(f".{target.name}.new")
    shutil.rmtree(staged, ignore_errors=True)
    shutil.copytree(built, staged)
    # Trained by a throwaway job, not one of this store's.
    write_meta(staged, replace(read_meta(staged), job_id=None))
    retired = target.with_name(f".{target.name}.old")
    if target.exists():
        os.rename(target, retired)
    os.rename(staged, target)
    shutil.rmtree(retired, ignore_errors=True)


def bundle_default_model(target: Path = Path("models/sine/1")) -> None:
    """Train `DEFAULT_REQUEST` and install it at `target`."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            models_dir=Path(scratch) / "models",
            datasets_dir=Path(scratch) / "datasets",
            database_url=f"sqlite:///{scratch}/jobs.db",
            device="cpu",
        )
        engine = make_engine(settings.database_url)
        upgrade_schema(engine)
        jobs, datasets = open_repositories(make_session_factory(engine), settings.datasets_dir)
        request = TrainRequest.model_validate(DEFAULT_REQUEST)
        row = submit_training(
            jobs=jobs,
            datasets=datasets,
            runner=InlineRunner(settings, jobs, datasets),
            settings=settings,
            request=request,
        )
        done = jobs.get(row.id)
        engine.dispose()
        if done is None or done.status != JobStatus.SUCCEEDED or done.model_version is None:
            raise RuntimeError(f"training the default model failed: {done and done.error}")
        target.parent.mkdir(parents=True, exist_ok=True)
        _install(settings.models_dir / "sine" / str(done.model_version), target)
        logger.info("installed %s: metrics %s", target, done.metrics)
