"""Messages per second to a local webhook: through the outbox vs bare apprise.

    .venv/bin/python benchmarks/notify.py [--messages 300] [--database-url postgresql://...]

Starts an HTTP webhook on 127.0.0.1 (random port), then:

* bare apprise - ``Apprise.notify`` in a loop: the floor cost of one HTTP POST through apprise;
* outbox enqueue - rendering the template and inserting the row (what a stage pays);
* outbox dispatch - ``dispatch_pending``: claim, send, record each delivery, finish. The extra
  cost over bare apprise is the price of the durability guarantees (three short commits per
  message).

Uses a throw-away SQLite database; with ``--database-url postgresql://...`` it creates a scratch
database on that server (``wardprog_bench_<pid>``) and drops it afterwards, leaving the named
database untouched. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import apprise
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

import wardprog.models  # noqa: F401  (registers tables)
from wardprog.config import Settings
from wardprog.db import make_engine, normalise_url
from wardprog.notify.dispatch import dispatch_pending
from wardprog.notify.outbox import enqueue


class _Sink(BaseHTTPRequestHandler):
    count = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _Sink.lock:
            _Sink.count += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def _context(n: int) -> dict[str, Any]:
    code = f"W-B{n:04d}"
    return {
        "wave_number": 1,
        "quarter_start": date(2026, 1, 5),
        "quarter_end": date(2026, 3, 31),
        "as_of": date(2026, 1, 5),
        "wards": [{"code": code, "name": f"Ward {code}", "site": "North", "manager_name": "Sam"}],
    }


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10.1f} msg/s  ({count} in {seconds:.2f}s)"


@contextmanager
def scratch_database(url: str | None, folder: Path) -> Iterator[str]:
    if url is None:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    admin_url = normalise_url(url)
    name = f"wardprog_bench_{os.getpid()}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    n = args.messages

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = f"json://127.0.0.1:{port}/bench"

    with (
        tempfile.TemporaryDirectory() as tmp,
        scratch_database(args.database_url, Path(tmp)) as url,
    ):
        tmp_path = Path(tmp)
        config = tmp_path / "apprise.yml"
        config.write_text(f"urls:\n  - {hook}:\n      - tag: improvement-team\n")
        settings = Settings(database_url=url, output_dir=tmp_path / "out", notify_config=config)
        engine = make_engine(url)
        SQLModel.metadata.create_all(engine)

        bare = apprise.Apprise()
        bare.add(hook)
        body = "Ward W-B0001 joins wave 1 of the ward improvement programme. " * 10
        started = time.perf_counter()
        for i in range(n):
            bare.notify(title=f"Message {i}", body=body)
        bare_s = time.perf_counter() - started

        started = time.perf_counter()
        with Session(engine) as session:
            for i in range(n):
                enqueue(
                    session,
                    key=f"bench:{i}:{datetime.now(UTC).timestamp()}",
                    kind="wave_launch",
                    tags=["improvement-team"],
                    context=_context(i),
                )
            session.commit()
        enqueue_s = time.perf_counter() - started

        started = time.perf_counter()
        report = dispatch_pending(engine, settings, limit=n)
        dispatch_s = time.perf_counter() - started
        engine.dispose()

    server.shutdown()
    print(f"webhook on 127.0.0.1:{port}, {n} messages, database {engine.dialect.name}")
    print(f"bare apprise      {_rate(n, bare_s)}")
    print(f"outbox enqueue    {_rate(n, enqueue_s)}")
    print(f"outbox dispatch   {_rate(report.sent, dispatch_s)}  failed: {report.retrying}")
    print(f"webhook received  {_Sink.count} (expected {2 * n})")


if __name__ == "__main__":
    main()
