"""The dashboard in a real browser against a real server: start a job from the page, watch its
loss curve grow, draw forecasts with intervals, upload a CSV of many series, and the API keys."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Route, expect

from tests.e2e.server import Server
from tests.ui.conftest import TRAINING_MS, Dashboard, open_dashboard

pytestmark = pytest.mark.slow

KEY = "dashboard-key-0123456789"
JOB_URL = re.compile(r"#jobs/([0-9a-f]{32})$")
# GET /v1/jobs/{id}/events is not served on every version of the service: the page then falls
# back to polling, and Chromium logs the 404 of that one request.
NO_EVENT_STREAM = r"status of 404 .* at \S+/v1/jobs/[0-9a-f]{32}/events$"
# Long enough to still be running when the test cancels it.
RUNNING_JOB = {
    "model_name": "ui-long",
    "data": {"function": "sin", "params": {"points": 8000, "stop": 800.0}},
    "training": {"epochs": 5000, "early_stopping_patience": 0},
}


def points(dashboard: Dashboard, selector: str) -> int:
    return int(dashboard.page.locator(selector).get_attribute("data-points") or 0)


def start_job(dashboard: Dashboard, model_name: str, epochs: int, **params: str) -> str:
    """Fill in the page's job form and submit it; returns the id of the job page it opens."""
    page = dashboard.page
    page.get_by_role("link", name="Upload and train").click()
    page.fill("#model_name", model_name)
    for name, value in params.items():
        page.fill(f"#param-{name}", value)
    page.fill("#epochs", str(epochs))
    page.get_by_role("button", name="Start job").click()
    page.wait_for_url(JOB_URL)
    found = JOB_URL.search(page.url)
    assert found
    return found.group(1)


def wait_for_end(dashboard: Dashboard) -> str:
    """The job page's status once the job has ended."""
    badge = dashboard.page.locator("#job-summary [data-status]")
    expect(badge).to_have_attribute(
        "data-status", re.compile("succeeded|failed|cancelled"), timeout=TRAINING_MS
    )
    return badge.get_attribute("data-status") or ""


def draw_forecast(dashboard: Dashboard, horizon: int, level: str) -> None:
    page = dashboard.page
    page.fill("#forecast-form [name=horizon]", str(horizon))
    page.select_option("#forecast-form [name=level]", level)
    page.get_by_role("button", name="Forecast").click()
    chart = page.locator("#forecast-chart")
    expect(chart).to_have_attribute("data-points", str(horizon))
    expect(chart).to_have_attribute("data-intervals", "1")
    expect(chart.locator("canvas")).to_have_count(1)
    expect(chart).to_contain_text(f"upper {level}%")


# The loss chart's point count, 0 while the page has none (a throw would end the wait at once).
CHART_POINTS = "Number(document.querySelector('#loss-chart')?.dataset.points ?? 0)"


def test_start_a_job_watch_the_loss_curve_grow_and_draw_a_forecast(
    dashboard: Dashboard, server: Server
) -> None:
    page = dashboard.page
    dashboard.open()
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    # Enough rows that epochs take a moment each, so the page shows the curve while it grows.
    job_id = start_job(dashboard, "ui-sine", epochs=20, points="8000", stop="800")

    page.wait_for_function(f"() => {CHART_POINTS} > 0")  # the job page may not be drawn yet
    first = points(dashboard, "#loss-chart")
    assert page.locator("#job-summary [data-status]").get_attribute("data-status") == "running"
    page.wait_for_function(f"() => {CHART_POINTS} > {first}")
    dashboard.screenshot("job-running")
    assert wait_for_end(dashboard) == "succeeded"
    job = server.http.get(f"/v1/jobs/{job_id}").json()
    assert points(dashboard, "#loss-chart") == len(job["history"]) > first
    summary = page.locator("#job-summary")
    expect(summary).to_contain_text(f"epoch {job['progress']['epoch']} / 20")
    expect(summary).not_to_contain_text(re.compile(r"model \d+ of"))  # one model: none named
    expect(page.locator("#job-outcome table")).to_contain_text("naive, rollout")
    fit = job["metrics"]
    expect(page.locator("#job-outcome .fit")).to_contain_text(
        f"Best epoch {fit['best_epoch']} of {fit['epochs_run']} ({fit['stop_reason']})"
    )

    page.get_by_role("link", name="ui-sine v1").click()
    expect(page.locator("h2")).to_have_text("ui-sine")
    expect(page.locator("select[name=version]")).to_have_value("1")
    expect(page.locator(".metrics table")).to_contain_text("seasonal naive")
    draw_forecast(dashboard, horizon=60, level="90")
    assert dashboard.screenshot("model-forecast").stat().st_size > 0

    page.get_by_role("link", name="Jobs").click()
    expect(page.locator("#jobs table")).to_contain_text("ui-sine")
    expect(page.locator("#jobs [data-status]")).to_have_text("succeeded")
    assert dashboard.console.unexpected(NO_EVENT_STREAM) == []


