"""Upper bounds set by settings, checked and published as one.

A request model is built once per app from its settings (`narrowed`): a bounded field carries
pydantic's own bound (`le`, or `max_length` of an array), which both validates the body and
states `maximum` or `maxItems` in the published schema. `refuse_over` only rewords pydantic's
error for that bound into the service's coded one, which names the setting.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import copy
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import (
    BaseModel,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

Refusal = Callable[[int, int], PydanticCustomError]  # (given, limit) -> the error to answer
Model = TypeVar("Model", bound=BaseModel)


def _over_bound(error: dict[str, Any], value: Any) -> tuple[int, int] | None:
    """(given, limit) when pydantic's `error` is about `value` itself exceeding its upper
    bound; None for any other error (a bad item, a lower bound)."""
    if error["loc"] != ():
        return None
    context = error.get("ctx") or {}
    if error["type"] == "less_than_equal":
        return int(value), int(context["le"])
    if error["type"] == "too_long":
        return int(context["actual_length"]), int(context["max_length"])
    return None


def refuse_over(refusal: Refusal) -> WrapValidator:
    """Annotated metadata, placed after the bound: a value over it is refused with
    `refusal(given, limit)` (given: the number, or the array's length) instead of pydantic's
    own error; any other error passes unchanged."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError as exc:
            for error in exc.errors():
                over = _over_bound(dict(error), value)
                if over is not None:
                    raise refusal(*over) from None
            raise

    return WrapValidator(check)


def _with_own(annotation: Any, own: FieldInfo) -> Any:
    """`annotation` carrying the field's own `FieldInfo` (default, description, constraints)
    ahead of its other metadata: a constraint placed after `refuse_over` would be checked
    apart, outside the type's own schema."""
    if get_origin(annotation) is Annotated:
        inner, *metadata = get_args(annotation)
        return Annotated[inner, own, *metadata]
    return Annotated[annotation, own]


def narrowed(model: type[Model], **types: Any) -> type[Model]:
    """A subclass of `model` under its name whose named fields take the `types` given (bounded
    versions of their own): each keeps its default, description and other constraints."""
    fields = {
        name: _with_own(annotation, copy(model.model_fields[name]))
        for name, annotation in types.items()
    }
    return create_model(
        model.__name__,
        __base__=model,
        __module__=model.__module__,
        __doc__=model.__doc__,
        **fields,
    )
