"""Where a job's series comes from: a built-in function, an uploaded dataset, inline values."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.core.errors import InvalidInput
from app.datasets import (
    DatasetRepository,
    Limits,
    LoadedSeries,
    create_dataset,
    load_values,
    season_length,
    to_matrix,
)
from app.jobs.spec import DatasetData, DataSource, FunctionData, InlineData
from app.ml.feasibility import SeriesLength
from app.ml.functions import CATALOG, FunctionParamError, generate, resolve_params
from app.ml.prepare import Panel
from app.ml.season import detect_season


def resolve_function(data: FunctionData) -> FunctionData:
    """The same function with every parameter filled in and checked (InvalidInput if not)."""
    try:
        params = resolve_params(data.function, data.params)
    except FunctionParamError as exc:
        raise InvalidInput(exc.message, field=f"data.params.{exc.param}") from None
    return FunctionData(function=data.function, params=params)


def store_inline(
    *, datasets: DatasetRepository, data: InlineData, model_name: str, limits: Limits
) -> DatasetData:
    """Keep inline values as a dataset, so job records and checkpoints carry only its id."""
    matrix, columns = to_matrix(data.values, data.columns, field="data.values", limits=limits)
    row = create_dataset(
        datasets=datasets, name=f"inline data of a {model_name} job", matrix=matrix, columns=columns
    )
    return DatasetData(dataset_id=row.id)


def data_shape(
    *, datasets: DatasetRepository, data: FunctionData | DatasetData
) -> tuple[int, list[str]]:
    """(rows, column names) of a resolved source, without generating or loading the series."""
    if isinstance(data, FunctionData):
        return int(data.params["points"]), list(CATALOG[data.function].columns)
    shape = datasets.columns(data.dataset_id)
    if shape is None:
        raise InvalidInput(f"no dataset {data.dataset_id!r}", field="data.dataset_id")
    return shape


def series_lengths(
    *, datasets: DatasetRepository, data: FunctionData | DatasetData
) -> list[SeriesLength]:
    """(id, rows) of each series of a resolved source, without loading its values; the one
    series of unnamed data (a function, a plain dataset) has no id."""
    rows, _ = data_shape(datasets=datasets, data=data)
    if isinstance(data, FunctionData):
        return [(None, rows)]
    try:
        named = datasets.series_lengths(data.dataset_id)
    except LookupError:  # deleted since its shape was read
        raise InvalidInput(f"no dataset {data.dataset_id!r}", field="data.dataset_id") from None
    return [(None, rows)] if named is None else list(named)


def load_series(*, datasets: DatasetRepository, data: DataSource) -> LoadedSeries:
    """A job's series [rows, columns] float64, its column names and its time axis."""
    if isinstance(data, FunctionData):
        resolved = resolve_function(data)
        columns = list(CATALOG[data.function].columns)
        return LoadedSeries(generate(data.function, resolved.params), columns, None)
    if isinstance(data, DatasetData):
        return load_values(datasets=datasets, dataset_id=data.dataset_id)
    raise InvalidInput("inline values are stored as a dataset at submission", field="data")


def panel_of(loaded: LoadedSeries, season: int) -> Panel:
    """A job's series as the panel `ml` trains on (unnamed data: one series without an id)."""
    if loaded.series is None:
        return Panel.of_series(loaded.values, season)
    return Panel(
        loaded.values,
        tuple(part.rows for part in loaded.series),
        tuple(part.id for part in loaded.series),
        season,
    )


def time_axes(loaded: LoadedSeries) -> list[dict[str, Any] | None]:
    """Each series' time axis as a checkpoint keeps it (None: a series without one)."""
    axes = [loaded.time_axis] if loaded.series is None else [p.time_axis for p in loaded.series]
    return [None if axis is None else axis.to_json() for axis in axes]


def date_frequency(loaded: LoadedSeries) -> str | None:
    """The pandas frequency of a job's date index (its first series'); None: no dates."""
    axis = loaded.series[0].time_axis if loaded.series else loaded.time_axis
    return axis.freq if axis is not None and axis.kind == "dates" else None


def season_of(loaded: LoadedSeries, given: int | None) -> int:
    """The season of a job's series: `given`, else from the frequency of a date index, else
    from the autocorrelation of the (first column of the) series."""
    if given is not None:
        return given
    freq = date_frequency(loaded)
    if freq is not None:
        return season_length(freq)
    bounds = [(0, len(loaded.values))]
    if loaded.series:
        ends = np.cumsum([part.rows for part in loaded.series])
        bounds = list(zip(np.concatenate([[0], ends[:-1]]), ends, strict=True))
    return detect_season([loaded.values[begin:end, 0] for begin, end in bounds])
