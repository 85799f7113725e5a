"""Trust-wide themes: group triage items across wards, keep them stable, escalate the big ones.

``refresh_themes`` places every item not yet in a theme (``rules.themes``), ward by ward in ward
code order, and, for each theme now raised by ``theme_escalate_wards`` wards or more, sends ONE
trust-wide change request (to the trust executive from the owners register and the improvement
team) with the count of wards; the theme is then ``escalated`` and never sent again. A wave's
triage runs it once after all its wards (``services.enrolment.after_stage``); one ward's return
by form or command runs it at once. The team corrects the grouping with ``merge_themes`` and
``split_theme``; an item keeps the theme it was given (or moved to).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from typing import Any

from sqlmodel import Session, col, func, select

from wardprog.config import Settings
from wardprog.db import THEME_NUMBERING_LOCK, serialise
from wardprog.errors import NotFoundError, WardprogError
from wardprog.models import (
    EscalationOwner,
    Site,
    Theme,
    ThemeStatus,
    TriageItem,
    Ward,
)
from wardprog.notify.outbox import enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.rules.themes import Issue, assign


class ThemeError(WardprogError):
    """A merge or split that cannot be done (unknown theme, item not in it...)."""


def _next_number(session: Session) -> int:
    numbers = [int(k[1:]) for k in session.exec(select(Theme.key)).all() if re.match(r"T\d+$", k)]
    return max(numbers, default=0) + 1


def _live(session: Session) -> list[Theme]:
    return list(
        session.exec(
            select(Theme).where(Theme.status != ThemeStatus.merged.value).order_by(col(Theme.id))
        ).all()
    )


def refresh_themes(session: Session, settings: Settings, as_of: date) -> list[Theme]:
    """Place new items; escalate themes that reached the threshold. Returns themes escalated."""
    # Runs numbering new themes from the highest key (a wave's step beside a ward's return by
    # form) go one at a time, or two would both take T53.
    serialise(session, THEME_NUMBERING_LOCK)
    rows = session.exec(
        select(TriageItem, Ward.code)
        .where(TriageItem.ward_id == Ward.id, col(TriageItem.theme_id).is_(None))
        .order_by(col(Ward.code), col(TriageItem.id))
    ).all()
    pending = [item for item, _ in rows]
    if pending:
        themes = _live(session)
        by_id = {t.id: t for t in themes}
        members: dict[str, list[str]] = {t.key: [] for t in themes}
        # Two columns, not whole items: every themed item in the trust is read here.
        placed = session.exec(
            select(TriageItem.theme_id, TriageItem.issue).where(
                col(TriageItem.theme_id).is_not(None)
            )
        )
        for theme_id, issue in placed:
            theme = by_id.get(theme_id)
            if theme is not None:
                members[theme.key].append(issue)
        issues = [Issue(i.id, i.issue, code) for i, code in rows if i.id is not None]
        by_key = {t.key: t for t in themes}
        items = {i.id: i for i in pending}
        assignments = assign(members, issues, next_number=_next_number(session))
        # The new themes first, in one flush (a batched INSERT), then every item placed.
        for a in assignments:
            if a.new:
                by_key[a.theme_key] = Theme(key=a.theme_key, title=items[a.item_id].issue[:2000])
                session.add(by_key[a.theme_key])
        session.flush()
        for a in assignments:
            item = items[a.item_id]
            item.theme_id = by_key[a.theme_key].id
            session.add(item)
        session.flush()
    return _escalate(session, settings, as_of)


def _wards_by_theme(session: Session, theme_ids: set[int] | None = None) -> dict[int, set[str]]:
    """Each theme's ward codes (only ``theme_ids``' when given)."""
    out: dict[int, set[str]] = defaultdict(set)
    query = select(TriageItem.theme_id, Ward.code).where(
        TriageItem.ward_id == Ward.id, col(TriageItem.theme_id).is_not(None)
    )
    if theme_ids is not None:
        query = query.where(col(TriageItem.theme_id).in_(theme_ids))
    for theme_id, code in session.exec(query).all():
        out[theme_id].add(code)  # type: ignore[index]
    return out


def _escalate(session: Session, settings: Settings, as_of: date) -> list[Theme]:
    # Counted in the database, and ward codes read only for the themes that reach the threshold:
    # this runs after every ward's triage, so reading every themed item here would make a
    # rollout quadratic.
    reached = set(
        session.exec(
            select(TriageItem.theme_id)
            .where(TriageItem.theme_id == Theme.id, Theme.status == ThemeStatus.open.value)
            .group_by(col(TriageItem.theme_id))
            .having(func.count(func.distinct(TriageItem.ward_id)) >= settings.theme_escalate_wards)
        ).all()
    )
    if not reached:
        session.flush()
        return []
    wards = _wards_by_theme(session, {t for t in reached if t is not None})
    executive = session.exec(
        select(EscalationOwner)
        .where(EscalationOwner.level == "executive", EscalationOwner.site_code == "")
        .order_by(col(EscalationOwner.id))
    ).first()
    done: list[Theme] = []
    themes = session.exec(
        select(Theme).where(col(Theme.id).in_(wards)).order_by(col(Theme.id))
    ).all()
    for theme in themes:
        count = len(wards.get(theme.id or -1, set()))
        if theme.status != ThemeStatus.open.value or count < settings.theme_escalate_wards:
            continue
        enqueue(
            session,
            key=f"theme_escalation:{theme.key}",
            kind="theme_escalation",
            tags=[IMPROVEMENT_TEAM_TAG],
            context={
                "theme_key": theme.key,
                "title": theme.title,
                "wards": sorted(wards[theme.id or -1]),  # type: ignore[index]
                "count": count,
                "owner_name": executive.name if executive else "Improvement team",
            },
            recipients=[executive.email] if executive else [],
        )
        theme.status = ThemeStatus.escalated.value
        theme.escalated_on = as_of
        theme.escalated_wards = count
        session.add(theme)
        done.append(theme)
    session.flush()
    return done


def _theme(session: Session, key: str) -> Theme:
    theme = session.exec(select(Theme).where(Theme.key == key.strip().upper())).first()
    if theme is None:
        raise NotFoundError(f"no theme {key!r}; see `wardprog themes`")
    if theme.status == ThemeStatus.merged.value:
        raise ThemeError(f"theme {theme.key} was merged into another theme; use that one")
    return theme


def merge_themes(session: Session, into: str, others: list[str]) -> tuple[Theme, int]:
    """Move every item of ``others`` into ``into``; returns the theme and items moved."""
    target = _theme(session, into)
    moved = 0
    for key in others:
        theme = _theme(session, key)
        if theme.id == target.id:
            raise ThemeError(f"cannot merge theme {theme.key} into itself")
        for item in session.exec(select(TriageItem).where(TriageItem.theme_id == theme.id)):
            item.theme_id = target.id
            session.add(item)
            moved += 1
        theme.status = ThemeStatus.merged.value
        theme.merged_into_id = target.id
        session.add(theme)
    session.flush()
    return target, moved


def split_theme(session: Session, key: str, item_ids: list[int]) -> Theme:
    """Move ``item_ids`` out of theme ``key`` into a new theme of their own."""
    source = _theme(session, key)
    items = [session.get(TriageItem, i) for i in item_ids]
    wrong = [
        i
        for i, item in zip(item_ids, items, strict=True)
        if item is None or item.theme_id != source.id
    ]
    if wrong:
        raise ThemeError(f"item(s) {', '.join(map(str, wrong))} are not in theme {source.key}")
    remaining = session.exec(
        select(TriageItem.id).where(
            TriageItem.theme_id == source.id, col(TriageItem.id).not_in(item_ids)
        )
    ).first()
    if remaining is None:
        raise ThemeError(f"that would leave theme {source.key} empty; merge instead")
    first = min((i for i in items if i is not None), key=lambda i: i.id or 0)
    serialise(session, THEME_NUMBERING_LOCK)
    theme = Theme(key=f"T{_next_number(session)}", title=first.issue[:2000])
    session.add(theme)
    session.flush()
    for item in items:
        assert item is not None
        item.theme_id = theme.id
        session.add(item)
    session.flush()
    return theme


def theme_rows(
    session: Session, min_wards: int = 1, as_of: date | None = None
) -> list[dict[str, Any]]:
    """Each live theme with its wards, sites, categories and status, most wards first.

    With ``as_of``, as the themes stood at the end of that day: only items raised by then (so
    only themes that had any), open as they were then, escalated only if escalated by then.
    """
    from wardprog.queries import cutoff, open_then

    end = cutoff(as_of) if as_of else None
    rows = session.exec(
        select(TriageItem, Ward, Site).where(
            TriageItem.ward_id == Ward.id,
            Ward.site_id == Site.id,
            col(TriageItem.theme_id).is_not(None),
        )
    ).all()
    grouped: dict[int, list[tuple[TriageItem, Ward, Site, bool]]] = defaultdict(list)
    for item, ward, site in rows:
        is_open = open_then(item, end)
        if is_open is None:
            continue  # raised after the day read
        grouped[item.theme_id].append((item, ward, site, is_open))  # type: ignore[index]
    out = []
    for theme in _live(session):
        members = grouped.get(theme.id or -1, [])
        wards = sorted({w.code for _, w, _, _ in members})
        if len(wards) < min_wards:
            continue
        on = theme.escalated_on
        escalated_on = on if on is not None and (as_of is None or on <= as_of) else None
        out.append(
            {
                "theme": theme.key,
                "title": theme.title,
                "wards": wards,
                "ward_count": len(wards),
                "sites": sorted({s.code for _, _, s, _ in members}),
                "categories": sorted({i.category.value for i, _, _, _ in members}),
                "items": len(members),
                "open_items": sum(1 for *_, is_open in members if is_open),
                # Escalated after the day read: it was still open then.
                "status": ThemeStatus.open
                if theme.status == ThemeStatus.escalated and escalated_on is None
                else theme.status,
                "escalated_on": escalated_on.isoformat() if escalated_on else None,
            }
        )
    return sorted(out, key=lambda r: (-r["ward_count"], r["theme"]))
