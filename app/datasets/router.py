"""/v1/datasets: upload a series or many (CSV or JSON), list, read, delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.core import strict_json
from app.core.config import Settings
from app.core.deps import SettingsDep
from app.core.errors import InvalidInput, UnsupportedMediaType, is_coded, responses
from app.core.schemas import ID_PATTERN, VIEW_SERIES, invisible_character
from app.datasets import csv_format, parquet_format, service
from app.datasets.deps import DatasetsDep
from app.datasets.gaps import MISSING_POLICIES, missing_policy
from app.datasets.panel import LAYOUTS, layout_of
from app.datasets.parsed import ParsedSeries
from app.datasets.repository import DatasetRepository
from app.datasets.schemas import (
    DatasetPage,
    DatasetRead,
    DatasetUpload,
    SeriesPage,
    series_read,
)
from app.datasets.table import DatasetRow
from app.datasets.values import Limits


def _datasets_router() -> APIRouter:
    return APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=responses(422))


REPORTED_ERRORS = 1000  # errors of a bad upload carried to its answer (which lists 20)

router = _datasets_router()  # every route but the upload's, alike in every instance
FORM_FIELDS = ("file", "name", "time_column", "freq", "missing", "id_column", "layout")
DatasetId = Annotated[str, Path(pattern=ID_PATTERN, description="dataset id")]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its $defs written in place: a request body inside the OpenAPI document
    cannot point into pydantic's own #/$defs."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return dict(inline(schema))


def _json_body(upload: type[DatasetUpload]) -> dict[str, Any]:
    """The JSON body's schema: `upload`'s, or a bare list, which is read as its `values`."""
    schema = _inlined(upload.model_json_schema())
    values = next(
        member for member in schema["properties"]["values"]["anyOf"] if member["type"] == "array"
    )
    bare = {**values, "description": "a bare list: the values alone (numbers: one column)"}
    return {"schema": {"anyOf": [schema, bare]}}


_FORM_BODY: dict[str, Any] = {
    "schema": {
        "type": "object",
        "required": ["file"],
        "additionalProperties": False,
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "CSV (UTF-8, a header row) or Parquet (found by its magic "
                "bytes), numeric value columns; many series as a long table (an id column) "
                "or a wide one (layout)",
            },
            "name": {"type": "string", "maxLength": 128},
            "time_column": {
                "type": "string",
                "description": "the time index's column (default: one named time, "
                "timestamp, date, datetime, ds, year, month, week, quarter or period, "
                "or an unnamed first column of times, as pandas' to_csv writes it)",
            },
            "freq": {
                "type": "string",
                "maxLength": 32,
                "description": "the index's frequency (a pandas alias: D, W-SUN, MS, "
                "ME, QS-JAN, YS-JAN, h, 30min, ...); default: inferred",
            },
            "missing": {
                "type": "string",
                "enum": list(MISSING_POLICIES),
                "description": "empty cells and missing timestamps: error (a 422 "
                "naming them), interpolate (linear in time), ffill or zero; within "
                "each series",
            },
            "id_column": {
                "type": "string",
                "description": "the series id column of a long table, whose rows of "
                "each id are one series (default: one named unique_id, id, series or "
                "item_id, case-insensitive; none: the file is one series)",
            },
            "layout": {
                "type": "string",
                "enum": list(LAYOUTS),
                "description": "rows (default): every row is a time step of the file's "
                "series; columns_are_series: every value column is a series of its "
                "own (its id the column name, its values in a column named value), "
                "its leading and trailing empty cells dropped",
            },
        },
    }
}


def _text_field(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 128:
        raise InvalidInput("must be a text field of at most 128 characters", field=field)
    invisible = invisible_character(value)
    if invisible is not None:
        raise InvalidInput(invisible, field=field)
    return value


async def _parse_multipart(request: Request, limits: Limits) -> tuple[ParsedSeries, str | None]:
    form = await request.form(max_files=1, max_fields=8)
    if not isinstance(form.get("file"), UploadFile):
        raise InvalidInput(
            "a CSV or Parquet file is required in the form field 'file'", field="file"
        )
    for key in form:
        if key not in FORM_FIELDS:
            raise InvalidInput(
                f"unknown form field {key!r}; the fields are {', '.join(FORM_FIELDS)}", field=key
            )
        if len(form.getlist(key)) > 1:
            raise InvalidInput(f"the form field {key!r} is given twice", field=key)
    upload = form["file"]
    assert isinstance(upload, UploadFile)  # checked above
    name = _text_field(form.get("name"), "name")
    time_column = _text_field(form.get("time_column"), "time_column")
    freq = _text_field(form.get("freq"), "freq")
    missing = missing_policy(_text_field(form.get("missing"), "missing"))
    id_column = _text_field(form.get("id_column"), "id_column")
    layout = layout_of(_text_field(form.get("layout"), "layout"))
    # A Parquet file is read where the upload was spooled (a CSV file is read whole): a
    # panel of millions of rows is not held once more as bytes.
    if await run_in_threadpool(parquet_format.is_parquet, upload.file):
        parse: Callable[..., ParsedSeries] = partial(parquet_format.parse_parquet, upload.file)
    else:
        parse = partial(csv_format.parse_csv, await upload.read())
    series = await run_in_threadpool(
        partial(
            parse,
            time_column=time_column,
            freq=freq,
            missing=missing,
            limits=limits,
            id_column=id_column,
            layout=layout,
        )
    )
    return series, name


async def _parse_json(
    request: Request, limits: Limits, upload_model: type[DatasetUpload]
) -> tuple[ParsedSeries, str | None]:
    body = await request.body()
    if body.lstrip()[:1] == b"[":  # a bare list of numbers is one column
        body = b'{"values": ' + body + b"}"
    try:
        parsed = await run_in_threadpool(strict_json.loads, body)
    except json.JSONDecodeError as exc:
        invalid = {"type": "json_invalid", "loc": ("body",), "msg": "", "ctx": {"error": exc.msg}}
        raise RequestValidationError([invalid]) from None
    upload = await run_in_threadpool(_validated, upload_model, parsed)
    if upload.values is None and upload.series is None:  # as when `values` was required
        missing = {"type": "missing", "loc": ("body", "values"), "msg": "Field required"}
        raise RequestValidationError([missing])
    series = await run_in_threadpool(service.parse_json, upload, limits=limits)
    return series, upload.name


def _validated(upload_model: type[DatasetUpload], parsed: Any) -> DatasetUpload:
    """The upload's model, or RequestValidationError with its errors: built here, in a worker
    thread, since a body of many bad values gives as many errors."""
    try:
        return upload_model.model_validate(parsed)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        # What the answer names: the first errors, and any coded one (a limit's) after them.
        kept = errors[:REPORTED_ERRORS] + [e for e in errors[REPORTED_ERRORS:] if is_coded(e)]
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in kept]) from None


@router.get("", response_model=DatasetPage, summary="List datasets")
def list_datasets(
    datasets: DatasetsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> DatasetPage:
    """Stored datasets, newest first."""
    rows, total = datasets.page(limit=limit, offset=offset)
    items = [DatasetRead.from_row(row) for row in rows]
    return DatasetPage(items=items, total=total, limit=limit, offset=offset)


def _view(
    datasets: DatasetRepository,
    row: DatasetRow,
    *,
    status_code: int = 200,
    location: str | None = None,
) -> Response:
    """The dataset's view, built and written as JSON by the calling thread, called from a worker
    thread, by a sync route or through run_in_threadpool: FastAPI writes a returned model on
    the event loop, and reading the first series' index reads a file."""
    first = service.series_page(datasets=datasets, row=row, limit=VIEW_SERIES)
    body = DatasetRead.from_row(row, first).model_dump_json()
    headers = None if location is None else {"Location": location}
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


