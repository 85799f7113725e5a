"""Deliver the outbox: claim due messages, send them with apprise, record every outcome.

Exactly-once, precisely
-----------------------
A message is *enqueued* exactly once: :func:`wardprog.notify.outbox.enqueue` writes it in the
transaction of the change that causes it, under a unique idempotency key, so a flow retry or
re-run finds the row instead of adding another.

*Delivery* is at-least-once to the channel with the duplicate window made as small as we can:

1. **Claim** (one short transaction per batch): due ``pending`` rows are selected - on
   PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so concurrent dispatchers never pick the same
   row - and leased: ``attempts`` goes up and ``next_attempt_at`` moves ``LEASE`` ahead. Nobody
   else will touch the row until the lease ends; no lock is held while talking to SMTP.
2. **Send** each of the message's targets (one per destination, and one per recipient for
   e-mail) that has no successful delivery recorded yet.
3. **Record** each target's outcome in ``deliveries`` and commit *immediately* after apprise
   returns, before the next target is tried: one UPDATE guarded by the lease (the row was read
   once, when the lease was checked before sending).
4. **Finish**: ``sent`` when every target has succeeded; otherwise back off exponentially,
   or park as ``dead`` with the reason after ``Settings.notify_max_attempts`` attempts. The
   last target's outcome commits together with this status (nothing happens in between).

A crash (SIGKILL, power cut) before a send leaves the lease to expire and the next run sends
it - once. A crash *between apprise returning and the commit in step 3* (a single-row update,
microseconds) is the only way a target is sent twice: the next run cannot know the send
happened. For that window every delivery carries the idempotency key (``X-Wardprog-Key`` mail
header, ``Idempotency-Key`` webhook header) and the ``outbox://`` channel names its file after
the key, so the duplicate overwrites itself. Nothing is ever lost: a message only leaves
``pending`` as ``sent`` (all targets recorded ok) or ``dead`` (reason kept, re-queueable with
:func:`requeue_dead`).
"""

from __future__ import annotations

import base64
import binascii
import logging
import mimetypes
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import apprise
from apprise import NotifyFormat
from apprise.attachment.memory import AttachMemory
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from wardprog import clock
from wardprog.config import Settings
from wardprog.models import Notification, NotificationStatus
from wardprog.models.base import require_id
from wardprog.notify.outbox_plugin import OutboxMessage, sending
from wardprog.notify.routing import Router, Target, load_router

# apprise refuses attachments whose MIME type is not in `mimetypes`, and slim containers ship no
# /etc/mime.types: register the types our invites and templates use.
mimetypes.add_type("text/calendar", ".ics")
mimetypes.add_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
mimetypes.add_type("text/csv", ".csv")

log = logging.getLogger(__name__)

# Long enough for a slow SMTP relay to take a batch, short enough that a crashed dispatcher's
# messages go out on the next hourly run.
LEASE = timedelta(minutes=10)
# Small batches keep a lease well ahead of the sends: 10 messages x 3 destinations x apprise's
# 15 s connect timeout still finishes inside it.
CLAIM_BATCH = 10
BACKOFF_BASE = timedelta(minutes=1)
# A ward manager should still hear the same working day: never wait more than 6 hours.
BACKOFF_CAP = timedelta(hours=6)

SessionFactory = Callable[[], Session]


def backoff_delay(attempt: int) -> timedelta:
    """Wait after failed attempt ``attempt`` (1-based): 1, 2, 4, 8 ... minutes, capped at 6h.

    Deterministic (no jitter) so a replay on the simulated clock is reproducible.
    """
    if attempt < 1:
        return timedelta(0)
    return min(BACKOFF_BASE * (2 ** min(attempt - 1, 20)), BACKOFF_CAP)


@dataclass
class MessageResult:
    id: int
    key: str
    kind: str
    ward_code: str | None
    status: str  # "sent" | "retrying" | "dead"
    attempts: int
    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str = ""
    next_attempt_at: datetime | None = None


