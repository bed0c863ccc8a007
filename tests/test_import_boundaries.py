"""app.ml is the pure core: it must import without any web, database or queue library."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import app.ml

ML_DIR = Path(app.ml.__file__).parent
ML_MODULES = sorted(f"app.ml.{info.name}" for info in pkgutil.iter_modules([str(ML_DIR)]))
FORBIDDEN = [
    "fastapi",
    "starlette",
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "celery",
    "app.api",
    "app.services",
    "app.store",
    "app.db",
    "app.worker",
    "app.config",
]
ALLOWED_TOP_LEVEL = {"torch", "numpy", "safetensors", "__future__"}


def test_every_core_module_is_found() -> None:
    assert {"app.ml.functions", "app.ml.train", "app.ml.checkpoints"} <= set(ML_MODULES)


def test_importing_app_ml_loads_no_web_database_or_queue_module() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {ML_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(name for name in {FORBIDDEN!r} if name in sys.modules)\n"
        "assert not loaded, loaded\n"
        "print('ok', len(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ML_DIR.parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def _disallowed_imports(path: Path) -> list[str]:
    bad: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                bad.append(f"relative import from {node.module!r}")
                continue
            module = node.module or ""
            if module == "app":
                bad += [f"from app import {a.name}" for a in node.names if a.name != "__version__"]
                continue
            names = [module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in ALLOWED_TOP_LEVEL or top in sys.stdlib_module_names:
                continue
            if name.startswith("app.ml.") or name == "app.ml":
                continue
            bad.append(name)
    return bad


@pytest.mark.parametrize("path", sorted(ML_DIR.glob("*.py")), ids=lambda path: path.name)
def test_core_module_imports_only_torch_numpy_safetensors_stdlib_and_app_ml(path: Path) -> None:
    assert _disallowed_imports(path) == []


def test_import_check_flags_a_web_import(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text(
        "import os\nimport fastapi\nfrom app.core.config import Settings\n"
        "from app import __version__\n"
        "from app import config\nfrom sqlalchemy.orm import Session\n"
    )
    assert _disallowed_imports(source) == [
        "fastapi",
        "app.core.config",
        "from app import config",
        "sqlalchemy.orm",
    ]
