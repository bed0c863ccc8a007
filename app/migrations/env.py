"""Alembic environment: runs on the connection `app.migrations.upgrade` hands over."""

from __future__ import annotations

from alembic import context

from app.core.db import Base
from app.datasets.table import DatasetRow  # noqa: F401 - registers the datasets table
from app.jobs.table import JobRow  # noqa: F401 - registers the jobs table

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
)
with context.begin_transaction():
    context.run_migrations()
