"""Dispatch delivers for real to local receivers (SMTP and an HTTP webhook on 127.0.0.1).

Every test runs on SQLite and PostgreSQL (the ``settings`` fixture is parametrised).
"""

from __future__ import annotations

import asyncio
import base64
import email
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from wardprog.config import Settings
from wardprog.models import Notification, NotificationStatus
from wardprog.notify.dispatch import LEASE, backoff_delay, dispatch_pending, requeue_dead
from wardprog.notify.outbox import Attachment, enqueue
from wardprog.queries import notification_counts

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
REPO = Path(__file__).resolve().parents[1]


# --- local receivers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpReceiver:
    """aiosmtpd handler: keeps each accepted mail; can hold a session at RCPT (before DATA)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []
        self.hold = False
        self.held = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.hold:
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpReceiver, int]]:
    handler = SmtpReceiver()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        handler.release.set()
        controller.stop()


class Webhook:
    """A JSON webhook receiver on 127.0.0.1 that can be started later on a chosen port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Webhook:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                received.append(({k.lower(): v for k, v in self.headers.items()}, payload))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def keys(self) -> list[str]:
        return [h.get("idempotency-key", "") for h, _ in self.received]


@pytest.fixture
def webhooks() -> Iterator[list[Webhook]]:
    made: list[Webhook] = []
    yield made
    for hook in made:
        hook.stop()


def new_hook(webhooks: list[Webhook], start: bool = True) -> Webhook:
    hook = Webhook()
    webhooks.append(hook)
    return hook.start() if start else hook


# --- helpers ----------------------------------------------------------------------------------


def configure(settings: Settings, tmp_path: Path, yaml_text: str, **extra: Any) -> Settings:
    path = tmp_path / "apprise.yml"
    path.write_text(yaml_text, encoding="utf-8")
    return settings.model_copy(update={"notify_config": path, **extra})


def launch_context(code: str) -> dict[str, Any]:
    return {
        "wave_number": 1,
        "quarter_start": date(2026, 1, 5),
        "quarter_end": date(2026, 3, 31),
        "as_of": date(2026, 1, 5),
        "wards": [{"code": code, "name": f"Ward {code}", "site": "North", "manager_name": "Sam"}],
    }


def add_message(
    engine: Engine,
    code: str,
    *,
    recipients: tuple[str, ...] = (),
    tags: tuple[str, ...] | None = None,
    attach: bool = True,
) -> str:
    key = f"wave_launch:{code}:wave-1"
    with Session(engine) as session:
        enqueue(
            session,
            key=key,
            kind="wave_launch",
            tags=tags if tags is not None else (code,),
            ward_code=code,
            recipients=recipients,
            context=launch_context(code),
            attachments=[Attachment("invite.ics", ICS, "text/calendar")] if attach else [],
        )
        session.commit()
    return key


def row(engine: Engine, key: str) -> Notification:
    with Session(engine) as session:
        note = session.exec(select(Notification).where(Notification.idempotency_key == key)).one()
        session.expunge(note)
        return note


def as_utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def attachment_parts(message: Message) -> dict[str, bytes]:
    return {
        str(part.get_filename()): bytes(part.get_payload(decode=True))
        for part in message.walk()
        if part.get_filename()
    }


# --- tests ------------------------------------------------------------------------------------


def test_default_outbox_writes_one_eml_with_text_html_and_attachment(
    settings: Settings, engine: Engine
) -> None:
    key = add_message(engine, "W-A01", recipients=("manager.a01@trust.example",))

    report = dispatch_pending(engine, settings, now=NOW)
    again = dispatch_pending(engine, settings, now=NOW + timedelta(hours=1))

    assert (report.sent, again.claimed) == (1, 0)
    files = list((settings.outbox_dir / "W-A01").glob("*.eml"))
    assert len(files) == 1
    mail = email.message_from_bytes(files[0].read_bytes())
    assert mail["X-Wardprog-Key"] == key
    assert mail["To"] == "manager.a01@trust.example"
    assert "Ward W-A01 joins wave 1" in mail["Subject"]
    kinds = [p.get_content_type() for p in mail.walk()]
    assert {"text/plain", "text/html", "text/calendar"} <= set(kinds)
    assert attachment_parts(mail) == {"invite.ics": ICS}
    note = row(engine, key)
    assert note.status == NotificationStatus.sent
    assert note.attempts == 1 and note.claimed_by == ""
    assert [d["ok"] for d in note.deliveries] == [True]


