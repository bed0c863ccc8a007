"""Import boundaries.

app.ml is the pure core: it must import without any web, database or queue library. The domain
packages import one way, jobs -> registry -> datasets -> core -> ml: a package imports its own
modules, any module of core and ml, and only the public face (the package itself, its
`__init__`) of a domain below it; never a domain above it, nor the composition modules
(main, cli, and the operations package, whose readiness asks several domains) that wire
them together.
"""

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
    "app.core",
    "app.datasets",
    "app.registry",
    "app.jobs",
    "app.main",
]
ALLOWED_TOP_LEVEL = {"torch", "numpy", "safetensors", "__future__"}
# The configuration search's sampler; importing it loads none of FORBIDDEN (checked below).
ALLOWED_IN = {"search.py": {"optuna"}}


def python(code: str) -> subprocess.CompletedProcess[str]:
    """`code` run by a fresh interpreter from the repository's root, its output captured."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ML_DIR.parent.parent,
    )


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
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")


def _disallowed_imports(path: Path) -> list[str]:
    allowed = ALLOWED_TOP_LEVEL | ALLOWED_IN.get(path.name, set())
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
            if top in allowed or top in sys.stdlib_module_names:
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


# -- the domains -----------------------------------------------------------------------------

APP_DIR = ML_DIR.parent
# Lower layers first. Migrations are schema plumbing at the core's level (their Alembic env.py,
# run by Alembic alone, registers the domains' tables).
LAYERS = {"ml": 0, "core": 1, "migrations": 1, "datasets": 2, "registry": 3, "jobs": 4}
FOUNDATIONS = {"ml", "core", "migrations"}  # any of their modules may be imported
DOMAIN_MODULES = sorted(
    path
    for package in ("core", "datasets", "registry", "jobs", "migrations")
    for path in (APP_DIR / package).rglob("*.py")
    if path.name != "env.py"
)


def _app_imports(path: Path) -> list[str]:
    """Every `app...` module `path` imports, `from app import x` read as `app.x`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("app.")]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            if node.module == "app":
                found += [f"app.{alias.name}" for alias in node.names]
            elif node.module.startswith("app."):
                found.append(node.module)
    return found


def boundary_violations(package: str, imports: list[str]) -> list[str]:
    """The imports a module of `package` must not make, each with the reason."""
    bad: list[str] = []
    for name in imports:
        parts = name.split(".")
        target = parts[1]
        if target == package or name == "app.__version__":
            continue
        if target not in LAYERS:
            bad.append(f"{name}: a composition module, above every domain")
        elif LAYERS[target] > LAYERS[package] or (
            LAYERS[target] == LAYERS[package] and target not in FOUNDATIONS
        ):
            bad.append(f"{name}: {target} is not below {package}")
        elif target not in FOUNDATIONS and len(parts) > 2:
            bad.append(f"{name}: an internal module of {target}; import app.{target}")
    return bad


def test_every_domain_module_is_found() -> None:
    names = {path.relative_to(APP_DIR).as_posix() for path in DOMAIN_MODULES}
    assert {"jobs/run.py", "datasets/repository.py", "registry/cache.py", "core/db.py"} <= names


@pytest.mark.parametrize(
    "path", DOMAIN_MODULES, ids=lambda path: path.relative_to(APP_DIR).as_posix()
)
def test_domains_import_only_downwards_and_only_public_faces(path: Path) -> None:
    package = path.relative_to(APP_DIR).parts[0]
    assert boundary_violations(package, _app_imports(path)) == []


def test_boundary_check_flags_upward_sideways_and_internal_imports() -> None:
    imports = [
        "app.core.db",  # fine: the core
        "app.ml.model",  # fine: the ml core
        "app.datasets",  # fine: a lower domain's public face
        "app.datasets.values",  # an internal of a lower domain
        "app.jobs.spec",  # upwards
        "app.main",  # composition
        "app.operations.router",  # composition
    ]
    assert boundary_violations("registry", imports) == [
        "app.datasets.values: an internal module of datasets; import app.datasets",
        "app.jobs.spec: jobs is not below registry",
        "app.main: a composition module, above every domain",
        "app.operations.router: a composition module, above every domain",
    ]
    assert boundary_violations("core", ["app.datasets"]) == [
        "app.datasets: datasets is not below core"
    ]


