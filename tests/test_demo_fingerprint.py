"""The demo fingerprint: rows per table and the outbox as recipients see it, so a refactor can
show the demo behaves as before; row ids and idempotency keys (which name item ids) are left
out, since concurrent wards number their rows differently from run to run."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, delete

from tests.test_outbox_enqueue import context
from wardprog.demo.fingerprint import differences, fingerprint, main
from wardprog.models import Notification
from wardprog.notify.outbox import enqueue


def _launch(session: Session, key: str, ward: str = "W-A01") -> None:
    enqueue(session, key=key, kind="wave_launch", tags=[ward], context=context(), ward_code=ward,
            recipients=["manager@trust.example"])  # fmt: skip
    session.commit()


def test_same_messages_under_other_keys_are_the_same_behaviour(session: Session) -> None:
    _launch(session, "wave_launch:item-79")
    before = fingerprint(session)
    assert before["tables"]["notification"] == 1 and len(before["outbox"]) == 1
    assert differences(before, before) == []

    # The same message written under another key (another item id): the same behaviour.
    session.exec(delete(Notification))
    _launch(session, "wave_launch:item-80")
    assert differences(before, fingerprint(session)) == []

    _launch(session, "wave_launch:item-81", ward="W-A02")
    changed = differences(before, fingerprint(session))
    assert changed[0] == "notification: 1 -> 2"
    assert len(changed) == 2 and changed[1].startswith("outbox, only after:")
    assert "W-A02" in changed[1]


def test_the_command_saves_and_compares(session: Session, settings, tmp_path: Path, capsys) -> None:
    _launch(session, "wave_launch:W-A01:wave-1")
    saved = tmp_path / "before.json"
    assert main(["--db", settings.database_url, "--save", str(saved)]) == 0
    assert main(["--db", settings.database_url, "--compare", str(saved)]) == 0
    assert "identical to" in capsys.readouterr().out
    _launch(session, "wave_launch:W-A02:wave-1", ward="W-A02")
    assert main(["--db", settings.database_url, "--compare", str(saved)]) == 1
    assert "2 difference(s)" in capsys.readouterr().out  # a count and a message
