"""What a run left behind, in comparable form: row counts, notification keys, outbox files."""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

from sqlmodel import Session, select

from tests.topology.harness import Managed, Processes
from wardprog.config import Settings
from wardprog.db import get_engine
from wardprog.models import Notification
from wardprog.status import table_counts


@dataclass(frozen=True)
class Outcome:
    rows: dict[str, int]
    # key -> (status, successful deliveries recorded)
    notifications: dict[str, tuple[str, int]]
    # key -> .eml files carrying it (X-Wardprog-Key header)
    outbox_files: Counter[str]


def outcome(settings: Settings) -> Outcome:
    with Session(get_engine(settings.database_url)) as session:
        rows = table_counts(session)
        notes = session.exec(select(Notification)).all()
        notifications = {
            n.idempotency_key: (n.status.value, sum(1 for d in n.deliveries if d.get("ok")))
            for n in notes
        }
    return Outcome(rows, notifications, outbox_keys(settings.outbox_dir))


# Keys that name a returned file end with a digest of its bytes (a ward may send a corrected
# template); the simulated staff's spreadsheets differ byte-wise between two trusts.
_FILE_DIGEST = re.compile(r":[0-9a-f]{16}$")


def stable_keys(notifications: Iterable[str]) -> Counter[str]:
    """Notification keys comparable across two databases: file digests masked, counted."""
    return Counter(_FILE_DIGEST.sub(":<file>", key) for key in notifications)


def outbox_keys(folder: Path) -> Counter[str]:
    parser = BytesParser(policy=policy.default)
    keys: Counter[str] = Counter()
    for path in folder.rglob("*.eml"):
        with path.open("rb") as handle:
            key = parser.parse(handle, headersonly=True)["X-Wardprog-Key"]
        keys[str(key)] += 1
    return keys


def flow_command(flow: str, as_of: str, *extra: str) -> list[str]:
    """A wardprog flow in its own OS process (see ``tests/topology/run_flow.py``)."""
    return [sys.executable, "-m", "tests.topology.run_flow", flow, "--as-of", as_of, *extra]


def subprocess_env(prefect_api_url: str, prefect_home: Path) -> dict[str, str]:
    """The outer environment minus any Prefect profile, pointed at the test's Prefect API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_API_URL=prefect_api_url,
        PREFECT_HOME=str(prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    return env


def run_quarter(procs: Processes, env: dict[str, str], label: str) -> list[Managed]:
    """Launch on the quarter's first working day, advance after the events, dispatch."""
    return [
        procs.run(f"{label}-launch", flow_command("launch", "2026-01-02", "--simulate-staff"), env),
        procs.run(
            f"{label}-advance", flow_command("advance", "2026-02-20", "--simulate-staff"), env
        ),
        procs.run(f"{label}-dispatch", flow_command("dispatch", "2026-02-20"), env),
    ]
