"""Making Data Count icons, drawn here as inline SVG (no image files, no third-party artwork).

NHS England's Making Data Count asks boards to read each metric by two icons: *variation* (is
the latest run common-cause noise, or special cause, and is that an improvement or a concern,
high or low?) and *assurance* (will the process consistently meet its target, consistently miss
it, or hit and miss?). Boards know the shapes, so packs, the dashboard and the board report show
them rather than words. Colours follow the Making Data Count convention our charts already use
(NHSRplotthedots' palette): blue improvement, orange concern, grey common cause, purple a change
in a metric with no better direction; H and L say whether the change is higher or lower.

Every icon carries its meaning as alt text (``role="img"``, ``aria-label`` and ``<title>``), so a
screen reader, a printed PDF's text layer and a test all read the same words.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from wardprog.rules.metrics import METRICS_BY_KEY
from wardprog.rules.spc import variation_icon

BLUE = "#289de0"
ORANGE = "#fab428"
GREY = "#7b7d7d"
PURPLE = "#361475"
TARGET_RED = "#de1b1b"

VARIATION_MEANINGS: dict[str, str] = {
    "common_cause": "Common cause variation: no significant change",
    "improvement_high": "Special cause variation: improvement (higher values)",
    "improvement_low": "Special cause variation: improvement (lower values)",
    "concern_high": "Special cause variation: concern (higher values)",
    "concern_low": "Special cause variation: concern (lower values)",
    "neutral_high": "Special cause variation: higher values (neither better nor worse)",
    "neutral_low": "Special cause variation: lower values (neither better nor worse)",
}
ASSURANCE_MEANINGS: dict[str, str] = {
    "consistent_pass": "Assurance: the target will consistently be met (pass)",
    "consistent_fail": "Assurance: the target will consistently be missed (fail)",
    "inconsistent": "Assurance: the target will sometimes be met and sometimes missed "
    "(hit and miss)",
}
MEANINGS: dict[str, str] = {**VARIATION_MEANINGS, **ASSURANCE_MEANINGS}
# Short names for table headers (the summary matrix), beside the icon.
SHORT_NAMES: dict[str, str] = {
    "common_cause": "Common cause",
    "improvement_high": "Improvement (high)",
    "improvement_low": "Improvement (low)",
    "concern_high": "Concern (high)",
    "concern_low": "Concern (low)",
    "neutral_high": "Neither: higher",
    "neutral_low": "Neither: lower",
    "consistent_pass": "Pass",
    "consistent_fail": "Fail",
    "inconsistent": "Hit and miss",
}

_VARIATION_STYLE: dict[str, tuple[str, str | None]] = {
    "common_cause": (GREY, None),
    "improvement_high": (BLUE, "H"),
    "improvement_low": (BLUE, "L"),
    "concern_high": (ORANGE, "H"),
    "concern_low": (ORANGE, "L"),
    "neutral_high": (PURPLE, "H"),
    "neutral_low": (PURPLE, "L"),
}
_ASSURANCE_STYLE: dict[str, tuple[str, str]] = {
    "consistent_pass": (BLUE, "P"),
    "consistent_fail": (ORANGE, "F"),
    "inconsistent": (GREY, "?"),
}
_XS = (26, 34, 42, 50, 58, 66, 74)
_FLAT = (52, 44, 56, 42, 54, 46, 50)
_HIGH = (60, 56, 62, 55, 42, 36, 30)
_LOW = (40, 44, 38, 45, 58, 64, 70)


def meaning(name: str | None) -> str:
    return MEANINGS.get(name or "", "")


def short_name(name: str | None) -> str:
    return SHORT_NAMES.get(name or "", "")


def signal_icon(signal: dict[str, Any]) -> str | None:
    """The icon for a stored pack signal: its variation, or a target that will be missed."""
    if signal.get("rule") == "consistent_fail":
        return "consistent_fail"
    point_type = signal.get("point_type")
    m = METRICS_BY_KEY.get(str(signal.get("metric", "")))
    if not point_type or m is None:
        return None
    return variation_icon(str(point_type), m.improvement)


def _open(name: str, size: int, colour: str) -> list[str]:
    text = escape(MEANINGS[name])
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="mdc-icon" data-icon="{name}" '
        f'width="{size}" height="{size}" viewBox="0 0 100 100" role="img" aria-label="{text}">',
        f"<title>{text}</title>",
        f'<circle cx="50" cy="50" r="44" fill="#ffffff" stroke="{colour}" stroke-width="8"/>',
    ]


def _variation(name: str, size: int) -> str:
    colour, letter = _VARIATION_STYLE[name]
    ys = _FLAT if letter is None else (_HIGH if letter == "H" else _LOW)
    parts = _open(name, size, colour)
    line = " ".join(f"{x},{y}" for x, y in zip(_XS, ys, strict=True))
    parts.append(f'<polyline points="{line}" fill="none" stroke="{GREY}" stroke-width="2.5"/>')
    for i, (x, y) in enumerate(zip(_XS, ys, strict=True)):
        # The last points carry the signal's colour, as special-cause points do on a chart.
        fill = colour if letter is not None and i >= 4 else GREY
        parts.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{fill}"/>')
    if letter is not None:
        y = 84 if letter == "H" else 30
        parts.append(
            f'<text x="50" y="{y}" font-family="Arial, sans-serif" font-size="22" '
            f'font-weight="bold" text-anchor="middle" fill="{colour}">{letter}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _assurance(name: str, size: int) -> str:
    colour, letter = _ASSURANCE_STYLE[name]
    parts = _open(name, size, colour)
    parts.append(
        f'<line x1="14" y1="70" x2="86" y2="70" stroke="{TARGET_RED}" stroke-width="3" '
        'stroke-dasharray="6 4"/>'
    )
    parts.append(
        f'<text x="50" y="62" font-family="Arial, sans-serif" font-size="46" font-weight="bold" '
        f'text-anchor="middle" fill="{colour}">{letter}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def icon_svg(name: str | None, size: int = 32) -> Markup:
    """The icon for a variation or assurance name (``spc.VARIATION_ICONS``, ``Assurance``).

    Unknown or missing names (a metric with no target has no assurance icon) give empty markup.
    """
    if name in _VARIATION_STYLE:
        return Markup(_variation(name, size))
    if name in _ASSURANCE_STYLE:
        return Markup(_assurance(name, size))
    return Markup("")


def icon_with_text(name: str | None, size: int = 28) -> Markup:
    """Icon followed by its meaning in small print (tables where space allows)."""
    if not meaning(name):
        return Markup("-")
    return Markup('<span class="mdc">{} <span class="mdc-text">{}</span></span>').format(
        icon_svg(name, size), meaning(name)
    )


def icon_legend(size: int = 24) -> Markup:
    """Every icon with its meaning: the key printed under a table of icons."""
    items = [
        Markup("<li>{} {}</li>").format(icon_svg(name, size), text)
        for name, text in MEANINGS.items()
    ]
    return Markup('<ul class="mdc-legend">{}</ul>').format(Markup("").join(items))
