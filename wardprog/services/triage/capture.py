"""Triage capture: returned templates (or rows from a form) become triage items, once per issue.

Runs in the caller's transaction and only flushes; an issue already recorded is left untouched,
and a file that fails validation is quarantined with one message (``services/inbox.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.errors import InputFileError
from wardprog.models import Notification, Site, Ward, Wave
from wardprog.models.triage import (
    ImprovementScore,
    TriageCategory,
    TriageItem,
    TriageSubmission,
)
from wardprog.notify.outbox import enqueue
from wardprog.rules.triage import (
    IHI_SCORES,
    INITIAL_IHI_SCORE,
    RawTriageRow,
    TriageDefaults,
    TriageEntry,
    route,
    validate_rows,
)
from wardprog.services.context import StageContext, require_id
from wardprog.services.inbox import (
    IMPROVEMENT_TEAM_TAG,
    ReturnedFile,
    file_on_commit,
    inbox_folder,
    quarantine,
    returned_files,
)
from wardprog.services.projects import projects_for_new_items
from wardprog.services.triage.template import parse_template

TRIAGE_SCORER = "Improvement team (triage)"


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
    """Write validated entries as triage items; an issue already recorded is left untouched.

    The items are not placed in trust-wide themes here: see ``_accept``.
    """
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
    scores: dict[int, float] = {}  # position in ``created`` -> its initial IHI score
    matron: Callable[[TriageItem], None] | None = None
    for entry in entries:
        if entry.issue_key in existing:
            continue
        routing = route(entry, ward_manager=_manager(ward), as_of=as_of, defaults=defaults)
        item = TriageItem(
            ward_id=require_id(ward),
            wave_id=require_id(wave),
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
            matron = matron or _matron_for(session, ward, as_of)
            matron(item)
        if routing.initial_score is not None:
            scores[len(created)] = routing.initial_score
        created.append(item)
    # One flush for the file's items (a batched INSERT), not one per row.
    session.add_all(created)
    session.flush()
    if matron is not None:  # the owner each change request was raised with starts its history
        from wardprog.services.owners import record_owner

        for item in created:
            if item.category is TriageCategory.change:
                record_owner(session, item, as_of, "raised")
    # Each `improve` item's project first: its starting score is the first of the project's
    # own score history.
    improve = [n for n, item in enumerate(created) if item.category is TriageCategory.improve]
    started = projects_for_new_items(session, [created[n] for n in improve], as_of)
    projects = dict(zip(improve, started, strict=True))
    for n, score in scores.items():
        project = projects.get(n)
        session.add(
            ImprovementScore(
                triage_item_id=require_id(created[n]),
                project_id=project.id if project is not None else None,
                score=score,
                scored_by=TRIAGE_SCORER,
                scored_on=as_of,
                justification="Categorised as an improvement project at triage: "
                f"{IHI_SCORES[INITIAL_IHI_SCORE].lower()}.",
            )
        )
    session.flush()
    return ImportResult(source, created, [existing[k] for k in keys if k in existing])


def _matron_for(session: Session, ward: Ward, as_of: date) -> Callable[[TriageItem], None]:
    """Route change requests to the ward's matron, looking the escalation owners up once.

    ``assign_matron`` applied to each item as before; the owners are the same for every item of
    one ward's return, so they are read once per file instead of once per change request.
    """
    from wardprog.services.owners import owners_for, route_to_matron

    owners = owners_for(session, ward)
    return lambda item: route_to_matron(owners, item, as_of)


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
        session, settings, ward, wave, entries, source=source, digest=digest, as_of=as_of,
        place_themes=True,
    )  # fmt: skip


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
    place_themes: bool,
) -> ImportResult:
    result = import_entries(session, settings, ward, wave, entries, source=source, as_of=as_of)
    if result.created and place_themes:
        from wardprog.services.themes import refresh_themes

        refresh_themes(session, settings, as_of)  # each new item joins its trust-wide theme
    if _submission(session, ward, wave, digest) is None:
        session.add(
            TriageSubmission(
                ward_id=require_id(ward),
                wave_id=require_id(wave),
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
            ward_id=require_id(ctx.ward),
            wave_id=require_id(ctx.wave),
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


def capture_from_inbox(
    ctx: StageContext, *, place_themes: bool = True
) -> tuple[list[ImportResult], list[InputFileError]]:
    """Import every returned file in the ward's triage inbox; bad files are rejected whole.

    ``place_themes=False`` leaves the new items for the wave's one theme step (the triage
    stage, whose wards run concurrently: see ``services.enrolment.after_stage``).
    """
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
                place_themes=place_themes,
            )
        )
        file_on_commit(ctx.session, returned)
    return results, errors
