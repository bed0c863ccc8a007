"""What the registry lists: every model, and each version's metadata, metrics and spec."""

from __future__ import annotations

from app.core.errors import NotFound
from app.core.schemas import VIEW_SERIES
from app.ml.checkpoint_meta import CheckpointError
from app.ml.checkpoints import WEIGHTS_FILE, read_record, read_series_metrics
from app.registry.cache import CheckpointUnreadable
from app.registry.checkpoint_store import CheckpointStore
from app.registry.metrics_view import SeriesScores
from app.registry.schemas import (
    ModelList,
    ModelRead,
    ModelSummary,
    SeriesScoresPage,
    VersionRead,
)


def _version_read(
    checkpoints: CheckpointStore, name: str, version: int, loaded_on: str | None
) -> VersionRead:
    """A version as its view shows it: its record and its first VIEW_SERIES series' scores,
    read without the rest of its series (a view stays small however many it holds)."""
    folder = checkpoints.version_dir(name, version)
    try:
        size = (folder / WEIGHTS_FILE).stat().st_size
    except OSError:
        size = 0
    try:
        record = read_record(folder)
        metrics = record.metrics
        if metrics is not None:
            first = read_series_metrics(folder, 0, VIEW_SERIES)
            metrics = metrics | {"series": first or None}
    except CheckpointError as exc:
        return VersionRead(version=version, readable=False, error=str(exc), size_bytes=size)
    return VersionRead(
        version=version,
        created_at=record.created_at,
        job_id=record.job_id,
        columns=record.columns,
        lookback=record.config.lookback,
        horizon=record.config.horizon,
        rollout_mode=record.rollout_mode,
        series_count=record.series_count,
        metrics=metrics,
        spec=record.spec,
        weights_sha256=record.weights_sha256,
        size_bytes=size,
        loaded_on=loaded_on,
    )


def series_page(
    *, checkpoints: CheckpointStore, name: str, version: int, limit: int, offset: int
) -> SeriesScoresPage:
    """A page of a version's per-series test scores, in series order."""
    folder = checkpoints.version_dir(name, version)
    with checkpoints.unchanging(name):
        if version not in checkpoints.versions(name):
            raise NotFound(f"model {name!r} has no version {version}", field="version")
        try:
            total = read_record(folder).series_scored
            rows = read_series_metrics(folder, offset, offset + limit)
        except CheckpointError as exc:
            raise CheckpointUnreadable(f"model {name!r} version {version}: {exc}") from exc
    items = [SeriesScores.model_validate(row) for row in rows]
    return SeriesScoresPage(items=items, total=total, limit=limit, offset=offset)


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
