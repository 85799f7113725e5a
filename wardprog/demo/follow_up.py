"""Simulated follow-up for the demo: wards work through what they triaged, through the same
doors people use.

Ward managers return their tracker with the fixes they have done (the inbox path a real
return takes); the QI coach scores improvement projects month by month and closes finished
ones; the directorate decides change requests after their review date. Every step is a
command handled by the bus, so the replay proves the commands and leaves an audit trail.

What happens is what an improvement lead sees on real wards. Fixes mostly close within weeks,
a tail takes months and some slip and go overdue. Improvement projects follow a path drawn for
each one (:func:`project_path`): most climb to 3.0 (modest improvement) or better over four to
twelve months, however high they end up, so early completions are not the easy ones; some
stall and are scored flat month after month, some slip back down when the people driving them
move on, and some are stopped with a reason (a trust records a project that went nowhere as
stopped, never "complete at IHI 1.0"). Change requests are decided early, on their review
date, late, declined or deferred to a new review, and some are still waiting
(:func:`change_plan`); agreed ones are put in place weeks later. Every decision is a pure
function of the item and the date, so replaying the same dates writes the same rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, col, func, select

from wardprog import commands as c
from wardprog.config import Settings, get_settings
from wardprog.models import (
    ChangeDecision,
    CoachingSession,
    ProjectStatus,
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
    from wardprog.demo.simulate import reschedule_events

    settings = get_settings()
    changes = _slipped_ward(session, settings, as_of)
    changes += reschedule_events(session, settings, as_of)
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
            path = project_path(item)
            changes += _project(session, settings, item, raised, as_of, path)
            if _roll(item, "quiet") >= QUIET_SHARE:  # a few projects go quiet: stale
                changes += _improve(session, settings, item, item.id, raised, as_of, path)
        else:
            changes += _change(session, settings, item, item.id, raised, as_of)
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
    if _roll(item, "tail") < 0.2:  # waiting on estates or a supplier: two to four months
        return raised + timedelta(days=42 + int(_roll(item, "days") * 80))
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


# Why a project is stopped, as the QI team records it (one per stopped project).
STOP_REASONS = (
    "Project lead left the trust and no one on the ward could take it on",
    "Ward reconfigured: the bed base changed and the change ideas no longer fit",
    "Superseded by the trust-wide programme working on the same problem",
    "Ward under sustained escalation pressure: the team agreed to stop and restart next year",
    "Baseline data showed the problem was smaller than thought; effort moved to a higher risk",
)
WHY_UP = "Monthly review: change ideas tested on more shifts, run chart moving the right way."
WHY_FLAT = "Monthly review: no change this month; PDSA cycle paused while the ward is short."
WHY_DOWN = "Score lowered: the changes were not sustained after key staff moved on."


@dataclass(frozen=True)
class ProjectPath:
    """Where one simulated project goes: a score per monthly review, then how it ends.

    ``scores``: (month after triage, IHI score); ``end``: ``completed`` or ``stopped`` in month
    ``end_month`` (``None``: still active however long the replay runs).
    """

    kind: str  # succeeds | stalls | slips | stops
    scores: list[tuple[int, float]] = field(default_factory=list)
    end: str | None = None
    end_month: int | None = None
    reason: str = ""


def _half(score: float) -> float:
    """Down to the IHI scale's half points, within 0.5-5.0."""
    return min(5.0, max(0.5, int(score * 2) / 2))


def _climb(item: TriageItem, salt: str, top: float, months: int) -> list[float]:
    """Monthly scores from 0.5 reaching ``top`` in ``months``: faster or slower starts, a
    flat month here and there, never past ``top``."""
    shape = 0.6 + _roll(item, f"{salt}-shape") * 1.0
    scores: list[float] = []
    for m in range(1, months + 1):
        target = 0.5 + (top - 0.5) * (m / months) ** shape
        flat = m < months and scores and _roll(item, f"{salt}-flat{m}") < 0.2
        scores.append(scores[-1] if flat else max(_half(target), scores[-1] if scores else 0.5))
    scores[-1] = top
    return scores


