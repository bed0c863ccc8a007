"""What the registry lists: every model, and each version's metadata, metrics and spec."""

from __future__ import annotations

from app.core.errors import NotFound
from app.ml.checkpoint_meta import CheckpointError
from app.ml.checkpoints import WEIGHTS_FILE, read_meta
from app.registry.checkpoint_store import CheckpointStore
from app.registry.schemas import ModelList, ModelRead, ModelSummary, VersionRead


def _version_read(
    checkpoints: CheckpointStore, name: str, version: int, loaded_on: str | None
) -> VersionRead:
    folder = checkpoints.version_dir(name, version)
    try:
        size = (folder / WEIGHTS_FILE).stat().st_size
    except OSError:
        size = 0
    try:
        meta = read_meta(folder)
    except CheckpointError as exc:
        return VersionRead(version=version, readable=False, error=str(exc), size_bytes=size)
    return VersionRead(
        version=version,
        created_at=meta.created_at,
        job_id=meta.job_id,
        columns=meta.columns,
        lookback=meta.config.lookback,
        horizon=meta.config.horizon,
        rollout_mode=meta.rollout_mode,
        metrics=meta.metrics,
        spec=meta.spec,
        weights_sha256=meta.weights_sha256,
        size_bytes=size,
        loaded_on=loaded_on,
    )


def describe_model(
    *, checkpoints: CheckpointStore, name: str, loaded: dict[tuple[str, int], str]
) -> ModelRead:
    """Every version of a model with its metrics and spec, and where it is loaded."""
    with checkpoints.unchanging(name):  # no version is published or deleted meanwhile
        versions = checkpoints.versions(name)
        if not versions:
            raise NotFound(f"no model named {name!r}", field="model_name")
        items = [_version_read(checkpoints, name, v, loaded.get((name, v))) for v in versions]
    return ModelRead(name=name, latest=versions[-1], versions=items)


def list_models(*, checkpoints: CheckpointStore) -> ModelList:
    """Every model with its versions and the columns of its latest."""
    items = []
    for name in checkpoints.all_versions():
        with checkpoints.unchanging(name):  # the versions as they are, none half gone
            versions = checkpoints.versions(name)
            if not versions:
                continue  # deleted since the folder was listed
            try:
                columns = checkpoints.columns(name, versions[-1])
            except NotFound:
                columns = []
        items.append(
            ModelSummary(name=name, latest=versions[-1], versions=versions, columns=columns)
        )
    return ModelList(items=items)
