"""The pages' forms: each checks the person's scope, builds one command and hands it to the bus.

Nothing here changes the database itself: a form is one more way in, like the CLI or a Prefect
Run form, so the same handler runs in the same transaction and writes the same audit row, with
the person from the link as the actor and ``web`` as the source.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session, select

from wardprog import clock
from wardprog import commands as c
from wardprog.errors import WardprogError
from wardprog.models import ImprovementProject, TriageItem, Ward
from wardprog.services.handlers import handle, handle_all
from wardprog.web.app import Refused, flash, require_csrf
from wardprog.web.links import Grant

UPLOAD_SUFFIXES = (".xlsx", ".csv")


def register_actions(app: FastAPI) -> None:
    """Routes for every form on the ward and team pages."""

    # A form about one item or one project: the scope check, then the command's fields.
    for name, (kind, fields_of) in ITEM_FORMS.items():
        app.post(f"/w/{{ward_code}}/items/{{item_id}}/{name}", name=f"item-{name}")(
            _item_route(kind, fields_of)
        )
    for name, (kind, fields_of) in PROJECT_FORMS.items():
        app.post(f"/w/{{ward_code}}/projects/{{project_id}}/{name}", name=f"project-{name}")(
            _project_route(kind, fields_of)
        )

    @app.post("/w/{ward_code}/projects/start")
    async def start_project(request: Request, ward_code: str) -> Response:
        form, actor = await _ward_form(request, ward_code)
        return _act(
            request,
            f"/w/{ward_code}#projects",
            c.StartProject,
            actor=actor,
            ward_code=ward_code,
            title=form.get("title", ""),
            **_project_fields(form),
        )

    @app.post("/w/{ward_code}/qi-events")
    async def record_qi_event(request: Request, ward_code: str) -> Response:
        form, actor = await _ward_form(request, ward_code)
        # Only the ward's own staff can be ticked: the form lists them, and no other number
        # is accepted from this page.
        _own_staff(request, ward_code, form.getlist("attendees"))
        return _act(
            request,
            f"/w/{ward_code}#qi-events",
            c.RecordQiEvent,
            actor=actor,
            event_kind=form.get("event_kind", ""),
            topic=form.get("topic", ""),
            attendees=form.getlist("attendees"),
            on=_day(request, form, "held_on"),
        )

    @app.post("/w/{ward_code}/nominate")
    async def nominate(request: Request, ward_code: str) -> Response:
        form, actor = await _ward_form(request, ward_code)
        return _act(
            request,
            f"/w/{ward_code}#qsir",
            c.NominateStaff,
            actor=actor,
            ward_code=ward_code,
            staff_numbers=form.getlist("staff"),
        )

    @app.post("/w/{ward_code}/event/held")
    async def event_held(request: Request, ward_code: str) -> Response:
        form, actor = await _ward_form(request, ward_code)
        wave_number, day = _event_of(request, ward_code)
        facilitator = str(form.get("facilitator", "")).strip() or None
        return _act(
            request,
            f"/w/{ward_code}#event",
            c.RecordEventHeld,
            actor=actor,
            ward_code=ward_code,
            wave=wave_number,
            held_on=day,
            attendees=form.get("attendees", ""),
            facilitator=facilitator,
        )

    @app.post("/w/{ward_code}/event/cant-make-it")
    async def cant_make_it(request: Request, ward_code: str) -> Response:
        form, actor = await _ward_form(request, ward_code)
        return _act(
            request,
            f"/w/{ward_code}#event",
            c.RequestEventChange,
            actor=actor,
            ward_code=ward_code,
            reason=form.get("reason", ""),
        )

    @app.post("/w/{ward_code}/upload")
    async def upload(request: Request, ward_code: str) -> Response:
        form, actor = await _ward_form(request, ward_code)
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            flash(request, "Choose a file to upload.", ok=False)
            return _back(f"/w/{ward_code}")
        limit = request.app.state.settings.web_upload_max_bytes
        data = await upload.read(limit + 1)
        name = Path(upload.filename).name
        if len(data) > limit:
            flash(request, f"{name} is larger than {limit // 1000} kB: nothing was read.", ok=False)
        elif Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
            flash(request, f"{name}: save it as .xlsx or .csv and upload it again.", ok=False)
        else:
            return _act(
                request,
                f"/w/{ward_code}",
                c.SubmitReturn,
                actor=actor,
                ward_code=ward_code,
                filename=name,
                content=data,
            )
        return _back(f"/w/{ward_code}")

    @app.post("/team/register")
    async def take_register(request: Request) -> Response:
        form, actor = await _team_form(request)
        day = str(form.get("day", ""))
        register = (
            c.TakeRegister,
            {
                "cohort": form.get("cohort", ""),
                "session_date": day,
                "present": form.getlist("present"),
            },
        )
        presented = [(c.RecordPresentation, {"staff_number": n}) for n in form.getlist("presented")]
        # The register and any presentations ticked with it: one transaction, all or nothing.
        return _act_all(request, f"/team?on={day}#register", actor, [register, *presented])

    @app.post("/team/items/{item_id}/decide")
    async def decide_change(request: Request, item_id: int) -> Response:
        form, actor = await _team_form(request)
        return _act(
            request,
            f"/team#change-{item_id}",
            c.DecideChange,
            actor=actor,
            item_id=item_id,
            decision=form.get("decision", ""),
            owner=form.get("owner", ""),
            note=form.get("note", ""),
        )


# What a form posts, as the command's fields: (request, the form, the item or project id).
FormFields = Callable[[Request, Any, int], dict[str, Any]]
FormRoute = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class Card:
    """A kind of card on the ward page whose forms act on one row: an item or a project."""

    model: type[TriageItem] | type[ImprovementProject]
    anchor: str  # the card's id on the page is "<anchor>-<row id>"
    not_ours: str  # the refusal, with {id} and {ward}


ITEM_CARD = Card(TriageItem, "item", "item {id} is not one of {ward}'s items")
PROJECT_CARD = Card(ImprovementProject, "project", "project {id} is not one of {ward}'s")


def _item_route(kind: type[c.Command], fields_of: FormFields) -> FormRoute:
    """The handler of a form on one of the ward's item cards."""

    async def post(request: Request, ward_code: str, item_id: int) -> Response:
        return await _card_act(request, ward_code, ITEM_CARD, item_id, kind, fields_of)

    return post


