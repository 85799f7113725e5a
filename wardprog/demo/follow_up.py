"""Simulated follow-up for the demo: wards work through what they triaged, through the same
doors people use.

Ward managers return their tracker with the fixes they have done (the inbox path a real
return takes); the QI coach scores improvement projects month by month and closes finished
ones; the directorate decides change requests after their review date. Every step is a
command handled by the bus, so the replay proves the commands and leaves an audit trail.

Fixes mostly close within weeks (some slip and go overdue), improvement projects climb the IHI
scale towards where they will end up, change requests are agreed or left open. Every decision
is a pure function of the item and the date, so replaying the same dates writes the same rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from datetime import date, timedelta

from sqlmodel import Session, col, func, select

from wardprog import commands as c
from wardprog.config import Settings, get_settings
from wardprog.models import (
    ChangeDecision,
    CoachingSession,
    QiEvent,
    StaffMember,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
    WardEnrolment,
)
from wardprog.services.handlers import run
from wardprog.services.projects import pdsa_cycles, project_for_item
from wardprog.services.tracker import HEADINGS, collect_returns, tracker_inbox
from wardprog.services.triage import score_history

COACH = "QI coach"
QI_TEAM = "QI team"
ADVISERS = ("Priya Shah", "Tom Okafor", "Rachel Green")
# Share of improvement projects that go quiet (no score, no PDSA): flagged stale after 90 days.
QUIET_SHARE = 0.1
# Measures the simulated teams pick for their projects (the ward's diagnostic metrics).
PROJECT_METRICS = (
    "falls_per_1000_obd",
    "pressure_ulcers_per_1000_obd",
    "complaints",
    "fft_positive_pct",
    "sickness_pct",
)
# The demo trust's slipped ward: an outbreak closes it in wave 1, so it moves to wave 2.
SLIPPED_WARD = "RVH-DAI"
SLIPPED_REASON = "Norovirus outbreak: the ward is closed to admissions and cannot release staff"
DIRECTORATE = "Directorate"
DEMO = c.Source(kind="demo")


def _roll(item: TriageItem, salt: str) -> float:
    """A stable number in [0, 1) per item: the simulated ward's 'choice'."""
    digest = hashlib.sha256(f"{item.ward_id}:{item.issue_key}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _act(
    session: Session, settings: Settings, kind: type[c.Command], actor: str, **fields: object
) -> None:
    run(session, settings, c.build(kind, actor={"name": actor}, source=DEMO, **fields))


def simulate_follow_up(session: Session, as_of: date) -> int:
    """Apply every follow-up step due by ``as_of``; returns how many changes were made."""
    settings = get_settings()
    changes = _slipped_ward(session, settings, as_of)
    rows = session.exec(
        select(TriageItem, WardEnrolment)
        .where(TriageItem.ward_id == WardEnrolment.ward_id)
        .where(TriageItem.status == TriageStatus.open)
    ).all()
    fixes_done: dict[int, list[tuple[TriageItem, date]]] = defaultdict(list)
    for item, enrolment in rows:
        if enrolment.triage_at is None or item.id is None:
            continue
        raised = enrolment.triage_at.date()
        if item.category is TriageCategory.fix:
            done_on = _fix_done_on(item, raised)
            if done_on is not None and done_on <= as_of:
                fixes_done[item.ward_id].append((item, done_on))
        elif item.category is TriageCategory.improve:
            changes += _project(session, settings, item, raised, as_of)
            if _roll(item, "quiet") >= QUIET_SHARE:  # a few projects go quiet: stale
                changes += _improve(session, settings, item, item.id, raised, as_of)
        else:
            changes += _change(session, settings, item, item.id, as_of)
    for ward_id, done in sorted(fixes_done.items()):
        changes += _return_tracker(session, settings, ward_id, done, as_of)
    changes += _qi_events(session, settings, as_of)
    return changes


def _slipped_ward(session: Session, settings: Settings, as_of: date) -> int:
    """The improvement team moves the demo's slipped ward on, once, while it is not engaged."""
    from wardprog.models import Stage, WardDeferral, Wave

    row = session.exec(
        select(WardEnrolment, Ward, Wave)
        .where(WardEnrolment.ward_id == Ward.id, WardEnrolment.wave_id == Wave.id)
        .where(Ward.code == SLIPPED_WARD)
    ).first()
    if row is None or row[2].number != 1 or row[0].stage not in (Stage.enrolled, Stage.diagnostic):
        return 0
    if session.exec(select(WardDeferral.id).where(WardDeferral.ward_id == row[1].id)).first():
        return 0
    _act(session, settings, c.DeferWard, "Improvement team", ward_code=SLIPPED_WARD,
         reason=SLIPPED_REASON, on=as_of)  # fmt: skip
    return 1