def long_csv(path: Path) -> Path:
    """Two noisy weekly-seasonal daily series, a and b, as a long table (unique_id, ds, value)."""
    rows = ["unique_id,ds,value"]
    days = np.arange(240)
    noise = np.random.default_rng(7).normal(0.0, 0.3, size=(2, days.size))
    for series_id, phase, jitter in (("a", 0.0, noise[0]), ("b", 1.5, noise[1])):
        values = 10 + np.sin(2 * np.pi * days / 7 + phase) + jitter
        dates = np.datetime64("2025-01-01") + days
        rows += [
            f"{series_id},{date},{value:.5f}" for date, value in zip(dates, values, strict=True)
        ]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_upload_many_series_train_and_forecast_one_of_them(
    dashboard: Dashboard, tmp_path: Path
) -> None:
    page = dashboard.page
    dashboard.open("#new")
    page.set_input_files("#file", str(long_csv(tmp_path / "stores.csv")))
    page.fill("#name", "stores")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-result")).to_contain_text("480 rows, 2 series")
    expect(page.locator("#source option:checked")).to_contain_text("dataset stores")

    page.fill("#model_name", "ui-stores")
    page.fill("#epochs", "3")
    page.get_by_role("button", name="Start job").click()
    page.wait_for_url(JOB_URL)
    assert wait_for_end(dashboard) == "succeeded"

    page.get_by_role("link", name="ui-stores v1").click()
    expect(page.locator(".metrics table")).to_contain_text("model, one step (mean of 2 series)")
    expect(page.locator(".metrics table")).to_contain_text("model, rollout (mean of 2 series)")
    expect(page.locator(".metrics table")).to_contain_text("drift, rollout")
    expect(page.locator(".metrics .guards")).to_contain_text(
        "Series losing to each simple forecast: validation part, of 2: naive"
    )
    page.select_option("#forecast-form [name=series]", "b")
    draw_forecast(dashboard, horizon=14, level="80")
    expect(page.locator("#forecast-chart")).to_contain_text("value · b")
    assert dashboard.screenshot("series-forecast").stat().st_size > 0
    assert dashboard.console.unexpected(NO_EVENT_STREAM) == []


def test_upload_errors_name_the_problem(dashboard: Dashboard, tmp_path: Path) -> None:
    dashboard.open("#new")
    bad = tmp_path / "bad.csv"
    bad.write_text("value\n1\nnot-a-number\n3\n")
    dashboard.page.set_input_files("#file", str(bad))
    dashboard.page.get_by_role("button", name="Upload").click()
    alert = dashboard.page.locator("#upload-result [role=alert]")
    expect(alert).to_contain_text("not-a-number")
    # The service's 422 is the page's message, not a console error.
    assert dashboard.console.unexpected(r"status of 422 .* at \S+/v1/datasets$") == []


@pytest.fixture
def keyed_dashboard(browser: Browser, tmp_path: Path) -> Iterator[Dashboard]:
    root = tmp_path / "keyed"
    root.mkdir()
    server = Server(root, api_keys=KEY).start()
    yield from open_dashboard(browser, server, tmp_path / "screenshots")
    server.stop()


