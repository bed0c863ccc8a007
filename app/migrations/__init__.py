"""Schema migrations (Alembic): every process that opens the store upgrades it to head first.

Databases created by `create_all` before migrations existed (no `alembic_version` table, the
jobs table present) are stamped at the first revision, then upgraded, so their rows survive.
Concurrent starts (an API and several workers) take a lock first: an advisory lock on
PostgreSQL, a file lock beside a SQLite file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine import make_url

FIRST_REVISION = "0001"
_ADVISORY_LOCK_KEY = 0x466F7265  # any constant shared by every process of the service


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    url = make_url(str(engine.url))
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            yield
            return
        with FileLock(f"{url.database}.migrate.lock"):
            yield
        return
    if url.get_backend_name() == "postgresql":
        with engine.connect() as lock_connection:
            lock_connection.execute(
                text("SELECT pg_advisory_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
            try:
                yield
            finally:
                lock_connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": _ADVISORY_LOCK_KEY}
                )
        return
    yield


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (head by default), keeping every row."""
    with _migration_lock(engine), engine.begin() as connection:
        tables = set(inspect(connection).get_table_names())
        config = _config(connection)
        if "jobs" in tables and "alembic_version" not in tables:  # made before migrations
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before any migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
