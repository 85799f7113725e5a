"""The monthly board report: is the programme working? One HTML page and its PDF.

What the trust board reads each month: programme progress (wards by stage and wave), the
scorecard (fixes closed, overdue items, improvement projects against the 75% IHI target, QSIR
trained against target), the stepped-wedge evaluation per metric (effect, 95% CI and a sentence
in plain English) with each wave's before/after means, the Making Data Count summary (a matrix of
variation x assurance icons for each programme metric, on the trust-wide series), the wards whose
latest point is a special-cause concern, and the items escalated to the directorates.

The report for month M covers data to the end of M (``report_month(as_of)`` is the last complete
month before ``as_of``). HTML is written to ``<output>/board/<YYYY-MM>.html``; the PDF is headless
Chromium's print-to-PDF of that file (Debian's ``chromium``, one browser kept open for the
process), so what the board prints is exactly what the browser shows.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from dateutil.relativedelta import relativedelta
from jinja2 import Environment
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.errors import WardprogError
from wardprog.models import Site, TriageCategory, TriageItem, TriageStatus, Ward
from wardprog.reports import template_env
from wardprog.reports.dashboard import (
    IHI_MODEST_IMPROVEMENT,
    IHI_TARGET_SHARE,
    DashboardData,
    dashboard_data,
)
from wardprog.reports.diagnostic_pack import write_pack
from wardprog.reports.icons import (
    ASSURANCE_MEANINGS,
    VARIATION_MEANINGS,
    icon_svg,
    meaning,
    short_name,
)
from wardprog.reports.pdf import print_in_browser
from wardprog.rules.evaluation import RATE_METRICS, plain_english
from wardprog.rules.metrics import METRICS, METRICS_BY_KEY
from wardprog.rules.spc import spc_frame
from wardprog.services.diagnostics import charts_for
from wardprog.services.evaluation import ProgrammeEvaluation, evaluate_programme

PDF_TIMEOUT_SECONDS = 120
# Variation rows and assurance columns of the Making Data Count summary matrix.
MATRIX_ROWS = list(VARIATION_MEANINGS)
MATRIX_COLUMNS = [*ASSURANCE_MEANINGS, None]


class BoardReportError(WardprogError):
    """The board report (or its PDF) could not be produced; the message says what to fix."""


@dataclass
class BoardData:
    month: str
    as_of: date
    period_start: date
    period_end: date
    dashboard: DashboardData
    evaluation: ProgrammeEvaluation
    mdc: list[dict[str, Any]] = field(default_factory=list)
    concerns: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def estimable(self) -> int:
        return sum(e.estimable for e in self.evaluation.estimates.values())

    @property
    def improving(self) -> list[str]:
        return [k for k, e in self.evaluation.estimates.items() if _verdict(e) == "improvement"]

    @property
    def worsening(self) -> list[str]:
        return [k for k, e in self.evaluation.estimates.items() if _verdict(e) == "deterioration"]


def report_month(as_of: date) -> date:
    """First day of the last complete month before ``as_of``."""
    return as_of.replace(day=1) - relativedelta(months=1)


def board_paths(settings: Settings, as_of: date) -> tuple[Path, Path]:
    month = report_month(as_of).strftime("%Y-%m")
    folder = Path(settings.output_dir) / "board"
    return folder / f"{month}.html", folder / f"{month}.pdf"


def _verdict(est: Any) -> str | None:
    m = METRICS_BY_KEY.get(est.metric or "")
    if m is None or m.improvement == "neutral" or not est.significant or est.effect is None:
        return None
    return "improvement" if (est.effect > 0) == (m.improvement == "increase") else "deterioration"


def _trust_series(metrics: pd.DataFrame, bed_days: pd.DataFrame) -> pd.DataFrame:
    """One trust-wide value per metric-month: rates pooled over bed days, others ward means."""
    frames = []
    for key, rows in metrics.groupby("metric", observed=True, sort=False):
        name = str(key)
        if name in RATE_METRICS:
            merged = rows.merge(bed_days, on=["ward_code", "month"], how="inner")
            events = merged["value"] * merged["bed_days"]
            by_month = (
                pd.DataFrame({"month": merged["month"], "e": events, "d": merged["bed_days"]})
                .groupby("month")
                .sum()
            )
            value = by_month["e"] / by_month["d"]
        else:
            value = rows.groupby("month")["value"].mean()
        frames.append(pd.DataFrame({"metric": name, "month": value.index, "value": value.values}))
    if not frames:
        return pd.DataFrame(columns=["metric", "month", "value"])
    return pd.concat(frames, ignore_index=True)


def mdc_summary(metrics: pd.DataFrame, bed_days: pd.DataFrame) -> list[dict[str, Any]]:
    """Each programme metric's trust-wide XmR icons (variation and assurance) and latest value."""
    series = _trust_series(metrics, bed_days)
    if series.empty:
        return []
    # Every metric's chart in one pass (as the diagnostic packs chart every ward-metric), each
    # with its own direction and target: the same charts as one ``spc`` call per metric.
    series = series.assign(
        metric=series["metric"].astype(str),
        month=pd.to_datetime(series["month"]),
        value=series["value"].astype(float),
        improvement=series["metric"].map({m.key: m.improvement for m in METRICS}),
        target=series["metric"].map({m.key: m.target for m in METRICS}).astype(float),
    )
    charts = spc_frame(
        series,
        by=["metric"],
        date_col="month",
        improvement_col="improvement",
        target_col="target",
    )
    latest = {
        str(row["metric"]): row
        for row in charts.groupby("metric", sort=False).tail(1).to_dict("records")
    }
    out = []
    for m in METRICS:
        last = latest.get(m.key)
        if last is None:
            continue
        assurance = last["assurance_icon"] if isinstance(last["assurance_icon"], str) else None
        out.append(
            {
                "metric": m.key,
                "label": m.label,
                "decimals": m.decimals,
                "latest": float(last["value"]),
                "mean": float(last["mean"]),
                "target": m.target,
                "variation_icon": str(last["variation_icon"]),
                "assurance_icon": assurance,
            }
        )
    return out


