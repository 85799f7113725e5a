"""Run real processes for topology and reliability tests, and always clean them up.

Each process starts in its own session (process group) so a teardown signal reaches everything
it spawned: a Prefect worker's flow-run subprocesses, the server's uvicorn. Output goes to a log
file per process, quoted in assertion messages so a failure in CI says what the process said.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from wardprog.config import Settings

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A free TCP port on loopback (tests never listen anywhere else)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def scratch_database(admin_url: str, label: str) -> Iterator[str]:
    """A throw-away PostgreSQL database (name unique per call), dropped even on failure.

    Yields the URL without a driver suffix so the caller picks one (psycopg for wardprog,
    asyncpg for the Prefect server).
    """
    name = f"wardprog_{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
    try:
        yield f"postgresql://{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wardprog_env(settings: Settings) -> dict[str, str]:
    """The environment a wardprog process needs to share this test's database and folders."""
    return {
        "WARDPROG_DATABASE_URL": settings.database_url,
        "WARDPROG_VAR_DIR": str(settings.var_dir),
        "WARDPROG_OUTPUT_DIR": str(settings.output_dir),
        "WARDPROG_EXTRACTS_DIR": str(settings.extracts_dir),
        "WARDPROG_INBOX_DIR": str(settings.inbox_dir),
        # The checkout is the code: importable from anywhere (the worker's flow-run processes
        # start in a temporary folder before the pull step moves them here).
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    }


@dataclass
class Managed:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Processes:
    """Processes started by one test; `stop_all` is idempotent and never raises."""

    log_dir: Path
    base_env: Mapping[str, str]
    started: list[Managed] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str | os.PathLike[str]],
        env: Mapping[str, str] | None = None,
        cwd: Path = REPO,
    ) -> Managed:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as handle:
            proc = subprocess.Popen(
                [str(a) for a in args],
                cwd=cwd,
                env={**self.base_env, **(env or {})},
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        managed = Managed(name, proc, log)
        self.started.append(managed)
        return managed

    def run(
        self,
        name: str,
        args: Sequence[str | os.PathLike[str]],
        env: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> Managed:
        """Start and wait; a non-zero exit fails with the process's own output."""
        managed = self.start(name, args, env)
        try:
            managed.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(managed.proc, signal.SIGKILL)
            raise AssertionError(
                f"{name} did not finish in {timeout}s:\n{managed.tail()}"
            ) from None
        if managed.proc.returncode != 0:
            raise AssertionError(
                f"{name} exited with {managed.proc.returncode}:\n{managed.tail(80)}"
            )
        return managed

    def stop_all(self, grace: float = 10) -> None:
        # Newest first: workers before the server they report to.
        live = [m for m in reversed(self.started) if m.proc.poll() is None]
        for m in live:
            kill_group(m.proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for m in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                m.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for m in self.started:
            # SIGKILL the group even when the leader has exited: its children may not have.
            kill_group(m.proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                m.proc.wait(timeout=5)


def kill_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.2,
    alive: Managed | None = None,
) -> None:
    """Poll ``condition``; fail with ``what`` (and the process's log) when it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if alive is not None and alive.proc.poll() is not None:
            raise AssertionError(
                f"{alive.name} exited ({alive.proc.returncode}) while waiting for {what}:\n"
                f"{alive.tail()}"
            )
        time.sleep(interval)
    detail = f"\n{alive.name}:\n{alive.tail()}" if alive is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")


def api_healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
