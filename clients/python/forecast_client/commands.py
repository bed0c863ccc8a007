"""The command line's client commands: `train`, `jobs`, `job`, `forecast`, `upload`, `models`.

Run as `forecast-client COMMAND` (this distribution's own script) or as `forecast-service
COMMAND`, whose parser adds them where this package is installed. They speak HTTP to a running
service through the client's classes, which they import only when one of them runs: building
the parser loads no HTTP library (the server's `forecast-service serve` builds it too), and a
client command loads neither torch nor the server's libraries (it starts in a fraction of a
second). The service's address and key come from --url / --api-key or FORECAST_URL /
FORECAST_API_KEY.

Exit codes: 0 success; 1 an error from the service (its message on standard error), or no
service at the address; 2 a usage error (a missing file, a spec that is not JSON, --plot
without matplotlib); 3 a followed job that ended failed or cancelled.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forecast_client import DEFAULT_URL

if TYPE_CHECKING:
    from forecast_client import Client, Job

SERVICE_ERROR, USAGE_ERROR, JOB_UNSUCCESSFUL = 1, 2, 3
Handler = Callable[[argparse.Namespace], int]


def _write(text: str) -> None:
    sys.stdout.write(text + "\n")


def _connect(args: argparse.Namespace) -> Client:
    from forecast_client import Client

    return Client(args.url, args.api_key, retries=args.retries)


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Left-aligned columns, as wide as their widest cell."""
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def _job_line(job: dict[str, Any]) -> list[Any]:
    from forecast_client.progress import progress_text  # the client's libraries: see above

    progress = job.get("progress") or {}
    loss = progress.get("val_loss")
    model = job.get("model")
    produced = f"{model['name']} v{model['version']}" if model else "-"
    return [
        job["id"],
        job["model_name"],
        job["status"],
        progress_text(progress),
        f"{loss:.4g}" if loss is not None else "-",
        produced,
    ]


JOB_HEADER = ["id", "model", "status", "progress", "val_loss", "produced"]


def _report(job: Job, args: argparse.Namespace) -> int:
    """Follow `job` when asked (a progress bar on standard error), then print it."""
    if args.follow:
        job.wait(progress=True, raise_on_failure=False)
    if args.json:
        _write(json.dumps(job.data, indent=2))
    else:
        _write(_table([_job_line(job.data)], JOB_HEADER))
        if job.data.get("error"):
            _write(f"error: {job.data['error']}")
    return JOB_UNSUCCESSFUL if args.follow and job.status != "succeeded" else 0


def _train_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The request: the spec file's, with the flags given on top of it."""
    spec: dict[str, Any] = json.loads(Path(args.spec).read_text()) if args.spec else {}
    if args.model:
        spec["model_name"] = args.model
    if args.dataset:
        spec["data"] = {"dataset_id": args.dataset}
    elif args.function:
        spec["data"] = {"function": args.function}
    if args.horizon is not None:
        spec["forecast_horizon"] = args.horizon
    if args.epochs is not None:
        spec.setdefault("training", {})["epochs"] = args.epochs
    given = set(spec) | ({"data"} if args.file else set())
    missing = [name for name in ("model_name", "data") if name not in given]
    if missing:
        sys.stderr.write(f"train: give {' and '.join(missing)} (in a spec file or by flags)\n")
        raise SystemExit(USAGE_ERROR)
    return spec


def _train(args: argparse.Namespace) -> int:
    client = _connect(args)
    spec = _train_spec(args)
    if args.file:
        spec["data"] = {"dataset_id": client.upload(Path(args.file))["id"]}
    return _report(client.submit(spec), args)


def _job(args: argparse.Namespace) -> int:
    return _report(_connect(args).job(args.job_id), args)


def _jobs(args: argparse.Namespace) -> int:
    jobs = _connect(args).jobs(status=args.status, limit=args.limit)
    _write(
        json.dumps(jobs, indent=2)
        if args.json
        else _table([_job_line(j) for j in jobs], JOB_HEADER)
    )
    return 0


def _models(args: argparse.Namespace) -> int:
    models = _connect(args).models()
    rows = [
        [m["name"], m["latest"], ",".join(map(str, m["versions"])), ",".join(m["columns"])]
        for m in models
    ]
    _write(
        json.dumps(models, indent=2)
        if args.json
        else _table(rows, ["model", "latest", "versions", "columns"])
    )
    return 0


def _upload(args: argparse.Namespace) -> int:
    dataset = _connect(args).upload(
        Path(args.file),
        name=args.name,
        time_column=args.time_column,
        freq=args.freq,
        missing=args.missing,
        id_column=args.id_column,
        layout=args.layout,
    )
    if args.json:
        _write(json.dumps(dataset, indent=2))
        return 0
    time = dataset.get("time") or {}
    series = dataset.get("series_count") or 1
    since = f", {time['freq']} from {time['start']}" if time else ""
    columns = ", ".join(dataset["columns"])
    _write(f"dataset {dataset['id']}: {dataset['length']} rows, {series} series ({columns}){since}")
    return 0