def test_smtp_delivers_to_the_ward_manager_with_the_attachment(
    settings: Settings, engine: Engine, tmp_path: Path, smtp: tuple[SmtpReceiver, int]
) -> None:
    receiver, port = smtp
    settings = configure(
        settings,
        tmp_path,
        f"""
urls:
  - mailto://127.0.0.1:{port}?from=wardprog@trust.example&mode=insecure:
      - tag: direct
""",
    )
    key = add_message(engine, "W-A01", recipients=("manager.a01@trust.example",))

    report = dispatch_pending(engine, settings, now=NOW)

    assert report.sent == 1, report.results
    assert len(receiver.messages) == 1
    rcpt, mail = receiver.messages[0]
    assert rcpt == ["manager.a01@trust.example"]
    assert mail["X-Wardprog-Key"] == key
    assert "Ward W-A01 joins wave 1" in str(mail["Subject"])
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    assert "wave 1" in bytes(html.get_payload(decode=True)).decode()
    assert attachment_parts(mail) == {"invite.ics": ICS}
    delivery = row(engine, key).deliveries[0]
    assert delivery["recipient"] == "manager.a01@trust.example"
    assert delivery["target"] == f"mailto://127.0.0.1:{port}/… to manager.a01@trust.example"


def test_webhook_gets_payload_with_attachment_names_and_idempotency_key(
    settings: Settings, engine: Engine, tmp_path: Path, webhooks: list[Webhook]
) -> None:
    hook = new_hook(webhooks)
    settings = configure(settings, tmp_path, f"urls:\n  - {hook.url}:\n      - tag: W-A01\n")
    key = add_message(engine, "W-A01")

    dispatch_pending(engine, settings, now=NOW)

    assert hook.keys() == [key]
    _, payload = hook.received[0]
    assert "Ward W-A01 joins wave 1" in payload["title"]
    assert "What happens next" in payload["message"]
    [attachment] = payload["attachments"]
    assert attachment["filename"] == "invite.ics"
    assert base64.b64decode(attachment["base64"]) == ICS