def project_path(item: TriageItem) -> ProjectPath:
    """The path of one improvement project (pure: the same item always takes the same path).

    How long a project takes is drawn apart from how far it gets, so low scorers do not
    finish first and the 75% (IHI 3.0+) measure is not biased early in a wave.
    """
    fate = _roll(item, "fate")
    months = 4 + int(_roll(item, "months") * 9)  # 4-12 months to finish
    if fate < 0.60:  # reaches modest improvement or better, then is completed
        final = (3.0, 3.0, 3.5, 3.5, 3.5, 4.0, 4.0, 4.5)[int(_roll(item, "final") * 8)]
        scores = _climb(item, "up", final, months)
        return ProjectPath("succeeds", list(enumerate(scores, 1)), "completed", months + 1)
    if fate < 0.75:  # stalls: some measurable change, then flat month after month
        peak = (1.5, 2.0, 2.0, 2.5)[int(_roll(item, "peak") * 4)]
        rise = 2 + int(_roll(item, "rise") * 3)
        scores = [*_climb(item, "up", peak, rise), *[peak] * 12]
        if _roll(item, "stop-stalled") < 0.4:  # the team calls it after 3-5 flat months
            at = rise + 3 + int(_roll(item, "flat") * 3)
            reason = STOP_REASONS[int(_roll(item, "why") * len(STOP_REASONS))]
            return ProjectPath("stalls", list(enumerate(scores[:at], 1)), "stopped", at + 1,
                               reason)  # fmt: skip
        return ProjectPath("stalls", list(enumerate(scores, 1)))
    if fate < 0.87:  # climbs, slips back when its drivers move on; half recover and finish
        peak = (2.5, 3.0, 3.0, 3.5)[int(_roll(item, "peak") * 4)]
        rise = 3 + int(_roll(item, "rise") * 4)
        drop = (0.5, 1.0)[int(_roll(item, "drop") * 2)]
        low = _half(peak - drop)
        scores = [*_climb(item, "up", peak, rise), _half(peak - 0.5), low, low]
        if _roll(item, "recover") < 0.5:  # new people pick it up and take it past 3.0
            back = max(3.0, peak)
            scores += [min(back, low + 0.5 * k) for k in range(1, int((back - low) * 2) + 1)]
            return ProjectPath("slips", list(enumerate(scores, 1)), "completed", len(scores) + 1)
        return ProjectPath("slips", list(enumerate([*scores, *[low] * 8], 1)))
    # Stopped early: it never got going (1.0-1.5) before the reason came up.
    at = 2 + int(_roll(item, "early") * 3)
    scores = [1.0 if m < 2 else _half(1.0 + 0.5 * int(_roll(item, "e") * 2)) for m in range(at)]
    reason = STOP_REASONS[int(_roll(item, "why") * len(STOP_REASONS))]
    return ProjectPath("stops", list(enumerate(scores, 1)), "stopped", at + 1, reason)


def _improve(
    session: Session,
    settings: Settings,
    item: TriageItem,
    item_id: int,
    raised: date,
    as_of: date,
    path: ProjectPath,
) -> int:
    """The QI coach's monthly score along the project's path, then its completion or stop."""
    recorded = {s.scored_on for s in score_history(session, item_id)}
    changes = 0
    previous = 0.5
    for month, score in path.scores:
        day = raised + timedelta(days=30 * month)
        if path.end_month is not None and month >= path.end_month:
            break
        if day > as_of:
            return changes
        if day not in recorded:
            why = WHY_UP if score > previous else WHY_DOWN if score < previous else WHY_FLAT
            # A 3.0+ needs evidence; the demo's projects set no numeric aim, so the coach says
            # why the ward's monthly extract cannot show it yet.
            note = EVIDENCE_NOTE if score >= 3.0 else ""
            _act(session, settings, c.ScoreProject, COACH, item_id=item_id, score=score, on=day,
                 why=f"{why} (month {month})", evidence_note=note)  # fmt: skip
            changes += 1
        previous = score
    if path.end is None or path.end_month is None:
        return changes
    finish = raised + timedelta(days=30 * path.end_month)
    if finish > as_of:
        return changes
    if path.end == "completed":
        _act(session, settings, c.CloseItem, COACH, item_id=item_id, on=finish,
             outcome=f"Project completed at IHI {previous:.1f}: the change is in place and "
             "measured.")  # fmt: skip
        return changes + 1
    project = project_for_item(session, item)
    if project is not None and project.id is not None:
        _act(session, settings, c.UpdateProject, QI_TEAM, project_id=project.id, on=finish,
             status=ProjectStatus.stopped, stop_reason=path.reason)  # fmt: skip
    _act(session, settings, c.CloseItem, COACH, item_id=item_id, on=finish,
         outcome=f"Project stopped at IHI {previous:.1f}: {path.reason}.")  # fmt: skip
    return changes + 2


# --- change requests: decided early, on time, late, declined, deferred, or still waiting ------

APPROVE_NOTES = (
    "Agreed at the directorate meeting; funded from the nursing budget.",
    "Agreed by the divisional board.",
    "Agreed: the matron found the money in this year's equipment budget.",
)
DECLINE_NOTES = (
    "Not affordable this financial year; the ward's bid goes into next year's business planning",
    "A trust-wide solution is already being procured",
    "Estates cannot do structural work in this building before the refurbishment",
)
DEFER_NOTES = (
    "Waiting for the business case to go to the next capital panel.",
    "Linked to the nursing workforce review: revisit when it reports.",
)