def _fix_done_on(item: TriageItem, raised: date) -> date | None:
    if _roll(item, "slips") < 0.12:
        return None  # this one slips: it shows up as overdue and gets reminders
    return raised + timedelta(days=7 + int(_roll(item, "days") * 35))


def _return_tracker(
    session: Session,
    settings: Settings,
    ward_id: int,
    done: list[tuple[TriageItem, date]],
    as_of: date,
) -> int:
    """The ward manager marks the fixes done on the tracker and returns it to the inbox."""
    ward = session.get(Ward, ward_id)
    assert ward is not None
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADINGS)
    for item, done_on in sorted(done, key=lambda d: d[0].id or 0):
        writer.writerow(
            [item.id, item.issue, item.category.value, item.owner, item.due_date or "", "",
             "done", "Sorted on the ward by the team.", done_on.isoformat(), "", ""]
        )  # fmt: skip
    inbox = tracker_inbox(settings, ward.code)
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"tracker-{ward.code}-returned-{as_of.isoformat()}.csv").write_text(
        buf.getvalue(), encoding="utf-8"
    )
    outcomes = collect_returns(session, settings, ward, as_of)
    return sum(len(o.recorded) for o in outcomes)


EVIDENCE_NOTE = (
    "The ward's monthly extract lags the change; the team's daily run chart shows it holding."
)


def _improve(
    session: Session, settings: Settings, item: TriageItem, item_id: int, raised: date, as_of: date
) -> int:
    # Where this project will end up on the IHI scale: most reach modest improvement (3.0+).
    final = 1.0 + 0.5 * int(_roll(item, "final") * 8)  # 1.0 .. 4.5
    recorded = {s.scored_on for s in score_history(session, item_id)}
    changes = 0
    score = 0.5
    month = 1
    while score < final:
        day = raised + timedelta(days=30 * month)
        if day > as_of:
            return changes
        score = min(final, score + (1.0 if _roll(item, f"m{month}") > 0.6 else 0.5))
        if day not in recorded:
            why = f"Monthly review: PDSA cycles and run chart reviewed (month {month})."
            # A 3.0+ needs evidence; the demo's projects set no numeric aim, so the coach says
            # why the ward's monthly extract cannot show it yet.
            note = EVIDENCE_NOTE if score >= 3.0 else ""
            _act(session, settings, c.ScoreProject, COACH, item_id=item_id, score=score, on=day,
                 why=why, evidence_note=note)  # fmt: skip
            changes += 1
        month += 1
    finish = raised + timedelta(days=30 * month)
    if finish <= as_of and _roll(item, "closes") < 0.8:
        _act(session, settings, c.CloseItem, COACH, item_id=item_id, on=finish,
             outcome=f"Project completed at IHI {final:.1f}.")  # fmt: skip
        changes += 1
    return changes


def _change(
    session: Session, settings: Settings, item: TriageItem, item_id: int, as_of: date
) -> int:
    if item.review_date is None or item.review_date > as_of or _roll(item, "agreed") < 0.5:
        return 0
    owner = item.owner or DIRECTORATE
    _act(session, settings, c.DecideChange, DIRECTORATE, item_id=item_id,
         decision=ChangeDecision.approve, owner=owner, note="Agreed at the directorate meeting.",
         on=item.review_date)  # fmt: skip
    _act(session, settings, c.CloseItem, owner, item_id=item_id, on=item.review_date,
         outcome="Agreed by the directorate and put in place.")  # fmt: skip
    return 1


# --- improvement projects: the team fills in the record, coaches, runs PDSA cycles ---------------