def ward_concerns(metrics: pd.DataFrame, wards: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Ward-metrics whose latest month is a special-cause concern on the ward's own chart."""
    if metrics.empty:
        return []
    chart = charts_for(metrics)
    last_month = chart["month"].max()
    latest = chart.sort_values("month").groupby(["ward_code", "metric"], observed=True).tail(1)
    hits = latest.loc[
        (latest["month"] == last_month)
        & (latest["point_type"].astype(str) == "special_cause_concern")
    ]
    out = []
    for r in hits.itertuples(index=False):
        code = str(r.ward_code)
        m = METRICS_BY_KEY[str(r.metric)]
        name, site = wards.get(code, (code, ""))
        out.append(
            {
                "ward": code,
                "ward_name": name,
                "site": site,
                "metric": m.key,
                "label": m.label,
                "value": float(r.value),
                "decimals": m.decimals,
                "mean": float(r.mean),
                "rule": str(r.special_cause_type),
                "icon": str(r.variation_icon),
            }
        )
    out.sort(key=lambda c: (c["site"], c["ward"], c["label"]))
    return out


def escalations(session: Session) -> list[dict[str, Any]]:
    """Open `change` items: what wards need from outside the ward, and who holds each."""
    rows = session.exec(
        select(TriageItem, Ward, Site)
        .where(
            TriageItem.ward_id == Ward.id,
            Ward.site_id == Site.id,
            TriageItem.category == TriageCategory.change,
            TriageItem.status == TriageStatus.open,
        )
        .order_by(col(Site.code), col(Ward.code), col(TriageItem.id))
    ).all()
    return [
        {
            "ward": ward.code,
            "site": site.code,
            "issue": item.issue,
            "escalated_to": item.escalated_to or "-",
            "owner": item.owner or "-",
            "due": item.due_date or item.review_date,
        }
        for item, ward, site in rows
    ]


def board_data(session: Session, settings: Settings, as_of: date) -> BoardData:
    evaluation = evaluate_programme(session, settings, as_of)
    start, end = evaluation.period_start, evaluation.period_end
    # The evaluation's own ward-months: computing them again cost a second pass over the
    # extracts each month.
    metrics, bed_days = evaluation.metrics, evaluation.bed_days
    wards = {
        w.code: (w.name, s.code)
        for w, s in session.exec(select(Ward, Site).where(Ward.site_id == Site.id)).all()
    }
    programme_wards = set(evaluation.events) or set(wards)
    in_programme = metrics.loc[metrics["ward_code"].isin(programme_wards)]
    return BoardData(
        month=report_month(as_of).strftime("%Y-%m"),
        as_of=as_of,
        period_start=start,
        period_end=end,
        dashboard=dashboard_data(session, settings, as_of),
        evaluation=evaluation,
        mdc=mdc_summary(in_programme, bed_days),
        concerns=ward_concerns(in_programme, wards),
        escalations=escalations(session),
    )


# -- rendering ----------------------------------------------------------------------------------


# Headless Chromium on a locked-down trust server: no sandbox (it runs as a service user), no
# GPU, and nothing that reaches the network behind our back.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _fmt(value: float | None, decimals: int = 1, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if round(value, decimals) == 0:
        value = 0.0  # never "-0"
    return f"{value:{'+' if sign else ''},.{decimals}f}"


def _env() -> Environment:
    env = template_env()
    env.filters["num"] = _fmt
    env.globals.update(
        mdc_icon=icon_svg,
        meaning=meaning,
        short_name=short_name,
        plain_english=plain_english,
        verdict=_verdict,
        metric_def=METRICS_BY_KEY.get,
    )
    return env


def _matrix(mdc: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for row in mdc:
        cells.setdefault((row["variation_icon"], row["assurance_icon"]), []).append(row)
    return [
        {"variation": v, "cells": [cells.get((v, a), []) for a in MATRIX_COLUMNS]}
        for v in MATRIX_ROWS
        if any(cells.get((v, a)) for a in MATRIX_COLUMNS)
    ]


def render_board(data: BoardData) -> str:
    month = date.fromisoformat(f"{data.month}-01")
    return (
        _env()
        .get_template("board_report.html")
        .render(
            d=data,
            month_name=month.strftime("%B %Y"),
            matrix=_matrix(data.mdc),
            matrix_columns=MATRIX_COLUMNS,
            metrics=[m for m in METRICS if m.key in data.evaluation.estimates],
            ihi_target=IHI_TARGET_SHARE,
            ihi_modest=IHI_MODEST_IMPROVEMENT,
        )
    )


def board_markdown(data: BoardData, html_path: Path, pdf_path: Path | None) -> str:
    """The Prefect artifact: headline figures and where the report is."""
    d = data.dashboard
    share = f"{100 * d.ihi_share:.0f}%" if d.ihi_share is not None else "n/a"
    labels = {m.key: m.label for m in METRICS}
    lines = [
        f"# Board report {data.month}",
        "",
        f"- Report: [{html_path.name}]({html_path.resolve().as_uri()})"
        + (f", PDF [{pdf_path.name}]({pdf_path.resolve().as_uri()})" if pdf_path else ""),
        f"- Metrics the evaluation can answer: **{data.estimable} of "
        f"{len(data.evaluation.estimates)}**",
        "- Better after wards join: "
        + (", ".join(labels[k] for k in data.improving) or "none clear yet"),
        "- Worse after wards join: "
        + (", ".join(labels[k] for k in data.worsening) or "none clear"),
        f"- Ward metrics with a special-cause concern: **{len(data.concerns)}**",
        f"- Open items escalated to directorates: **{len(data.escalations)}**",
        f"- QSIR trained: **{d.trained} / {d.target_trained}**; completed projects at IHI "
        f"3.0+: **{share}**",
    ]
    return "\n".join(lines) + "\n"


# -- files --------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Debian's ``chromium`` (or another Chromium build on PATH) for print-to-PDF."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html_path: Path, pdf_path: Path, chromium: str | None = None) -> Path:
    """Headless Chromium's print-to-PDF of ``html_path`` (A4, no browser header or footer).

    Printed in the process's open browser (``wardprog.reports.pdf``, on its own thread), or by
    a Chromium subprocess when Playwright cannot start here: the same page either way.
    """
    binary = chromium or find_chromium()
    if binary is None:
        raise BoardReportError(
            "no Chromium found to print the board report PDF: install Debian's `chromium` "
            "package (the HTML report was written)"
        )
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
    # The open Chromium first (a tenth of a second a report); a fresh subprocess (about a
    # second) only when Playwright cannot start here or that browser failed.
    if print_in_browser(html_path, tmp, binary, CHROMIUM_FLAGS, PDF_TIMEOUT_SECONDS):
        return _keep_pdf(html_path, tmp, pdf_path)
    with tempfile.TemporaryDirectory(prefix="wardprog-chromium-") as profile:
        try:
            subprocess.run(
                [
                    binary,
                    *CHROMIUM_FLAGS,
                    "--no-pdf-header-footer",
                    f"--user-data-dir={profile}",
                    f"--print-to-pdf={tmp}",
                    html_path.resolve().as_uri(),
                ],
                capture_output=True,
                text=True,
                timeout=PDF_TIMEOUT_SECONDS,
                check=True,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            tmp.unlink(missing_ok=True)
            detail = getattr(exc, "stderr", "") or ""
            raise BoardReportError(
                f"Chromium could not print {html_path} to PDF: {exc}; {detail[-300:]}"
            ) from exc
    return _keep_pdf(html_path, tmp, pdf_path)


def _keep_pdf(html_path: Path, tmp: Path, pdf_path: Path) -> Path:
    """Move the printed ``tmp`` into place if it is a PDF (a reader never sees half a file)."""
    if not tmp.exists() or tmp.read_bytes()[:5] != b"%PDF-":
        tmp.unlink(missing_ok=True)
        raise BoardReportError(f"Chromium wrote no PDF for {html_path}")
    tmp.replace(pdf_path)
    return pdf_path


def write_board_html(session: Session, settings: Settings, as_of: date) -> tuple[BoardData, Path]:
    data = board_data(session, settings, as_of)
    html_path, _ = board_paths(settings, as_of)
    write_pack(html_path, render_board(data))
    return data, html_path


def board_notification_context(
    data: BoardData, report_path: Path, attachment: str
) -> dict[str, Any]:
    labels = {m.key: m.label for m in METRICS}
    month = date.fromisoformat(f"{data.month}-01")
    return {
        "month": data.month,
        "month_name": month.strftime("%B %Y"),
        "improving": [labels[k] for k in data.improving],
        "worsening": [labels[k] for k in data.worsening],
        "estimable": data.estimable,
        "metrics": len(data.evaluation.estimates),
        "concerns": len(data.concerns),
        "escalations": len(data.escalations),
        "attachment": attachment,
        "report_path": str(report_path),
    }