def test_receiver_down_stays_pending_then_goes_exactly_once(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    webhooks: list[Webhook],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WARDPROG_TEST_HOOK_TOKEN", "s3cr3t-token")
    hook = new_hook(webhooks, start=False)
    settings = configure(
        settings,
        tmp_path,
        f"urls:\n  - {hook.url}/${{WARDPROG_TEST_HOOK_TOKEN}}:\n      - tag: W-A01\n",
    )
    key = add_message(engine, "W-A01")

    first = dispatch_pending(engine, settings, now=NOW)
    note = row(engine, key)
    assert first.retrying == 1
    assert note.status == NotificationStatus.pending and note.attempts == 1
    assert as_utc(note.next_attempt_at) == NOW + backoff_delay(1)
    assert [d["ok"] for d in note.deliveries] == [False]
    assert "127.0.0.1" in note.last_error
    stored = json.dumps(note.deliveries) + note.last_error
    assert "s3cr3t" not in stored and "/hook" not in stored

    # Not due yet: backing off, nothing claimed even though the receiver is back.
    hook.start()
    assert dispatch_pending(engine, settings, now=NOW + timedelta(seconds=30)).claimed == 0

    later = NOW + backoff_delay(1) + timedelta(seconds=1)
    assert dispatch_pending(engine, settings, now=later).sent == 1
    assert dispatch_pending(engine, settings, now=later + timedelta(days=1)).claimed == 0
    assert hook.keys() == [key]
    note = row(engine, key)
    assert note.status == NotificationStatus.sent and note.attempts == 2
    assert [d["ok"] for d in note.deliveries] == [False, True]


def test_misrouted_tag_never_reaches_another_ward(
    settings: Settings,
    engine: Engine,
    tmp_path: Path,
    webhooks: list[Webhook],
    smtp: tuple[SmtpReceiver, int],
) -> None:
    receiver, port = smtp
    a01, a011 = new_hook(webhooks), new_hook(webhooks)
    settings = configure(
        settings,
        tmp_path,
        f"""
urls:
  - {a01.url}:
      - tag: W-A01
  - {a011.url}:
      - tag: W-A011
  - mailto://127.0.0.1:{port}?from=wardprog@trust.example&mode=insecure:
      - tag: direct
""",
    )
    k01 = add_message(engine, "W-A01", recipients=("m.a01@trust.example",))
    k011 = add_message(engine, "W-A011", recipients=("m.a011@trust.example",))
    # A typo'd/prefix tag must not fall through to a near-miss ward.
    stray = add_message(engine, "W-A0")

    dispatch_pending(engine, settings, now=NOW)

    assert a01.keys() == [k01]
    assert a011.keys() == [k011]
    by_rcpt = {tuple(rcpt): mail["X-Wardprog-Key"] for rcpt, mail in receiver.messages}
    assert by_rcpt == {("m.a01@trust.example",): k01, ("m.a011@trust.example",): k011}
    note = row(engine, stray)
    assert note.status == NotificationStatus.pending
    assert note.deliveries == [] and "no destination" in note.last_error


def test_gives_up_after_max_attempts_with_the_reason(
    settings: Settings, engine: Engine, tmp_path: Path, webhooks: list[Webhook]
) -> None:
    hook = new_hook(webhooks, start=False)
    settings = configure(
        settings, tmp_path, f"urls:\n  - {hook.url}:\n      - tag: W-A01\n", notify_max_attempts=3
    )
    key = add_message(engine, "W-A01")

    now = NOW
    statuses = []
    for _ in range(4):
        report = dispatch_pending(engine, settings, now=now)
        statuses.append([r.status for r in report.results])
        now += timedelta(days=1)

    assert statuses == [["retrying"], ["retrying"], ["dead"], []]
    note = row(engine, key)
    assert note.status == NotificationStatus.dead and note.attempts == 3
    assert note.last_error.startswith("gave up after 3 attempts")
    assert "127.0.0.1" in note.last_error

    # Once the cause is fixed a person re-queues it, and it goes once.
    hook.start()
    with Session(engine) as session:
        assert requeue_dead(session, [key]) == 1
        session.commit()
    assert dispatch_pending(engine, settings, now=now).sent == 1
    assert hook.keys() == [key]


def test_retry_resends_only_to_the_targets_that_failed(
    settings: Settings, engine: Engine, tmp_path: Path, webhooks: list[Webhook]
) -> None:
    up, down = new_hook(webhooks), new_hook(webhooks, start=False)
    settings = configure(
        settings,
        tmp_path,
        f"urls:\n  - {up.url}:\n      - tag: W-A01\n"
        f"  - {down.url}:\n      - tag: improvement-team\n",
    )
    key = add_message(engine, "W-A01", tags=("W-A01", "improvement-team"))

    assert dispatch_pending(engine, settings, now=NOW).retrying == 1
    down.start()
    assert dispatch_pending(engine, settings, now=NOW + timedelta(hours=1)).sent == 1

    assert up.keys() == [key]
    assert down.keys() == [key]


CRASH_SCRIPT = """
import sys
from datetime import datetime
from wardprog.config import get_settings
from wardprog.db import get_engine
from wardprog.notify.dispatch import dispatch_pending
settings = get_settings()
now = datetime.fromisoformat(sys.argv[1])
dispatch_pending(get_engine(settings.database_url), settings, now=now)
"""


def test_dispatcher_killed_before_send_completes_then_rerun_delivers_once(
    settings: Settings, engine: Engine, tmp_path: Path, smtp: tuple[SmtpReceiver, int]
) -> None:
    receiver, port = smtp
    settings = configure(
        settings,
        tmp_path,
        f"""
urls:
  - mailto://127.0.0.1:{port}?from=wardprog@trust.example&mode=insecure:
      - tag: direct
""",
    )
    key = add_message(engine, "W-A01", recipients=("manager.a01@trust.example",))
    receiver.hold = True  # the SMTP session stalls at RCPT: after the claim, before DATA
    env = {
        **os.environ,
        "WARDPROG_NOTIFY_CONFIG": str(settings.notify_config),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, NOW.isoformat()], env=env, cwd=tmp_path
    )
    try:
        assert receiver.held.wait(timeout=60), "the dispatcher never reached the SMTP server"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    receiver.hold = False
    receiver.release.set()

    note = row(engine, key)
    assert (note.status, note.attempts, note.deliveries) == (NotificationStatus.pending, 1, [])
    assert as_utc(note.next_attempt_at) == NOW + LEASE
    assert note.claimed_by != ""
    # Still leased: a second dispatcher started straight away leaves it alone.
    assert dispatch_pending(engine, settings, now=NOW + timedelta(minutes=1)).claimed == 0

    after_lease = NOW + LEASE + timedelta(seconds=1)
    assert dispatch_pending(engine, settings, now=after_lease).sent == 1
    assert dispatch_pending(engine, settings, now=after_lease + timedelta(days=1)).claimed == 0
    assert [mail["X-Wardprog-Key"] for _, mail in receiver.messages] == [key]
    note = row(engine, key)
    assert (note.status, note.attempts) == (NotificationStatus.sent, 2)


