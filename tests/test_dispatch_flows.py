"""The Prefect flows: dispatch on the simulated clock, and the once-a-day digest."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows.notify import dispatch_notifications, dispatch_time, improvement_team_digest
from wardprog.config import Settings
from wardprog.models import Notification, NotificationStatus
from wardprog.notify.outbox import enqueue

AS_OF = date(2026, 1, 5)


def test_dispatch_time_is_end_of_the_simulated_day_in_london() -> None:
    assert dispatch_time(date(2026, 7, 1)) == datetime(2026, 7, 1, 22, 59, 59, tzinfo=UTC)
    today = datetime.now(ZoneInfo("Europe/London")).date()
    assert abs((dispatch_time(today) - datetime.now(UTC)).total_seconds()) < 3600
    assert dispatch_time(None).tzinfo is not None


@pytest.mark.usefixtures("prefect_harness")
def test_digest_then_dispatch_flows(settings: Settings, engine: Engine) -> None:
    with Session(engine) as session:
        enqueue(
            session,
            key="wave_launch:W-A01:wave-1",
            kind="wave_launch",
            tags=["W-A01"],
            ward_code="W-A01",
            recipients=["manager.a01@trust.example"],
            context={
                "wave_number": 1,
                "quarter_start": AS_OF,
                "quarter_end": date(2026, 3, 31),
                "as_of": AS_OF,
                "wards": [{"code": "W-A01", "name": "Ash", "site": "North", "manager_name": "Sam"}],
            },
        )
        session.commit()

    first = improvement_team_digest(as_of=AS_OF)
    second = improvement_team_digest(as_of=AS_OF)
    assert first == second

    result = dispatch_notifications(as_of=AS_OF)
    assert result == {"claimed": 2, "sent": 2, "retrying": 0, "dead": 0}
    assert dispatch_notifications(as_of=AS_OF)["claimed"] == 0

    with Session(engine) as session:
        rows = session.exec(select(Notification)).all()
    assert sorted(r.kind for r in rows) == ["improvement_team_digest", "wave_launch"]
    assert all(r.status == NotificationStatus.sent for r in rows)
    assert len(list((settings.outbox_dir / "W-A01").glob("*.eml"))) == 1
    assert len(list((settings.outbox_dir / "_programme").glob("*.eml"))) == 1


@pytest.mark.usefixtures("prefect_harness")
def test_destination_secret_from_a_prefect_secret_block() -> None:
    from prefect.blocks.system import Secret

    from wardprog.errors import ConfigError
    from wardprog.notify.routing import parse_config

    Secret(value="hook/tok&1").save("wardprog-test-hook-token", overwrite=True)
    router = parse_config(
        "urls:\n  - json://127.0.0.1:9000/${prefect:wardprog-test-hook-token}:\n"
        "      - tag: W-A01\n"
    )
    [target] = router.targets_for(["W-A01"])
    assert "tok&1" in target.route.server.url(privacy=False)
    assert "tok" not in target.label
    assert "***" in router.scrub("POST json://x/hook%2Ftok%261 failed: hook/tok&1")
    with pytest.raises(ConfigError, match="no-such-block"):
        parse_config("urls:\n  - json://127.0.0.1/${prefect:no-such-block}:\n      - tag: a\n")