def _project(
    session: Session, settings: Settings, item: TriageItem, raised: date, as_of: date
) -> int:
    project = project_for_item(session, item)
    if project is None or project.id is None:
        return 0
    changes = 0
    setup_on = raised + timedelta(days=3)
    if not project.metrics and setup_on <= as_of:
        metric = PROJECT_METRICS[int(_roll(item, "metric") * len(PROJECT_METRICS))]
        fields: dict[str, object] = {
            "metrics": [metric],
            "aim": f"Improve {metric.replace('_', ' ')} by 20% within six months",
            "strategic_aim": settings.strategic_aims[
                int(_roll(item, "aim") * len(settings.strategic_aims))
            ],
            "team": [item.owner or "Ward manager", "Staff nurse", "Health care assistant"],
            "rebase_at_first_adoption": _roll(item, "rebase") < 0.5,
        }
        if _roll(item, "ppi") < 0.3:
            fields["ppi_level"] = "involved" if _roll(item, "ppi-how") < 0.5 else "consulted"
            fields["ppi_note"] = "Patient panel reviewed the change ideas."
        if _roll(item, "green") < 0.3:
            fields["co2e_kg"] = round(50 + _roll(item, "co2") * 400, 1)
            fields["sustainability_note"] = "Fewer single-use items and journeys (CO2e mapped)."
        _act(session, settings, c.UpdateProject, QI_TEAM, project_id=project.id, on=setup_on,
             **fields)  # fmt: skip
        changes += 1
    coached_on = raised + timedelta(days=14)
    if (
        _roll(item, "coached") < 0.6
        and coached_on <= as_of
        and not _has_coaching(session, project.id)
    ):
        adviser = ADVISERS[int(_roll(item, "adviser") * len(ADVISERS))]
        _act(session, settings, c.LogCoaching, adviser, project_id=project.id, adviser=adviser,
             minutes=30 + 15 * int(_roll(item, "mins") * 4), on=coached_on,
             note="Driver diagram and measurement plan.")  # fmt: skip
        changes += 1
    if _roll(item, "quiet") < QUIET_SHARE:
        return changes
    done = len(pdsa_cycles(session, project.id))
    for n in range(done + 1, 4):
        day = raised + timedelta(days=20 + 30 * (n - 1))
        if day > as_of:
            break
        decision = "adopt" if n == 2 and _roll(item, "adopt") < 0.7 else "adapt"
        _act(session, settings, c.AddPdsa, item.owner or "Ward manager", project_id=project.id,
             plan=f"Test change idea {n} on one shift", prediction="Fewer incidents on the shift",
             happened="Done on most shifts", learned="Staff found it workable",
             decision=decision, on=day)  # fmt: skip
        changes += 1
    return changes


def _has_coaching(session: Session, project_id: int) -> bool:
    return (
        session.exec(
            select(CoachingSession.id).where(CoachingSession.project_id == project_id)
        ).first()
        is not None
    )


def _qi_events(session: Session, settings: Settings, as_of: date) -> int:
    """A monthly QI Café (second Wednesday; one month in eight is missed) and a quarterly QI
    Fundamentals-style training day, each with a stable sample of staff from the register."""
    first = session.exec(select(func.min(WardEnrolment.triage_at))).one()
    if first is None:
        return 0
    staff = [
        s.staff_number
        for s in session.exec(select(StaffMember).order_by(col(StaffMember.id))).all()
    ]
    if not staff:
        return 0
    held = {(e.kind.value, e.held_on) for e in session.exec(select(QiEvent)).all()}
    changes = 0
    month = first.date().replace(day=1)
    while month <= as_of:
        day = month + timedelta(days=(2 - month.weekday()) % 7 + 7)  # second Wednesday
        salt = month.isoformat()
        if day <= as_of and ("qi_cafe", day) not in held and _pick(salt, "skip") >= 0.125:
            _act(session, settings, c.RecordQiEvent, QI_TEAM, event_kind="qi_cafe",
                 topic="QI Café: sharing what works", on=day,
                 attendees=_sample(staff, salt, 6 + int(_pick(salt, "n") * 10)))  # fmt: skip
            changes += 1
        if month.month in (3, 6, 9, 12):
            training = day + timedelta(days=7)
            if training <= as_of and ("training", training) not in held:
                _act(session, settings, c.RecordQiEvent, QI_TEAM, event_kind="training",
                     topic="QI Fundamentals (one day)", on=training,
                     attendees=_sample(staff, f"t{salt}", 10 + int(_pick(salt, "t") * 8)),
                )  # fmt: skip
                changes += 1
        month = (month + timedelta(days=32)).replace(day=1)
    return changes


def _pick(salt: str, what: str) -> float:
    digest = hashlib.sha256(f"qi-events:{salt}:{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _sample(staff: list[str], salt: str, n: int) -> list[str]:
    ranked = sorted(staff, key=lambda s: hashlib.sha256(f"{salt}:{s}".encode()).digest())
    return ranked[: min(n, len(ranked))]
