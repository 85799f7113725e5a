"""The diagnostic stage: pull a ward's baseline data, chart it, store a snapshot, send the pack.

Data flows one way: extracts (``sources``) -> ward-month metrics and SPC (``rules``) -> a
:class:`DiagnosticSnapshot` in the caller's transaction -> the HTML pack (``reports``) and a
``diagnostic_pack_ready`` notification in the outbox. Refused extracts mean no snapshot and no
pack; the improvement team gets one message and the stage waits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlmodel import Session, select

from wardprog.config import Settings
from wardprog.errors import NotFoundError
from wardprog.models import (
    DiagnosticSnapshot,
    Site,
    Ward,
    WardEnrolment,
    Wave,
)
from wardprog.notify.outbox import Attachment, enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.reports.diagnostic_pack import (
    metrics_table,
    pack_markdown,
    render_pack,
    write_pack,
)
from wardprog.rules.metrics import baseline_period
from wardprog.services.context import StageContext, StageOutcome, require_id, ward_by_code
from wardprog.services.diagnostics.charts import (
    RECENT_MONTHS,
    find_signals,
    metrics_json,
    staff_survey_json,
    ward_charts,
    wave_ward_charts,
)
from wardprog.services.diagnostics.extracts import ExtractsRefused, load_checked
from wardprog.sources.extracts import Extracts
from wardprog.sources.plausibility import fingerprint

logger = logging.getLogger(__name__)


PACK_VERSION = 1


BASELINE = "baseline"


def _pack_context(
    ward: Ward, site: Site, wave_number: int | None, snap: DiagnosticSnapshot
) -> dict[str, Any]:
    return {
        "ward": {"code": ward.code, "name": ward.name, "manager_name": ward.manager_name},
        "site": {"code": site.code, "name": site.name},
        "wave_number": wave_number,
        "pack_path": snap.pack_path,
        "snapshot": {
            "id": snap.id,
            "kind": snap.kind,
            "as_of": snap.as_of.isoformat(),
            "period_start": snap.period_start.isoformat() if snap.period_start else "",
            "period_end": snap.period_end.isoformat() if snap.period_end else "",
            "metrics": snap.metrics.get("metrics", {}),
            "sources": snap.metrics.get("sources", {}),
            "recent_months": RECENT_MONTHS,
            "signals": snap.signals,
            "staff_survey": snap.staff_survey,
        },
    }


def pack_path_for(settings: Settings, ward_code: str) -> Path:
    return Path(settings.output_dir) / "packs" / f"{ward_code}.html"


def _wave_codes(session: Session, wave_id: int) -> list[str]:
    return list(
        session.exec(
            select(Ward.code).where(
                Ward.id == WardEnrolment.ward_id, WardEnrolment.wave_id == wave_id
            )
        ).all()
    )


def pull_snapshot(
    session: Session,
    settings: Settings,
    *,
    ward: Ward,
    wave_id: int | None,
    kind: str,
    as_of: date,
    start: date,
    end: date,
    rebase: tuple[date, ...] = (),
) -> tuple[DiagnosticSnapshot, pd.DataFrame]:
    """Load, validate, chart and add a snapshot (flushed, not committed) for one ward.

    A wave's ward reads only its wave's rows of the extracts (once per wave, then cached):
    the whole folder for a national programme is far more than one wave ever charts.
    """
    wave_codes: list[str] = []
    if wave_id is not None and not rebase:
        wave_codes = _wave_codes(session, wave_id)
        wards = sorted({*wave_codes, ward.code})
        extracts = load_checked(session, settings, ward.code, as_of, wards=wards)
        chart = wave_ward_charts(extracts, ward.code, wave_codes, start, end)
    else:
        extracts = load_checked(session, settings, ward.code, as_of)
        chart = ward_charts(extracts, ward.code, start, end, rebase=rebase)
    snap = add_snapshot(
        session, settings, ward=ward, wave_id=wave_id, kind=kind, as_of=as_of,
        period=(start, end), extracts=extracts, metrics=metrics_json(chart),
        survey_wards=wave_codes,
    )  # fmt: skip
    return snap, chart


def add_snapshot(
    session: Session,
    settings: Settings,
    *,
    ward: Ward,
    wave_id: int | None,
    kind: str,
    as_of: date,
    period: tuple[date, date],
    extracts: Extracts,
    metrics: dict[str, Any],
    survey_wards: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
) -> DiagnosticSnapshot:
    """A baseline or re-check snapshot of ``metrics`` (a chart's ``metrics_json``), flushed.

    Its signals and staff survey section are derived here, the same for every kind;
    ``survey_wards`` scores the ward's survey with those wards' in one pass; ``extra`` adds a
    re-check's event, rebase month and verdicts to the stored metrics.
    """
    snap = DiagnosticSnapshot(
        ward_id=require_id(ward),
        wave_id=wave_id,
        kind=kind,
        as_of=as_of,
        period_start=period[0],
        period_end=period[1],
        metrics={"metrics": metrics, "sources": extracts.sources, **(extra or {})},
        signals=find_signals(metrics),
        staff_survey=staff_survey_json(extracts, ward.code, as_of, settings, survey_wards),
    )
    session.add(snap)
    session.flush()
    return snap


def run_diagnostic_stage(ctx: StageContext) -> StageOutcome:
    """Baseline pull for ``ctx.ward``: snapshot, HTML pack, and a note to the ward manager.

    Idempotent per ward and wave: a second call (whatever its ``as_of``) returns the existing
    baseline and enqueues nothing new.
    """
    ward, wave = ctx.ward, ctx.wave
    existing = ctx.session.exec(
        select(DiagnosticSnapshot).where(
            DiagnosticSnapshot.ward_id == ward.id,
            DiagnosticSnapshot.wave_id == wave.id,
            DiagnosticSnapshot.kind == BASELINE,
        )
    ).first()
    if existing is not None:
        return StageOutcome(
            done=True,
            summary=f"{ward.code}: diagnostic pack already produced ({len(existing.signals)} "
            "signals)",
            details={
                "signals": len(existing.signals),
                "snapshot_id": existing.id,
                "pack_path": existing.pack_path,
            },
        )

    start, end = baseline_period(ctx.as_of)
    try:
        snap, _chart = pull_snapshot(
            ctx.session,
            ctx.settings,
            ward=ward,
            wave_id=wave.id,
            kind=BASELINE,
            as_of=ctx.as_of,
            start=start,
            end=end,
        )
    except ExtractsRefused as refused:
        return _wait_for_extracts(ctx, refused)
    path = pack_path_for(ctx.settings, ward.code)
    snap.pack_path = str(path)
    context = _pack_context(ward, ctx.site, wave.number, snap)
    html = render_pack(context)
    write_pack(path, html)
    ctx.session.add(snap)
    ctx.session.flush()

    enqueue(
        ctx.session,
        key=f"diagnostic_pack_ready:{ward.code}:wave-{wave.number}:v{PACK_VERSION}",
        kind="diagnostic_pack_ready",
        tags=[ward.code],
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
        context={
            "ward_code": ward.code,
            "ward_name": ward.name,
            "manager_name": ward.manager_name,
            "site_name": ctx.site.name,
            "wave_number": wave.number,
            "period_start": start.strftime("%B %Y"),
            "period_end": end.strftime("%B %Y"),
            "signals": snap.signals,
            "signal_count": len(snap.signals),
            "pack_path": str(path),
        },
        attachments=[
            Attachment(
                filename=f"diagnostic-pack-{ward.code}.html",
                content=html.encode("utf-8"),
                content_type="text/html",
            )
        ],
    )
    n = len(snap.signals)
    return StageOutcome(
        done=True,
        summary=f"{ward.code}: diagnostic pack ready with {n} signal{'s' if n != 1 else ''}",
        details={"signals": n, "snapshot_id": snap.id, "pack_path": str(path)},
    )


def tell_team_refused(
    session: Session, settings: Settings, ward: Ward, refused: ExtractsRefused
) -> None:
    """One message to the improvement team per distinct set of problems.

    Unreadable extracts affect every ward alike: one message, not one per ward.
    """
    scope = ward.code if refused.ward_code else "all-wards"
    enqueue(
        session,
        key=f"extract_refused:{scope}:{fingerprint(refused.lines)}",
        kind="extract_refused",
        tags=[IMPROVEMENT_TEAM_TAG],
        ward_code=ward.code if refused.ward_code else None,
        context={
            "ward_code": refused.ward_code,
            "ward_name": ward.name,
            "count": len(refused.lines),
            "problems": refused.lines,
            "extracts_dir": str(settings.extracts_dir),
        },
    )
    logger.warning("%s: diagnostic data refused (%d problems)", ward.code, len(refused.lines))


def _wait_for_extracts(ctx: StageContext, refused: ExtractsRefused) -> StageOutcome:
    """Tell the team and wait for corrected extracts; nothing else is written."""
    tell_team_refused(ctx.session, ctx.settings, ctx.ward, refused)
    return StageOutcome(
        done=False,
        summary=f"{ctx.ward.code}: extract data refused ({len(refused.lines)} problems); "
        "waiting for corrected extracts",
        details={"refused": refused.lines},
    )


@dataclass
class PackSummary:
    ward_code: str
    markdown: str
    table: list[dict[str, Any]] = field(default_factory=list)


def pack_summary(session: Session, ward_code: str, snapshot_id: int) -> PackSummary:
    """Markdown and table of a stored snapshot (for Prefect artifacts), no extract reads."""
    ward = ward_by_code(session, ward_code)
    snap = session.get(DiagnosticSnapshot, snapshot_id)
    if snap is None or snap.ward_id != ward.id:
        raise NotFoundError(f"no diagnostic snapshot {snapshot_id} for ward {ward_code}")
    site = session.get(Site, ward.site_id)
    if site is None:
        raise NotFoundError(f"ward {ward_code} points at a site that does not exist")
    wave = session.get(Wave, snap.wave_id) if snap.wave_id else None
    context = _pack_context(ward, site, wave.number if wave else None, snap)
    return PackSummary(
        ward_code=ward.code,
        markdown=pack_markdown(context),
        table=metrics_table(context["snapshot"]),
    )
