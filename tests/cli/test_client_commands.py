"""The client commands of `forecast-service` run as a user runs them, against a real server:
exit codes, --follow's progress, --plot's picture, --csv, no torch loaded, and what a server
installed without the client says."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from app.client_commands import NAMES
from tests.e2e.server import COMMAND, ROOT, Server, free_port
from tests.pictures import png_size
from tests.test_import_boundaries import blocker
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

SPEC = {
    "model_name": "cli-sine",
    "data": {"function": "sin", "params": {"points": 2000, "stop": 200.0}},
    "training": {"epochs": 50, "early_stopping_patience": 0},
}
ENSEMBLE_SPEC = {
    "model_name": "cli-ensemble",
    "data": {"function": "sin", "params": {"points": 400}},
    "training": {"epochs": 3, "ensemble": 2, "early_stopping_patience": 0},
}
# The smallest network: what these tests check is the command line, not the fit.
TINY_ARCHITECTURE = {"hidden_size": 4, "num_layers": 1}
# Many epochs of a short series: an epoch is reported at once, and the job runs on until cancelled.
LONG_SPEC = {
    "model_name": "cli-long",
    "data": {"function": "sin", "params": {"points": 400}},
    "architecture": TINY_ARCHITECTURE,
    "training": {"epochs": 5000, "early_stopping_patience": 0},
}
# Laid under the flags of a `forecast_horizon` request: one model of one epoch, not an ensemble
# of models trained for a thousand steps each.
TINY_HORIZON_SPEC = {"architecture": TINY_ARCHITECTURE, "training": {"epochs": 1, "ensemble": 1}}


def environment(url: str) -> dict[str, str]:
    """This environment, the service's address in FORECAST_URL, no key."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("FORECAST_")}
    return env | {"FORECAST_URL": url}


def run(service: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """`forecast-service ARGS` to completion."""
    return subprocess.run(
        [COMMAND, *args],
        env=environment(str(service.http.base_url)),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_train_from_a_spec_file_follow_then_forecast_to_a_plot_and_csv(
    service: Server, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC))

    trained = run(service, "train", str(spec), "--epochs", "3", "--follow")

    assert trained.returncode == 0, trained.stderr
    assert "3/3" in trained.stderr  # the progress bar reached the last epoch
    assert "succeeded" in trained.stderr
    assert "cli-sine v1" in trained.stdout
    assert "succeeded" in trained.stdout

    picture, table = tmp_path / "forecast.png", tmp_path / "forecast.csv"
    forecast = run(service, "forecast", "cli-sine", "--horizon", "7", "--levels", "80",
                   "--plot", str(picture), "--csv", str(table))  # fmt: skip

    assert forecast.returncode == 0, forecast.stderr
    assert png_size(picture) == (1000, 400)
    written = pd.read_csv(table, index_col=0)
    assert list(written.columns) == ["sin", "sin_lo_80", "sin_hi_80"]
    assert list(written.index) == [1, 2, 3, 4, 5, 6, 7]
    assert "sin_hi_80" in forecast.stdout

    listed = run(service, "models")
    assert listed.returncode == 0
    assert any(line.split()[:2] == ["cli-sine", "1"] for line in listed.stdout.splitlines())


def test_an_ensemble_job_names_the_model_it_fits(service: Server, tmp_path: Path) -> None:
    spec = tmp_path / "ensemble.json"
    spec.write_text(json.dumps(ENSEMBLE_SPEC))

    trained = run(service, "train", str(spec), "--follow")

    assert trained.returncode == 0, trained.stderr
    bar = trained.stderr.split("\r")[-1]
    assert " · model 2 of 2:" in bar
    assert "6/6" in bar  # both models' epochs
    header, line = trained.stdout.splitlines()[:2]
    assert header.split()[:4] == ["id", "model", "status", "progress"]
    assert "succeeded  model 2 of 2 · epoch 3 / 3" in line
    job_id = line.split()[0]
    for command in (["jobs"], ["job", job_id]):
        shown = run(service, *command)
        assert shown.returncode == 0, shown.stderr
        assert any(
            row.startswith(job_id) and "model 2 of 2 · epoch 3 / 3" in row
            for row in shown.stdout.splitlines()
        ), shown.stdout


def test_upload_a_file_then_list_and_show_jobs(service: Server, tmp_path: Path) -> None:
    uploaded = run(service, "upload", "examples/stores.csv", "--name", "stores")
    assert uploaded.returncode == 0, uploaded.stderr
    assert "3 series" in uploaded.stdout

    dataset_id = uploaded.stdout.split()[1].rstrip(":")
    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps(TINY_HORIZON_SPEC))
    queued = run(service, "train", str(spec), "--model", "cli-stores", "--dataset", dataset_id,
                 "--horizon", "3", "--json")  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    job_id = json.loads(queued.stdout)["id"]

    listed = run(service, "jobs")
    assert listed.returncode == 0
    assert job_id in listed.stdout
    shown = run(service, "job", job_id, "--json")
    assert shown.returncode == 0
    stored = json.loads(shown.stdout)["spec"]
    assert stored["data"] == {"dataset_id": dataset_id}
    assert (stored["forecast_horizon"], stored["training"]["epochs"]) == (3, 1)  # flags on the file
    assert service.wait_for(job_id, {"succeeded", "failed"})["status"] == "succeeded"


