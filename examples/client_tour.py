"""The README's "Use it from Python" tour against a running service: the service at FORECAST_URL
(default http://127.0.0.1:8000, with FORECAST_API_KEY where it has keys), the pictures in the
folder given (default ./tour-output).

    python examples/client_tour.py [PICTURES_DIR]

Needs only the client: pip install './clients/python[plot]'.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd

from forecast_client import DEFAULT_URL, Client, plot_forecast, plot_history

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("pictures", nargs="?", type=Path, default=Path("tour-output"))
pictures: Path = parser.parse_args().pictures
pictures.mkdir(parents=True, exist_ok=True)
client = Client(os.environ.get("FORECAST_URL", DEFAULT_URL), os.environ.get("FORECAST_API_KEY"))

# Three monthly series in one long frame: unique_id, ds, sales.
stores = pd.read_csv(Path(__file__).parent / "stores.csv", parse_dates=["ds"])
dataset = client.upload(stores, name="stores")
print(dataset["series_count"], [(s["id"], s["length"]) for s in dataset["series"]])

# One global model over the three, configured for monthly data's usual 18-month horizon; a
# progress bar (model, epoch, losses, ETA) until it ends.
job = client.train("stores", dataset).wait()
scores = job.metrics or {}
print(job.status, job.model, scores["mean"]["smape"], scores["naive"]["smape"])

forecast = client.forecast("stores", horizon=6, levels=[80, 95])
print(forecast.loc["south"].round(1))

south = stores[stores["unique_id"] == "south"].set_index("ds")["sales"]
plot_forecast(forecast, south, series="south").figure.savefig(pictures / "client-forecast.png")
plot_history(job).figure.savefig(pictures / "client-loss.png")
print("pictures in", pictures)
