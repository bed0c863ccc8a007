"""The client as its own distribution: installed alone from the repository into a fresh virtual
environment, as `pip install './clients/python[plot]'`, it brings neither torch nor anything of
the server (pip's own report says what it installed), and from there its command line and the
README's client tour run against a real server.

Offline: pip reads wheels made from this environment's own installs (tests/wheelhouse.py), as
an index would serve them, and nothing else (`--no-index`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import ROOT, Server
from tests.pictures import png_size
from tests.wheelhouse import wheelhouse

pytestmark = pytest.mark.slow

CLIENT_SOURCE = ROOT / "clients" / "python"
# The server's distribution, its torch, and the libraries only the server uses.
SERVER_SIDE = {"lstm-forecast-service", "torch", "fastapi", "starlette", "uvicorn", "sqlalchemy",
               "celery", "alembic", "pydantic", "safetensors", "psycopg"}  # fmt: skip
CLIENT_LIBRARIES = {"httpx", "pandas", "tenacity", "tqdm", "matplotlib"}


@dataclass(frozen=True)
class FreshInstall:
    """A virtual environment holding the client alone, and pip's report of installing it."""

    root: Path
    report: dict[str, Any]

    def bin(self, name: str) -> str:
        """The path of the environment's program `name`."""
        return str(self.root / "bin" / name)


def clean_environment(**variables: str) -> dict[str, str]:
    """This environment without FORECAST_* and PYTHON* variables (nothing of the checkout on
    sys.path), then `variables`."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FORECAST_", "PYTHON", "VIRTUAL_ENV"))
    }
    return kept | variables


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> FreshInstall:
    """`pip install './clients/python[plot]'` in a new virtual environment, offline."""
    work = tmp_path_factory.mktemp("fresh-client")
    project = tomllib.loads((CLIENT_SOURCE / "pyproject.toml").read_text())
    needs = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["plot"],
        *project["build-system"]["requires"],  # pip builds the client in an isolated env
    ]
    wheels = work / "wheels"
    wheelhouse(needs, wheels)
    source = work / "python"  # the repository's folder, less any local build output
    shutil.copytree(
        CLIENT_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    report = work / "report.json"
    install = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check",
               "install", "--no-index", "--find-links", str(wheels), "--no-compile",
               "--report", str(report), f"{source}[plot]"]  # fmt: skip
    done = subprocess.run(
        install, env=clean_environment(), capture_output=True, text=True, timeout=300, cwd=work
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return FreshInstall(venv, json.loads(report.read_text()))


def test_pip_installs_the_client_without_torch_or_the_server(fresh: FreshInstall) -> None:
    installed = {item["metadata"]["name"].lower() for item in fresh.report["install"]}
    assert "forecast-client" in installed
    assert CLIENT_LIBRARIES <= installed
    assert installed & SERVER_SIDE == set()
    probe = (
        "import importlib.util as u, forecast_client as c; print(u.find_spec('torch'), c.__file__)"
    )
    done = subprocess.run(
        [fresh.bin("python"), "-c", probe], env=clean_environment(),
        capture_output=True, text=True, timeout=60, cwd=fresh.root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    spec, location = done.stdout.split()
    assert spec == "None"
    assert Path(location).is_relative_to(fresh.root)  # the install, not the checkout


def test_the_installed_command_line_talks_to_the_service(
    fresh: FreshInstall, service: Server
) -> None:
    env = clean_environment(FORECAST_URL=str(service.http.base_url))
    done = subprocess.run(
        [fresh.bin("forecast-client"), "models"], env=env,
        capture_output=True, text=True, timeout=120, cwd=fresh.root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == ["model", "latest", "versions", "columns"]


def test_the_client_tour_runs_from_the_fresh_install(
    fresh: FreshInstall, service: Server, tmp_path: Path
) -> None:
    env = clean_environment(FORECAST_URL=str(service.http.base_url))
    done = subprocess.run(
        [fresh.bin("python"), str(ROOT / "examples" / "client_tour.py")], env=env,
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "succeeded ('stores', 1)" in done.stdout
    pictures = tmp_path / "tour-output"  # the default folder, in the working directory
    assert png_size(pictures / "client-forecast.png") == (1000, 400)
    assert png_size(pictures / "client-loss.png") == (1000, 400)