def _project_route(kind: type[c.Command], fields_of: FormFields) -> FormRoute:
    """The handler of a form on one of the ward's project cards."""

    async def post(request: Request, ward_code: str, project_id: int) -> Response:
        return await _card_act(request, ward_code, PROJECT_CARD, project_id, kind, fields_of)

    return post


async def _card_act(
    request: Request,
    ward_code: str,
    card: Card,
    row_id: int,
    kind: type[c.Command],
    fields_of: FormFields,
) -> Response:
    """A card's form: the scope check, the command from the form's fields, back to the card.

    The routes stay one per kind of card because FastAPI names a path parameter after the
    handler's argument (``item_id``, ``project_id``).
    """
    form, actor = await _ward_form(request, ward_code)
    _own_row(request, ward_code, card, row_id)
    back = f"/w/{ward_code}#{card.anchor}-{row_id}"
    return _act(request, back, kind, actor=actor, **fields_of(request, form, row_id))


def _pdsa_fields(request: Request, form: Any, item_id: int) -> dict[str, Any]:
    return {
        "project_id": _project_of(request, item_id),
        "plan": form.get("plan", ""),
        "prediction": form.get("prediction", ""),
        "happened": form.get("happened", ""),
        "learned": form.get("learned", ""),
        "decision": form.get("decision") or None,
    }


def _update_fields(_request: Request, form: Any, project_id: int) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "title": _blank_none(form, "title"),
        "status": _blank_none(form, "status"),
        "stop_reason": _blank_none(form, "stop_reason"),
        **_project_fields(form),
    }


ITEM_FORMS: dict[str, tuple[type[c.Command], FormFields]] = {
    "close": (
        c.CloseItem,
        lambda _r, form, item_id: {"item_id": item_id, "outcome": form.get("outcome", "")},
    ),
    "score": (c.ScoreProject, lambda _r, form, item_id: {"item_id": item_id, **_score(form)}),
    "pdsa": (c.AddPdsa, _pdsa_fields),
}
PROJECT_FORMS: dict[str, tuple[type[c.Command], FormFields]] = {
    "update": (c.UpdateProject, _update_fields),
    "coaching": (
        c.LogCoaching,
        lambda request, form, pid: {
            "project_id": pid,
            "adviser": form.get("adviser", ""),
            "minutes": form.get("minutes", ""),
            "note": form.get("note", ""),
            "on": _day(request, form, "held_on"),
        },
    ),
    "measure": (
        c.RecordMeasurement,
        lambda request, form, pid: {
            "project_id": pid,
            "value": form.get("value", ""),
            "note": form.get("note", ""),
            "on": _day(request, form, "measured_on"),
        },
    ),
    "score": (c.ScoreProject, lambda _r, form, pid: {"project_id": pid, **_score(form)}),
}


async def _ward_form(request: Request, ward_code: str) -> tuple[Any, c.Actor]:
    from wardprog.web.app import _allowed, _session_grant

    grant = _allowed(_session_grant(request, request.app.state.engine), ward_code)
    return await _checked_form(request, grant)


