"""``outbox://`` - an apprise schema that writes each message to an ``.eml`` file.

The demo (and any trust that has not yet been given an SMTP relay account) gets real,
openable e-mails without a mail server: ``outbox:///abs/folder`` or ``outbox://relative/folder``
writes ``<folder>/<ward code or _programme>/<message key>.eml`` with a plain-text and HTML
alternative and every attachment (e.g. the engagement invite ``.ics``), so a ward manager's
mail can be opened in Outlook or Thunderbird exactly as it would arrive.

Writing is idempotent: the dispatcher tells the plugin which outbox message it is sending
(:func:`sending`) and the file is named after the message's idempotency key and replaced
atomically, so a re-delivery after a crash overwrites the same file instead of adding a second.
Used bare through apprise (no dispatcher), each call writes a new uniquely named file.

Importing this module registers the schema with apprise (``wardprog.notify`` does so).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from apprise import NotifyFormat, NotifyType
from apprise.conversion import convert_between
from apprise.manager_plugins import NotificationManager
from apprise.plugins.base import NotifyBase

from wardprog import clock

SCHEMA = "outbox"
FROM_ADDRESS = "Ward improvement programme <wardprog@outbox.invalid>"


@dataclass(frozen=True)
class OutboxMessage:
    """What the dispatcher knows about the message being sent and apprise's API cannot carry."""

    key: str
    text: str
    html: str = ""
    ward_code: str | None = None
    recipients: Sequence[str] = ()
    tags: Sequence[str] = field(default_factory=tuple)


_current: ContextVar[OutboxMessage | None] = ContextVar("wardprog_outbox_message", default=None)


@contextmanager
def sending(message: OutboxMessage) -> Iterator[None]:
    """Within this block, ``outbox://`` deliveries in this thread/task describe ``message``."""
    token = _current.set(message)
    try:
        yield
    finally:
        _current.reset(token)


def message_id(key: str) -> str:
    """A stable Message-ID: mail clients (and our tests) can see a re-send is the same mail."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@wardprog.outbox.invalid>"


def safe_filename(value: str) -> str:
    """Keys look like ``invite:W-A01:wave-1:v0``; keep them readable but portable (Windows too)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._")
    return cleaned[:150] or "message"


class NotifyOutbox(NotifyBase):  # type: ignore[misc]
    """Write notifications as ``.eml`` files under a folder."""

    service_name = "wardprog outbox"  # type: ignore[assignment]
    protocol = SCHEMA  # type: ignore[assignment]
    attachment_support = True
    notify_format = NotifyFormat.HTML
    # Files have no practical size limit; never split or truncate a ward's mail.
    title_maxlen = 998
    body_maxlen = 10_000_000
    request_rate_per_sec = 0
    templates = ("{schema}://{path}",)  # type: ignore[assignment]

    def __init__(self, outbox_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.outbox_dir = Path(outbox_dir)

    def url(self, privacy: bool = False, *args: Any, **kwargs: Any) -> str:
        params = self.url_parameters(privacy=privacy, *args, **kwargs)  # noqa: B026
        path = quote(str(self.outbox_dir), safe="/")
        return f"{SCHEMA}://{path}?{self.urlencode(params)}"

    @staticmethod
    def parse_url(url: str, *args: Any, **kwargs: Any) -> dict[str, Any] | None:  # type: ignore[override]
        results = NotifyBase.parse_url(url, verify_host=False)
        if not results:
            return None
        # apprise folds "outbox:///abs" and "outbox://rel" into host + path; the raw text after
        # the schema is the folder exactly as the operator wrote it.
        raw = url.split("://", 1)[1].split("?", 1)[0]
        results["outbox_dir"] = unquote(raw) or "."
        return dict(results)

    def send(
        self,
        body: str,
        title: str = "",
        notify_type: NotifyType = NotifyType.INFO,
        attach: Any = None,
        body_format: NotifyFormat | None = None,
        **kwargs: Any,
    ) -> bool:
        current = _current.get()
        if current is not None:
            text, html = current.text, current.html
            ward_folder = safe_filename(current.ward_code) if current.ward_code else "_programme"
            folder = self.outbox_dir / ward_folder
            # Readable name plus a hash: "a:b" and "a_b" must not share a file.
            digest = hashlib.sha256(current.key.encode()).hexdigest()[:8]
            name = f"{safe_filename(current.key)[:120]}-{digest}"
            msg_id = message_id(current.key)
        else:
            if body_format == NotifyFormat.HTML:
                text, html = convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, body), body
            else:
                text, html = body, ""
            folder = self.outbox_dir / "_adhoc"
            # The wall clock only names the file: a frozen simulated clock would reuse a name.
            stamp = clock.wall_now().strftime("%Y%m%dT%H%M%S%f")
            name = f"{stamp}-{uuid.uuid4().hex[:8]}"
            msg_id = message_id(name)

        mail = EmailMessage()
        mail["Subject"] = title or "(no subject)"
        mail["From"] = FROM_ADDRESS
        if current is not None and current.recipients:
            mail["To"] = ", ".join(current.recipients)
        if current is not None:
            mail["X-Wardprog-Key"] = current.key
            if current.tags:
                mail["X-Wardprog-Tags"] = ", ".join(current.tags)
        mail["Message-ID"] = msg_id
        mail["Date"] = format_datetime(clock.now())
        mail.set_content(text or " ")
        if html:
            mail.add_alternative(html, subtype="html")
        try:
            for item in attach or ():
                if not item:
                    self.logger.warning("Attachment %s could not be read", item.name)
                    return False
                maintype, _, subtype = (item.mimetype or "application/octet-stream").partition("/")
                with item.open() as fh:
                    content = fh.read()
                mail.add_attachment(
                    content,
                    maintype=maintype,
                    subtype=subtype or "octet-stream",
                    filename=item.name,
                )
            _write_atomically(folder / f"{name}.eml", mail.as_bytes())
        except OSError as exc:
            self.logger.warning("Could not write to the outbox folder %s: %s", folder, exc)
            return False
        self.logger.info("Wrote %s to the outbox", name)
        return True


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (people, tests) never see half a mail; a re-send replaces the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".eml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register() -> None:
    """Make ``outbox://`` known to apprise (idempotent; runs on import)."""
    manager = NotificationManager()
    if SCHEMA not in manager.schemas():
        manager.add(NotifyOutbox, schemas=SCHEMA)


register()
