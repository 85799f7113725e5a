"""What the demo trust looks like: the figures README's demo section quotes, from a database.

Read-only over a database the demo wrote (and its extracts folder for CHPPD), so the README's
figures come from an actual run and ``tests/test_demo_audit.py`` can check they are the same
run to run. Only what the data holds: no dates from the real clock.

``python -m wardprog.demo.figures [--dir var/demo] [--readme README.md]`` prints them as
markdown, or writes them into README's generated section.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from wardprog.models import (
    ChangeDecision,
    EngagementEventChange,
    ImprovementProject,
    ImprovementScore,
    NominationStatus,
    Notification,
    ProjectStatus,
    QsirNomination,
    Site,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
)
from wardprog.sources.synthetic import specialty_group

README_START = "<!-- demo-figures:start"
README_END = "<!-- demo-figures:end -->"
GROUP_ORDER = (
    "adult medicine",
    "surgery",
    "elderly care",
    "critical care",
    "paediatrics",
    "maternity",
    "mental health",
)


@dataclass(frozen=True)
class DemoFigures:
    wards: dict[str, dict[str, int]]  # specialty group -> site -> wards
    beds: dict[str, tuple[int, int]]  # specialty group -> (fewest, most) beds
    items: dict[str, int]  # category -> items
    distinct_issues: int
    issues_sorted_differently: int  # issue texts given different categories on different wards
    projects: dict[str, int]  # completed / stopped / active, and how many ever went down
    completed_scores: dict[float, int]  # final IHI score -> completed projects
    changes: dict[str, int]
    trained: int
    messages: int
    messages_by_kind: dict[str, int]
    rescheduled: int
    chased: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def demo_figures(session: Session) -> DemoFigures:
    """Count what the replay left in the database."""
    wards = session.exec(select(Ward, Site).where(Ward.site_id == Site.id)).all()
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    beds: dict[str, list[int]] = defaultdict(list)
    for ward, site in wards:
        group = specialty_group(ward.specialty) or "other"
        by_group[group][site.code] += 1
        beds[group].append(ward.beds)
    items = list(session.exec(select(TriageItem)).all())
    categories: dict[str, set[str]] = defaultdict(set)
    for item in items:
        categories[item.issue].add(item.category.value)
    return DemoFigures(
        wards={g: dict(sorted(by_group[g].items())) for g in _ordered(by_group)},
        beds={g: (min(beds[g]), max(beds[g])) for g in _ordered(beds)},
        items=dict(Counter(i.category.value for i in items)),
        distinct_issues=len(categories),
        issues_sorted_differently=sum(1 for c in categories.values() if len(c) > 1),
        projects=_projects(session),
        completed_scores=_completed_scores(session),
        changes=_changes(items),
        trained=len(
            session.exec(
                select(QsirNomination.id).where(QsirNomination.status == NominationStatus.completed)
            ).all()
        ),
        messages=len(session.exec(select(Notification.id)).all()),
        messages_by_kind=dict(
            sorted(Counter(session.exec(select(Notification.kind)).all()).items())
        ),
        rescheduled=len(
            session.exec(
                select(EngagementEventChange.id).where(EngagementEventChange.action == "reschedule")
            ).all()
        ),
        chased=len(
            {
                key.rsplit(":", 1)[0]
                for key in session.exec(
                    select(Notification.idempotency_key).where(
                        col(Notification.idempotency_key).startswith("return_chase:triage:")
                    )
                ).all()
            }
        ),
    )


def _ordered(groups: dict[str, Any]) -> list[str]:
    return sorted(groups, key=lambda g: GROUP_ORDER.index(g) if g in GROUP_ORDER else 99)


def _score_paths(session: Session) -> dict[int, list[float]]:
    paths: dict[int, list[float]] = defaultdict(list)
    for score in session.exec(
        select(ImprovementScore).order_by(
            col(ImprovementScore.project_id),
            col(ImprovementScore.scored_on),
            col(ImprovementScore.id),
        )
    ).all():
        if score.project_id is not None:  # every score belongs to a project (migration 0008)
            paths[score.project_id].append(score.score)
    return paths


def _projects(session: Session) -> dict[str, int]:
    counts = Counter(p.status.value for p in session.exec(select(ImprovementProject)).all())
    paths = _score_paths(session)
    went_down = sum(1 for s in paths.values() if any(b < a for a, b in pairwise(s)))
    return {
        "completed": counts[ProjectStatus.completed.value],
        "stopped": counts[ProjectStatus.stopped.value],
        "active": counts[ProjectStatus.active.value],
        "went_down": went_down,
    }


def _completed_scores(session: Session) -> dict[float, int]:
    paths = _score_paths(session)
    done = {
        p.id
        for p in session.exec(
            select(ImprovementProject).where(ImprovementProject.status == ProjectStatus.completed)
        ).all()
    }
    finals = Counter(paths[i][-1] for i in done if i is not None and paths.get(i))
    return dict(sorted(finals.items()))


def _changes(items: list[TriageItem]) -> dict[str, int]:
    """Change requests by their latest decision, and when the first decisions came."""
    changes = [i for i in items if i.category is TriageCategory.change]
    out: Counter[str] = Counter()
    for item in changes:
        if item.decision is None:
            out["waiting"] += 1
            continue
        out[item.decision.value] += 1
        if item.decision is ChangeDecision.approve:
            out["approved_and_in_place" if item.status is TriageStatus.closed else
                "approved_being_put_in_place"] += 1  # fmt: skip
        if item.decided_on is not None and item.review_date is not None:
            if item.decision is ChangeDecision.defer:
                continue
            when = (
                "decided_before_review"
                if item.decided_on < item.review_date
                else "decided_on_review"
                if item.decided_on == item.review_date
                else "decided_after_review"
            )
            out[when] += 1
    out["total"] = len(changes)
    return dict(sorted(out.items()))


def chppd_by_group(session: Session, extracts_dir: Path) -> dict[str, tuple[float, float]]:
    """Each specialty group's lowest and highest ward CHPPD (the ward's mean over the
    extracts' last two years), from the demo's generated extracts."""
    from wardprog.rules.metrics import ward_month_metrics
    from wardprog.sources.extracts import load_folder

    extracts = load_folder(extracts_dir, use_cache=False)
    months = extracts.tables["safe_staffing"]["month"]
    end = months.max().date()
    frame = ward_month_metrics(extracts.tables, end.replace(year=end.year - 2), end)
    chppd = frame[frame["metric"] == "chppd"].groupby("ward_code")["value"].mean()
    groups = {w.code: specialty_group(w.specialty) or "other" for w in session.exec(select(Ward))}
    per: dict[str, list[float]] = defaultdict(list)
    for code, value in chppd.items():
        per[groups[str(code)]].append(float(value))
    return {g: (round(min(per[g]), 1), round(max(per[g]), 1)) for g in _ordered(per)}


def markdown(figures: DemoFigures, chppd: dict[str, tuple[float, float]] | None = None) -> str:
    """The figures as README markdown (tables and one-line counts)."""
    from wardprog.sources.synthetic import PROFILES

    sites = sorted({s for per in figures.wards.values() for s in per})
    extra = " Ward CHPPD | Published range |" if chppd else ""
    lines = [
        "| Specialty | " + " | ".join(sites) + " | Beds per ward |" + extra,
        "|---|" + "---:|" * len(sites) + "---:|" + ("---:|---:|" if chppd else ""),
    ]
    for group, per in figures.wards.items():
        low, high = figures.beds[group]
        row = (
            f"| {group.capitalize()} | "
            + " | ".join(str(per.get(s, 0)) for s in sites)
            + f" | {low}-{high} |"
        )
        if chppd and group in chppd and group in PROFILES:
            published = PROFILES[group].chppd
            row += (
                f" {chppd[group][0]:.1f}-{chppd[group][1]:.1f} |"
                f" {published[0]:g}-{published[1]:g} |"
            )
        lines.append(row)
    items = figures.items
    p = figures.projects
    c = figures.changes
    scores = ", ".join(f"{n} at {s:.1f}" for s, n in figures.completed_scores.items())
    lines += [
        "",
        f"- **Triage**: {sum(items.values())} items ({items.get('fix', 0)} fix, "
        f"{items.get('improve', 0)} improve, {items.get('change', 0)} change), "
        f"{figures.distinct_issues} distinct issue texts; "
        f"{figures.issues_sorted_differently} of them sorted differently on different wards.",
        f"- **Improvement projects**: {p['completed']} completed ({scores}), "
        f"{p['stopped']} stopped with a reason, {p['active']} still active; "
        f"{p['went_down']} had a score go down at some point.",
        f"- **Change requests**: {c.get('total', 0)}: {c.get('approve', 0)} approved "
        f"({c.get('approved_and_in_place', 0)} already in place), {c.get('decline', 0)} "
        f"declined, {c.get('defer', 0)} deferred to a new review, {c.get('waiting', 0)} "
        f"waiting; of those decided, {c.get('decided_before_review', 0)} before their review "
        f"date, {c.get('decided_on_review', 0)} on it, {c.get('decided_after_review', 0)} "
        "after it.",
        f"- **Engagement**: {figures.rescheduled} events rescheduled at the ward's request; "
        f"{figures.chased} wards sent their triage template only after being chased.",
        f"- **QSIR**: {figures.trained} staff trained (QSIR Practitioner completed).",
        f"- **Messages**: {figures.messages} in the outbox ("
        + ", ".join(f"{k} {n}" for k, n in figures.messages_by_kind.items())
        + ").",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from wardprog.db import get_engine
    from wardprog.demo.area import DemoArea

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("var/demo"))
    parser.add_argument("--readme", type=Path, help="write the figures into this README")
    args = parser.parse_args(argv)
    settings = DemoArea(args.dir).settings()
    with Session(get_engine(settings.database_url)) as session:
        text = markdown(demo_figures(session), chppd_by_group(session, settings.extracts_dir))
    if args.readme is None:
        print(text)
        return
    readme = args.readme.read_text(encoding="utf-8")
    start = readme.index(README_START)
    start = readme.index("\n", start) + 1
    end = readme.index(README_END)
    args.readme.write_text(readme[:start] + text + "\n" + readme[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