async def _team_form(request: Request) -> tuple[Any, c.Actor]:
    from wardprog.web.app import _session_grant

    grant = _session_grant(request, request.app.state.engine)
    if not grant.is_team:
        raise Refused(403, "Not your page", "this action is for the improvement team")
    return await _checked_form(request, grant)


async def _checked_form(request: Request, grant: Grant) -> tuple[Any, c.Actor]:
    """The posted form once its CSRF token is checked, and the link's person as the actor."""
    form = await request.form()
    require_csrf(request, form)
    return form, c.Actor(name=grant.name, email=grant.email)


def _own_row(request: Request, ward_code: str, card: Card, row_id: int) -> None:
    """An item or project of another ward (or of none) is refused before any command is built."""
    model = card.model
    with Session(request.app.state.engine) as session:
        found = session.exec(
            select(model.id)
            .where(model.id == row_id, model.ward_id == Ward.id)
            .where(Ward.code == ward_code)
        ).first()
    if found is None:
        raise Refused(403, "Not your ward", card.not_ours.format(id=row_id, ward=ward_code))


# The record's fields as the update and start forms name them (the command's own names).
PROJECT_FIELDS = (
    "aim", "aim_measure", "aim_baseline", "aim_target", "aim_direction", "aim_by", "lead",
    "lead_email", "qi_coach", "qi_coach_email", "sponsor", "strategic_aim", "ppi_level",
    "ppi_note", "co2e_kg", "sustainability_note",
)  # fmt: skip


def _blank_none(form: Any, name: str) -> str | None:
    """A field left empty means "not given" (leave the record as it is)."""
    value = str(form.get(name, "") or "").strip()
    return value or None


def _score(form: Any) -> dict[str, Any]:
    """An IHI score form's fields, the same on an item's card and a project's."""
    return {name: form.get(name, "") for name in ("score", "why", "evidence_note")}


def _day(request: Request, form: Any, name: str) -> str | date:
    """A date field left empty means the page's today (the command parses the text given)."""
    return _blank_none(form, name) or _today(request)


def _project_fields(form: Any) -> dict[str, Any]:
    return {name: _blank_none(form, name) for name in PROJECT_FIELDS}


def _own_staff(request: Request, ward_code: str, staff_numbers: list[str]) -> None:
    from wardprog.models import StaffMember

    with Session(request.app.state.engine) as session:
        own = set(
            session.exec(
                select(StaffMember.staff_number)
                .where(StaffMember.ward_id == Ward.id)
                .where(Ward.code == ward_code)
            ).all()
        )
    others = sorted(set(staff_numbers) - own)
    if others:
        raise Refused(403, "Not your ward", f"not on {ward_code}'s staff: {', '.join(others)}")


def _project_of(request: Request, item_id: int) -> int:
    with Session(request.app.state.engine) as session:
        found = session.exec(
            select(ImprovementProject.id).where(ImprovementProject.triage_item_id == item_id)
        ).first()
    if found is None:
        raise Refused(404, "No project record", f"item {item_id} has no project record yet")
    return found


def _event_of(request: Request, ward_code: str) -> tuple[int, date]:
    """The ward's wave number and event day (a light read, not the whole page)."""
    from wardprog.web import views

    with Session(request.app.state.engine) as session:
        found = views.ward_event(session, ward_code)
    if found is None:
        raise Refused(404, "No event", f"{ward_code} has no engagement event booked")
    wave_number, event = found
    return wave_number, event.starts_at.date()


def _today(request: Request) -> date:
    return request.app.state.today or clock.today()


def _act(request: Request, back: str, kind: type[c.Command], **fields: Any) -> Response:
    """Build the command, run it, and say what happened (or what was wrong) on the page."""
    fields.setdefault("on", _today(request))
    try:
        command = c.build(kind, source=c.Source(kind="web"), **fields)
        result = handle(request.app.state.engine, command, request.app.state.settings)
    except WardprogError as exc:
        flash(request, str(exc), ok=False)
    else:
        flash(request, result.summary, ok=not result.details.get("rejected"))
    return _back(back)


def _act_all(
    request: Request,
    back: str,
    actor: c.Actor,
    steps: list[tuple[type[c.Command], dict[str, Any]]],
) -> Response:
    try:
        commands = [
            c.build(kind, actor=actor, source=c.Source(kind="web"), on=_today(request), **fields)
            for kind, fields in steps
        ]
        results = handle_all(request.app.state.engine, commands, request.app.state.settings)
    except WardprogError as exc:
        flash(request, str(exc), ok=False)
    else:
        flash(request, "; ".join(r.summary for r in results))
    return _back(back)


def _back(url: str) -> Response:
    # 303: the browser follows with GET, so a reload never posts the form twice.
    return RedirectResponse(url, status_code=303)