# What --plot asks of the history before the forecast: the most a forecast answers, which the
# service trims to what the model kept (its series' last few seasons).
PLOT_HISTORY_ROWS = 2_000


def _forecast(args: argparse.Namespace) -> int:
    forecast = _connect(args).forecast(
        args.model,
        args.horizon,
        levels=args.levels,
        series=args.series,
        version=args.version,
        history_rows=PLOT_HISTORY_ROWS if args.plot else 0,
    )
    if args.csv:
        forecast.to_csv(args.csv)
    if args.plot:
        try:
            from forecast_client.plots import save_forecast_plot
        except ImportError as missing:  # matplotlib is the `plot` extra
            sys.stderr.write(
                f"error: --plot needs matplotlib ({missing.name} is missing): "
                "pip install matplotlib, or install forecast-client with its `plot` extra\n"
            )
            return USAGE_ERROR
        save_forecast_plot(
            forecast, Path(args.plot), series=args.series[0] if args.series else None
        )
    _write(forecast.to_json(orient="table", indent=2) if args.json else forecast.to_string())
    return 0


def _add_connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("FORECAST_URL", DEFAULT_URL),
        help=f"the service (FORECAST_URL; default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("FORECAST_API_KEY"),
        help="sent as a bearer key (FORECAST_API_KEY)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=4,
        help="retries of a request refused (429, 503) or not connected",
    )
    parser.add_argument("--json", action="store_true", help="print the service's JSON")


def add_client_commands(commands: Any) -> None:
    """Add the client commands to the `forecast-service` subparsers."""
    flags = argparse.ArgumentParser(add_help=False)
    _add_connection_flags(flags)

    def command(name: str, handler: Handler, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, parents=[flags], help=text)
        parser.set_defaults(handler=handler)
        return parser

    train = command("train", _train, "submit a training job (a spec file and/or flags)")
    train.add_argument("spec", nargs="?", help="a JSON training request (see /docs)")
    train.add_argument("--model", help="model_name")
    source = train.add_mutually_exclusive_group()
    source.add_argument("--dataset", help="an uploaded dataset's id")
    source.add_argument("--function", help="a built-in function: sin, cos, sin_cos, x_sin, ...")
    source.add_argument("--file", help="a CSV file to upload and train on")
    train.add_argument("--horizon", type=int, help="forecast_horizon: configures the rest")
    train.add_argument("--epochs", type=int, help="training.epochs")
    train.add_argument("--follow", action="store_true", help="show progress until it ends")

    job = command("job", _job, "show a job")
    job.add_argument("job_id")
    job.add_argument("--follow", action="store_true", help="show progress until it ends")

    jobs = command("jobs", _jobs, "list jobs, newest first")
    jobs.add_argument("--status", choices=["queued", "running", "succeeded", "failed", "cancelled"])
    jobs.add_argument("--limit", type=int, default=20)

    forecast = command("forecast", _forecast, "forecast from a saved model")
    forecast.add_argument("model")
    forecast.add_argument("--horizon", type=int, required=True, help="steps ahead")
    forecast.add_argument("--levels", type=int, nargs="*", default=[], help="e.g. 80 95")
    forecast.add_argument("--series", nargs="*", help="series ids of a many-series model")
    forecast.add_argument("--version", type=int, help="default: the latest")
    forecast.add_argument(
        "--plot", help="write a PNG of the series' last rows and the forecast (1000 x 400 pixels)"
    )
    forecast.add_argument("--csv", help="write the forecast as CSV")

    upload = command("upload", _upload, "upload a CSV file as a dataset")
    upload.add_argument("file")
    for name in ("name", "time-column", "freq", "missing", "id-column", "layout"):
        upload.add_argument(f"--{name}", help="the upload form's field of that name")

    command("models", _models, "list saved models")


def run_client_command(args: argparse.Namespace) -> int:
    """Run the chosen client command; a service error is a message and exit code 1, a file that
    cannot be read or written (or a spec that is not JSON) a message and exit code 2."""
    from forecast_client import ServiceError

    try:
        handler: Handler = args.handler
        return handler(args)
    except ServiceError as error:
        sys.stderr.write(f"error: {error}\n")
        return SERVICE_ERROR
    except (OSError, ValueError) as error:  # a file that cannot be read or written, bad JSON
        sys.stderr.write(f"error: {error}\n")
        return USAGE_ERROR


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `forecast-client` command."""
    parser = argparse.ArgumentParser(
        prog="forecast-client", description="A client of the forecasting service."
    )
    add_client_commands(parser.add_subparsers(dest="command", required=True))
    raise SystemExit(run_client_command(parser.parse_args(argv)))
