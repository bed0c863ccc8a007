"""Command line: `python -m app serve` (or `forecast-service serve`)."""

from __future__ import annotations

import argparse

from app.config import configure_logging, get_settings


def serve() -> None:
    """Run the API with uvicorn on FORECAST_HOST:FORECAST_PORT."""
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_level)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `forecast-service` command."""
    parser = argparse.ArgumentParser(prog="forecast-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API (settings from FORECAST_* variables)")
    commands.add_parser("bundle-default-model", help="retrain the bundled models/sine/1")
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve()
    else:
        from app.bundled import bundle_default_model

        configure_logging("INFO")
        bundle_default_model()
