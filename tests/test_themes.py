"""Trust-wide themes from real triage imports: the same problem on several wards is one theme,
kept stable as more arrive, escalated once as one change request with the count of wards; the
team merges and splits themes by command; `wardprog themes --min-wards N --json` lists them."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from tests.utils.factories import make_context, make_site, make_ward, make_wave
from wardprog.cli import app
from wardprog.commands import MergeThemes, SplitTheme, build
from wardprog.config import Settings
from wardprog.errors import WardprogError
from wardprog.models import Notification, Stage, Theme, TriageItem
from wardprog.models.base import require_id
from wardprog.services.enrolment import after_stage
from wardprog.services.handlers import run
from wardprog.services.themes import refresh_themes, theme_rows
from wardprog.services.triage import run_triage_stage, triage_inbox

AS_OF = date(2026, 2, 2)
HOIST = [
    "One hoist for 28 beds",
    "Only one hoist on the ward",
    "Hoist shortage - one hoist between 28 beds",
    "ONE HOIST for the whole ward!!",
]


def _triage(session: Session, settings: Settings, rows: list[list[str]]) -> None:
    site = make_site(session)
    wave = make_wave(session, quarter_start=AS_OF)
    for issues in rows:
        ctx = make_context(session, settings, as_of=AS_OF, site=site, wave=wave,
                           ward=make_ward(session, site))  # fmt: skip
        inbox = triage_inbox(settings, ctx.ward.code)
        inbox.mkdir(parents=True, exist_ok=True)
        body = "".join(f'"{issue}",change\n' for issue in issues)
        (inbox / "r.csv").write_text("Issue,Category\n" + body)
        assert run_triage_stage(ctx).done
        refresh_themes(session, settings, AS_OF)  # the wave's step after the ward's triage


def _theme_of(session: Session, text: str) -> str:
    item = session.exec(select(TriageItem).where(TriageItem.issue == text)).one()
    theme = session.get(Theme, item.theme_id)
    assert theme is not None
    return theme.key


def test_themes_group_across_wards_and_escalate_once(session: Session, settings: Settings) -> None:
    settings = settings.model_copy(update={"theme_escalate_wards": 4})
    _triage(session, settings, [
        [HOIST[0], "Not enough staff on night shifts"],
        [HOIST[1], "Not enough hoists for night shifts"],
        [HOIST[2], "Sluice door sticks"],
    ])  # fmt: skip
    hoist = _theme_of(session, HOIST[0])
    assert {_theme_of(session, t) for t in HOIST[:3]} == {hoist}
    assert _theme_of(session, "Not enough staff on night shifts") != _theme_of(
        session, "Not enough hoists for night shifts"
    )
    (row,) = [r for r in theme_rows(session, min_wards=2)]
    assert row["theme"] == hoist and row["ward_count"] == 3 and row["status"] == "open"
    assert row["categories"] == ["change"]
    assert (
        session.exec(select(Notification).where(Notification.kind == "theme_escalation")).all()
        == []
    )

    _triage(session, settings, [[HOIST[3]], [HOIST[0]]])  # two more wards: 5 >= 4
    assert _theme_of(session, HOIST[3]) == hoist  # joins the existing theme; old items kept
    (sent,) = session.exec(
        select(Notification).where(Notification.kind == "theme_escalation")
    ).all()
    assert (
        "raised by 4 wards" in sent.subject and sent.idempotency_key == f"theme_escalation:{hoist}"
    )
    theme = session.exec(select(Theme).where(Theme.key == hoist)).one()
    assert theme.status == "escalated" and theme.escalated_wards == 4
    _triage(session, settings, [[HOIST[1]]])
    assert (
        len(session.exec(select(Notification).where(Notification.kind == "theme_escalation")).all())
        == 1
    )


def test_a_waves_themes_follow_ward_order_not_the_order_wards_finished(
    session: Session, settings: Settings, engine: Engine
) -> None:
    """The wave's wards are triaged concurrently; themes are numbered afterwards, ward by ward.

    Ward B finishes first here (its items get the lower ids), yet ward A's problem founds T1
    and B's joins it: the same keys whichever ward's transaction committed first.
    """
    site = make_site(session)
    wave = make_wave(session, quarter_start=AS_OF)
    wards = {
        code: make_ward(session, site, code=code) for code in (f"{site.code}-A", f"{site.code}-B")
    }
    for code, issues in (
        (f"{site.code}-B", [HOIST[1], "Sluice door sticks"]),
        (f"{site.code}-A", [HOIST[0]]),
    ):
        ctx = make_context(session, settings, as_of=AS_OF, site=site, wave=wave, ward=wards[code])
        inbox = triage_inbox(settings, code)
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / "r.csv").write_text("Issue,Category\n" + "".join(f'"{i}",fix\n' for i in issues))
        assert run_triage_stage(ctx).done
    assert session.exec(select(TriageItem).where(TriageItem.theme_id != None)).all() == []  # noqa: E711
    session.commit()  # the wave's step is its own transaction, as in the flow
    after_stage(engine, settings, Stage.triage, AS_OF, require_id(wave))
    session.expire_all()
    first = session.exec(select(Theme).order_by(Theme.key)).all()
    assert [(t.key, t.title) for t in first][:1] == [("T1", HOIST[0])]
    assert _theme_of(session, HOIST[1]) == "T1" and _theme_of(session, "Sluice door sticks") == "T2"


def test_merge_and_split_by_command_and_the_cli_lists_themes(
    session: Session, settings: Settings
) -> None:
    _triage(session, settings, [
        ["Drug trolley keys go missing"], ["Controlled drug keys lost at night"],
        ["Sluice door sticks"],
    ])  # fmt: skip
    keys_a = _theme_of(session, "Drug trolley keys go missing")
    keys_b = _theme_of(session, "Controlled drug keys lost at night")
    assert keys_a != keys_b  # different words: the team decides they are one problem
    actor = {"name": "Improvement team"}
    run(session, settings, build(MergeThemes, actor=actor, on=AS_OF, into=keys_a, themes=[keys_b]))
    assert _theme_of(session, "Controlled drug keys lost at night") == keys_a
    with pytest.raises(WardprogError, match="merged into another theme"):
        run(session, settings, build(MergeThemes, actor=actor, on=AS_OF, into=keys_b,
                                     themes=[keys_a]))  # fmt: skip
    lost = session.exec(
        select(TriageItem).where(col(TriageItem.issue).startswith("Controlled"))
    ).one()
    result = run(session, settings, build(SplitTheme, actor=actor, on=AS_OF, theme=keys_a,
                                          item_ids=[require_id(lost)]))  # fmt: skip
    assert _theme_of(session, "Controlled drug keys lost at night") == result.details["theme"]
    with pytest.raises(WardprogError, match="leave theme"):
        run(session, settings, build(SplitTheme, actor=actor, on=AS_OF, theme=keys_a,
                                     item_ids=[require_id(lost) - 1]))  # fmt: skip
    session.commit()

    out = CliRunner().invoke(app, ["themes", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert {r["title"] for r in rows} >= {"Sluice door sticks", "Drug trolley keys go missing"}
    assert all(set(r) >= {"theme", "wards", "categories", "status", "ward_count"} for r in rows)
    assert (
        json.loads(CliRunner().invoke(app, ["themes", "--min-wards", "2", "--json"]).output) == []
    )
    merged = CliRunner().invoke(
        app, ["themes", "merge", result.details["theme"], "--into", keys_a, "--by", "QI lead"]
    )
    assert merged.exit_code == 0 and f"into {keys_a}: 1 items moved" in merged.output
    bad = CliRunner().invoke(app, ["themes", "merge", "X9", "--into", keys_a, "--by", "QI lead"])
    assert bad.exit_code == 2 and "themes" in bad.stderr
    split = CliRunner().invoke(
        app, ["themes", "split", keys_a, "--item", str(lost.id), "--by", "QI lead"]
    )
    assert split.exit_code == 0, split.output
    refused = CliRunner().invoke(
        app, ["themes", "split", keys_a, "--item", str(lost.id), "--by", "QI lead"]
    )
    assert refused.exit_code == 2 and "error:" in refused.stderr, refused.output


def test_themes_read_as_of_a_day_show_only_what_was_raised_and_escalated_by_then(
    session: Session, settings: Settings
) -> None:
    from datetime import timedelta

    from wardprog import clock

    settings = settings.model_copy(update={"theme_escalate_wards": 3})
    later = AS_OF + timedelta(days=30)
    site = make_site(session)
    wave = make_wave(session, quarter_start=AS_OF)
    for day, issues in ((AS_OF, HOIST[:2]), (later, HOIST[2:3])):
        with clock.running_on(day):
            for issue in issues:
                ctx = make_context(session, settings, as_of=day, site=site, wave=wave,
                                   ward=make_ward(session, site))  # fmt: skip
                inbox = triage_inbox(settings, ctx.ward.code)
                inbox.mkdir(parents=True, exist_ok=True)
                (inbox / "r.csv").write_text(f'Issue,Category\n"{issue}",change\n')
                assert run_triage_stage(ctx).done
            refresh_themes(session, settings, day)  # the wave's step after its wards' triage
    (now,) = theme_rows(session, min_wards=2)
    assert now["ward_count"] == 3 and now["status"] == "escalated"
    assert now["escalated_on"] == later.isoformat()
    (then,) = theme_rows(session, min_wards=2, as_of=AS_OF)
    assert then["ward_count"] == 2 and then["items"] == 2
    assert then["status"] == "open" and then["escalated_on"] is None
    assert theme_rows(session, min_wards=2, as_of=AS_OF - timedelta(days=1)) == []
