"""The ward page and the team page (FastAPI, jinja2 templates, no JavaScript needed).

Access is by signed link (``wardprog.web.links``): a visit with ``?t=`` checks the token and
stores the grant in a signed session cookie, so later pages and forms need no token; pages are
sent with ``Referrer-Policy: no-referrer`` so the token never leaks to another site. Every
request re-checks expiry and revocation; a ward
manager's grant never reads or changes another ward (403, nothing written). Every form carries
a CSRF token, and every action is one of the programme's commands, handled and audited exactly
as from the CLI or a Prefect form, with the person from the link as the actor.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.middleware.sessions import SessionMiddleware

from wardprog.config import Settings
from wardprog.db import get_engine
from wardprog.errors import ConfigError, NotFoundError
from wardprog.web import views
from wardprog.web.charts import score_chart
from wardprog.web.links import Grant, LinkError, check, check_grant

TEMPLATES = Path(__file__).parent / "templates"
SESSION_KEY = "grant"


class Refused(Exception):
    """A request the person's link does not allow: rendered as a page, never a traceback."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def create_app(settings: Settings, *, today: date | None = None) -> FastAPI:
    """The site for ``settings``; ``today`` pins the programme clock (the demo's replay)."""
    if settings.web_secret is None or not settings.web_secret.get_secret_value():
        raise ConfigError(
            "WARDPROG_WEB_SECRET is not set: `wardprog web` refuses to start without the key "
            "that signs its links"
        )
    engine = get_engine(settings.database_url)
    app = FastAPI(title="wardprog", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.web_secret.get_secret_value(),
        session_cookie="wardprog_session",
        max_age=settings.web_link_days * 86400,
        same_site="lax",
        https_only=urlsplit(settings.web_url).scheme == "https",
    )
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.filters["ukdate"] = lambda d: d.strftime("%a %-d %b %Y") if d else ""
    templates.env.filters["uktime"] = lambda d: d.strftime("%H:%M") if d else ""
    app.state.settings, app.state.engine, app.state.templates = settings, engine, templates
    app.state.today = today

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return templates.TemplateResponse(
            request,
            "refused.html",
            {"title": exc.title, "detail": exc.detail, "grant": None},
            status_code=exc.status,
        )

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/w/{ward_code}", response_class=HTMLResponse)
    def ward(request: Request, ward_code: str) -> Response:
        grant = _allowed(_grant(request, engine, settings), ward_code)
        with Session(engine) as session:
            try:
                page = views.ward_page(session, ward_code)
            except NotFoundError as exc:
                raise Refused(404, "No such ward", str(exc)) from exc
        charts = {
            item.id: score_chart([(s.on, s.score) for s in item.scores])
            for item in page.items[views.TriageCategory.improve]
            if item.scores
        }
        today = app.state.today or date.today()
        return _render(
            request,
            "ward.html",
            grant,
            page=page,
            charts=charts,
            today=today,
            strategic_aims=settings.strategic_aims,
        )

    @app.get("/w/{ward_code}/pack", response_class=HTMLResponse)
    def pack(request: Request, ward_code: str) -> Response:
        grant = _session_grant(request, engine)
        _allowed(grant, ward_code)
        with Session(engine) as session:
            try:
                found = views.pack_path(session, ward_code)
            except NotFoundError as exc:
                raise Refused(404, "No such ward", str(exc)) from exc
        path = Path(found) if found else None
        if path is None or not path.is_file():
            raise Refused(404, "No pack yet", f"{ward_code}'s diagnostic pack is not ready yet")
        return FileResponse(path, media_type="text/html")

    @app.get("/team", response_class=HTMLResponse)
    def team(request: Request) -> Response:
        grant = _grant(request, engine, settings)
        if not grant.is_team:
            raise Refused(403, "Not your page", "this page is for the improvement team")
        on = request.query_params.get("on")
        try:
            # A facilitator can open the registers of another day (a register taken late).
            today = date.fromisoformat(on) if on else app.state.today or date.today()
        except ValueError as exc:
            raise Refused(400, "Not a date", f"{on!r} is not a date (YYYY-MM-DD)") from exc
        with Session(engine) as session:
            page = views.team_page(session, today)
        return _render(request, "team.html", grant, page=page)

    from wardprog.web.actions import register_actions

    register_actions(app)
    return app


def _render(request: Request, template: str, grant: Grant, **context: Any) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    flash = request.session.pop("flash", None)
    return templates.TemplateResponse(
        request,
        template,
        {"grant": grant, "csrf": request.session.get("csrf", ""), "flash": flash, **context},
    )


def _grant(request: Request, engine: Engine, settings: Settings) -> Grant:
    """The person behind this request; a visit by link (re)starts their session."""
    token = request.query_params.get("t")
    if token:
        with Session(engine) as session:
            try:
                grant = check(session, settings, token)
            except LinkError as exc:
                request.session.clear()
                raise Refused(401, "This link cannot be used", _how_to_get_a_link(exc)) from exc
        if request.session.get(SESSION_KEY) != grant.as_dict():
            request.session.clear()
            request.session[SESSION_KEY] = grant.as_dict()
            request.session["csrf"] = secrets.token_urlsafe(32)
        return grant
    return _session_grant(request, engine)


def _session_grant(request: Request, engine: Engine) -> Grant:
    data = request.session.get(SESSION_KEY)
    if not data:
        raise Refused(
            401,
            "Open this page from your link",
            "This page opens from the link in your latest message from the improvement team. "
            "If you cannot find it, ask the improvement team for a new link.",
        )
    grant = Grant.from_dict(data)
    with Session(engine) as session:
        try:
            return check_grant(session, grant, datetime.now(UTC))
        except LinkError as exc:
            request.session.clear()
            raise Refused(401, "This link cannot be used", _how_to_get_a_link(exc)) from exc


def _allowed(grant: Grant, ward_code: str) -> Grant:
    if not grant.may_see(ward_code):
        raise Refused(
            403, "Not your ward", f"your link opens your own ward's page, not {ward_code}"
        )
    return grant


def _how_to_get_a_link(exc: LinkError) -> str:
    return (
        f"Sorry: {exc}. Links last a limited time and can be withdrawn. Ask the improvement "
        "team for a new link (they send one with `wardprog links`), or use the link in your "
        "most recent message."
    )


def require_csrf(request: Request, form: Any) -> None:
    """Every form posts the session's CSRF token; a missing or wrong one writes nothing."""
    expected = request.session.get("csrf", "")
    given = str(form.get("csrf", ""))
    if not expected or not hmac.compare_digest(expected, given):
        raise Refused(403, "Form expired", "This form has expired: reload the page and try again.")


def flash(request: Request, message: str, ok: bool = True) -> None:
    request.session["flash"] = {"message": message, "ok": ok}
