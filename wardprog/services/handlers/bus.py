"""The bus: the handler registry, and running a command in one transaction with its audit row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from wardprog import commands as c
from wardprog.config import Settings, get_settings
from wardprog.db import session_scope
from wardprog.models import (
    Action,
)


@dataclass(frozen=True)
class Outcome:
    """What a handler did, in words, and what it did it to."""

    summary: str
    ward_code: str | None = None
    item_id: int | None = None
    subject: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionResult:
    action_id: int
    command: str
    summary: str
    ward_code: str | None
    item_id: int | None
    subject: str
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "command": self.command,
            "summary": self.summary,
            "ward_code": self.ward_code,
            "item_id": self.item_id,
            "subject": self.subject,
            "details": self.details,
        }


C = TypeVar("C", bound=c.Command)
Handler = Callable[[Session, Settings, Any], Outcome]
HANDLERS: dict[type[c.Command], Handler] = {}


def handler(kind: type[C]) -> Callable[[Callable[[Session, Settings, C], Outcome]], Handler]:
    def register(fn: Callable[[Session, Settings, C], Outcome]) -> Handler:
        if kind in HANDLERS:
            raise RuntimeError(f"{kind.__name__} already has a handler")
        HANDLERS[kind] = fn
        return fn

    return register


# --- the bus -----------------------------------------------------------------------------------


def handle(
    engine: Engine | None, command: c.Command, settings: Settings | None = None
) -> ActionResult:
    """Run one command in its own transaction; returns the audit row's id and the outcome."""
    return handle_all(engine, [command], settings)[0]


def handle_all(
    engine: Engine | None, commands: Sequence[c.Command], settings: Settings | None = None
) -> list[ActionResult]:
    """Run several commands (a returned tracker's rows) in ONE transaction: all or none."""
    settings = settings or get_settings()
    with session_scope(engine) as session:
        return [run(session, settings, command) for command in commands]


def run(session: Session, settings: Settings, command: c.Command) -> ActionResult:
    """Run a command inside the caller's transaction (it only flushes)."""
    fn = HANDLERS.get(type(command))
    if fn is None:
        raise TypeError(f"no handler for {type(command).__name__}")
    outcome = fn(session, settings, command)
    action = Action(
        command=command.name,
        actor_name=command.actor.name,
        actor_email=command.actor.email,
        acted_on=command.on,
        source_kind=command.source.kind,
        source_ref=command.source.ref[:500],
        ward_code=outcome.ward_code,
        item_id=outcome.item_id,
        subject=outcome.subject[:200],
        outcome=outcome.summary,
        fields=command.audit_fields(),
    )
    session.add(action)
    session.flush()
    assert action.id is not None
    return ActionResult(
        action.id,
        command.name,
        outcome.summary,
        outcome.ward_code,
        outcome.item_id,
        outcome.subject,
        outcome.details,
    )
