"""A ward's diagnostic pack: one self-contained HTML page with inline SVG SPC charts.

The pack is what the ward manager and the improvement facilitator read before the engagement
event: which metrics show special-cause variation (the signals worth discussing with staff), which
are common-cause noise (not worth chasing), and how staff rated working on the ward. Inline SVG
keeps it a single file that opens offline, prints cleanly and survives being emailed.
The pack is rendered from a stored :class:`DiagnosticSnapshot`'s JSON, so it can be re-rendered
(or published as a Prefect artifact) without re-reading the extracts.
"""

from __future__ import annotations

import math
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

from wardprog.reports import template_env
from wardprog.reports.icons import icon_legend, icon_svg, signal_icon

# Making Data Count colours, as NHSRplotthedots uses them.
COLOURS = {
    "common_cause": "#7B7D7D",
    "special_cause_improvement": "#289de0",
    "special_cause_concern": "#fab428",
    "special_cause_neutral_high": "#361475",
    "special_cause_neutral_low": "#361475",
    "target": "#de1b1b",
    "line": "#7B7D7D",
    "limits": "#231f20",
}

ICON_TEXT = {
    "common_cause": "Common cause variation",
    "improvement_high": "Special cause: improvement (higher)",
    "improvement_low": "Special cause: improvement (lower)",
    "concern_high": "Special cause: concern (higher)",
    "concern_low": "Special cause: concern (lower)",
    "neutral_high": "Special cause: higher (neutral)",
    "neutral_low": "Special cause: lower (neutral)",
    "consistent_pass": "Will consistently meet the target",
    "consistent_fail": "Will consistently miss the target",
    "inconsistent": "Will sometimes meet and sometimes miss the target",
}


def _fmt(value: float | None, decimals: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.{decimals}f}"


