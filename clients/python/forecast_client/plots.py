"""Pictures of a forecast (history, forecast and shaded intervals) and of a job's loss curves,
drawn with matplotlib on the axes given, or on a new figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from forecast_client.frames import history_frame
from forecast_client.jobs import Job

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
    """The forecast (from Client.forecast) of one column and series after its `history` (by
    default the history the forecast was answered with, see `history_rows`), each interval
    level shaded (widest palest). A forecast without timestamps is placed after the history's
    last index value."""
    rows, chosen = _one_series(forecast, series)
    columns: Sequence[str] = forecast.attrs.get("columns") or [str(rows.columns[0])]
    name = column or columns[0]
    ax = _axes(ax)
    x: Any = rows.index
    if history is None:
        history = _answered_history(forecast, chosen)
    if history is not None:
        past = _history_values(history, name)
        ax.plot(past.index, past.to_numpy(), color="0.25", linewidth=1.0, label="history")
        if rows.index.name == "step" and pd.api.types.is_numeric_dtype(past.index):
            x = past.index[-1] + rows.index.to_numpy()  # steps 1..h continue the history
        if len(past):
            ax.axvline(past.index[-1], color="0.6", linestyle=":", linewidth=1.0)
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
    if isinstance(x, pd.DatetimeIndex):  # dates that stay legible over a few days or decades
        # matplotlib's annotations leave these two constructors untyped
        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    return ax


def _answered_history(forecast: pd.DataFrame, series: str | None) -> pd.DataFrame | None:
    """The history `forecast` was answered with, of `series` for a many-series forecast."""
    history = history_frame(forecast)
    if history is None or series is None:
        return history
    return history.xs(series, level=0) if series in history.index.get_level_values(0) else None


def _models_in_turn(epochs: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The history's rows in order, one per epoch of each model, with `x`: the epochs run so far
    over every model (an ensemble fits its models one after another, each from epoch 1). A row
    without `member`, from before jobs reported per model, is model 1's."""
    frame = pd.DataFrame(list(epochs), columns=["member", "epoch", "train_loss", "val_loss"])
    frame["member"] = frame["member"].fillna(1).astype(int)
    frame = frame.sort_values(["member", "epoch"], kind="stable")
    runs = frame.groupby("member")["epoch"].max()
    before = runs.cumsum() - runs  # epochs run by the models before each one
    return frame.assign(x=frame["epoch"] + frame["member"].map(before))


def _mark_model_start(ax: Axes, member: int, x: float) -> None:
    """Name the model whose epochs start after `x`, a dotted line before every one but the first."""
    if member > 1:
        ax.axvline(x, color="0.6", linestyle=":", linewidth=1.0)
    ax.text(x, 0.98, f" model {member}", transform=ax.get_xaxis_transform(), va="top")


LOSS_CURVES = (("train_loss", "training loss", "C0"), ("val_loss", "validation loss", "C1"))


def _once(labelled: set[str], text: str) -> str:
    """`text` the first time, then a label the legend leaves out: one entry however many models."""
    shown = "_nolegend_" if text in labelled else text
    labelled.add(text)
    return shown


def _plot_model(ax: Axes, rows: pd.DataFrame, labelled: set[str]) -> None:
    """One model's loss curves along its `x`, and its best epoch (least validation loss)."""
    for name, text, color in LOSS_CURVES:
        values = rows.dropna(subset=[name])
        if not values.empty:
            x, y = values["x"].to_numpy(), values[name].to_numpy()
            ax.plot(x, y, marker=".", color=color, label=_once(labelled, text))
    validation = rows.dropna(subset=["val_loss"])
    if not validation.empty:
        best = validation.loc[validation["val_loss"].idxmin(), "x"]
        ax.axvline(best, color="0.5", linestyle="--", label=_once(labelled, "best epoch"))


def plot_history(job: Job | Sequence[dict[str, Any]], *, ax: Axes | None = None) -> Axes:
    """A job's training and validation loss per epoch (log scale), each model's best epoch
    marked; the models of an ensemble one after another along x, each one named."""
    frame = _models_in_turn(job.history if isinstance(job, Job) else job)
    ax = _axes(ax)
    models = list(frame.groupby("member"))
    labelled: set[str] = set()
    for member, rows in models:
        if len(models) > 1:
            _mark_model_start(ax, int(member), float(rows["x"].iloc[0]) - 0.5)
        _plot_model(ax, rows, labelled)
    ax.set_yscale("log")
    ax.set_xlabel("epochs run, model after model" if len(models) > 1 else "epoch")
    ax.set_ylabel("loss (scaled)")
    ax.legend(loc="best")
    return ax


def save_forecast_plot(forecast: pd.DataFrame, path: Path, *, series: str | None = None) -> None:
    """Write plot_forecast's picture of `forecast` to `path` (PNG: 1000 x 400 pixels)."""
    figure = Figure(figsize=FIGSIZE, dpi=DPI)  # not pyplot's: nothing stays open after
    plot_forecast(forecast, series=series, ax=figure.subplots())
    figure.savefig(path, dpi=DPI)
