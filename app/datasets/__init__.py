"""Datasets: uploaded series, one or many (CSV or JSON), their table, limits, repository
and router.

The public face below is what other domains use; everything else is this package's own.
"""

from app.datasets.deps import DatasetsDep
from app.datasets.files import DatasetFiles
from app.datasets.frequency import conventional_horizon, season_length
from app.datasets.panel import canonical_series_id
from app.datasets.parsed import SeriesPart
from app.datasets.repository import DatasetRepository, InUse
from app.datasets.service import LoadedSeries, create_dataset, load_values
from app.datasets.table import DatasetRow
from app.datasets.time_axis import TimeAxis, from_storage
from app.datasets.values import Limits, bounded_columns, bounded_rows, to_matrix

__all__ = [
    "DatasetFiles",
    "DatasetRepository",
    "DatasetRow",
    "DatasetsDep",
    "InUse",
    "Limits",
    "LoadedSeries",
    "SeriesPart",
    "TimeAxis",
    "bounded_columns",
    "bounded_rows",
    "canonical_series_id",
    "create_dataset",
    "from_storage",
    "load_values",
    "conventional_horizon",
    "season_length",
    "to_matrix",
]
