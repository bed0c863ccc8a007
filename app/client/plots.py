"""Pictures of a forecast (history, forecast and shaded intervals) and of a job's loss curves,
drawn with matplotlib on the axes given, or on a new figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from app.client.jobs import Job

FIGSIZE = (10.0, 4.0)  # inches; at DPI a saved PNG is 1000 x 400 pixels
DPI = 100


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    return new


def _one_series(forecast: pd.DataFrame, series: str | None) -> tuple[pd.DataFrame, str | None]:
    """The rows of one series of a many-series forecast (the first unless named)."""
    if not isinstance(forecast.index, pd.MultiIndex):
        return forecast, None
    chosen = series if series is not None else str(forecast.index.get_level_values(0)[0])
    return forecast.xs(chosen, level=0), chosen


def _history_values(history: pd.Series | pd.DataFrame, column: str) -> pd.Series:
    if isinstance(history, pd.DataFrame):
        return history[column] if column in history.columns else history.iloc[:, 0]
    return history


def plot_forecast(
    forecast: pd.DataFrame,
    history: pd.Series | pd.DataFrame | None = None,
    *,
    column: str | None = None,
    series: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """The forecast (from Client.forecast) of one column and series after its `history`, each
    interval level shaded (widest palest). A forecast without timestamps is placed after the
    history's last index value."""
    rows, chosen = _one_series(forecast, series)
    columns: Sequence[str] = forecast.attrs.get("columns") or [str(rows.columns[0])]
    name = column or columns[0]
    ax = _axes(ax)
    x: Any = rows.index
    if history is not None:
        past = _history_values(history, name)
        ax.plot(past.index, past.to_numpy(), color="0.25", linewidth=1.0, label="history")
        if rows.index.name == "step" and pd.api.types.is_numeric_dtype(past.index):
            x = past.index[-1] + rows.index.to_numpy()  # steps 1..h continue the history
    levels = sorted(forecast.attrs.get("levels") or [], reverse=True)
    for shade, level in enumerate(levels):
        ax.fill_between(
            x,
            rows[f"{name}_lo_{level}"].to_numpy(),
            rows[f"{name}_hi_{level}"].to_numpy(),
            color="tab:blue",
            alpha=0.15 + 0.15 * shade,
            linewidth=0,
            label=f"{level}% interval",
        )
    ax.plot(x, rows[name].to_numpy(), color="tab:blue", linewidth=1.5, label="forecast")
    model = forecast.attrs.get("model")
    default_title = f"{model} v{forecast.attrs.get('version')}" if model else "forecast"
    ax.set_title(title or default_title + (f": {chosen}" if chosen else ""))
    ax.set_ylabel(name)
    ax.legend(loc="best")
    return ax


def plot_history(job: Job | Sequence[dict[str, Any]], *, ax: Axes | None = None) -> Axes:
    """A job's training and validation loss per epoch (log scale), its best epoch marked."""
    epochs = job.history if isinstance(job, Job) else list(job)
    frame = pd.DataFrame(epochs, columns=["epoch", "train_loss", "val_loss"]).set_index("epoch")
    ax = _axes(ax)
    for name, label in (("train_loss", "training"), ("val_loss", "validation")):
        values = frame[name].dropna()
        if not values.empty:
            ax.plot(values.index, values.to_numpy(), marker=".", label=f"{label} loss")
    validation = frame["val_loss"].dropna()
    if not validation.empty:
        ax.axvline(validation.idxmin(), color="0.5", linestyle="--", label="best epoch")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (scaled)")
    ax.legend(loc="best")
    return ax


def save_forecast_plot(forecast: pd.DataFrame, path: Path, *, series: str | None = None) -> None:
    """Write plot_forecast's picture of `forecast` to `path` (PNG: 1000 x 400 pixels)."""
    figure = Figure(figsize=FIGSIZE, dpi=DPI)  # not pyplot's: nothing stays open after
    plot_forecast(forecast, series=series, ax=figure.subplots())
    figure.savefig(path, dpi=DPI)
