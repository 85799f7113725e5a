"""Shared fixtures: a real database per test on SQLite and on PostgreSQL, isolated settings.

Under pytest-xdist (`make test` runs `-n 2`) every worker is its own pytest process with its own
Prefect home and its own Prefect test harness (one per worker session).

PostgreSQL: each pytest process creates its own throw-away database on the local server (so
parallel runs never collide) and truncates between tests. Under CI=true an unreachable server is
a failure, not a skip: the production database must be exercised.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import wardprog.models  # noqa: F401  (registers every table)
from tests.topology.harness import scratch_database
from wardprog import config, db
from wardprog.prefect_env import tune_local_server

# One Prefect home per pytest process (each xdist worker is one), set before Prefect is first
# imported: workers never share Prefect's local files, and no developer profile leaks in.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix=f"wardprog-prefect-{_WORKER}-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
tune_local_server()  # the test harness's local API records task runs in batches, as wardprog's

PG_ADMIN_URL = os.environ.get(
    "WARDPROG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _pg_available() -> str | None:
    try:
        eng = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(sa.text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@contextmanager
def _scratch_postgres(label: str) -> Iterator[str]:
    """A throw-away database on the local server; its pooled engines are closed before the drop."""
    with scratch_database(PG_ADMIN_URL, label) as url:
        name = url.rsplit("/", 1)[1]
        try:
            yield url
        finally:
            for key in [k for k in db._engines if k.endswith(f"/{name}")]:
                db._engines.pop(key).dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database for this pytest process, dropped at the end."""
    problem = _pg_available()
    if problem:
        if IN_CI:
            pytest.fail(
                f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {problem}"
            )
        pytest.skip(f"PostgreSQL not reachable ({problem})")
    with _scratch_postgres("test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database with the schema, for each SQLite test to copy."""
    path = tmp_path_factory.mktemp("schema") / "wardprog.db"
    url = f"sqlite:///{path}"
    SQLModel.metadata.create_all(db.get_engine(url))
    db._engines.pop(db.normalise_url(url)).dispose()  # closed: WAL checkpointed into the file
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL with the schema created and empty, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "wardprog.db"
        # A copy of the schema built once (creating 32 tables took 30-55 ms a test).
        shutil.copyfile(request.getfixturevalue("sqlite_schema"), path)
        url = f"sqlite:///{path}"
        db.get_engine(url)
        yield url
        db._engines.pop(db.normalise_url(url)).dispose()
    else:
        url = request.getfixturevalue("postgres_url")
        engine = db.get_engine(url)
        SQLModel.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql(_emptying_sql(conn))
        yield url


@functools.cache
def _emptying_sql_for(sequences: tuple[str, ...]) -> str:
    deletes = [f'DELETE FROM "{t.name}"' for t in reversed(SQLModel.metadata.sorted_tables)]
    return "; ".join(deletes + [f"ALTER SEQUENCE {name} RESTART" for name in sequences])


def _emptying_sql(conn: sa.Connection) -> str:
    """Every table emptied (children first) and every id sequence restarted, in one round trip.

    ``TRUNCATE ... RESTART IDENTITY CASCADE`` of the 32 tables took 130-150 ms a test here (a
    file operation per table, on every PostgreSQL test); deleting the few rows a test leaves
    takes about 7 ms. Ids restart at 1 as before.
    """
    sequences = conn.exec_driver_sql(
        "SELECT quote_ident(sequence_schema) || '.' || quote_ident(sequence_name)"
        " FROM information_schema.sequences ORDER BY 1"
    )
    return _emptying_sql_for(tuple(row[0] for row in sequences))


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database (no tables) on each backend: for migrations and end to end."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        yield url
        engine = db._engines.pop(db.normalise_url(url), None)
        if engine is not None:
            engine.dispose()
        return
    request.getfixturevalue("postgres_url")  # reachability check (fails under CI)
    with _scratch_postgres("fresh") as url:
        yield url


def _point_settings_at(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> config.Settings:
    monkeypatch.setenv("WARDPROG_DATABASE_URL", url)
    monkeypatch.setenv("WARDPROG_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("WARDPROG_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("WARDPROG_EXTRACTS_DIR", str(tmp_path / "extracts"))
    monkeypatch.setenv("WARDPROG_INBOX_DIR", str(tmp_path / "inbox"))
    monkeypatch.delenv("WARDPROG_NOTIFY_CONFIG", raising=False)
    config.get_settings.cache_clear()
    return config.get_settings()


@pytest.fixture
def settings(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[config.Settings]:
    """Settings pointing at this test's database and folders (also what flows read)."""
    yield _point_settings_at(db_url, tmp_path, monkeypatch)
    config.get_settings.cache_clear()


@pytest.fixture
def fresh_settings(
    fresh_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[config.Settings]:
    """Settings on a brand-new empty database (the schema comes from the migrations)."""
    yield _point_settings_at(fresh_db_url, tmp_path, monkeypatch)
    config.get_settings.cache_clear()


@pytest.fixture
def engine(settings: config.Settings) -> Engine:
    return db.get_engine(settings.database_url)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A throw-away Prefect API (SQLite under tmp) for flow tests, run without heartbeats.

    The tests run their flows in this process, as the demo's replay does: a crash is the
    test's own failure, so nothing needs the server to notice a silent death, and in Prefect
    3.8 every flow run joins its heartbeat thread on exit (up to a second a run, over a hundred
    runs in the suite). Processes the tests start (workers, the CLI) keep their own settings:
    the production topology test's workers keep heartbeats, as deployments do.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=60),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with an end-to-end (``slow``) test first, in their own order, the rest after.

    pytest-xdist hands tests out in collection order: the long end-to-end runs (the production
    topology, the crash and concurrency tests, the programme replay, the browsers) collected
    last would start last and leave one worker running alone at the end of `make test`.
    Started first, the short tests fill in around them. Whole modules move, so module-scoped
    fixtures are still built once per module and worker.
    """
    slow_modules = {_module(item) for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: _module(item) not in slow_modules)  # stable: keeps each order


def _module(item: pytest.Item) -> object:
    """A test function's module; any other kind of item (none today), its file."""
    return item.module if isinstance(item, pytest.Function) else item.path
