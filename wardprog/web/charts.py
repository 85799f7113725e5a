"""A small inline SVG of an improvement project's IHI scores over time (no JavaScript)."""

from __future__ import annotations

from datetime import date
from html import escape

from markupsafe import Markup

# The IHI Model for Improvement progress scale: 0.5 (forming) to 5.0 (outstanding results).
IHI_MIN, IHI_MAX = 0.5, 5.0
MODEST_IMPROVEMENT = 3.0


def score_chart(points: list[tuple[date, float]], width: int = 320, height: int = 120) -> Markup:
    """Scores as a stepped line on the 0.5-5.0 scale, the 3.0 'modest improvement' line dashed."""
    if not points:
        return Markup("")
    left, right, top, bottom = 28, 8, 8, 20
    days = [(d - points[0][0]).days for d, _ in points]
    span = max(days[-1], 1)

    def x(day: int) -> float:
        return left + (width - left - right) * day / span

    def y(score: float) -> float:
        return top + (height - top - bottom) * (IHI_MAX - score) / (IHI_MAX - IHI_MIN)

    # Stepped: a score holds until the next one is recorded.
    path = [f"M{x(days[0]):.1f},{y(points[0][1]):.1f}"]
    path += [
        f"H{x(day):.1f} V{y(score):.1f}"
        for day, (_, score) in zip(days[1:], points[1:], strict=True)
    ]
    label = ", ".join(f"{d:%d %b %Y} {s:.1f}" for d, s in points)
    dots = "".join(
        f'<circle cx="{x(day):.1f}" cy="{y(s):.1f}" r="3">'
        f"<title>{d:%d %b %Y}: {s:.1f}</title></circle>"
        for day, (d, s) in zip(days, points, strict=True)
    )
    ticks = "".join(
        f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="10">{v:.0f}</text>'
        for v in (1, 2, 3, 4, 5)
    )
    svg = (
        f'<svg class="score-chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape("IHI score: " + label)}">'
        f'<line x1="{left}" x2="{width - right}" y1="{y(MODEST_IMPROVEMENT):.1f}" '
        f'y2="{y(MODEST_IMPROVEMENT):.1f}" stroke="#768692" stroke-dasharray="4 3"/>'
        f"{ticks}"
        f'<path d="{" ".join(path)}" fill="none" stroke="#005eb8" stroke-width="2"/>'
        f'<g fill="#005eb8">{dots}</g>'
        f'<text x="{left}" y="{height - 4}" font-size="10">{points[0][0]:%b %Y}</text>'
        f'<text x="{width - right}" y="{height - 4}" font-size="10" text-anchor="end">'
        f"{points[-1][0]:%b %Y}</text></svg>"
    )
    return Markup(svg)
