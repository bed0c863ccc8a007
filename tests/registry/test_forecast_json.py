"""A forecast's JSON written from its arrays says what pydantic's writer says of the same
answer, and what the schema documents."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from app.core.config import Settings
from app.core.metrics import ServiceMetrics
from app.registry.answer import forecast_json
from app.registry.cache import ModelCache
from app.registry.checkpoint_store import CheckpointStore
from app.registry.forecast import make_forecast
from app.registry.limits import ForecastLimits
from app.registry.schemas import ForecastRequest, ForecastResponse, IntervalRead, SeriesForecast
from tests.factories import BUNDLED_MODELS


@pytest.mark.parametrize(
    "body",
    [
        {"horizon": 3},
        {"horizon": 12, "levels": [80, 95]},
        {"horizon": 25, "context": np.sin(np.arange(10) * 0.1).tolist()},
        {"horizon": 30, "contexts": np.cos(np.arange(30) * 0.2).reshape(3, 10, 1).tolist()},
        {"horizon": 7, "contexts": [[[0.5]] * 10] * 2, "levels": [90]},
    ],
)
def test_the_written_answer_is_the_answer_pydantic_writes(body: dict[str, object]) -> None:
    cache = ModelCache(CheckpointStore(BUNDLED_MODELS), torch.device("cpu"), 1)
    response = make_forecast(
        cache=cache,
        name="sine",
        request=ForecastRequest.model_validate(body),
        limits=ForecastLimits.of(Settings()),
        metrics=ServiceMetrics(),
    )
    written = json.loads(forecast_json(response))
    assert written == json.loads(response.model_dump_json())
    assert ForecastResponse.model_validate(written).horizon == body["horizon"]
    numbers = written["forecast"] if written["forecast"] is not None else written["forecasts"]
    assert np.asarray(numbers).shape[-2:] == (body["horizon"], 1)


def test_series_and_arrays_of_any_layout_are_written_in_field_order() -> None:
    values = np.arange(12.0).reshape(3, 2, 2).transpose(1, 0, 2)  # [2, 3, 2], not C-contiguous
    assert not values.flags.c_contiguous
    bounds = IntervalRead(level=90, lower=values[0] - 1, upper=values[0] + 1)
    response = ForecastResponse(
        model="m", version=2, columns=["a", "b"], horizon=3, device="cpu", rollout_mode="state"
    )
    response.series = [
        SeriesForecast(id="x", forecast=values[0], timestamps=["t1", "t2", "t3"]),
        SeriesForecast(id="y", forecast=values[1], intervals=[bounds]),
    ]
    text = forecast_json(response).decode()
    assert json.loads(text) == json.loads(response.model_dump_json())
    assert list(json.loads(text)) == list(ForecastResponse.model_fields)
    assert json.loads(text)["series"][1]["forecast"] == values[1].tolist()
