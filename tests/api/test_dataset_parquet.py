"""A Parquet upload over HTTP: stored, viewed and paged like the same table sent as CSV, and
trained on."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from tests.api.test_datasets import upload_csv


def monthly_panel(series: int) -> pd.DataFrame:
    frames = [
        pd.DataFrame(
            {
                "unique_id": f"store-{k}",
                "ds": pd.date_range("2015-01-01", periods=36 + k % 5, freq="MS"),
                "y": 100 + 10 * np.sin(np.arange(36 + k % 5) * np.pi / 6) + k,
            }
        )
        for k in range(series)
    ]
    return pd.concat(frames, ignore_index=True)


def test_a_parquet_panel_is_stored_and_paged_like_its_csv(client: TestClient) -> None:
    frame = monthly_panel(12)
    data = io.BytesIO()
    frame.to_parquet(data, index=False)
    by_parquet = upload_csv(client, data.getvalue())
    by_csv = upload_csv(client, frame.to_csv(index=False))
    assert (by_parquet.status_code, by_csv.status_code) == (201, 201), by_parquet.text
    views = [response.json() for response in (by_parquet, by_csv)]
    for view in views:
        view.pop("id"), view.pop("created_at")
    assert views[0] == views[1]
    assert views[0]["series_count"] == 12
    assert views[0]["series_length"] == {"min": 36, "median": 37.5, "max": 40}
    page = client.get(f"/v1/datasets/{by_parquet.json()['id']}/series?limit=2&offset=10").json()
    assert [item["id"] for item in page["items"]] == ["store-10", "store-11"]
    assert page["items"][0]["time"]["start"] == "2015-01-01"
    assert page["total"] == 12


def test_a_broken_parquet_file_is_a_422_naming_the_file(client: TestClient) -> None:
    data = io.BytesIO()
    pd.DataFrame({"y": [1.0, 2.0]}).to_parquet(data)
    broken = data.getvalue()[:4] + b"\0" * 16 + b"PAR1"
    response = upload_csv(client, broken)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "file"
    assert "not a readable Parquet file" in response.json()["error"]["message"]
