"""Triage capture and follow-up: import returned templates, route items, remind, close.

Two ways in, one set of rules: a filled template dropped in the ward's inbox folder
(``<inbox_dir>/<ward_code>/triage/``) or the improvement team typing the rows into a Prefect form.
Either way every row is validated first and a file with any problem is rejected whole (moved to
``rejected/`` with an ``.errors.txt`` beside it, and the ward manager told what to fix), so the
next run never trips over it again and an item is never half imported.

The inbox convention (``services/inbox.py``) is the same for every returned file: accepted files
move to ``processed/`` when the transaction commits (a rollback leaves the file for the next
run, which imports it again idempotently); bad files are quarantined at once, answered once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.errors import InputFileError, NotFoundError, WardprogError
from wardprog.models import Notification, Site, Ward, Wave
from wardprog.models.triage import (
    ChangeDecision,
    ImprovementScore,
    TriageCategory,
    TriageItem,
    TriageStatus,
    TriageSubmission,
)
from wardprog.notify.outbox import enqueue
from wardprog.rules.triage import (
    IHI_SCORES,
    INITIAL_IHI_SCORE,
    RawTriageRow,
    TriageDefaults,
    TriageEntry,
    check_ihi_score,
    iso_week,
    overdue_since,
    route,
    validate_rows,
)
from wardprog.services.context import StageContext, StageOutcome
from wardprog.services.inbox import (
    IMPROVEMENT_TEAM_TAG,
    ReturnedFile,
    file_on_commit,
    inbox_folder,
    quarantine,
    returned_files,
)
from wardprog.services.programme import on_day
from wardprog.services.projects import ensure_project_for_item
from wardprog.services.triage_template import parse_template

TRIAGE_SCORER = "Improvement team (triage)"


class TriageError(WardprogError):
    """A triage action is not allowed (wrong category, closed item, score off the scale)."""


@dataclass(frozen=True)
class ImportResult:
    source: str
    created: list[TriageItem]
    existing: list[TriageItem]


def triage_inbox(settings: Settings, ward_code: str) -> Path:
    return inbox_folder(settings, ward_code, "triage")


def defaults_from(settings: Settings) -> TriageDefaults:
    return TriageDefaults(
        fix_due_days=settings.triage_fix_due_days,
        change_review_days=settings.triage_change_review_days,
    )


# --- importing ------------------------------------------------------------------------------


def _manager(ward: Ward) -> str:
    return ward.manager_name or f"Ward manager, {ward.name}"


def import_entries(
    session: Session,
    settings: Settings,
    ward: Ward,
    wave: Wave,
    entries: Sequence[TriageEntry],
    *,
    source: str,
    as_of: date,
) -> ImportResult:
    """Write validated entries as triage items; an issue already recorded is left untouched."""
    keys = [e.issue_key for e in entries]
    existing = {
        item.issue_key: item
        for item in session.exec(
            select(TriageItem).where(
                TriageItem.ward_id == ward.id,
                TriageItem.wave_id == wave.id,
                col(TriageItem.issue_key).in_(keys),
            )
        ).all()
    }
    defaults = defaults_from(settings)
    created: list[TriageItem] = []
    for entry in entries:
        if entry.issue_key in existing:
            continue
        routing = route(entry, ward_manager=_manager(ward), as_of=as_of, defaults=defaults)
        item = TriageItem(
            ward_id=ward.id,  # type: ignore[arg-type]
            wave_id=wave.id,  # type: ignore[arg-type]
            issue=entry.issue,
            issue_key=entry.issue_key,
            raised_by=entry.raised_by,
            category=TriageCategory(entry.category),
            owner=routing.owner,
            escalated_to=routing.escalated_to,
            due_date=routing.due_date,
            review_date=routing.review_date,
            notes=entry.notes,
            source=source[:500],
            source_row=entry.row,
        )
        if item.category is TriageCategory.change:
            from wardprog.services.owners import assign_matron

            assign_matron(session, ward, item, as_of)
        session.add(item)
        session.flush()
        if routing.initial_score is not None:
            session.add(
                ImprovementScore(
                    triage_item_id=item.id,  # type: ignore[arg-type]
                    score=routing.initial_score,
                    scored_by=TRIAGE_SCORER,
                    scored_on=as_of,
                    justification="Categorised as an improvement project at triage: "
                    f"{IHI_SCORES[INITIAL_IHI_SCORE].lower()}.",
                )
            )
        if item.category is TriageCategory.improve:
            ensure_project_for_item(session, item, as_of)
        created.append(item)
    session.flush()
    if created:
        from wardprog.services.themes import refresh_themes

        refresh_themes(session, settings, as_of)  # each new item joins its trust-wide theme
    return ImportResult(source, created, [existing[k] for k in keys if k in existing])


def _item_view(item: TriageItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "issue": item.issue,
        "raised_by": item.raised_by or "Anonymous",
        "category": item.category.value,
        "owner": item.owner,
        "escalated_to": item.escalated_to,
        "due_date": item.due_date,
        "review_date": item.review_date,
        "notes": item.notes,
        "outcome": item.outcome,
    }


def _ward_parts(session: Session, item: TriageItem) -> tuple[Ward, Wave, Site]:
    ward = session.get(Ward, item.ward_id)
    wave = session.get(Wave, item.wave_id)
    assert ward is not None and wave is not None
    site = session.get(Site, ward.site_id)
    assert site is not None
    return ward, wave, site


def _send_summary(
    session: Session, ward: Ward, site: Site, wave: Wave, items: Sequence[TriageItem], ref: str
) -> Notification:
    views = [_item_view(i) for i in items]
    return enqueue(
        session,
        key=f"triage_summary:{ward.code}:wave-{wave.number}:{ref}",
        kind="triage_summary",
        tags=[ward.code, site.code, IMPROVEMENT_TEAM_TAG],
        context={
            "ward_name": ward.name,
            "ward_code": ward.code,
            "manager_name": ward.manager_name or "Ward manager",
            "wave_number": wave.number,
            "fixes": [v for v in views if v["category"] == "fix"],
            "improvements": [v for v in views if v["category"] == "improve"],
            "changes": [v for v in views if v["category"] == "change"],
            "total": len(views),
        },
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
    )


def submit_rows(
    session: Session,
    settings: Settings,
    ward: Ward,
    wave: Wave,
    rows: Sequence[RawTriageRow],
    *,
    source: str,
    as_of: date,
) -> ImportResult:
    """The Prefect-form path: validate exactly like a file, then import and send the summary.

    Raises :class:`InputFileError` (``source`` names the form) with every problem; nothing is
    written in that case.
    """
    entries, problems = validate_rows(rows)
    if problems:
        raise InputFileError(source, problems)
    digest = hashlib.sha256(
        "\n".join(f"{e.issue_key}|{e.category}" for e in entries).encode()
    ).hexdigest()
    return _accept(
        session, settings, ward, wave, entries, source=source, digest=digest, as_of=as_of
    )


def _accept(
    session: Session,
    settings: Settings,
    ward: Ward,
    wave: Wave,
    entries: Sequence[TriageEntry],
    *,
    source: str,
    digest: str,
    as_of: date,
) -> ImportResult:
    result = import_entries(session, settings, ward, wave, entries, source=source, as_of=as_of)
    if _submission(session, ward, wave, digest) is None:
        session.add(
            TriageSubmission(
                ward_id=ward.id,  # type: ignore[arg-type]
                wave_id=wave.id,  # type: ignore[arg-type]
                source=source[:500],
                sha256=digest,
                status="accepted",
                items_created=len(result.created),
                received_on=as_of,
            )
        )
        session.flush()
    if result.created:
        site = session.get(Site, ward.site_id)
        assert site is not None
        _send_summary(session, ward, site, wave, result.created, digest[:16])
    return result


def _submission(session: Session, ward: Ward, wave: Wave, digest: str) -> TriageSubmission | None:
    return session.exec(
        select(TriageSubmission).where(
            TriageSubmission.ward_id == ward.id,
            TriageSubmission.wave_id == wave.id,
            TriageSubmission.sha256 == digest,
        )
    ).first()


def _reject(ctx: StageContext, returned: ReturnedFile, err: InputFileError) -> None:
    """Quarantine a bad file, record the rejection once and tell the ward manager what to fix."""
    session = ctx.session
    quarantine(
        session,
        returned,
        err,
        what="triage template",
        ward=ctx.ward,
        site=ctx.site,
        message_kind="triage_rejected",
        key=f"triage_rejected:{ctx.ward.code}:wave-{ctx.wave.number}:{returned.sha256[:16]}",
    )
    if _submission(session, ctx.ward, ctx.wave, returned.sha256) is not None:
        return  # the same bad file again: already recorded and reported
    session.add(
        TriageSubmission(
            ward_id=ctx.ward.id,  # type: ignore[arg-type]
            wave_id=ctx.wave.id,  # type: ignore[arg-type]
            source=returned.name,
            sha256=returned.sha256,
            status="rejected",
            problems=[
                {"row": p.row, "column": p.column, "message": p.message} for p in err.problems
            ],
            received_on=ctx.as_of,
        )
    )
    session.flush()


def capture_from_inbox(ctx: StageContext) -> tuple[list[ImportResult], list[InputFileError]]:
    """Import every returned file in the ward's triage inbox; bad files are rejected whole."""
    results: list[ImportResult] = []
    errors: list[InputFileError] = []
    for returned in returned_files(triage_inbox(ctx.settings, ctx.ward.code)):
        previous = _submission(ctx.session, ctx.ward, ctx.wave, returned.sha256)
        if previous is not None and previous.status == "accepted":
            # Already imported (the move after commit did not happen): just file it away.
            file_on_commit(ctx.session, returned)
            continue
        try:
            entries = parse_template(returned.path, returned.data)
        except InputFileError as err:
            _reject(ctx, returned, err)
            errors.append(err)
            continue
        results.append(
            _accept(
                ctx.session,
                ctx.settings,
                ctx.ward,
                ctx.wave,
                entries,
                source=returned.name,
                digest=returned.sha256,
                as_of=ctx.as_of,
            )
        )
        file_on_commit(ctx.session, returned)
    return results, errors


