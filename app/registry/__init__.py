"""The model registry: checkpoints on disk, the loaded-model cache, forecasts and their router.

The public face below is what other domains use; everything else is this package's own.
"""

from app.registry.checkpoint_store import CheckpointStore
from app.registry.metrics_view import MetricsRead

__all__ = ["CheckpointStore", "MetricsRead"]
