"""/v1/models: the registry of saved checkpoints, and forecasts from them.

No `from __future__ import annotations` here: the forecast route's body is the model that
`make_router` is given, which a string annotation could not name.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.core.disconnect import run_while_connected
from app.core.errors import responses
from app.core.schemas import MODEL_NAME_PATTERN
from app.core.strict_json import StrictJSONRoute
from app.registry import catalog
from app.registry.answer import NDJSON, forecast_json, forecast_lines
from app.registry.batcher import RolloutBatcher
from app.registry.deps import CacheDep, CheckpointsDep, ForecastingDep
from app.registry.forecast import Forecasting, Target, make_forecast
from app.registry.schemas import (
    ForecastRequest,
    ForecastResponse,
    ModelList,
    ModelRead,
    SeriesScoresPage,
)


def _models_router() -> APIRouter:
    return APIRouter(
        prefix="/v1/models", tags=["models"], responses=responses(422), route_class=StrictJSONRoute
    )


router = _models_router()  # every route but the forecast's, alike in every instance
ModelName = Annotated[
    str, Path(pattern=MODEL_NAME_PATTERN, description="lowercase letters, digits, - and _")
]
Version = Annotated[int, Path(ge=1, le=10**9)]


@router.get("", response_model=ModelList, summary="List models")
def list_models(checkpoints: CheckpointsDep) -> ModelList:
    """Every saved model with its versions."""
    return catalog.list_models(checkpoints=checkpoints)


@router.get("/{model_name}", response_model=ModelRead, responses=responses(404, 422))
def read_model(model_name: ModelName, checkpoints: CheckpointsDep, cache: CacheDep) -> ModelRead:
    """Versions, latest, metrics, spec, and whether and where each version is loaded."""
    return catalog.describe_model(checkpoints=checkpoints, name=model_name, loaded=cache.loaded())


@router.delete(
    "/{model_name}", status_code=204, response_class=Response, responses=responses(404, 422)
)
def delete_model(model_name: ModelName, checkpoints: CheckpointsDep, cache: CacheDep) -> None:
    """Delete a model and all its versions."""
    checkpoints.delete_model(model_name)
    cache.evict(model_name)


@router.get(
    "/{model_name}/versions/{version}/series",
    response_model=SeriesScoresPage,
    responses=responses(404, 500),
)
def read_version_series(
    model_name: ModelName,
    version: Version,
    checkpoints: CheckpointsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> SeriesScoresPage:
    """A page of a version's per-series test scores and guards, in training order (a
    version's view shows the first 100)."""
    return catalog.series_page(
        checkpoints=checkpoints, name=model_name, version=version, limit=limit, offset=offset
    )


@router.delete(
    "/{model_name}/versions/{version}",
    status_code=204,
    response_class=Response,
    responses=responses(404, 422),
)
def delete_version(
    model_name: ModelName, version: Version, checkpoints: CheckpointsDep, cache: CacheDep
) -> None:
    """Delete one version of a model."""
    checkpoints.delete_version(model_name, version)
    cache.evict(model_name, version)


async def _forecast(
    model_name: str, body: ForecastRequest, request: Request, forecasting: Forecasting
) -> Response:
    """The forecast's answer, written straight from its arrays (`forecast_json`), or a series a
    line (`forecast_lines`) for a client whose Accept header asks for NDJSON."""
    lines = NDJSON in request.headers.get("accept", "")

    def answer(
        keep_going: Callable[[], bool] | None,
        batcher: RolloutBatcher | None,
        target: Target | None = None,
    ) -> ForecastResponse | bytes:
        found = make_forecast(
            cache=forecasting.cache,
            name=model_name,
            request=body,
            limits=forecasting.limits,
            metrics=forecasting.metrics,
            keep_going=keep_going,
            batcher=batcher,
            target=target,
        )
        return found if lines else forecast_json(found)

    target = forecasting.inline_target(model_name, body)
    if target is not None:  # cheaper here than the hop to a thread
        content = answer(None, None, target)  # no batcher: the loop must not wait for others
    else:
        # Written in the worker thread: FastAPI's own path (validate the answer again, then
        # json.dumps) took 500 ms for 256 x 1,000 values, on the loop.
        content = await run_while_connected(
            request, lambda keep_going: answer(keep_going, forecasting.batcher)
        )
    if isinstance(content, ForecastResponse):  # written a line at a time, as it is sent
        return StreamingResponse(forecast_lines(content), media_type=NDJSON)
    return Response(content, media_type="application/json")


# The same answer as newline-delimited JSON, for a client whose Accept asks for it.
_NDJSON_ANSWER: dict[int | str, dict[str, object]] = {
    200: {
        "content": {
            NDJSON: {
                "schema": {
                    "type": "string",
                    "description": "the answer without `series`, then each item of `series`, "
                    "a JSON document a line",
                }
            }
        }
    }
}


def make_router(forecast_request: type[ForecastRequest]) -> APIRouter:
    """Every /v1/models route; forecasts validated, and published, as `forecast_request`: the
    request model with this instance's limits (app.registry.limits)."""
    forecasts = _models_router()

    @forecasts.post(
        "/{model_name}/forecast",
        response_model=ForecastResponse,
        responses=responses(400, 404, 413, 422, 500) | _NDJSON_ANSWER,
        summary="Forecast from a saved model",
    )
    async def create_forecast(
        model_name: ModelName,
        body: forecast_request,  # type: ignore[valid-type]  # built from the settings
        request: Request,
        forecasting: ForecastingDep,
    ) -> Response:
        """Roll the model forward `horizon` steps, feeding each prediction back as input.

        Without `context` the forecast continues the training series. `contexts` forecasts
        many series in one batched pass. Values are on the original scale. With `Accept:
        application/x-ndjson` the answer is written a line at a time: everything but `series`
        first, then a line per series. A small forecast (one context of a loaded model, a
        little work) runs at once on the event loop; others run in a worker thread, where
        concurrent requests for one version and horizon share one rollout and a forecast whose
        client disconnects stops at its next model call.
        """
        return await _forecast(model_name, body, request, forecasting)

    models = APIRouter()
    models.include_router(router)  # the routes alike in every instance
    models.include_router(forecasts)
    return models