def ward_items(session: Session, ward_id: int, wave_id: int) -> list[TriageItem]:
    return list(
        session.exec(
            select(TriageItem)
            .where(TriageItem.ward_id == ward_id, TriageItem.wave_id == wave_id)
            .order_by(col(TriageItem.id))
        ).all()
    )


def run_triage_stage(ctx: StageContext) -> StageOutcome:
    """Done once the ward's triage has been captured; waits (done=False) until a file arrives.

    A rejected file does not raise: the ward manager has been told what to fix, and one ward's
    spreadsheet must not stop the rest of the programme's run.
    """
    results, errors = capture_from_inbox(ctx)
    items = ward_items(ctx.session, ctx.ward.id, ctx.wave.id)  # type: ignore[arg-type]
    created = sum(len(r.created) for r in results)
    details: dict[str, Any] = {
        "items": len(items),
        "created": created,
        "files": [r.source for r in results],
        "rejected": [str(e) for e in errors],
    }
    if not items:
        if errors:
            return StageOutcome(
                done=False,
                summary=f"triage file rejected ({len(errors)}); waiting for a corrected file",
                details=details,
            )
        inbox = triage_inbox(ctx.settings, ctx.ward.code)
        return StageOutcome(
            done=False,
            summary=f"waiting for the triage template in {inbox}",
            details=details,
        )
    counts = {c.value: sum(1 for i in items if i.category is c) for c in TriageCategory}
    details["by_category"] = counts
    return StageOutcome(
        done=True,
        summary=f"{len(items)} triage items ({counts['fix']} fix, {counts['improve']} improve, "
        f"{counts['change']} change)",
        details=details,
    )