def test_with_api_keys_the_page_asks_for_the_key_and_then_works(
    keyed_dashboard: Dashboard,
) -> None:
    page = keyed_dashboard.page
    keyed_dashboard.open()
    alert = page.locator("#view [role=alert]")
    expect(alert).to_contain_text("Not authorised: this route needs an API key")
    expect(alert).to_contain_text("Enter the service's API key")

    page.fill("#key", "wrong-key-0123456789")
    page.get_by_role("button", name="Use").click()
    expect(alert).to_contain_text("the API key is not valid")

    page.fill("#key", KEY)
    page.get_by_role("button", name="Use").click()
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    expect(page.locator("#key-state")).to_have_text("key set for this tab")
    page.reload()  # the key stays for the browser session
    expect(page.get_by_text("No jobs yet.")).to_be_visible()
    page.get_by_role("link", name="Models").click()
    expect(page.locator("#view [role=alert]")).to_have_count(0)
    assert keyed_dashboard.console.unexpected(r"status of 401 .* at \S+/v1/jobs\?limit=50$") == []


def sse(event: str, job: dict[str, object], counter: int) -> str:
    """One event as the contract of GET /v1/jobs/{id}/events writes it (CRLF line ends, as
    sse-starlette sends them)."""
    return f"event: {event}\r\ndata: {json.dumps(job)}\r\nid: {counter}\r\n\r\n"


def change(view: dict[str, Any], epochs: list[Any], offset: int) -> dict[str, Any]:
    """An event's data: the job as listed (no spec, no history) and the epochs added at
    `offset` of its history."""
    listed = {k: v for k, v in view.items() if k not in ("spec", "history")}
    return listed | {
        "history_length": offset + len(epochs),
        "new_epochs": epochs,
        "new_epochs_offset": offset,
    }


def test_a_job_page_follows_the_event_stream_without_polling(
    dashboard: Dashboard, server: Server
) -> None:
    # The stream's transport is played here by the contract, from the real job's real states:
    # the endpoint itself is served by another part of the service.
    submitted = server.http.post("/v1/jobs", json=RUNNING_JOB)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    server.wait_for_epoch(job_id, epoch=2)

    def stream(route: Route) -> None:
        running = server.http.get(f"/v1/jobs/{job_id}").json()
        server.http.post(f"/v1/jobs/{job_id}/cancel")
        ended = server.wait_for(job_id, {"cancelled"})
        held = len(running["history"])  # the page reads what it lacks of these from /history
        body = (
            sse("progress", change(running, [], held), 1)
            + ": ping\r\n\r\n"
            + sse("progress", change(running, ended["history"][held:], held), 2)
            + sse("end", change(ended, [], len(ended["history"])), 3)
        )
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    dashboard.page.route("**/v1/jobs/*/events", stream)
    polls: list[str] = []
    dashboard.page.on(
        "request",
        lambda request: polls.append(request.url) if request.url.endswith(job_id) else None,
    )
    dashboard.open(f"#jobs/{job_id}")
    assert wait_for_end(dashboard) == "cancelled"
    final = server.http.get(f"/v1/jobs/{job_id}").json()
    assert points(dashboard, "#loss-chart") == len(final["history"]) >= 2
    assert len(polls) == 1  # the page's first read; every later state came by the stream
    assert dashboard.console.unexpected() == []


@pytest.fixture
def one_stream_dashboard(browser: Browser, tmp_path: Path) -> Iterator[Dashboard]:
    """A dashboard on a server that serves one event stream at a time."""
    root = tmp_path / "one-stream"
    root.mkdir()
    server = Server(root, max_event_streams=1).start()
    yield from open_dashboard(browser, server, tmp_path / "screenshots")
    server.stop()


def test_with_every_stream_taken_the_page_polls_and_reads_each_epoch_once(
    one_stream_dashboard: Dashboard,
) -> None:
    dashboard, server = one_stream_dashboard, one_stream_dashboard.server
    job_id = server.http.post("/v1/jobs", json=RUNNING_JOB).json()["id"]
    server.wait_for_epoch(job_id, epoch=1)
    reads: list[str] = []
    dashboard.page.on(
        "request", lambda request: reads.append(request.url) if job_id in request.url else None
    )
    with httpx.Client(base_url=str(server.http.base_url), timeout=30) as other:
        with other.stream("GET", f"/v1/jobs/{job_id}/events") as held:
            assert held.status_code == 200  # the one stream there is: the page gets a 503
            dashboard.open(f"#jobs/{job_id}")
            dashboard.page.wait_for_function(f"() => {CHART_POINTS} > 0")
            first = points(dashboard, "#loss-chart")
            dashboard.page.wait_for_function(f"() => {CHART_POINTS} > {first}")  # still live
        server.http.post(f"/v1/jobs/{job_id}/cancel")
        assert wait_for_end(dashboard) == "cancelled"
    final = server.http.get(f"/v1/jobs/{job_id}").json()
    assert points(dashboard, "#loss-chart") == len(final["history"])
    whole = [url for url in reads if url.endswith(job_id)]
    assert len(whole) == 1  # the page's first read; then views without the history
    assert any(url.endswith("?history=false") for url in reads)
    offsets = [int(url.split("offset=")[1].split("&")[0]) for url in reads if "/history?" in url]
    assert offsets == sorted(set(offsets))  # each epoch read once, when it is new
    assert (
        dashboard.console.unexpected(r"status of 503 .* at \S+/v1/jobs/[0-9a-f]{32}/events$") == []
    )