@dataclass
class DispatchReport:
    """What one dispatch run did; ``as_markdown`` is what the flow publishes as an artifact."""

    now: datetime
    results: list[MessageResult] = field(default_factory=list)

    def _count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def claimed(self) -> int:
        return len(self.results)

    @property
    def sent(self) -> int:
        return self._count("sent")

    @property
    def retrying(self) -> int:
        return self._count("retrying")

    @property
    def dead(self) -> int:
        return self._count("dead")

    def as_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "key": r.key,
                "kind": r.kind,
                "ward": r.ward_code or "",
                "status": r.status,
                "attempts": r.attempts,
                "error": r.error,
            }
            for r in self.results
        ]

    def as_markdown(self) -> str:
        lines = [
            f"## Notifications dispatched at {self.now:%Y-%m-%d %H:%M} UTC",
            "",
            "| sent | failed, will retry | dead |",
            "|---:|---:|---:|",
            f"| {self.sent} | {self.retrying} | {self.dead} |",
        ]
        problems = [r for r in self.results if r.status != "sent"]
        if problems:
            lines += [
                "",
                "| message | ward | status | attempts | reason |",
                "|---|---|---|---:|---|",
            ]
            for r in problems:
                reason = r.error.replace("|", "/").replace("\n", " ")[:200]
                lines.append(
                    f"| `{r.key}` | {r.ward_code or ''} | {r.status} | {r.attempts} | {reason} |"
                )
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Claimed:
    """A detached copy of a claimed row: sending never touches the ORM or holds a session."""

    id: int
    key: str
    kind: str
    ward_code: str | None
    tags: tuple[str, ...]
    recipients: tuple[str, ...]
    subject: str
    body_text: str
    body_html: str
    attachments: tuple[dict[str, Any], ...]
    attempts: int
    delivered: frozenset[str]


def dispatch_pending(
    session_factory_or_engine: Engine | SessionFactory,
    settings: Settings,
    now: datetime | None = None,
    limit: int = 1000,
    *,
    router: Router | None = None,
) -> DispatchReport:
    """Send up to ``limit`` pending messages due at ``now``; see the module docstring.

    Commits its own short transactions (claim, one per delivery, finish) so a crash loses
    nothing; pass an engine or a zero-argument session factory, never a session in use.
    ``now`` defaults to the engine's clock (``wardprog.clock``); replays pass their time.
    """
    now = _as_utc(now or clock.now())
    router = router or load_router(settings)
    # Unique per run, so two dispatchers in one process (threads) are told apart too.
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[-100:]
    report = DispatchReport(now=now)
    with _sessions(session_factory_or_engine) as factory:
        _dispatch(factory, router, settings, now, limit, worker, report)
    if report.claimed:
        log.info(
            "dispatch: %d sent, %d will retry, %d dead", report.sent, report.retrying, report.dead
        )
    return report


def _dispatch(
    factory: SessionFactory,
    router: Router,
    settings: Settings,
    now: datetime,
    limit: int,
    worker: str,
    report: DispatchReport,
) -> None:
    """Claim batches and deliver them until ``limit`` or nothing is due; results into ``report``."""
    while report.claimed < limit:
        batch, parked = _claim(
            factory, settings, now, min(CLAIM_BATCH, limit - report.claimed), worker
        )
        report.results.extend(parked)
        if not batch and not parked:
            break
        for message in batch:
            # A batch stuck behind slow destinations can outlive its lease; if another
            # dispatcher has since taken a message over, it is theirs to send.
            deliveries = _still_ours(factory, message.id, worker)
            if deliveries is not None:
                report.results.append(
                    _deliver(factory, router, settings, message, now, worker, deliveries)
                )
            else:
                log.warning("dispatch: lease on %s expired; left to its new owner", message.key)


def requeue_dead(session: Session, keys: Sequence[str] | None = None) -> int:
    """Give dead messages (all, or those with ``keys``) a fresh set of attempts.

    For after the cause is fixed (a wrong address in the ward register, a relay outage longer
    than the retries). Runs in the caller's transaction; deliveries already made are kept, so
    recipients who got the message do not get it again.
    """
    stmt = select(Notification).where(Notification.status == NotificationStatus.dead)
    if keys is not None:
        stmt = stmt.where(Notification.idempotency_key.in_(list(keys)))  # type: ignore[attr-defined]
    rows = session.exec(stmt).all()
    for row in rows:
        row.status = NotificationStatus.pending
        row.attempts = 0
        row.next_attempt_at = None
        session.add(row)
    session.flush()
    return len(rows)


@contextmanager
def _sessions(source: Engine | SessionFactory) -> Iterator[SessionFactory]:
    """Sessions for one dispatch run; on an engine, all of them on one pooled connection.

    Each session is still its own short transaction (it begins and commits or rolls back on
    the connection), but the run checks a connection out once instead of two or three times
    per message, and each checkout is a round trip to PostgreSQL (``pool_pre_ping``), which
    on a busy machine waits for the server's process to be scheduled. A connection lost
    mid-run fails the run (its task retries); leased messages go out on the next run once their
    lease ends, as after any crash.
    """
    if not isinstance(source, Engine):
        yield source
        return
    with source.connect() as connection:
        yield lambda: Session(connection, expire_on_commit=False)