# --- follow-up ------------------------------------------------------------------------------


def _item(session: Session, item_id: int) -> TriageItem:
    item = session.get(TriageItem, item_id)
    if item is None:
        raise NotFoundError(f"Triage item {item_id} does not exist")
    return item


def record_ihi_score(
    session: Session,
    item_id: int,
    score: float,
    scored_by: str,
    scored_on: date,
    justification: str,
) -> ImprovementScore:
    """Add to an improvement project's IHI score history (0.5-5.0 in 0.5 steps).

    Recording the same score by the same person on the same day again returns the existing row.
    """
    item = _item(session, item_id)
    if item.category is not TriageCategory.improve:
        raise TriageError(
            f"Triage item {item_id} is a {item.category.value}; only improvement projects "
            "carry an IHI score"
        )
    try:
        score = check_ihi_score(score)
    except ValueError as exc:
        raise TriageError(str(exc)) from exc
    if not scored_by.strip():
        raise TriageError("An IHI score needs the name of who scored it")
    if not justification.strip():
        raise TriageError("An IHI score needs a justification (what evidence supports it)")
    existing = session.exec(
        select(ImprovementScore).where(
            ImprovementScore.triage_item_id == item_id,
            ImprovementScore.scored_on == scored_on,
            ImprovementScore.scored_by == scored_by.strip(),
            ImprovementScore.score == score,
        )
    ).first()
    if existing is not None:
        return existing
    row = ImprovementScore(
        triage_item_id=item_id,
        score=score,
        scored_by=scored_by.strip(),
        scored_on=scored_on,
        justification=justification.strip(),
    )
    session.add(row)
    session.flush()
    return row


