"""`Client`: the service from Python, in pandas terms.

client = Client("http://127.0.0.1:8000")
dataset = client.upload(sales)                    # a DataFrame with a DatetimeIndex
job = client.train("sales", dataset, forecast_horizon=12).wait()
forecast = client.forecast("sales", horizon=12, levels=[80, 95])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from forecast_client import DEFAULT_URL
from forecast_client.frames import Uploadable, forecast_frame, upload_of
from forecast_client.jobs import Job
from forecast_client.transport import RetryHook, Transport


class Client:
    """A connection to one forecasting service.

    `api_key` is sent as `Authorization: Bearer <key>`. Requests refused with 429 or 503, and
    connections that fail, are retried `retries` times with exponential backoff starting at
    `backoff` seconds (`on_retry` hears of each); other errors raise a ServiceError subclass
    carrying the service's code, message and field.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        on_retry: RetryHook | None = None,
    ) -> None:
        self.transport = Transport(
            base_url, api_key, timeout=timeout, retries=retries, backoff=backoff, on_retry=on_retry
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()

    def _json(self, method: str, path: str, **options: Any) -> Any:
        return self.transport.request(method, path, **options).json()

    # -- datasets ---------------------------------------------------------------------------

    def upload(
        self,
        data: Uploadable | str | Path,
        *,
        name: str | None = None,
        time_column: str | None = None,
        freq: str | None = None,
        missing: str | None = None,
        id_column: str | None = None,
        layout: str | None = None,
    ) -> dict[str, Any]:
        """Store a series or many; returns the dataset (its `id` trains a job).

        `data`: a CSV path; a DataFrame or Series (a non-range index is the time index); a
        long DataFrame with an id column (unique_id, id, series, item_id or `id_column`) for
        many series, or a wide one with `layout="columns_are_series"`; a dict {id: Series};
        or an array (one column, or one per array column). `missing`: error, interpolate,
        ffill or zero."""
        upload = upload_of(
            data,
            name=name,
            time_column=time_column,
            freq=freq,
            missing=missing,
            id_column=id_column,
            layout=layout,
        )
        files = {"file": (upload.filename, upload.content, "text/csv")}
        result: dict[str, Any] = self._json("POST", "/v1/datasets", files=files, data=upload.form)
        return result

    def datasets(self, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Stored datasets, newest first."""
        page = self._json("GET", "/v1/datasets", params={"limit": limit, "offset": offset})
        return list(page["items"])

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset (ConflictError while a job uses it)."""
        self.transport.request("DELETE", f"/v1/datasets/{dataset_id}")

    # -- jobs -------------------------------------------------------------------------------

    def submit(self, spec: dict[str, Any]) -> Job:
        """Queue a training job from a full request body (see TrainRequest in /docs)."""
        return Job(self.transport, self._json("POST", "/v1/jobs", json=spec))

    def train(self, model_name: str, data: Any, **spec: Any) -> Job:
        """Queue a job training `model_name` on `data`: a dataset (as `upload` returns it, or
        its id), a built-in function's spec ({"function": "sin"}), or anything `upload` takes
        (uploaded first). `spec` adds the request's other fields: forecast_horizon=12,
        training={"epochs": 20}, window={...}."""
        if isinstance(data, dict) and "function" in data:
            source = data
        elif isinstance(data, dict) and "id" in data:
            source = {"dataset_id": data["id"]}
        elif isinstance(data, str) and not Path(data).is_file():
            source = {"dataset_id": data}
        else:
            source = {"dataset_id": self.upload(data)["id"]}
        return self.submit({"model_name": model_name, "data": source, **spec})

    def job(self, job_id: str) -> Job:
        """One job."""
        return Job(self.transport, self._json("GET", f"/v1/jobs/{job_id}"))

    def jobs(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Jobs newest first (without spec and history), optionally of one status."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if status is not None:
            params["status"] = status
        return list(self._json("GET", "/v1/jobs", params=params)["items"])

    # -- models and forecasts ---------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """Every saved model: name, latest version, versions, columns."""
        return list(self._json("GET", "/v1/models")["items"])

    def model(self, name: str) -> dict[str, Any]:
        """A model with each version's metrics and spec."""
        result: dict[str, Any] = self._json("GET", f"/v1/models/{name}")
        return result

    def delete_model(self, name: str, version: int | None = None) -> None:
        """Delete a model, or one of its versions."""
        path = f"/v1/models/{name}" + (f"/versions/{version}" if version is not None else "")
        self.transport.request("DELETE", path)

    def forecast(
        self,
        model: str,
        horizon: int,
        *,
        levels: Sequence[int] = (),
        series: Sequence[str] | None = None,
        context: Sequence[float] | Sequence[Sequence[float]] | None = None,
        version: int | None = None,
        history_rows: int = 0,
    ) -> pd.DataFrame:
        """Forecast `horizon` steps: a DataFrame indexed by timestamp (by step without a time
        index; by series id and timestamp for a many-series model) with a column per target
        and, per level, `<column>_lo_<level>` and `<column>_hi_<level>`. With `history_rows`
        (no `context`), up to that many of each series' last rows come with it, as the model
        kept them: `history_frame(forecast)` reads them, `plot_forecast` draws them."""
        body: dict[str, Any] = {"horizon": horizon, "levels": list(levels)}
        if history_rows:
            body["history_rows"] = history_rows
        if series is not None:
            body["series"] = list(series)
        if context is not None:
            body["context"] = list(context)
        if version is not None:
            body["version"] = version
        return forecast_frame(self._json("POST", f"/v1/models/{model}/forecast", json=body))