def spc_svg(metric: dict[str, Any], width: int = 640, height: int = 200) -> Markup:
    """An XmR chart as SVG: data line, coloured special-cause points, mean, limits, target."""
    points = metric["points"]
    label = str(metric.get("label", ""))
    if not points:
        return Markup("<p>No data for this period.</p>")
    pad_l, pad_r, pad_t, pad_b = 48, 12, 12, 28
    values = [p["value"] for p in points]
    bounds = [
        v
        for p in points
        for v in (p["value"], p.get("lpl"), p.get("upl"))
        if v is not None and not math.isnan(v)
    ]
    if metric.get("target") is not None:
        bounds.append(float(metric["target"]))
    lo, hi = min(bounds), max(bounds)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    span = hi - lo
    lo, hi = lo - span * 0.05, hi + span * 0.05
    n = len(points)

    def x(i: int) -> float:
        return pad_l + (width - pad_l - pad_r) * (i / max(n - 1, 1))

    def y(v: float) -> float:
        return pad_t + (height - pad_t - pad_b) * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="SPC chart: {escape(label)}">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
    ]
    # Mean and limits are drawn per rebase segment, so a rebase shows as a step.
    segments: list[list[int]] = []
    for i, p in enumerate(points):
        if i == 0 or p.get("rebase_group", 0) != points[i - 1].get("rebase_group", 0):
            segments.append([])
        segments[-1].append(i)
    for seg in segments:
        first, last = seg[0], seg[-1]
        x1, x2 = x(first), x(last)
        for key, dash in (("mean", ""), ("lpl", "4 3"), ("upl", "4 3")):
            v = points[first].get(key)
            if v is None or math.isnan(v):
                continue
            style = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y(v):.1f}" x2="{x2:.1f}" y2="{y(v):.1f}" '
                f'stroke="{COLOURS["limits"]}" stroke-width="1"{style}/>'
            )
    if metric.get("target") is not None:
        t = float(metric["target"])
        parts.append(
            f'<line x1="{pad_l}" y1="{y(t):.1f}" x2="{width - pad_r}" y2="{y(t):.1f}" '
            f'stroke="{COLOURS["target"]}" stroke-width="1" stroke-dasharray="2 2"/>'
        )
    # A missing value is a gap in the line and has no dot, as NHSRplotthedots draws it.
    runs: list[list[int]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
        else:
            runs[-1].append(i)
    for run in runs:
        if not run:
            continue
        path = " ".join(f"{x(i):.1f},{y(values[i]):.1f}" for i in run)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{COLOURS["line"]}" stroke-width="1.5"/>'
        )
    for i, p in enumerate(points):
        if p["value"] is None:
            continue
        colour = COLOURS.get(p["point_type"], COLOURS["common_cause"])
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(p["value"]):.1f}" r="3" fill="{colour}">'
            f"<title>{escape(p['month'])}: {_fmt(p['value'], 2)} "
            f"({escape(p.get('rule') or 'Common Cause')})</title></circle>"
        )
    # Axis labels: first, middle and last month, and the value range.
    for i in sorted({0, n // 2, n - 1}):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - 8}" font-size="10" text-anchor="middle" '
            f'fill="#425563">{escape(points[i]["month"])}</text>'
        )
    for v in (lo + span * 0.05, hi - span * 0.05):
        parts.append(
            f'<text x="{pad_l - 4}" y="{y(v) + 3:.1f}" font-size="10" text-anchor="end" '
            f'fill="#425563">{_fmt(v, 1)}</text>'
        )
    parts.append("</svg>")
    # Every interpolated string above is escaped or numeric, so the markup is safe.
    return Markup("".join(parts))


@lru_cache
def _env() -> Environment:
    env = template_env()
    env.filters["num"] = _fmt
    env.globals["spc_svg"] = spc_svg
    env.globals["icon_text"] = lambda key: ICON_TEXT.get(key or "", "")
    env.globals["mdc_icon"] = icon_svg
    env.globals["mdc_legend"] = icon_legend
    env.globals["signal_icon"] = signal_icon
    return env


def render_pack(context: dict[str, Any]) -> str:
    """The pack's HTML. ``context`` keys: ward, site, wave_number, snapshot (see services)."""
    return _env().get_template("diagnostic_pack.html").render(**context)


def write_pack(path: Path, html: str) -> Path:
    """Write atomically: a manager opening the pack never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def pack_markdown(context: dict[str, Any]) -> str:
    """A short markdown summary of the pack (the Prefect artifact a coordinator sees)."""
    snap = context["snapshot"]
    ward = context["ward"]
    lines = [
        f"# Diagnostic pack: {ward['name']} ({ward['code']})",
        "",
        f"Baseline {snap['period_start']} to {snap['period_end']}, pulled as of {snap['as_of']}.",
        "",
        "## Signals to bring to the engagement event",
        "",
    ]
    if not snap["signals"]:
        lines.append("No special-cause signals: every metric shows common-cause variation.")
    for s in snap["signals"]:
        lines.append(f"- **{s['label']}**: {s['description']}")
    survey = snap.get("staff_survey") or {}
    if survey.get("survey_year"):
        lines += ["", f"## NHS Staff Survey {survey['survey_year']}", ""]
        if survey.get("suppressed"):
            lines.append(
                f"Suppressed: fewer than {survey['min_respondents']} respondents "
                f"({survey['respondents']})."
            )
        else:
            lines.append(f"{survey['respondents']} respondents (scores out of 10).")
            lines += ["", "| Theme | Score |", "|---|---|"]
            lines += [f"| {t['label']} | {_fmt(t['score'], 1)} |" for t in survey["themes"]]
    if context.get("pack_path"):
        lines += ["", f"Full pack: `{context['pack_path']}`"]
    return "\n".join(lines) + "\n"


def metrics_table(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric, for a Prefect table artifact."""
    rows = []
    for key, m in snapshot["metrics"].items():
        rows.append(
            {
                "metric": key,
                "label": m["label"],
                "latest_month": m["latest"]["month"] if m.get("latest") else None,
                "latest": m["latest"]["value"] if m.get("latest") else None,
                "mean": m.get("mean"),
                "lpl": m.get("lpl"),
                "upl": m.get("upl"),
                "target": m.get("target"),
                "variation": m.get("variation_icon"),
                "assurance": m.get("assurance_icon"),
            }
        )
    return rows
