"""Render a notification kind with jinja2: a subject, a plain-text body and an HTML body.

Each kind has three templates under ``templates/``: ``<kind>.subject.txt``, ``<kind>.txt`` and
``<kind>.html`` (which extends ``_layout.html``). HTML autoescapes: staff-written text (triage
issues, notes) is untrusted and must never become markup in a manager's mail client.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from wardprog.config import LONDON


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache
def _env(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("wardprog.notify", "templates"),
        autoescape=select_autoescape(["html"]) if autoescape else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["ukdate"] = _ukdate
    env.filters["uktime"] = _uktime
    return env


def _ukdate(value: Any) -> str:
    return value.strftime("%A %-d %B %Y") if value is not None else ""


def _uktime(value: Any) -> str:

    if value is None:
        return ""
    if getattr(value, "tzinfo", None) is not None:
        value = value.astimezone(LONDON)
    return value.strftime("%H:%M")


def render(kind: str, context: dict[str, Any]) -> Rendered:
    subject = _env(False).get_template(f"{kind}.subject.txt").render(**context).strip()
    text = _env(False).get_template(f"{kind}.txt").render(**context)
    if context.get("ward_link"):
        text += f"\nYour ward's page (updates, scores, uploads): {context['ward_link']}\n"
    html = _env(True).get_template(f"{kind}.html").render(subject=subject, **context)
    # A subject is one line whatever staff typed into the context.
    return Rendered(subject=" ".join(subject.split())[:300], text=text, html=html)
