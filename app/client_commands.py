"""The client commands on `forecast-service`'s command line (`train`, `jobs`, `job`,
`forecast`, `upload`, `models`): the forecast-client distribution's where it is installed,
else the same names, each saying what to install.

The server does not depend on the client (its own distribution in clients/python, which an
index could not resolve as a dependency of this one): `make` and the Docker image install both.
Only this module of the server imports the client, and only its command module, which loads no
HTTP library until a command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

NAMES = ("train", "job", "jobs", "forecast", "upload", "models")  # forecast_client.commands'
USAGE_ERROR = 2
INSTALL_HINT = (
    "the client commands need the forecast-client package, which is not installed: "
    "pip install ./clients/python (from the service's repository)"
)


def client_installed() -> bool:
    """Whether the forecast-client distribution can be imported."""
    try:
        import forecast_client.commands  # noqa: F401
    except ImportError:
        return False
    return True


def add_client_commands(commands: Any) -> None:
    """Add the client commands to the `forecast-service` subparsers: the real ones, or where
    the client is not installed, stand-ins that take any arguments and say what to install."""
    if client_installed():
        from forecast_client.commands import add_client_commands as add_real

        add_real(commands)
        return
    for name in NAMES:
        stand_in: argparse.ArgumentParser = commands.add_parser(
            name, help="a client command (needs forecast-client)", description=INSTALL_HINT
        )
        stand_in.set_defaults(client_missing=True)


def run_client_command(args: argparse.Namespace) -> int:
    """Run the chosen client command (its exit code); 2 with what to install where the client
    is missing."""
    if client_missing(args):
        sys.stderr.write(f"error: {INSTALL_HINT}\n")
        return USAGE_ERROR
    from forecast_client.commands import run_client_command as run_real

    return run_real(args)


def client_missing(args: argparse.Namespace) -> bool:
    """Whether the parsed command is the stand-in of a client command."""
    return bool(getattr(args, "client_missing", False))


def is_client_command(args: argparse.Namespace) -> bool:
    """Whether the parsed command is a client command, or its stand-in."""
    return hasattr(args, "handler") or client_missing(args)