@router.get("/{dataset_id}", response_model=DatasetRead, responses=responses(404))
def read_dataset(dataset_id: DatasetId, datasets: DatasetsDep) -> Response:
    """One dataset's columns, length and per-column statistics, its series' count and lengths,
    and its first series (page through them all at `/series`)."""
    row = service.get_dataset(datasets=datasets, dataset_id=dataset_id)
    return _view(datasets, row)


@router.get("/{dataset_id}/series", response_model=SeriesPage, responses=responses(404))
def read_dataset_series(
    dataset_id: DatasetId,
    datasets: DatasetsDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> SeriesPage:
    """A page of a many-series dataset's series: each one's id, length, time axis and filled
    values, in stored order (an empty page for a single series)."""
    row = service.get_dataset(datasets=datasets, dataset_id=dataset_id)
    items = series_read(service.series_page(datasets=datasets, row=row, offset=offset, limit=limit))
    total = row.series_total if row.is_panel else 0
    return SeriesPage(items=items, total=total, limit=limit, offset=offset)


@router.delete(
    "/{dataset_id}", status_code=204, response_class=Response, responses=responses(404, 409)
)
def delete_dataset(dataset_id: DatasetId, datasets: DatasetsDep) -> None:
    """Delete a dataset (409 while a queued or running job uses it)."""
    service.delete_dataset(datasets=datasets, dataset_id=dataset_id)


async def _create_dataset(
    request: Request, datasets: DatasetRepository, settings: Settings, upload: type[DatasetUpload]
) -> Response:
    """Parse the body (JSON as `upload`, or a multipart CSV) and store what it holds; every step
    whose cost grows with the rows or the series runs in a worker thread."""
    limits = Limits.of(settings)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        series, name = await _parse_json(request, limits, upload)
    elif media == "multipart/form-data":
        series, name = await _parse_multipart(request, limits)
    else:
        raise UnsupportedMediaType(
            f"content type {media or 'none'!r}; send application/json or multipart/form-data",
            field="content-type",
        )
    row = await run_in_threadpool(
        partial(
            service.create_dataset,
            datasets=datasets,
            name=name,
            matrix=series.matrix,
            columns=series.columns,
            time_axis=series.time_axis,
            filled=series.filled,
            series=series.series,
            series_filled=series.series_filled,
        )
    )
    location = f"/v1/datasets/{row.id}"
    return await run_in_threadpool(
        partial(_view, datasets, row, status_code=201, location=location)
    )


def make_router(upload: type[DatasetUpload]) -> APIRouter:
    """Every /v1/datasets route; JSON uploads validated, and published, as `upload`: the model
    with this instance's limits (app.datasets.schemas.upload_model)."""
    uploads = _datasets_router()
    body = {
        "required": True,
        "content": {"application/json": _json_body(upload), "multipart/form-data": _FORM_BODY},
    }

    @uploads.post(
        "",
        status_code=201,
        response_model=DatasetRead,
        responses=responses(400, 413, 415, 422),
        openapi_extra={"requestBody": body},
        summary="Upload a series, or many",
    )
    async def create_dataset(
        request: Request, datasets: DatasetsDep, settings: SettingsDep
    ) -> Response:
        """Upload a series, or many, as a CSV or Parquet file (multipart field `file`) or as
        JSON.

        CSV: a header row, numeric columns, and optionally a time index (found by name, or an
        unnamed first column as pandas writes it): ISO 8601 dates and datetimes, years, months
        (1959-01, 1959M01), quarters (1959Q1) or numbers. Parquet: the same columns, typed
        (the time index may hold timestamps or dates; pandas' index column is found too); its
        rows are counted from 1 where a message names a line. Its frequency is inferred (or
        `freq`); empty cells and missing timestamps follow `missing`. JSON: `{"columns": [...],
        "values": [[...], ...]}` or a flat `values` list for one column, with `start` and
        `freq` for a time index.

        Many series: a long CSV has an id column (`id_column`, or one named unique_id, id,
        series or item_id), the rows of each id one series; with `layout=columns_are_series`
        each value column of a wide CSV is a series. Each series is ordered by its own times
        and filled on its own, and all share one frequency (inferred, or `freq`). JSON:
        `{"series": [{"id": "a", "values": [...], "start": ..., "freq": ...}, ...], "columns":
        [...]}`. At most FORECAST_MAX_SERIES series and FORECAST_MAX_DATASET_ROWS rows in all.
        Nothing is stored unless every series is valid.
        """
        return await _create_dataset(request, datasets, settings, upload)

    datasets = APIRouter()
    datasets.include_router(uploads)
    datasets.include_router(router)  # the routes alike in every instance
    return datasets