def test_concurrent_dispatchers_never_send_the_same_message(
    settings: Settings, engine: Engine, tmp_path: Path, webhooks: list[Webhook]
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs a single dispatcher; SKIP LOCKED is a PostgreSQL feature")
    hook = new_hook(webhooks)
    settings = configure(
        settings, tmp_path, f"urls:\n  - {hook.url}:\n      - tag: improvement-team\n"
    )
    keys = [
        add_message(engine, f"W-{n:03d}", tags=("improvement-team",), attach=False)
        for n in range(40)
    ]

    reports: list[Any] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        barrier.wait()
        reports.append(dispatch_pending(engine, settings, now=NOW))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert sorted(hook.keys()) == sorted(keys)
    assert sum(r.sent for r in reports) == 40


def test_naive_now_is_treated_as_utc(settings: Settings, engine: Engine) -> None:
    key = add_message(engine, "W-A01")
    assert dispatch_pending(engine, settings, now=NOW.replace(tzinfo=None)).sent == 1
    assert as_utc(row(engine, key).sent_at) == NOW


def test_message_whose_final_attempt_crashed_is_parked_dead(
    settings: Settings, engine: Engine
) -> None:
    key = add_message(engine, "W-A01")
    with Session(engine) as session:
        note = session.exec(select(Notification).where(Notification.idempotency_key == key)).one()
        note.attempts = settings.notify_max_attempts  # the last attempt was claimed, then died
        session.add(note)
        session.commit()

    report = dispatch_pending(engine, settings, now=NOW)

    assert [(r.key, r.status) for r in report.results] == [(key, "dead")]
    note = row(engine, key)
    assert note.status == NotificationStatus.dead
    assert "dispatcher stopped during the final attempt" in note.last_error
    assert not settings.outbox_dir.exists()


def test_counts_as_of_a_day_are_the_outbox_as_it_stood_then(session: Session) -> None:
    """What the digest and `status --as-of` show: a later send or death was still pending."""
    day = date(2026, 3, 2)  # midnight in London is midnight UTC in March
    before, after = datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 4, 9, tzinfo=UTC)

    def note(key: str, status: NotificationStatus, **kw: Any) -> Notification:
        made = kw.pop("created_at", before)
        return Notification(
            idempotency_key=key, kind="k", subject="s", body_text="b", status=status,
            created_at=made, **kw,
        )  # fmt: skip

    session.add_all(
        [
            note("sent-then", NotificationStatus.sent, sent_at=before),
            note("sent-later", NotificationStatus.sent, sent_at=after),
            note("sent-undated", NotificationStatus.sent),
            note("waiting", NotificationStatus.pending),
            note("died-then", NotificationStatus.dead, deliveries=[{"at": before.isoformat()}]),
            note("died-later", NotificationStatus.dead, deliveries=[{"at": after.isoformat()}]),
            note("died-unlogged", NotificationStatus.dead),
            note("made-later", NotificationStatus.sent, created_at=after, sent_at=after),
        ]
    )
    session.commit()

    assert notification_counts(session, day) == {"sent": 2, "pending": 3, "dead": 2}
    assert notification_counts(session) == {"sent": 4, "pending": 1, "dead": 3}
