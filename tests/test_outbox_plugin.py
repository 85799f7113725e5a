"""The ``outbox://`` apprise schema: real .eml files, idempotent per message key."""

from __future__ import annotations

import email
from email.message import Message
from pathlib import Path

import apprise
from apprise.attachment.memory import AttachMemory

from wardprog.notify.outbox_plugin import NotifyOutbox, OutboxMessage, message_id, sending


def decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def attachments() -> apprise.AppriseAttachment:
    bundle = apprise.AppriseAttachment()
    bundle.add(
        AttachMemory(content=b"BEGIN:VCALENDAR", name="invite.ics", mimetype="text/calendar")
    )
    return bundle


def test_bare_apprise_writes_a_new_eml_each_time(tmp_path: Path) -> None:
    app = apprise.Apprise()
    assert app.add(f"outbox://{tmp_path}/box")
    assert app.notify(title="Hello", body="<p>Hi &amp; bye</p>", body_format="html")
    assert app.notify(title="Hello", body="plain", attach=attachments())

    files = sorted((tmp_path / "box" / "_adhoc").glob("*.eml"))
    assert len(files) == 2
    mail = email.message_from_bytes(files[0].read_bytes())
    parts = {p.get_content_type(): p for p in mail.walk()}
    assert "Hi & bye" in decoded(parts["text/plain"])
    assert "<p>Hi &amp; bye</p>" in decoded(parts["text/html"])


def test_dispatcher_context_gives_one_file_per_message_key(tmp_path: Path) -> None:
    plugin = apprise.Apprise.instantiate(f"outbox://{tmp_path}")
    assert isinstance(plugin, NotifyOutbox)
    message = OutboxMessage(
        key="invite:W-A01:wave-1:v0",
        text="See you there",
        html="<p>See you there</p>",
        ward_code="W-A01",
        recipients=("a@trust.example",),
        tags=("W-A01",),
    )
    for _ in range(2):  # a re-send after a crash overwrites, never duplicates
        with sending(message):
            assert plugin.notify(title="Invite", body="ignored", attach=attachments())

    [path] = (tmp_path / "W-A01").iterdir()
    mail = email.message_from_bytes(path.read_bytes())
    assert mail["Message-ID"] == message_id(message.key)
    assert mail["To"] == "a@trust.example"
    assert mail["X-Wardprog-Tags"] == "W-A01"
    assert [p.get_filename() for p in mail.walk() if p.get_filename()] == ["invite.ics"]
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    assert decoded(text).strip() == "See you there"


def test_relative_and_absolute_folders_round_trip(tmp_path: Path) -> None:
    absolute = apprise.Apprise.instantiate(f"outbox://{tmp_path}/x")
    relative = apprise.Apprise.instantiate("outbox://var/out/outbox")
    assert isinstance(absolute, NotifyOutbox) and isinstance(relative, NotifyOutbox)
    assert absolute.outbox_dir == tmp_path / "x"
    assert relative.outbox_dir == Path("var/out/outbox")
    again = apprise.Apprise.instantiate(absolute.url())
    assert isinstance(again, NotifyOutbox) and again.outbox_dir == absolute.outbox_dir


def test_unwritable_folder_reports_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    plugin = apprise.Apprise.instantiate(f"outbox://{blocker}")
    assert plugin is not None
    assert plugin.notify(title="x", body="y") is False
