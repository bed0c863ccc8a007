"""Bounds set by settings: pydantic's own bound, reworded into a coded error by `refuse_over`,
on a model `narrowed` per instance; and the one handler that answers a coded error."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import PydanticCustomError

from app.core.bounds import narrowed, refuse_over
from app.core.errors import coded_error, validation_response


def _too_many(given: int, limit: int) -> PydanticCustomError:
    return coded_error("too_many", f"{given} over {limit} (FORECAST_SOMETHING)")


class Request(BaseModel):
    """A request."""

    steps: int = Field(ge=1, description="steps ahead")
    rows: list[int] | None = Field(None, min_length=1, description="rows")


def bounded(most: int) -> type[Request]:
    """`Request` with at most `most` steps and rows."""
    capped = Annotated[list[int], Field(max_length=most), refuse_over(_too_many)]
    return narrowed(
        Request,
        steps=Annotated[int, Field(le=most), refuse_over(_too_many)],
        rows=capped | None,
    )


def errors(model: type[BaseModel], body: dict[str, Any]) -> list[tuple[str, tuple[Any, ...]]]:
    """(type, location) of each error `body` gets from `model`."""
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    return [(error["type"], error["loc"]) for error in refused.value.errors()]


def test_a_narrowed_model_keeps_its_fields_and_publishes_the_bounds() -> None:
    model = bounded(5)
    assert model.__name__ == "Request"
    assert issubclass(model, Request)
    fields = model.model_json_schema()["properties"]
    assert fields["steps"] == {
        "description": "steps ahead",
        "maximum": 5,
        "minimum": 1,
        "title": "Steps",
        "type": "integer",
    }
    assert fields["rows"]["anyOf"][0] == {
        "items": {"type": "integer"},
        "maxItems": 5,
        "minItems": 1,
        "type": "array",
    }
    assert model(steps=5).rows is None
    assert model.model_json_schema()["description"] == "A request."


def test_a_value_over_its_bound_is_refused_with_the_coded_error() -> None:
    model = bounded(5)
    assert errors(model, {"steps": 6, "rows": [1] * 7}) == [
        ("too_many", ("steps",)),
        ("too_many", ("rows",)),
    ]
    with pytest.raises(ValidationError) as refused:
        model(steps=6)
    assert refused.value.errors()[0]["msg"] == "6 over 5 (FORECAST_SOMETHING)"


def test_other_errors_pass_unchanged() -> None:
    model = bounded(5)
    assert errors(model, {"steps": 0}) == [("greater_than_equal", ("steps",))]
    assert errors(model, {"steps": 1, "rows": []}) == [("too_short", ("rows",))]
    assert errors(model, {"steps": 1, "rows": [1, "x"]}) == [("int_parsing", ("rows", 1))]


def test_each_narrowed_model_has_its_own_bounds() -> None:
    with pytest.raises(ValidationError):
        bounded(5).model_validate({"steps": 7})
    assert bounded(9).model_validate({"steps": 7}).steps == 7


def test_the_first_coded_error_gives_the_answers_code_message_and_field() -> None:
    with pytest.raises(ValidationError) as refused:
        bounded(5).model_validate({"steps": 0, "rows": [1] * 6})
    found = [{**error, "loc": ("body", *error["loc"])} for error in refused.value.errors()]
    answer = validation_response(found)
    error = json.loads(answer.body)["error"]
    assert answer.status_code == 422
    assert (error["code"], error["message"], error["field"]) == (
        "too_many",
        "6 over 5 (FORECAST_SOMETHING)",
        "rows",
    )
    assert [detail["field"] for detail in error["details"]] == ["steps", "rows"]


def test_without_a_coded_error_the_answer_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as refused:
        bounded(5).model_validate({"steps": 0})
    found = [{**error, "loc": ("body", *error["loc"])} for error in refused.value.errors()]
    error = json.loads(validation_response(found).body)["error"]
    assert (error["code"], error["field"]) == ("validation_error", "steps")