# -- the client ------------------------------------------------------------------------------

CLIENT_DIR = APP_DIR.parent / "clients" / "python" / "forecast_client"  # its own distribution
CLIENT_MODULES = sorted(f"forecast_client.{path.stem}" for path in CLIENT_DIR.glob("*.py"))
SERVER_LIBRARIES = ["torch", "fastapi", "starlette", "sqlalchemy", "celery", "pydantic_settings"]


def blocker(libraries: list[str]) -> str:
    """Python that makes every later import of `libraries` fail, as where they are absent."""
    return (
        "import sys\n"
        "class Blocked:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {libraries!r}:\n"
        "            raise ImportError(f'{name} is blocked', name=name)\n"
        "sys.meta_path.insert(0, Blocked())\n"
    )


BLOCKER = blocker(SERVER_LIBRARIES)


def _is_client(module: str) -> bool:
    return module == "forecast_client" or module.startswith("forecast_client.")


def _imports(path: Path) -> list[str]:
    """Every module `path` imports (absolute imports; `from a import b` read as `a`)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.append(node.module)
    return found


def test_every_client_module_is_found() -> None:
    assert {
        "forecast_client.client",
        "forecast_client.commands",
        "forecast_client.plots",
        "forecast_client.transport",
    } <= set(CLIENT_MODULES)


def test_the_client_imports_without_torch_or_the_servers_libraries() -> None:
    code = BLOCKER + (
        "import importlib\n"
        f"for name in {CLIENT_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "from forecast_client import Client, plot_forecast\n"
        "print('ok')\n"
    )
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok\n"


def test_the_blocker_does_block() -> None:
    done = python(BLOCKER + "import torch")
    assert done.returncode != 0
    assert "torch is blocked" in done.stderr


@pytest.mark.parametrize("path", sorted(CLIENT_DIR.glob("*.py")), ids=lambda path: path.name)
def test_the_client_imports_nothing_of_the_service(path: Path) -> None:
    assert [name for name in _imports(path) if name == "app" or name.startswith("app.")] == []


def test_the_client_check_flags_an_import_of_the_service(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text("import app.ml\nfrom app import cli\nfrom forecast_client import Client\n")
    assert _imports(source) == ["app.ml", "app", "forecast_client"]


SERVER_MODULES = sorted(APP_DIR.rglob("*.py"))
# The command line adds the client commands to its parser where the client is installed.
CLIENT_IMPORTS_ALLOWED = {"client_commands.py": ["forecast_client.commands"]}
# What a server installed without the client lacks (pandas is a server dependency too).
CLIENT_LIBRARIES = ["forecast_client", "httpx", "tenacity", "tqdm", "matplotlib"]


@pytest.mark.parametrize(
    "path", SERVER_MODULES, ids=lambda path: path.relative_to(APP_DIR).as_posix()
)
def test_the_service_never_imports_the_client(path: Path) -> None:
    allowed = CLIENT_IMPORTS_ALLOWED.get(path.relative_to(APP_DIR).as_posix(), [])
    assert [name for name in _imports(path) if _is_client(name) and name not in allowed] == []


def test_the_server_and_its_command_line_run_without_the_client() -> None:
    code = blocker(CLIENT_LIBRARIES) + (
        "from app.cli import main\n"
        "from app.core.config import Settings\n"
        "from app.main import create_app\n"
        "create_app(Settings()).openapi()\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "print('ok')\n"
    )
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("ok\n")
    assert "models" in done.stdout  # the client commands are named, with what they need


def test_the_server_loads_only_the_clients_command_module() -> None:
    code = (
        "import sys\n"
        "from app.cli import main\n"
        "from app.core.config import Settings\n"
        "from app.main import create_app\n"
        "create_app(Settings()).openapi()\n"
        "try:\n"
        "    main(['models', '--help'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        "client = sorted(name for name in sys.modules if name.startswith('forecast_client'))\n"
        "assert client == ['forecast_client', 'forecast_client.commands'], client\n"
        "print('ok')\n"
    )
    done = python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("ok\n")
