"""Property-based checks of the running app against its own OpenAPI schema (schemathesis):
no 5xx, and every response matches the status codes, content types and bodies it documents."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from tests.factories import BUNDLED_MODELS, make_settings

pytestmark = pytest.mark.slow


# Building the app touches nothing. Schemathesis runs its lifespan (database, model store) for
# each operation it tests, so the fixture below only puts the bundled model in its store.
_ROOT = Path(tempfile.mkdtemp(prefix="schema-"))
_SETTINGS = make_settings(_ROOT, max_horizon=300, max_contexts=8)
app = create_app(_SETTINGS)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def _model_store() -> Iterator[None]:
    shutil.copytree(BUNDLED_MODELS, _SETTINGS.models_dir, dirs_exist_ok=True)
    yield
    shutil.rmtree(_ROOT, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_own_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
