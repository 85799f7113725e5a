"""The ward-page process beside the Prefect server and workers: one action through it."""

from __future__ import annotations

import re

import httpx
from pydantic import SecretStr
from sqlmodel import Session, col, select

from tests.topology.harness import BIN, Processes, free_port, wait_until
from wardprog.config import Settings
from wardprog.db import get_engine
from wardprog.models import Action, TriageCategory, TriageItem, TriageStatus, Ward
from wardprog.web.links import issue, url_for, ward_scope

WEB_SECRET = "topology-web-secret-" + "s" * 40


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def close_a_fix_through_the_web(procs: Processes, settings: Settings) -> int:
    """Start `wardprog web`, open a ward manager's link, mark one fix done; the action's id."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = procs.start(
        "web",
        [BIN / "wardprog", "web", "--host", "127.0.0.1", "--port", str(port)],
        {"WARDPROG_WEB_SECRET": WEB_SECRET, "WARDPROG_WEB_URL": base},
    )
    wait_until(lambda: _up(base), 60, "the ward page /healthz", alive=web)
    signed = settings.model_copy(update={"web_secret": SecretStr(WEB_SECRET), "web_url": base})
    engine = get_engine(settings.database_url)
    with Session(engine) as session:
        item, ward = session.exec(
            select(TriageItem, Ward)
            .where(TriageItem.ward_id == Ward.id, TriageItem.category == TriageCategory.fix)
            .where(TriageItem.status == TriageStatus.open)
            .order_by(col(TriageItem.id))
        ).first() or (None, None)
        assert item is not None and ward is not None, "the wave left no open fix"
        item_id, code, name, manager = item.id, ward.code, ward.name, ward.manager_email
        token, grant = issue(
            session,
            signed,
            email=ward.manager_email,
            name=ward.manager_name,
            scope=ward_scope(ward.code),
        )
        session.commit()
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get(url_for(signed, grant, token).removeprefix(base))
        assert page.status_code == 200 and name in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        done = client.post(
            f"/w/{code}/items/{item_id}/close",
            data={"csrf": csrf.group(1), "outcome": "Done on the ward page"},
        )
        assert done.status_code == 303
    with Session(engine) as session:
        closed = session.get(TriageItem, item_id)
        assert closed is not None and closed.status is TriageStatus.closed
        action = session.exec(select(Action).where(Action.item_id == item_id)).one()
        assert action.source_kind == "web" and action.actor_email == manager.lower()
        assert action.id is not None
        return action.id
