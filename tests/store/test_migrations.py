"""Alembic migrations on SQLite and PostgreSQL: the schema they build is the models' schema,
old databases keep their rows, and concurrent starts serialise on the migration lock."""

from __future__ import annotations

import fcntl
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

import app.migrations
from app.core.db import Base, make_engine, make_session_factory
from app.jobs.repository import open_repositories
from app.jobs.table import JobStatus
from app.migrations import FIRST_REVISION, current_revision, upgrade
from tests.waiting import LIVENESS_SECONDS, wait_until

ROOT = Path(__file__).resolve().parents[2]
HEAD = "0005"  # update with each new revision
JOB_ID, DATASET_ID = "0" * 31 + "1", "0" * 31 + "2"
CREATED = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
VALUES = bytes(range(256)) * 32  # 512 rows of 2 float64 columns, any bit pattern


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    """An engine on an empty database (nothing migrated yet), on each backend (see conftest)."""
    engine = make_engine(url)
    yield engine
    engine.dispose()


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models.

    Types and server defaults are compared too: both backends come out clean with them, so no
    SQLite affinity noise needs ignoring.
    """
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def insert_first_release_rows(engine: Engine) -> None:
    """A job and a dataset as the first release wrote them (the 0001 columns only)."""
    sqlite = engine.dialect.name == "sqlite"
    # SQLAlchemy's own SQLite storage format; PostgreSQL parses an ISO string with its offset.
    created = CREATED.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else CREATED.isoformat()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO jobs (id, model_name, status, spec, dataset_id, created_at, "
                "cancel_requested, history, progress) VALUES (:id, 'old', 'queued', :spec, "
                ":dataset_id, :created, :cancel, :history, NULL)"
            ),
            {
                "id": JOB_ID,
                "spec": '{"model_name": "old"}',
                "dataset_id": DATASET_ID,
                "created": created,
                "cancel": False,
                "history": "[]",
            },
        )
        connection.execute(
            text(
                'INSERT INTO datasets (id, name, columns, "rows", stats, "values", created_at) '
                "VALUES (:id, 'old series', :columns, 512, :stats, :values, :created)"
            ),
            {
                "id": DATASET_ID,
                "columns": '["a", "b"]',
                "stats": '[{"mean": 1.0}, {"mean": 2.0}]',
                "values": VALUES,
                "created": created,
            },
        )


def assert_first_release_rows_kept(engine: Engine, datasets_dir: Path) -> None:
    jobs, datasets = open_repositories(make_session_factory(engine), datasets_dir)
    job = jobs.get(JOB_ID)
    assert job is not None
    assert (job.model_name, job.status, job.spec) == (
        "old",
        JobStatus.QUEUED,
        {"model_name": "old"},
    )
    assert (job.dataset_id, job.created_at, job.history) == (DATASET_ID, CREATED, [])
    assert (job.attempts, job.worker, job.heartbeat_at) == (0, None, None)
    dataset = datasets.get(DATASET_ID)
    assert dataset is not None
    assert (dataset.name, dataset.columns, dataset.rows) == ("old series", ["a", "b"], 512)
    assert (datasets.values(dataset).tobytes(), dataset.created_at) == (VALUES, CREATED)
    assert dataset.stored_as is None  # read from its row, as it was stored
    # The old job runs under the new columns like any other.
    assert jobs.claim(JOB_ID, "t" * 32, "host:1")
    job = jobs.get(JOB_ID)
    assert job is not None
    assert (job.attempts, job.worker) == (1, "host:1")
    assert datasets.delete_unused(DATASET_ID) == (True, 1)


def test_the_scripts_head_is_the_expected_revision() -> None:
    scripts = ScriptDirectory(str(Path(app.migrations.__file__).parent))
    assert scripts.get_heads() == [HEAD]
    assert scripts.get_base() == FIRST_REVISION


def test_an_empty_database_is_built_to_head_exactly_as_the_models_say(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert table_names(engine) == {"alembic_version", "jobs", "datasets"}
    assert schema_differences(engine) == []


def test_upgrading_again_changes_nothing(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine)
    insert_first_release_rows(engine)
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == HEAD
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1
        assert connection.scalar(text("SELECT count(*) FROM jobs")) == 1
    assert schema_differences(engine) == []
    assert_first_release_rows_kept(engine, tmp_path / "datasets")


def test_a_first_release_database_keeps_its_rows(engine: Engine, tmp_path: Path) -> None:
    upgrade(engine, FIRST_REVISION)
    assert current_revision(engine) == FIRST_REVISION
    columns = {column["name"] for column in inspect(engine).get_columns("jobs")}
    assert not columns & {"attempts", "worker", "heartbeat_at"}
    insert_first_release_rows(engine)

    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert schema_differences(engine) == []  # SQLite's table copy kept every index too
    assert_first_release_rows_kept(engine, tmp_path / "datasets")


def test_a_database_made_before_migrations_is_stamped_then_upgraded(
    engine: Engine, tmp_path: Path
) -> None:
    upgrade(engine, FIRST_REVISION)
    insert_first_release_rows(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    assert current_revision(engine) is None

    upgrade(engine)
    assert current_revision(engine) == HEAD
    assert schema_differences(engine) == []
    assert_first_release_rows_kept(engine, tmp_path / "datasets")


UPGRADE_SCRIPT = textwrap.dedent(
    """
    import sys
    from app.core.db import make_engine
    from app.migrations import upgrade
    url = sys.argv[1]
    engine = make_engine(url)
    print("ready", flush=True)
    sys.stdin.readline()  # "go": blocks until the test has seen every process ready
    upgrade(engine)
    engine.dispose()
    """
)


def test_processes_starting_together_all_upgrade(url: str, engine: Engine) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE_SCRIPT, url],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:  # all imported: now they really upgrade at the same moment
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=LIVENESS_SECONDS)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 3, outputs
    assert current_revision(engine) == HEAD
    assert schema_differences(engine) == []


def test_an_upgrade_waits_for_the_migration_lock(
    url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="filelock")  # SQLite: its attempts on the lock file
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(engine)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    with hold_migration_lock(url):
        thread.start()
        # Another process is migrating: rather than watching half a second for nothing to
        # happen, see the upgrade blocked on the lock, then check it did not go ahead.
        wait_until(
            lambda: waits_for_migration_lock(engine, caplog),
            message=lambda: f"the upgrade to wait for the migration lock (errors: {errors})",
        )
        assert not done.is_set(), errors
        assert current_revision(engine) is None
    assert done.wait(LIVENESS_SECONDS)
    thread.join()
    assert errors == []
    assert current_revision(engine) == HEAD


def waits_for_migration_lock(engine: Engine, caplog: pytest.LogCaptureFixture) -> bool:
    """Whether an upgrade is waiting for the migration lock: on SQLite, the file lock logged a
    failed attempt; on PostgreSQL, a session of this database waits for the advisory lock."""
    if engine.url.get_backend_name() == "sqlite":
        return any(
            record.name == "filelock" and "not acquired" in record.getMessage()
            for record in caplog.records
        )
    high, low = divmod(app.migrations._ADVISORY_LOCK_KEY, 2**32)  # a bigint key's two halves
    query = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"
    )
    with engine.connect() as connection:
        return bool(connection.execute(query, {"high": high, "low": low}).scalar_one())


@contextmanager
def hold_migration_lock(url: str) -> Iterator[None]:
    """Hold the lock another process would hold while migrating."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with Path(f"{parsed.database}.migrate.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    engine = make_engine(url)
    key = {"key": app.migrations._ADVISORY_LOCK_KEY}
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
    finally:
        engine.dispose()
