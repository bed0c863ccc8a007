"""The README's "Use it from Python" tour against a running service; it writes the pictures in
docs/. Run from the repository root: `python examples/client_tour.py [URL]`."""

from __future__ import annotations

import sys

import pandas as pd

from app.client import Client, plot_forecast, plot_history

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
client = Client(url)

# Three monthly series in one long frame: unique_id, ds, sales.
stores = pd.read_csv("examples/stores.csv", parse_dates=["ds"])
dataset = client.upload(stores, name="stores")
print(dataset["series_count"], [(s["id"], s["length"]) for s in dataset["series"]])

# One global model over the three; a progress bar (epoch, losses, ETA) until it ends.
job = client.train(
    "stores",
    dataset,
    window={"lookback": 12, "horizon": 3},
    training={"validation_fraction": 0.2, "test_fraction": 0.2},
).wait()
scores = job.metrics or {}
print(job.status, job.model, scores["mean"]["smape"], scores["naive"]["smape"])

forecast = client.forecast("stores", horizon=6, levels=[80, 95])
print(forecast.loc["south"].round(1))

south = stores[stores["unique_id"] == "south"].set_index("ds")["sales"]
plot_forecast(forecast, south, series="south").figure.savefig("docs/client-forecast.png")
plot_history(job).figure.savefig("docs/client-loss.png")
