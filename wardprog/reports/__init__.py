"""Reports for people: diagnostic packs (and, from other modules, dashboards)."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined, select_autoescape


def template_env(*, strict: bool = True) -> Environment:
    """The reports' templates: HTML escaped, block tags trimmed.

    ``strict`` makes a name the template uses but the data lacks an error, not an empty cell
    (the packs and the board report); the dashboard leaves it off.
    """
    return Environment(
        loader=PackageLoader("wardprog.reports", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined if strict else Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