def score_history(session: Session, item_id: int) -> list[ImprovementScore]:
    return list(
        session.exec(
            select(ImprovementScore)
            .where(ImprovementScore.triage_item_id == item_id)
            .order_by(col(ImprovementScore.scored_on), col(ImprovementScore.id))
        ).all()
    )


def close_item(
    session: Session, item_id: int, outcome: str, closed_by: str, closed_on: date
) -> TriageItem:
    """Close an item and tell the ward what was done ("you said, we did"). Idempotent."""
    item = _item(session, item_id)
    if item.status is TriageStatus.closed:
        return item
    if not outcome.strip():
        raise TriageError("Closing an item needs an outcome: what was done about it")
    item.status = TriageStatus.closed
    item.outcome = outcome.strip()
    item.closed_by = closed_by.strip()[:200]
    item.closed_at = on_day(closed_on, 17)
    session.add(item)
    session.flush()
    ward, wave, site = _ward_parts(session, item)
    # A reopened item closed again is news again; a re-run of the same close is not.
    again = f":r{item.reopened_count}" if item.reopened_count else ""
    enqueue(
        session,
        key=f"you_said_we_did:{ward.code}:wave-{wave.number}:item-{item.id}{again}",
        kind="you_said_we_did",
        tags=[ward.code, site.code, IMPROVEMENT_TEAM_TAG],
        context={
            "ward_name": ward.name,
            "manager_name": ward.manager_name or "Ward manager",
            "item": _item_view(item),
            "closed_by": item.closed_by,
            "closed_on": closed_on,
        },
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
    )
    return item


def reopen_item(session: Session, item_id: int, reason: str, reopened_by: str) -> TriageItem:
    """A closed item was not really sorted: open it again (the action table keeps the old close).

    Reopening an open item is refused, so a re-run cannot count a second reopening.
    """
    item = _item(session, item_id)
    if item.status is TriageStatus.open:
        raise TriageError(f"Triage item {item_id} is already open; only closed items reopen")
    if not reason.strip():
        raise TriageError("Reopening an item needs a reason: what is still not right")
    item.status = TriageStatus.open
    item.notes = "\n".join(
        n for n in (item.notes, f"Reopened by {reopened_by.strip()}: {reason.strip()}") if n
    )
    item.outcome = ""
    item.closed_by = ""
    item.closed_at = None
    item.reopened_count += 1
    session.add(item)
    session.flush()
    return item


def decide_change(
    session: Session,
    item_id: int,
    decision: ChangeDecision,
    owner: str,
    note: str,
    decided_by: str,
    decided_on: date,
    review_date: date | None = None,
) -> TriageItem:
    """Record the decision on a change request.

    approve: the owner puts it in place (closed later with what was done); decline: closed now,
    and the ward told why; defer: reviewed again on ``review_date`` (required, in the future).
    """
    item = _item(session, item_id)
    if item.category is not TriageCategory.change:
        raise TriageError(
            f"Triage item {item_id} is a {item.category.value}; only change requests are decided"
        )
    if item.status is TriageStatus.closed:
        raise TriageError(f"Triage item {item_id} is closed; reopen it before deciding again")
    if not owner.strip() or not note.strip():
        raise TriageError("A decision needs an owner and a note explaining it")
    if decision is ChangeDecision.defer:
        if review_date is None:
            raise TriageError("Deferring a change request needs a new review date (--review)")
        if review_date <= decided_on:
            raise TriageError(
                f"review date {review_date.isoformat()} must be after the decision "
                f"({decided_on.isoformat()})"
            )
    item.decision = decision
    item.decision_note = note.strip()
    item.decided_by = decided_by.strip()[:200]
    item.decided_on = decided_on
    item.owner = owner.strip()[:200]
    from wardprog.services.owners import owner_by_name

    named = owner_by_name(session, item.owner)
    # Reminders reach a named owner from the register; anyone else is chased by the team.
    item.owner_email = named.email if named is not None else ""
    if review_date is not None:
        item.review_date = review_date
    session.add(item)
    session.flush()
    if decision is ChangeDecision.decline:
        close_item(session, item_id, f"Not agreed: {note.strip()}", decided_by, decided_on)
    return item


def latest_scores(session: Session, item_ids: Sequence[int]) -> dict[int, float]:
    """Each improvement project's most recent IHI score."""
    latest: dict[int, float] = {}
    rows = session.exec(
        select(ImprovementScore)
        .where(col(ImprovementScore.triage_item_id).in_(list(item_ids)))
        .order_by(col(ImprovementScore.scored_on), col(ImprovementScore.id))
    ).all()
    for row in rows:
        latest[row.triage_item_id] = row.score
    return latest