@dataclass(frozen=True)
class ChangeStep:
    decision: ChangeDecision
    on: date
    note: str
    review: date | None = None


def change_plan(item: TriageItem, raised: date, review: date) -> ChangeStep | None:
    """The first decision on a change request, or ``None`` while it is still waiting.

    ``review`` is the review date the request was given when it was raised.
    """
    fate, r = _roll(item, "decide"), _roll(item, "when")
    earliest = raised + timedelta(days=7)
    approve = APPROVE_NOTES[int(_roll(item, "note") * len(APPROVE_NOTES))]
    if fate < 0.18:  # agreed before its review date: an easy yes
        on = max(earliest, review - timedelta(days=5 + int(r * 20)))
        return ChangeStep(ChangeDecision.approve, on, approve)
    if fate < 0.40:  # agreed at the review (a third on the day) or after it, when the panel met
        late = 0 if r < 0.3 else int(r * 45)
        return ChangeStep(ChangeDecision.approve, review + timedelta(days=late), approve)
    if fate < 0.55:
        note = DECLINE_NOTES[int(_roll(item, "no") * len(DECLINE_NOTES))]
        on = max(earliest, review + timedelta(days=int(r * 30) - 10))
        return ChangeStep(ChangeDecision.decline, on, note)
    if fate < 0.72:
        on = review + timedelta(days=int(r * 10))
        again = on + timedelta(days=42 + int(_roll(item, "again") * 49))
        note = DEFER_NOTES[int(_roll(item, "why") * len(DEFER_NOTES))]
        return ChangeStep(ChangeDecision.defer, on, note, again)
    return None  # still waiting for a decision (and climbing the escalation ladder)


def after_deferral(item: TriageItem, review: date) -> ChangeStep | None:
    """What the deferred request gets at its new review: agreed, declined, or nothing yet."""
    r = _roll(item, "second")
    on = review + timedelta(days=int(_roll(item, "second-when") * 20))
    if r < 0.5:
        return ChangeStep(ChangeDecision.approve, on, "Agreed at the review after the deferral.")
    if r < 0.75:
        return ChangeStep(ChangeDecision.decline, on, DECLINE_NOTES[0])
    return None


def _change(
    session: Session, settings: Settings, item: TriageItem, item_id: int, raised: date,
    as_of: date,
) -> int:  # fmt: skip
    """Every step of the request's path due by ``as_of``, in order, on this tick.

    Steps chain (deferred, decided at the new review, put in place weeks later); taking each
    one due in the same tick matters: a step left for the next tick would be dated before that
    tick, and the programme as it stood on this tick's day would change after the day.
    """
    changes = 0
    owner = item.owner or DIRECTORATE
    while True:
        if item.decision is ChangeDecision.approve and item.decided_on is not None:
            # Agreed requests are put in place weeks later; a fifth are still being put in place.
            if _roll(item, "in-place") < 0.2 or item.status is not TriageStatus.open:
                return changes
            done = item.decided_on + timedelta(days=14 + int(_roll(item, "impl") * 75))
            if done > as_of:
                return changes
            _act(session, settings, c.CloseItem, owner, item_id=item_id, on=done,
                 outcome="Agreed by the directorate and put in place.")  # fmt: skip
            return changes + 1
        if item.decision is None and item.review_date is not None:
            step = change_plan(item, raised, item.review_date)
        elif item.decision is ChangeDecision.defer and item.review_date is not None:
            step = after_deferral(item, item.review_date)
        else:
            return changes
        if step is None or step.on > as_of:
            return changes
        _act(session, settings, c.DecideChange, DIRECTORATE, item_id=item_id,
             decision=step.decision, owner=owner, note=step.note, on=step.on,
             review=step.review)  # fmt: skip
        changes += 1
        session.refresh(item)


# --- improvement projects: the team fills in the record, coaches, runs PDSA cycles ---------------


def _project(
    session: Session,
    settings: Settings,
    item: TriageItem,
    raised: date,
    as_of: date,
    path: ProjectPath,
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
        if day > as_of or (path.end_month is not None and day >= _end_day(raised, path)):
            break
        decision = "adopt" if n == 2 and _roll(item, "adopt") < 0.7 else "adapt"
        _act(session, settings, c.AddPdsa, item.owner or "Ward manager", project_id=project.id,
             plan=f"Test change idea {n} on one shift", prediction="Fewer incidents on the shift",
             happened="Done on most shifts", learned="Staff found it workable",
             decision=decision, on=day)  # fmt: skip
        changes += 1
    return changes


def _end_day(raised: date, path: ProjectPath) -> date:
    assert path.end_month is not None
    return raised + timedelta(days=30 * path.end_month)


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
