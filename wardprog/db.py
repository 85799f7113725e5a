"""Engine and session factory: SQLite by default, PostgreSQL in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy import text as sa_text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from wardprog.config import get_settings

_engines: dict[str, Engine] = {}


def normalise_url(url: str) -> str:
    """Accept the plain `postgresql://` form people paste and use the psycopg 3 driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # Foreign keys are off by default in SQLite; WAL lets the Prefect task threads
            # read while one writes. With WAL, synchronous=NORMAL is SQLite's recommended
            # setting: a commit survives the process being killed and the file never corrupts,
            # only a power cut may lose the last commits; it saves an fsync per commit (about
            # 2 ms here, thousands of commits in a replay). Production runs on PostgreSQL.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL per process (engines own connection pools)."""
    url = normalise_url(url or get_settings().database_url)
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back everything on any error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# Keys of the transaction-scoped locks that serialise one kind of write across processes.
THEME_NUMBERING_LOCK = 0x7761_7264_7468  # "wardth": numbering new trust-wide themes


def serialise(session: Session, lock_key: int) -> None:
    """Hold a PostgreSQL advisory lock on ``lock_key`` until this transaction ends.

    For writes that read-then-number (theme T53, T54...): wards triaged at once, by threads or
    by workers, would otherwise pick the same next number. SQLite needs nothing: it allows one
    writer at a time already.
    """
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa_text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
