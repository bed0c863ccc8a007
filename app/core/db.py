"""Database engine, sessions, the declarative base and the repository base (SQLite by default,
any SQLAlchemy URL). Each domain declares its own tables on `Base` and owns its own SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from sqlalchemy import DateTime, Engine, TypeDecorator, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the store uses."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Repository:
    """Base of a domain's SQL: queries over one session factory, each its own transaction."""

    def __init__(self, sessions: sessionmaker) -> None:  # type: ignore[type-arg]
        self._sessions = sessions

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self._session() as session:
            session.execute(text("SELECT 1"))


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the worker writing progress
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create the engine (and SQLite's directory and pragmas)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


class StoreInUse(RuntimeError):
    """Another service instance already runs on this SQLite store."""


def lock_sqlite_store(url: str) -> FileLock | None:
    """Hold an exclusive lock beside a SQLite file until the returned lock is released.

    At start an instance marks every running job interrupted, which is only right if no other
    instance runs those jobs: a second `make run` on the same store is refused instead.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(f"{parsed.database}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not thread-local: the lifespan that releases it may run on another thread.
    lock = FileLock(path, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreInUse(
            f"another instance of the service is using {parsed.database}; stop it, or give "
            "this one its own FORECAST_DATABASE_URL"
        ) from None
    return lock


def make_session_factory(engine: Engine) -> sessionmaker:  # type: ignore[type-arg]
    """Sessions that keep loaded attributes after commit (rows are returned to callers)."""
    return sessionmaker(engine, expire_on_commit=False)