def _as_utc(value: datetime) -> datetime:
    # SQLite returns naive datetimes; everything we store is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _claim(
    factory: SessionFactory, settings: Settings, now: datetime, size: int, worker: str
) -> tuple[list[_Claimed], list[MessageResult]]:
    """Lease up to ``size`` due messages; also returns those parked dead instead."""
    with factory() as session:
        rows = session.exec(
            select(Notification)
            .where(Notification.status == NotificationStatus.pending)
            .where(
                or_(
                    Notification.next_attempt_at.is_(None),  # type: ignore[union-attr]
                    Notification.next_attempt_at <= now,  # type: ignore[operator,arg-type]
                )
            )
            .order_by(col(Notification.id))
            .limit(size)
            .with_for_update(skip_locked=True)
        ).all()
        claimed: list[_Claimed] = []
        parked: list[MessageResult] = []
        for row in rows:
            if row.attempts >= settings.notify_max_attempts:
                # The last permitted attempt never finished (the dispatcher died mid-send).
                # Park it where people look rather than retry a message that may crash us.
                row.status = NotificationStatus.dead
                row.last_error = (
                    row.last_error
                    or "the dispatcher stopped during the final attempt; check its logs"
                )
                row.next_attempt_at = None
                row.claimed_by = ""
                session.add(row)
                parked.append(
                    MessageResult(
                        id=require_id(row),
                        key=row.idempotency_key,
                        kind=row.kind,
                        ward_code=row.ward_code,
                        status="dead",
                        attempts=row.attempts,
                        error=row.last_error,
                    )
                )
                continue
            row.attempts += 1
            row.next_attempt_at = now + LEASE
            row.claimed_by = worker
            session.add(row)
            claimed.append(
                _Claimed(
                    id=require_id(row),
                    key=row.idempotency_key,
                    kind=row.kind,
                    ward_code=row.ward_code,
                    tags=tuple(row.tags),
                    recipients=tuple(row.recipients),
                    subject=row.subject,
                    body_text=row.body_text,
                    body_html=row.body_html,
                    attachments=tuple(row.attachments),
                    attempts=row.attempts,
                    delivered=frozenset(d["target"] for d in row.deliveries if d.get("ok")),
                )
            )
        session.commit()
    return claimed, parked


def _deliver(
    factory: SessionFactory,
    router: Router,
    settings: Settings,
    message: _Claimed,
    now: datetime,
    worker: str,
    deliveries: list[dict[str, Any]],
) -> MessageResult:
    """Send ``message`` to each target not yet reached; one statement per outcome, none read.

    ``deliveries`` is the row's list as read when the lease was checked; while the lease is ours
    nobody else writes the row, so each outcome is appended to it and written back in one
    guarded UPDATE (see :func:`_record`), and the final status needs no read either.
    """
    result = MessageResult(
        id=message.id,
        key=message.key,
        kind=message.kind,
        ward_code=message.ward_code,
        status="retrying",
        attempts=message.attempts,
    )
    targets = router.targets_for(message.tags, message.recipients)
    errors: list[str] = []
    if not targets:
        errors.append(
            f"no destination in {router.source} matches tags {sorted(message.tags)}"
            + (" or takes addressed mail ('direct')" if message.recipients else "")
        )
    todo = [target for target in targets if target.label not in message.delivered]
    last: dict[str, Any] | None = None
    for n, target in enumerate(todo, start=1):
        ok, error = _send(router, target, message)
        entry = {
            "target": target.label,
            "recipient": target.recipient,
            "ok": ok,
            "attempt": message.attempts,
            "at": now.isoformat(),
            "error": error,
        }
        if n < len(todo):
            deliveries = _record(factory, message.id, worker, deliveries, entry)
        else:
            # The last outcome commits with the final status: nothing happens in between, so
            # one commit does what two did and the duplicate window ends at the same point.
            last = entry
        if ok:
            result.delivered.append(target.label)
        else:
            result.failed.append(target.label)
            errors.append(f"{target.label}: {error}")
            log.warning("dispatch: %s to %s failed: %s", message.key, target.label, error)

    error = "; ".join(errors)[:2000]
    values: dict[str, Any] = {"claimed_by": ""}
    if not errors:
        values.update(status=NotificationStatus.sent, sent_at=now, next_attempt_at=None)
        values["last_error"] = ""
        result.status = "sent"
    elif message.attempts >= settings.notify_max_attempts:
        values.update(status=NotificationStatus.dead, next_attempt_at=None)
        values["last_error"] = f"gave up after {message.attempts} attempts: {error}"[:2000]
        result.status = "dead"
    else:
        values.update(next_attempt_at=now + backoff_delay(message.attempts), last_error=error)
        result.next_attempt_at = values["next_attempt_at"]
    result.error = values["last_error"]
    with factory() as session:
        if last is not None:
            # Guarded by the lease like every delivery record (see _record).
            done = session.exec(  # type: ignore[call-overload]
                update(Notification)
                .where(col(Notification.id) == message.id, col(Notification.claimed_by) == worker)
                .values(deliveries=[*deliveries, last], **values)
            )
            if done.rowcount != 1:
                session.rollback()
                _record(factory, message.id, worker, deliveries, last)
                last = None
        if last is None:
            done = session.exec(  # type: ignore[call-overload]
                update(Notification).where(col(Notification.id) == message.id).values(**values)
            )
            if done.rowcount != 1:  # pragma: no cover - rows are never deleted
                raise RuntimeError(f"notification {message.id} vanished while being sent")
        session.commit()
    return result


