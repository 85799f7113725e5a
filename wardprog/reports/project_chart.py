"""A project's measure chart as SVG: the pack's XmR chart with each PDSA cycle marked by a
dashed vertical line and its number at the top (adopted cycles in the improvement colour)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from wardprog.reports.diagnostic_pack import COLOURS, spc_svg

# The pack's chart layout (spc_svg's defaults): the marks sit on the same x axis.
WIDTH, HEIGHT, PAD_L, PAD_R, PAD_T, PAD_B = 640, 200, 48, 12, 12, 28


def pdsa_svg(chart: dict[str, Any]) -> Markup:
    base = str(spc_svg(chart, width=WIDTH, height=HEIGHT))
    points = chart["points"]
    if not points or not chart.get("pdsa"):
        return Markup(base)
    months = [p["month"] for p in points]
    n = len(months)
    marks = []
    for mark in chart["pdsa"]:
        # The cycle's month, or the first charted month after it.
        index = next((i for i, m in enumerate(months) if m >= mark["month"]), None)
        if index is None:
            continue
        x = PAD_L + (WIDTH - PAD_L - PAD_R) * (index / max(n - 1, 1))
        colour = COLOURS["special_cause_improvement"] if mark["decision"] == "adopt" else "#425563"
        label = f"PDSA {mark['number']} ({mark['date']}): {mark['decision'] or 'in progress'}"
        marks.append(
            f'<g class="pdsa"><title>{escape(label)}</title>'
            f'<line x1="{x:.1f}" y1="{PAD_T}" x2="{x:.1f}" y2="{HEIGHT - PAD_B}" '
            f'stroke="{colour}" stroke-width="1" stroke-dasharray="3 3"/>'
            f'<text x="{x + 2:.1f}" y="{PAD_T + 9}" font-size="9" fill="{colour}">'
            f"P{int(mark['number'])}</text></g>"
        )
    # Every interpolated value is escaped or numeric.
    return Markup(base.replace("</svg>", "".join(marks) + "</svg>"))
