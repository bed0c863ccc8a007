"""Each request limit is one setting: the bound /openapi.json publishes is the bound the route
enforces, for settings other than the defaults, and a value over it is refused with the coded
answer that names the setting."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.factories import BUNDLED_MODELS

MakeClient = Callable[..., TestClient]
FORECAST = "/v1/models/sine/forecast"


def forecasting_client(make_client: MakeClient, **settings: Any) -> TestClient:
    """A client with `settings` whose store holds the bundled `sine` (lookback 10)."""
    client = make_client(**settings)
    shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    return client


def component(client: TestClient, name: str) -> dict[str, Any]:
    """The published schema of the component `name`."""
    schema: dict[str, Any] = client.get("/openapi.json").json()["components"]["schemas"][name]
    return schema


def array(prop: dict[str, Any]) -> dict[str, Any]:
    """The array member of a property schema (itself, or its `anyOf` member of type array)."""
    if prop.get("type") == "array":
        return prop
    return next(member for member in prop["anyOf"] if member.get("type") == "array")


def refusal(answer: httpx.Response) -> dict[str, Any]:
    """The error of a 422 answer, without its details."""
    assert answer.status_code == 422, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return {key: value for key, value in error.items() if key != "details"}


def test_the_published_maximum_horizon_is_the_enforced_one(make_client: MakeClient) -> None:
    client = forecasting_client(make_client, max_horizon=7)
    assert component(client, "ForecastRequest")["properties"]["horizon"]["maximum"] == 7
    assert client.post(FORECAST, json={"horizon": 7}).status_code == 200
    assert refusal(client.post(FORECAST, json={"horizon": 8})) == {
        "code": "horizon_too_large",
        "message": "horizon 8 is over the limit of 7 (FORECAST_MAX_HORIZON)",
        "field": "horizon",
    }


def test_the_published_context_bounds_are_the_enforced_ones(make_client: MakeClient) -> None:
    client = forecasting_client(make_client, max_contexts=3, max_context_rows=40)
    fields = component(client, "ForecastRequest")["properties"]
    contexts = array(fields["contexts"])
    assert (contexts["maxItems"], contexts["items"]["maxItems"]) == (3, 40)
    assert array(fields["context"])["maxItems"] == 40

    rows = [0.5] * 40
    assert client.post(FORECAST, json={"horizon": 2, "contexts": [rows] * 3}).status_code == 200
    assert client.post(FORECAST, json={"horizon": 2, "context": rows}).status_code == 200
    assert refusal(client.post(FORECAST, json={"horizon": 2, "contexts": [rows] * 4})) == {
        "code": "too_many_contexts",
        "message": "4 contexts; at most 3 per request (FORECAST_MAX_CONTEXTS)",
        "field": "contexts",
    }
    too_long = client.post(FORECAST, json={"horizon": 2, "contexts": [rows, [*rows, 0.5]]})
    assert refusal(too_long)["code"] == "context_too_long"
    assert refusal(too_long)["field"] == "contexts[1]"
    assert "at most 40 per context (FORECAST_MAX_CONTEXT_ROWS)" in refusal(too_long)["message"]
    assert (
        refusal(client.post(FORECAST, json={"horizon": 2, "context": [*rows, 0.5]}))["field"]
        == "context"
    )


def test_a_limit_refusal_outranks_other_problems_and_lists_them(make_client: MakeClient) -> None:
    client = forecasting_client(make_client, max_horizon=7)
    answer = client.post(FORECAST, json={"horizon": 8, "levels": [33]})
    assert refusal(answer)["code"] == "horizon_too_large"
    fields = [detail["field"] for detail in answer.json()["error"]["details"]]
    assert fields == ["horizon", "levels[0]"]


def test_the_published_upload_bounds_are_the_enforced_ones(make_client: MakeClient) -> None:
    client = make_client(max_dataset_rows=50, max_dataset_columns=2)
    document = client.get("/openapi.json").json()
    body = document["paths"]["/v1/datasets"]["post"]["requestBody"]["content"]
    upload, bare = body["application/json"]["schema"]["anyOf"]
    assert array(upload["properties"]["values"])["maxItems"] == 50
    assert array(upload["properties"]["columns"])["maxItems"] == 2
    assert bare["maxItems"] == 50

    assert client.post("/v1/datasets", json=list(range(50))).status_code == 201
    assert refusal(client.post("/v1/datasets", json=list(range(51)))) == {
        "code": "invalid_input",
        "message": "51 rows; at most 50 are allowed",
        "field": "values",
    }
    three = {"columns": ["a", "b", "c"], "values": [[1, 2, 3]]}
    assert refusal(client.post("/v1/datasets", json=three))["field"] == "columns"


def test_the_published_inline_data_bounds_are_the_enforced_ones(make_client: MakeClient) -> None:
    client = make_client(max_dataset_rows=50, max_dataset_columns=2)
    inline = component(client, "InlineData")["properties"]
    assert (inline["values"]["maxItems"], array(inline["columns"])["maxItems"]) == (50, 2)

    job = {"model_name": "inline", "data": {"values": list(range(51))}}
    assert refusal(client.post("/v1/jobs", json=job)) == {
        "code": "invalid_input",
        "message": "51 rows; at most 50 are allowed",
        "field": "data.values",
    }
    assert client.get("/v1/datasets").json()["total"] == 0  # nothing stored


def test_each_instance_publishes_and_enforces_its_own_limits(make_client: MakeClient) -> None:
    narrow = forecasting_client(make_client, max_horizon=7)
    wide = forecasting_client(make_client, max_horizon=9)
    assert component(narrow, "ForecastRequest")["properties"]["horizon"]["maximum"] == 7
    assert component(wide, "ForecastRequest")["properties"]["horizon"]["maximum"] == 9
    assert narrow.post(FORECAST, json={"horizon": 9}).status_code == 422
    assert wide.post(FORECAST, json={"horizon": 9}).status_code == 200