def _still_ours(factory: SessionFactory, note_id: int, worker: str) -> list[dict[str, Any]] | None:
    """The row's deliveries if this dispatcher still holds its lease, else None (one read)."""
    with factory() as session:
        row = session.exec(
            select(Notification.status, Notification.claimed_by, Notification.deliveries).where(
                col(Notification.id) == note_id
            )
        ).first()
    if row is None or row[0] != NotificationStatus.pending or row[1] != worker:
        return None
    return list(row[2])


def _record(
    factory: SessionFactory,
    note_id: int,
    worker: str,
    deliveries: list[dict[str, Any]],
    entry: dict[str, Any],
) -> list[dict[str, Any]]:
    """Commit one delivery outcome at once: this commit is the end of the duplicate window.

    One UPDATE, guarded by the lease: while ``claimed_by`` is this dispatcher nobody else
    writes the row, so ``deliveries`` (read with the lease check) plus ``entry`` is the row's
    list. If the lease was lost meanwhile, the row is read and appended to, as another
    dispatcher may have recorded deliveries of its own. Returns the list now stored.
    """
    stored = [*deliveries, entry]
    with factory() as session:
        done = session.exec(  # type: ignore[call-overload]
            update(Notification)
            .where(col(Notification.id) == note_id, col(Notification.claimed_by) == worker)
            .values(deliveries=stored)
        )
        if done.rowcount != 1:
            row = session.get(Notification, note_id)
            if row is None:  # pragma: no cover - rows are never deleted
                raise RuntimeError(f"notification {note_id} vanished while being sent")
            # A new list, so SQLAlchemy sees the JSON column change.
            stored = [*row.deliveries, entry]
            row.deliveries = stored
            session.add(row)
        session.commit()
    return stored


def _send(router: Router, target: Target, message: _Claimed) -> tuple[bool, str]:
    try:
        plugin = target.instantiate(message.key)
        attach = _attachments(message.attachments)
    except Exception as exc:  # a bad destination or attachment fails this target, not the run
        return False, router.scrub(f"{type(exc).__name__}: {exc}")
    if plugin.notify_format == NotifyFormat.HTML and message.body_html:
        body, body_format = message.body_html, NotifyFormat.HTML
    else:
        body, body_format = message.body_text, NotifyFormat.TEXT
    outbox_message = OutboxMessage(
        key=message.key,
        text=message.body_text,
        html=message.body_html,
        ward_code=message.ward_code,
        recipients=message.recipients,
        tags=message.tags,
    )
    with _apprise_warnings() as warnings, sending(outbox_message):
        try:
            ok = bool(
                plugin.notify(
                    body=body or " ",
                    title=message.subject,
                    body_format=body_format,
                    attach=attach,
                )
            )
        except Exception as exc:
            ok = False
            warnings.append(f"{type(exc).__name__}: {exc}")
    if ok:
        return True, ""
    reason = "; ".join(dict.fromkeys(warnings)) or "the destination reported a failure"
    return False, router.scrub(reason)[:500]


def _attachments(items: Sequence[dict[str, Any]]) -> apprise.AppriseAttachment | None:
    if not items:
        return None
    bundle = apprise.AppriseAttachment()
    for item in items:
        name = item.get("filename") or "attachment"
        try:
            content = base64.b64decode(item["content_b64"], validate=True)
        except (KeyError, binascii.Error) as exc:
            raise ValueError(f"attachment {name!r} is not valid base64 content") from exc
        bundle.add(
            AttachMemory(
                content=content,
                name=name,
                # Parameters such as "; method=REQUEST" are not part of the type apprise checks.
                mimetype=(item.get("content_type") or "application/octet-stream")
                .split(";")[0]
                .strip(),
            )
        )
    return bundle


class _ThreadWarnings(logging.Handler):
    """Collects apprise's warnings from this thread only (apprise reports failures by logging)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            try:
                self.messages.append(record.getMessage())
            except Exception:  # pragma: no cover - a malformed log call must not fail a send
                self.messages.append(str(record.msg))


@contextmanager
def _apprise_warnings() -> Iterator[list[str]]:
    handler = _ThreadWarnings()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