def test_the_model_page_switches_between_versions(dashboard: Dashboard, server: Server) -> None:
    tiny = {
        "model_name": "ui-two",
        "data": {"function": "sin", "params": {"points": 400}},
        "training": {"epochs": 2},
    }
    job_ids = []
    for _ in range(2):
        submitted = server.http.post("/v1/jobs", json=tiny)
        assert submitted.status_code == 202, submitted.text
        job_ids.append(submitted.json()["id"])
        assert server.wait_for(job_ids[-1], {"succeeded", "failed"})["status"] == "succeeded"

    dashboard.open("#models/ui-two")
    picker = dashboard.page.locator("select[name=version]")
    expect(picker).to_have_value("2")
    expect(dashboard.page.locator("#version")).to_contain_text(f"trained by job {job_ids[1][:8]}")
    picker.select_option("1")
    expect(dashboard.page.locator("#version")).to_contain_text(f"trained by job {job_ids[0][:8]}")
    draw_forecast(dashboard, horizon=5, level="95")
    assert dashboard.console.unexpected() == []


# Two models fitted one after another, each epoch long enough that the page sees the second start.
ENSEMBLE_JOB = {
    "model_name": "ui-ensemble",
    "data": {"function": "sin", "params": {"points": 8000, "stop": 800.0}},
    "training": {"epochs": 10, "ensemble": 2, "early_stopping_patience": 0},
}
# While the job runs, the page shows its second model and the chart holds both models' epochs.
SECOND_MODEL_LIVE = (
    "() => document.querySelector('#job-summary [data-status]')?.dataset.status === 'running'"
    " && document.querySelector('#job-summary').textContent.includes('model 2 of 2 · epoch')"
    f" && {CHART_POINTS} > 10"
)


def test_an_ensemble_job_shows_its_models_one_after_another(
    dashboard: Dashboard, server: Server
) -> None:
    submitted = server.http.post("/v1/jobs", json=ENSEMBLE_JOB)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    page = dashboard.page
    dashboard.open(f"#jobs/{job_id}")
    page.wait_for_function(SECOND_MODEL_LIVE)  # model 1's epochs 1 to 10, then model 2's
    assert wait_for_end(dashboard) == "succeeded"

    job = server.http.get(f"/v1/jobs/{job_id}").json()
    assert [(row["member"], row["epoch"]) for row in job["history"]] == [
        (member, epoch) for member in (1, 2) for epoch in range(1, 11)
    ]
    chart = page.locator("#loss-chart")
    expect(chart).to_have_attribute("data-points", "20")  # no epoch of one hides the other's
    expect(chart).to_have_attribute("data-models", "2")
    plot_area = chart.locator(".u-over")
    box = plot_area.bounding_box()
    assert box is not None
    plot_area.hover(position={"x": box["width"] - 1, "y": box["height"] / 2})  # the last epoch
    legend = chart.locator(".u-legend")
    expect(legend).to_contain_text("model 2, epoch 10")
    train_loss = legend.locator(".u-series").nth(1).locator(".u-value").inner_text()
    # shown to 3 or 4 significant digits
    assert float(train_loss) == pytest.approx(job["history"][-1]["train_loss"], rel=5e-3)
    summary = page.locator("#job-summary")
    expect(summary).to_contain_text("model 2 of 2 · epoch 10 / 10")
    expect(summary).to_contain_text(f"{job['progress']['best_epoch']} (model 2)")
    expect(page.locator("#job-outcome table")).to_contain_text("model, rollout of")
    fit = page.locator("#job-outcome .fit")
    expect(fit).to_contain_text("2 models, fitted one after another")
    expect(fit.locator("li")).to_have_text(
        [
            f"model {number} (seed {member['seed']}): best epoch {member['best_epoch']} of 10, "
            "max_epochs"
            for number, member in enumerate(job["metrics"]["members"], start=1)
        ]
    )
    dashboard.screenshot("ensemble-job")

    page.get_by_role("link", name="Jobs").click()
    expect(page.locator("#jobs table")).to_contain_text("model 2 of 2 · epoch 10 / 10")
    assert dashboard.console.unexpected(NO_EVENT_STREAM) == []


