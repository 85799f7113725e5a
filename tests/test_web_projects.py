"""The ward page's PDSA form builds the same AddPdsa command as the CLI and Prefect form."""

from __future__ import annotations

from sqlmodel import Session, select

from tests.test_web import _csrf, _signed_in, wards, web_settings  # noqa: F401 (fixtures)
from wardprog.config import Settings
from wardprog.db import get_engine, session_scope
from wardprog.models import Action, PdsaCycle, PdsaDecision, TriageItem
from wardprog.services.projects import ensure_project_for_item
from wardprog.web.links import ward_scope


def test_log_a_pdsa_cycle_from_the_ward_page(
    web_settings: Settings,  # noqa: F811
    wards: dict[str, int],  # noqa: F811
) -> None:
    engine = get_engine(web_settings.database_url)
    with session_scope(engine) as session:
        item = session.get(TriageItem, wards["improve"])
        assert item is not None
        ensure_project_for_item(session, item, item.due_date)  # type: ignore[arg-type]
    client = _signed_in(web_settings, ward_scope("NGH-ASH"))
    page = client.get("/w/NGH-ASH").text
    assert f'action="/w/NGH-ASH/items/{wards["improve"]}/pdsa"' in page
    token = _csrf(page)
    done = client.post(
        f"/w/NGH-ASH/items/{wards['improve']}/pdsa",
        data={"csrf": token, "plan": "Safety huddle at 08:00", "decision": "adopt"},
    )
    assert done.status_code == 303
    assert "PDSA cycle 1 (adopt)" in client.get("/w/NGH-ASH").text
    refused = client.post(
        f"/w/NGH-ASH/items/{wards['fix']}/pdsa", data={"csrf": token, "plan": "x"}
    )
    assert refused.status_code == 404
    with Session(engine) as session:
        (cycle,) = session.exec(select(PdsaCycle)).all()
        assert (cycle.plan, cycle.decision) == ("Safety huddle at 08:00", PdsaDecision.adopt)
        (action,) = session.exec(select(Action).where(Action.command == "AddPdsa")).all()
        assert (action.source_kind, action.actor_email) == ("web", "ann@trust.example")
