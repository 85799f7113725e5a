"""`wardprog web` serves the ward and team pages; `wardprog links` prints a signed link."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from wardprog.cli.common import DATE, console, fail
from wardprog.errors import NotFoundError, WardprogError


def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    as_of: Annotated[
        date | None,
        typer.Option("--as-of", click_type=DATE, help="The team page's today (a replay)."),
    ] = None,
) -> None:
    """Serve the ward pages and the team page (behind the trust's reverse proxy)."""
    import uvicorn

    from wardprog.config import get_settings
    from wardprog.web.app import create_app

    settings = get_settings()
    try:
        app = create_app(settings, today=as_of)
    except WardprogError as exc:
        fail(exc)
    console.print(f"Ward pages on http://{host}:{port}/ (links use {settings.web_url})")
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=True)


def links(
    ward: Annotated[str | None, typer.Argument(help="Ward code: a link for its manager.")] = None,
    team: Annotated[
        str | None, typer.Option("--team", help="Email of an improvement-team member.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name shown on the page (team links).")] = None,
    revoke: Annotated[
        bool, typer.Option(help="Withdraw every earlier link this person holds first.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a fresh signed link to a ward's page (for its manager) or to the team page."""
    from sqlmodel import select

    from wardprog.config import get_settings
    from wardprog.db import session_scope
    from wardprog.models import Facilitator, Ward
    from wardprog.web.links import TEAM_SCOPE, issue, revoke_links, url_for, ward_scope

    if (ward is None) == (team is None):
        fail(WardprogError("give a ward code or --team EMAIL (one of them)"))
    settings = get_settings()
    try:
        with session_scope() as session:
            if ward is not None:
                found = session.exec(select(Ward).where(Ward.code == ward)).first()
                if found is None:
                    raise NotFoundError(f"no ward with code {ward!r}; check `wardprog status`")
                if not found.manager_email:
                    raise WardprogError(f"{ward} has no manager email in the ward register")
                email, person, scope = found.manager_email, found.manager_name, ward_scope(ward)
            else:
                assert team is not None
                if "@" not in team:
                    raise WardprogError(f"--team {team!r} is not an email address")
                known = session.exec(
                    select(Facilitator).where(Facilitator.email == team.strip().lower())
                ).first()
                email, scope = team, TEAM_SCOPE
                person = name or (known.name if known else team.split("@")[0])
            if revoke:
                revoke_links(session, email)
            token, grant = issue(session, settings, email=email, name=person, scope=scope)
    except WardprogError as exc:
        fail(exc)
    url = url_for(settings, grant, token)
    if as_json:
        out = {"url": url, "expires": grant.expires.isoformat(), "email": grant.email}
        print(json.dumps({"ward": ward, **out} if ward else {"team": grant.email, **out}))
    else:
        console.print(f"{person} <{grant.email}>, until {grant.expires:%d %B %Y}:")
        print(url)


def register(app: typer.Typer) -> None:
    app.command()(web)
    app.command()(links)
