"""Retrain the bundled default model, models/sine/1, through the ordinary job path."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from app.config import Settings
from app.db import JobStatus, create_schema, make_engine, make_session_factory
from app.schemas.jobs import TrainRequest
from app.services.training import submit_training
from app.store import Store
from app.worker import InlineRunner

logger = logging.getLogger(__name__)
DEFAULT_REQUEST = {"model_name": "sine", "data": {"function": "sin"}}


def bundle_default_model(target: Path = Path("models/sine/1")) -> None:
    """Train `DEFAULT_REQUEST` (the README's minimal request) and install it at `target`."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            models_dir=Path(scratch) / "models",
            database_url=f"sqlite:///{scratch}/jobs.db",
            device="cpu",
        )
        engine = make_engine(settings.database_url)
        create_schema(engine)
        store = Store(make_session_factory(engine))
        request = TrainRequest.model_validate(DEFAULT_REQUEST)
        row = submit_training(
            store=store, runner=InlineRunner(settings, store), settings=settings, request=request
        )
        done = store.get_job(row.id)
        engine.dispose()
        if done is None or done.status != JobStatus.SUCCEEDED or done.model_version is None:
            raise RuntimeError(f"training the default model failed: {done and done.error}")
        built = settings.models_dir / "sine" / str(done.model_version)
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(built, target)
        logger.info("installed %s: metrics %s", target, done.metrics)