def test_service_errors_exit_1_with_the_services_message(service: Server) -> None:
    missing = run(service, "forecast", "no-such-model", "--horizon", "3")
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: not_found: ")
    assert "no-such-model" in missing.stderr

    invalid = run(service, "train", "--model", "x", "--function", "sin", "--epochs", "0")
    assert invalid.returncode == 1
    assert "training.epochs" in invalid.stderr

    unreachable = subprocess.run(
        [COMMAND, "models", "--url", f"http://127.0.0.1:{free_port()}", "--retries", "0"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert unreachable.returncode == 1
    assert "connection_failed" in unreachable.stderr


def test_usage_errors_exit_2(service: Server, tmp_path: Path) -> None:
    assert run(service, "train", "--function", "sin").returncode == 2  # no model name
    assert run(service, "forecast", "cli-sine").returncode == 2  # no --horizon
    absent = run(service, "upload", str(tmp_path / "absent.csv"))
    assert absent.returncode == 2
    assert absent.stderr.startswith("error: ")
    assert "absent.csv" in absent.stderr
    (tmp_path / "spec.json").write_text("{not json")
    assert run(service, "train", str(tmp_path / "spec.json")).returncode == 2


def test_a_followed_job_that_is_cancelled_exits_3(service: Server, tmp_path: Path) -> None:
    spec = tmp_path / "long.json"
    spec.write_text(json.dumps(LONG_SPEC))
    follower = subprocess.Popen(
        [COMMAND, "train", str(spec), "--follow", "--json"],
        env=environment(str(service.http.base_url)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        running = wait_until(
            lambda: [
                job
                for job in service.http.get("/v1/jobs", params={"status": "running"}).json()[
                    "items"
                ]
                if job["model_name"] == "cli-long" and job["progress"]
            ],
            message="the followed job to report an epoch",
        )
        assert service.http.post(f"/v1/jobs/{running[0]['id']}/cancel").status_code == 202

        out, err = follower.communicate(timeout=120)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 3, err
    assert json.loads(out)["status"] == "cancelled"


def test_client_commands_load_no_torch_nor_server_library(service: Server) -> None:
    url = str(service.http.base_url)
    for entry in ("from app.cli import main", "from forecast_client.commands import main"):
        code = blocker(["torch", "fastapi", "starlette", "sqlalchemy", "celery", "uvicorn"]) + (
            f"{entry}\n"
            "try:\n"
            f"    main(['models', '--url', {url!r}])\n"
            "except SystemExit as done:\n"
            "    assert done.code == 0, done.code\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
        )
        assert done.returncode == 0, (entry, done.stderr)
        assert done.stdout.splitlines()[0].split() == ["model", "latest", "versions", "columns"]


def without_the_client(*argv: str) -> subprocess.CompletedProcess[str]:
    """`forecast-service ARGV` where the forecast-client distribution cannot be imported."""
    code = blocker(["forecast_client"]) + (
        "from app.cli import main\n"
        "try:\n"
        f"    main({list(argv)!r})\n"
        "except SystemExit as done:\n"
        "    raise SystemExit(done.code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "--url", "http://127.0.0.1:9"],
        ["forecast", "sine", "--horizon", "3", "--plot", "sine.png"],
        ["train", "--model", "x", "--function", "sin", "--follow"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_server_installed_without_the_client_says_what_to_install(argv: list[str]) -> None:
    done = without_the_client(*argv)
    assert done.returncode == 2, done.stderr
    assert "forecast-client" in done.stderr
    assert "pip install ./clients/python" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_server_without_the_client_names_the_client_commands_in_its_help() -> None:
    listed = without_the_client("--help")
    assert listed.returncode == 0, listed.stderr
    assert "models" in listed.stdout
    assert "needs forecast-client" in listed.stdout
    helped = without_the_client("models", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "pip install ./clients/python" in helped.stdout
    assert without_the_client("serve", "--no-such-flag").returncode == 2  # still checked


def test_the_stand_ins_are_the_clients_commands() -> None:
    from forecast_client.commands import add_client_commands

    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    add_client_commands(commands)
    assert sorted(commands.choices) == sorted(NAMES)


def test_plot_without_matplotlib_says_what_to_install(service: Server, tmp_path: Path) -> None:
    trained = run(service, "train", "--model", "cli-noplot", "--function", "sin",
                  "--epochs", "1", "--follow")  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    picture = tmp_path / "forecast.png"
    argv = ["forecast", "cli-noplot", "--horizon", "3", "--plot", str(picture)]
    code = blocker(["matplotlib"]) + (
        "from app.cli import main\n"
        "try:\n"
        f"    main({[*argv, '--url', str(service.http.base_url)]!r})\n"
        "except SystemExit as done:\n"
        "    raise SystemExit(done.code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 2, done.stderr
    assert "--plot needs matplotlib" in done.stderr
    assert "Traceback" not in done.stderr
    assert not picture.exists()
