"""The outbox: enqueue a message in the caller's transaction, keyed for exactly-once delivery.

Callers pass the session that carries the state change causing the message; the row commits or
rolls back with it. A retry or re-run that enqueues the same ``key`` gets the existing row back,
so nothing is sent twice.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Unpack

from sqlmodel import Session, select

from wardprog.models import Notification
from wardprog.notify.render import render

# Notification.idempotency_key's column width.
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"

    def as_json(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "content_b64": base64.b64encode(self.content).decode("ascii"),
        }


class Message(TypedDict):
    """What a message says and to whom: everything but its idempotency key."""

    kind: str
    tags: Iterable[str]
    context: dict[str, Any]
    ward_code: NotRequired[str | None]
    recipients: NotRequired[Sequence[str]]
    attachments: NotRequired[Sequence[Attachment]]


def enqueue(session: Session, *, key: str, **message: Unpack[Message]) -> Notification:
    """Add a rendered message to the outbox unless one with ``key`` already exists.

    ``recipients`` are e-mail addresses (blank ones, e.g. a ward with no manager recorded, are
    dropped); routing decides which destinations use them (see ``wardprog.notify.routing``).
    """
    existing = _existing(session, key)
    return existing if existing is not None else _add(session, key, message)


def enqueue_new(session: Session, *, key: str, **message: Unpack[Message]) -> Notification | None:
    """:func:`enqueue`, but ``None`` when ``key`` was enqueued before.

    For a caller that counts what it sent: one read of the key instead of a check of its own
    followed by enqueue's.
    """
    return None if _existing(session, key) is not None else _add(session, key, message)


def enqueued(session: Session, key: str) -> bool:
    """Whether a message with ``key`` is in the outbox (queued, sent or failed)."""
    return (
        session.exec(select(Notification.id).where(Notification.idempotency_key == key)).first()
        is not None
    )


def _existing(session: Session, key: str) -> Notification | None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"idempotency key must be 1-{MAX_KEY_LENGTH} characters: {key!r}")
    return session.exec(select(Notification).where(Notification.idempotency_key == key)).first()


def _add(session: Session, key: str, message: Message) -> Notification:
    context = message["context"]
    ward_code = message.get("ward_code")
    if ward_code is not None:
        # Every ward message carries the ward page link, signed for the ward's manager.
        from wardprog.config import get_settings
        from wardprog.web.links import ward_page_link

        link = ward_page_link(session, get_settings(), ward_code)
        if link is not None:
            context = {**context, "ward_link": link}
    rendered = render(message["kind"], context)
    note = Notification(
        idempotency_key=key,
        kind=message["kind"],
        tags=sorted(set(message["tags"])),
        ward_code=ward_code,
        recipients=[r.strip() for r in message.get("recipients", ()) if r and r.strip()],
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        attachments=[a.as_json() for a in message.get("attachments", ())],
    )
    session.add(note)
    session.flush()
    return note
