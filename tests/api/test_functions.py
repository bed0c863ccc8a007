"""GET /v1/functions."""

from fastapi.testclient import TestClient


def test_list_functions_names_every_builtin_with_columns(client: TestClient) -> None:
    response = client.get("/v1/functions")
    assert response.status_code == 200
    by_name = {f["name"]: f for f in response.json()}
    assert set(by_name) == {"sin", "cos", "sin_cos", "x_sin", "vibration"}
    assert by_name["sin_cos"]["columns"] == ["sin", "cos"]
    assert by_name["x_sin"]["columns"] == ["x_sin"]


def test_list_functions_gives_parameters_with_defaults_and_bounds(client: TestClient) -> None:
    functions = {f["name"]: f for f in client.get("/v1/functions").json()}
    for function in functions.values():
        params = {p["name"]: p for p in function["parameters"]}
        assert {"start", "stop", "points", "noise", "seed"} <= set(params)
        assert params["points"]["type"] == "int"
        assert params["points"]["minimum"] == 2
    vibration = {p["name"]: p for p in functions["vibration"]["parameters"]}
    assert vibration["points"]["default"] == 41_000
    assert vibration["noise"]["default"] > 0
