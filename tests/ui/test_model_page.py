"""The model page in a real browser: it draws the default forecast on load, after the history it
continues and with its bands, for the bundled model and for a model of many series, and redraws
as the series picker and the level change."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.server import Server
from tests.factories import BUNDLED_MODELS
from tests.ui.conftest import TRAINING_MS, Dashboard, open_dashboard

pytestmark = pytest.mark.slow

SERIES = 20  # monthly shop sales, four years each: a season of 12 months
MONTHS = pd.date_range("2021-01-01", periods=48, freq="MS")
PANEL_JOB = {
    "model_name": "ui-shops",
    "window": {"lookback": 12, "horizon": 3},
    "architecture": {"hidden_size": 8, "num_layers": 1},
    "training": {"epochs": 3},
}


@pytest.fixture
def bundled_server(tmp_path: Path) -> Iterator[Server]:
    """A server whose store holds the bundled `sine` model."""
    root = tmp_path / "service"
    shutil.copytree(BUNDLED_MODELS, root / "models")
    running = Server(root).start()
    yield running
    running.stop()


@pytest.fixture
def bundled(browser: Browser, bundled_server: Server, tmp_path: Path) -> Iterator[Dashboard]:
    yield from open_dashboard(browser, bundled_server, tmp_path / "screenshots")


def expect_drawn(dashboard: Dashboard, steps: int, history: int, label: str) -> None:
    """The forecast chart shows `history` rows then `steps` steps of `label`, with one band."""
    chart = dashboard.page.locator("#forecast-chart")
    expect(chart).to_have_attribute("data-points", str(steps))
    expect(chart).to_have_attribute("data-history", str(history))
    expect(chart).to_have_attribute("data-intervals", "1")
    expect(chart.locator("canvas")).to_have_count(1)
    legend = chart.locator(".u-legend")
    for text in ("history", label, "upper 80%", "lower 80%"):
        expect(legend).to_contain_text(text)


def test_the_bundled_models_page_draws_its_forecast_on_load(bundled: Dashboard) -> None:
    bundled.open("#models/sine")
    # 24 steps by default, after the 24 rows the bundled checkpoint keeps (the least it keeps)
    expect_drawn(bundled, steps=24, history=24, label="sin")
    expect(bundled.page.locator("#forecast-chart")).to_contain_text("step")
    assert bundled.screenshot("model-page-sine").stat().st_size > 0
    assert bundled.console.unexpected() == []


def shops_csv(path: Path) -> Path:
    """SERIES monthly series as a long table (unique_id, ds, sales), each its own level."""
    rng = np.random.default_rng(3)
    rows = ["unique_id,ds,sales"]
    for number in range(SERIES):
        level = 100.0 * (number + 1)
        wave = 1 + 0.3 * np.sin(2 * np.pi * np.arange(len(MONTHS)) / 12 + number)
        values = level * wave + rng.normal(0.0, 0.03 * level, len(MONTHS))
        shop = f"shop-{number:02d}"
        rows += [f"{shop},{m:%Y-%m-%d},{v:.2f}" for m, v in zip(MONTHS, values, strict=True)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_a_many_series_models_page_draws_the_first_series_on_load_and_follows_the_picker(
    dashboard: Dashboard, server: Server, tmp_path: Path
) -> None:
    with shops_csv(tmp_path / "shops.csv").open("rb") as file:
        uploaded = server.http.post("/v1/datasets", files={"file": ("shops.csv", file)})
    assert uploaded.status_code == 201, uploaded.text
    job = PANEL_JOB | {"data": {"dataset_id": uploaded.json()["id"]}}
    submitted = server.http.post("/v1/jobs", json=job)
    assert submitted.status_code == 202, submitted.text
    ended = server.wait_for(submitted.json()["id"], {"succeeded", "failed"}, TRAINING_MS / 1000)
    assert ended["status"] == "succeeded", ended["error"]

    page = dashboard.page
    dashboard.open("#models/ui-shops")
    # a monthly series: three seasons of 12 months kept, drawn on their dates
    expect_drawn(dashboard, steps=24, history=36, label="sales · shop-00")
    expect(page.locator("#forecast-chart")).to_contain_text("time")
    assert dashboard.screenshot("model-page-shops").stat().st_size > 0

    page.select_option("#forecast-form [name=series]", "shop-07")
    expect(page.locator("#forecast-chart .u-legend")).to_contain_text("sales · shop-07")
    page.select_option("#forecast-form [name=level]", "95")
    expect(page.locator("#forecast-chart .u-legend")).to_contain_text("upper 95%")
    page.fill("#forecast-form [name=horizon]", "6")
    page.get_by_role("button", name="Forecast").click()
    expect(page.locator("#forecast-chart")).to_have_attribute("data-points", "6")
    expect(page.locator("#forecast-chart")).to_have_attribute("data-history", "36")
    assert dashboard.console.unexpected() == []
