"""The Python client against a real server: upload, train, wait, forecast and plot; many
series; the service's errors as typed exceptions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from forecast_client import (
    Client,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    history_frame,
    plot_forecast,
    plot_history,
)
from tests.client.data import TINY_TRAINING, WINDOW, monthly
from tests.e2e.server import Server
from tests.pictures import png_size
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def client(service: Server) -> Iterator[Client]:
    with Client(str(service.http.base_url)) as connected:
        yield connected


def events_requests(service: Server) -> float:
    """Event streams the server has answered with 200, from its /metrics."""
    samples = re.findall(
        r"^forecast_http_requests_total\{(.*)\} (\S+)$", service.http.get("/metrics").text, re.M
    )
    route = 'route="/v1/jobs/{job_id}/events"'
    return sum(float(v) for labels, v in samples if route in labels and 'status="200"' in labels)


def test_upload_train_wait_forecast_and_plot_one_series(
    client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sales = monthly(96)
    dataset = client.upload(sales, name="sales")
    assert dataset["columns"] == ["sales"]
    assert dataset["length"] == 96
    assert dataset["time"]["freq"] == "MS"

    job = client.train("client-sales", dataset, window=WINDOW, training=TINY_TRAINING)
    assert job.status in ("queued", "running")
    job.wait()

    assert job.status == "succeeded"
    assert job.model == ("client-sales", 1)
    assert [epoch["epoch"] for epoch in job.history] == [1, 2, 3, 4]
    shown = capsys.readouterr().err
    assert "4/4" in shown
    assert "succeeded" in shown

    forecast = client.forecast("client-sales", horizon=6, levels=[80, 95])
    assert list(forecast.columns) == [
        "sales", "sales_lo_80", "sales_hi_80", "sales_lo_95", "sales_hi_95",
    ]  # fmt: skip
    expected = pd.date_range(sales.index[-1], periods=7, freq="MS")[1:]
    assert list(forecast.index) == list(expected)
    assert (forecast["sales_lo_95"] <= forecast["sales_lo_80"]).all()
    assert (forecast["sales_lo_80"] <= forecast["sales"]).all()
    assert (forecast["sales"] <= forecast["sales_hi_80"]).all()

    picture = tmp_path / "forecast.png"
    plot_forecast(forecast, sales).figure.savefig(picture)
    assert png_size(picture) == (1000, 400)
    curves = plot_history(job)
    assert [line.get_label() for line in curves.get_lines()][:2] == [
        "training loss",
        "validation loss",
    ]
    assert list(curves.get_lines()[0].get_xdata()) == [1, 2, 3, 4]


def test_an_ensemble_shows_its_models_one_after_another(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    training = TINY_TRAINING | {"epochs": 3, "ensemble": 2}
    job = client.train(
        "client-ensemble", {"function": "sin", "params": {"points": 400}}, training=training
    ).wait()

    assert [(row["member"], row["epoch"]) for row in job.history] == [
        (1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3),
    ]  # fmt: skip
    bar = capsys.readouterr().err.split("\r")[-1]
    assert " · model 2 of 2:" in bar
    assert "6/6" in bar  # both models' epochs
    curves = plot_history(job)
    training_curves = [line for line in curves.get_lines() if line.get_color() == "C0"]
    assert [list(line.get_xdata()) for line in training_curves] == [[1, 2, 3], [4, 5, 6]]
    assert [text.get_text().strip() for text in curves.texts] == ["model 1", "model 2"]


def test_many_series_from_a_dict_and_a_long_frame(client: Client) -> None:
    panel = {
        "north": monthly(60, "2015-01-01", 500.0),
        "south": monthly(48, "2017-01-01", 20.0),
        "east": monthly(40, "2016-03-01", 3000.0),
    }
    from_dict = client.upload(panel)
    long = pd.concat(
        [
            s.rename("sales").rename_axis("ds").reset_index().assign(unique_id=k)
            for k, s in panel.items()
        ]
    )
    from_frame = client.upload(long)
    for dataset in (from_dict, from_frame):
        assert dataset["series_count"] == 3
        assert [(s["id"], s["length"]) for s in dataset["series"]] == [
            ("north", 60), ("south", 48), ("east", 40),
        ]  # fmt: skip

    client.train("client-panel", from_dict["id"], window=WINDOW, training=TINY_TRAINING).wait(
        progress=False
    )
    forecast = client.forecast(
        "client-panel", horizon=3, series=["south", "east"], levels=[90], history_rows=12
    )

    assert forecast.index.names == ["series", "time"]
    assert list(forecast.index.get_level_values("series").unique()) == ["south", "east"]
    for name in ("south", "east"):
        after = pd.date_range(panel[name].index[-1], periods=4, freq="MS")[1:]
        assert list(forecast.loc[name].index) == list(after)
    assert {"sales", "sales_lo_90", "sales_hi_90"} == set(forecast.columns)
    history = history_frame(forecast)
    assert history is not None
    for name in ("south", "east"):  # each series' own last rows, on its own dates
        assert history.loc[name]["sales"].tolist() == pytest.approx(panel[name].iloc[-12:].tolist())
        assert list(history.loc[name].index) == list(panel[name].index[-12:])
    assert plot_forecast(forecast, panel["east"], series="east").get_title().endswith(": east")
    drawn = {line.get_label(): line for line in plot_forecast(forecast, series="east").get_lines()}
    assert list(drawn["history"].get_ydata()) == pytest.approx(panel["east"].iloc[-12:].tolist())


def test_job_wait_reads_the_event_stream(client: Client, service: Server) -> None:
    before = events_requests(service)
    job = client.train(
        "client-stream", {"function": "sin", "params": {"points": 2000, "stop": 200.0}},
        training=TINY_TRAINING,
    ).wait(progress=False)  # fmt: skip
    assert job.status == "succeeded"
    wait_until(lambda: events_requests(service) > before, message="a 200 from the event stream")


def requests_of(client: Client) -> list[httpx.Request]:
    """Every request the client sends from now on."""
    sent: list[httpx.Request] = []
    client.transport.http.event_hooks["request"].append(sent.append)
    return sent


LONGER_JOB = {"function": "sin", "params": {"points": 2000, "stop": 200.0}}


def test_a_job_followed_midway_reads_its_history_once_then_takes_the_new_epochs(
    client: Client, service: Server
) -> None:
    job = client.train(
        "client-midway", LONGER_JOB, training={"epochs": 12, "early_stopping_patience": 0}
    )
    service.wait_for_epoch(job.id, epoch=3)  # the job is ahead of the view `job` holds
    sent = requests_of(client)

    job.wait(progress=False)
    sent = list(sent)

    final = client.job(job.id)
    assert job.history == final.history
    assert len(job.history) == 12
    assert job.data["history_length"] == 12
    assert job.metrics == final.metrics  # each series' scores too, read once at the end
    paths = [(r.url.path.removeprefix(f"/v1/jobs/{job.id}"), r.url.params) for r in sent]
    assert [path for path, _ in paths] == ["/events", "/history", ""]  # no whole view read
    assert paths[1][1]["offset"] == "0"  # the epochs before the stream's first event, once
    assert paths[2][1]["history"] == "false"  # the finished job's metrics, once


def test_without_a_stream_the_client_polls_and_reads_each_epoch_once(tmp_path: Path) -> None:
    server = Server(tmp_path, max_event_streams=1).start()
    try:
        with Client(str(server.http.base_url), retries=0) as polling:
            job = polling.train("client-polled", LONGER_JOB, training=TINY_TRAINING)
            with server.http.stream("GET", f"/v1/jobs/{job.id}/events") as held:
                assert held.status_code == 200  # the one stream the server serves
                sent = requests_of(polling)
                job.wait(progress=False, poll_seconds=0.2)
                sent = list(sent)
            final = polling.job(job.id)
    finally:
        server.stop()
    assert job.status == "succeeded"
    assert job.history == final.history
    assert len(job.history) == 4
    assert job.metrics == final.metrics
    paths = [(r.url.path.removeprefix(f"/v1/jobs/{job.id}"), r.url.params) for r in sent]
    assert paths[0][0] == "/events"  # refused: 503, too many streams
    polls = [params for path, params in paths if path == ""]
    assert polls
    assert all(params["history"] == "false" for params in polls)
    offsets = [int(params["offset"]) for path, params in paths if path == "/history"]
    assert offsets == sorted(set(offsets))  # each epoch read once, when it is new


def test_errors_carry_the_services_code_message_and_field(client: Client) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.job("0" * 32)
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert missing.value.field == "job_id"

    with pytest.raises(InvalidInputError) as invalid:
        client.train("bad", {"function": "sin"}, training={"epochs": 0})
    assert invalid.value.code == "validation_error"
    assert invalid.value.field == "training.epochs"

    with pytest.raises(InvalidInputError) as unreadable:
        client.upload(pd.DataFrame({"value": ["1", "x", "3"]}))
    assert unreadable.value.status == 422
    assert "x" in unreadable.value.message or "line" in unreadable.value.message

    finished = client.jobs(status="succeeded")[0]
    with pytest.raises(ConflictError) as conflict:
        client.job(finished["id"]).cancel()
    assert conflict.value.status == 409

    with pytest.raises(NotFoundError):
        client.forecast("no-such-model", horizon=3)


def test_models_are_listed_and_deleted(client: Client) -> None:
    client.train("client-delete", {"function": "sin", "params": {"points": 2000}},
                 training=TINY_TRAINING).wait(progress=False)  # fmt: skip
    assert "client-delete" in [model["name"] for model in client.models()]
    assert client.model("client-delete")["latest"] == 1

    client.delete_model("client-delete")

    assert "client-delete" not in [model["name"] for model in client.models()]
    with pytest.raises(NotFoundError):
        client.model("client-delete")