def overdue_items(session: Session, as_of: date) -> list[TriageItem]:
    candidates = session.exec(
        select(TriageItem).where(
            TriageItem.status == TriageStatus.open,
            (col(TriageItem.due_date) < as_of) | (col(TriageItem.review_date) < as_of),
        )
    ).all()
    return sorted(candidates, key=lambda i: (i.ward_id, i.id or 0))


def _reminder_recipient(
    session: Session, item: TriageItem, ward: Ward, as_of: date, since: date
) -> str:
    """Who is chased for an overdue item: its owner's email; the ward manager for the ward's own
    fixes and projects; "" (the improvement team) for a change request with no named owner.

    A change request on the ladder is chased with the owner of the rung it was on ``as_of``
    (the rung follows from the days overdue), so re-running a past date chases whoever owned
    it then, not whoever owns it now.
    """
    if item.escalation_level and item.owner_email:
        from wardprog.config import get_settings
        from wardprog.rules.escalation import LADDER, level_due, rank
        from wardprog.services.owners import ladder_from, owners_for

        owners = owners_for(session, ward)
        due = level_due((as_of - since).days, ladder_from(get_settings()))
        top = min(rank(due), rank(item.escalation_level))
        for level in reversed(LADDER[: top + 1]):
            if level in owners:
                return owners[level].email
    if item.owner_email:
        return item.owner_email
    if item.category is not TriageCategory.change:
        return ward.manager_email
    return ""


def send_overdue_reminders(session: Session, as_of: date) -> list[Notification]:
    """The daily follow-up of overdue items: climb the ladder, then chase each owner once a week.

    Overdue change requests first move up the escalation ladder (``services.owners``), so the
    reminder reaches the new owner. Then every owner gets ONE digest per ISO week listing all
    their overdue items (keyed by owner and week: a daily run, a retry or a re-run never sends
    the same digest twice). Returns only the digests enqueued by this call.
    """
    from wardprog.config import get_settings
    from wardprog.services.owners import escalate_overdue

    escalate_overdue(session, get_settings(), as_of)
    week = iso_week(as_of)
    groups: dict[str, list[tuple[TriageItem, Ward, Site, date]]] = {}
    for item in overdue_items(session, as_of):
        since = overdue_since(item.due_date, item.review_date, as_of)
        assert since is not None
        ward, _wave, site = _ward_parts(session, item)
        recipient = _reminder_recipient(session, item, ward, as_of, since)
        groups.setdefault(recipient, []).append((item, ward, site, since))
    sent: list[Notification] = []
    for recipient, rows in groups.items():
        key = f"overdue_reminder:{recipient or IMPROVEMENT_TEAM_TAG}:{week}"[:200]
        if session.exec(select(Notification.id).where(Notification.idempotency_key == key)).first():
            continue
        wards = {ward.code: (ward, site) for _i, ward, site, _s in rows}
        one_ward = next(iter(wards.values())) if len(wards) == 1 else None
        first_item, first_ward, _site, _since = rows[0]
        if recipient and recipient == first_ward.manager_email and one_ward is not None:
            name = first_ward.manager_name or "Ward manager"
        elif recipient:
            from wardprog.models import EscalationOwner

            named = session.exec(
                select(EscalationOwner.name).where(EscalationOwner.email == recipient)
            ).first()
            name = named or first_item.owner or "colleague"
        else:
            name = "Improvement team"
        tags: set[str] = set()
        if one_ward is not None and recipient == one_ward[0].manager_email:
            tags |= {one_ward[0].code, one_ward[1].code}
        if not recipient or any(i.category is TriageCategory.change for i, *_ in rows):
            tags.add(IMPROVEMENT_TEAM_TAG)  # escalated items are chased centrally too
        items = [
            {
                **_item_view(item),
                "ward_name": ward.name,
                "ward_code": ward.code,
                "overdue_since": since,
                "days_overdue": (as_of - since).days,
                "is_review": item.category is TriageCategory.change,
                "level": item.escalation_level,
            }
            for item, ward, _site, since in sorted(rows, key=lambda r: r[3])
        ]
        sent.append(
            enqueue(
                session,
                key=key,
                kind="overdue_reminder",
                tags=tags,
                context={
                    "recipient_name": name,
                    "items": items,
                    "count": len(items),
                    "oldest_days": max(i["days_overdue"] for i in items),
                    "ward_names": sorted(w.name for w, _s in wards.values()),
                },
                ward_code=one_ward[0].code if one_ward is not None else None,
                recipients=[recipient] if recipient else [],
            )
        )
    return sent