SEARCH_JOB = {
    "model_name": "ui-search",
    "data": {"function": "x_sin", "params": {"points": 600, "stop": 60.0}},
    "forecast_horizon": 6,
    "architecture": {"hidden_size": 8, "num_layers": 1},
    "training": {"epochs": 20, "ensemble": 2, "search_trials": 3, "search_budget": 0},
}


def test_a_searching_job_shows_the_candidates_it_tried_and_the_winner(
    dashboard: Dashboard, server: Server
) -> None:
    submitted = server.http.post("/v1/jobs", json=SEARCH_JOB)
    assert submitted.status_code == 202, submitted.text
    job_id = submitted.json()["id"]
    page = dashboard.page
    dashboard.open(f"#jobs/{job_id}")
    assert wait_for_end(dashboard) == "succeeded"
    found = server.http.get(f"/v1/jobs/{job_id}").json()["metrics"]["search"]
    search = page.locator("#job-outcome .search")
    expect(search.locator("h4")).to_contain_text("Configurations tried")
    rows = search.locator("tbody tr")
    expect(rows).to_have_count(3)
    winner = rows.nth(found["winner"] - 1)
    expect(winner.locator("td").first).to_have_text(f"{found['winner']} (winner)")
    won = found["trials"][found["winner"] - 1]
    expect(winner).to_contain_text(won["cell"])
    expect(search).to_contain_text(f"origin(s) of {found['steps']} step(s)")
    lookbacks = ", ".join(str(rows) for rows in found["ensemble_lookbacks"])
    expect(search).to_contain_text(f"Ensemble lookbacks: {lookbacks}")
    assert dashboard.console.unexpected(NO_EVENT_STREAM) == []


def as_first_written(job: dict[str, Any]) -> dict[str, Any]:
    """A job as a row (and metrics) written before jobs reported per model reads."""
    for name in ("member", "members", "fraction"):
        (job.get("progress") or {}).pop(name, None)
    for row in job.get("history", []):
        row.pop("member", None)
    (job.get("metrics") or {}).pop("members", None)
    return job


def test_a_job_written_before_models_were_counted_reads_as_one_model(
    dashboard: Dashboard, server: Server
) -> None:
    tiny = {
        "model_name": "ui-old",
        "data": {"function": "sin", "params": {"points": 400}},
        "training": {"epochs": 3, "early_stopping_patience": 0},
    }
    submitted = server.http.post("/v1/jobs", json=tiny)
    assert submitted.status_code == 202, submitted.text
    job = server.wait_for(submitted.json()["id"], {"succeeded", "failed"})
    assert job["status"] == "succeeded"

    def first_written(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        for item in body.get("items", [body]):
            as_first_written(item)
        route.fulfill(response=response, json=body)

    page = dashboard.page
    page.route(re.compile(r"/v1/jobs(\?limit=50|/[0-9a-f]{32})$"), first_written)
    dashboard.open()
    expect(page.locator("#jobs table")).to_contain_text("epoch 3 / 3")
    dashboard.open(f"#jobs/{job['id']}")
    summary = page.locator("#job-summary")
    expect(summary).to_contain_text("epoch 3 / 3")
    expect(summary).not_to_contain_text(re.compile(r"model \d+ of"))
    chart = page.locator("#loss-chart")
    expect(chart).to_have_attribute("data-points", "3")
    expect(chart).to_have_attribute("data-models", "1")
    metrics = job["metrics"]
    expect(page.locator("#job-outcome .fit")).to_have_text(
        re.compile(rf"^Best epoch {metrics['best_epoch']} of 3 \(max_epochs\), .* test rows\.$")
    )
    assert dashboard.console.unexpected() == []
