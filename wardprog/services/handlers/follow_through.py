"""Handlers for the owners register and the trust-wide themes."""

from __future__ import annotations

from sqlmodel import Session

from wardprog import commands as c
from wardprog.config import Settings
from wardprog.services import (
    owners,
    themes,
)
from wardprog.services.handlers.bus import Outcome, handler
from wardprog.services.handlers.shared import imported

# --- owners ------------------------------------------------------------------------------------


@handler(c.ImportOwners)
def import_owners(session: Session, _settings: Settings, cmd: c.ImportOwners) -> Outcome:
    return imported(owners.import_owners(session, cmd.path), "owners", cmd.path)


# --- themes ------------------------------------------------------------------------------------


@handler(c.MergeThemes)
def merge_themes(session: Session, _settings: Settings, cmd: c.MergeThemes) -> Outcome:
    theme, moved = themes.merge_themes(session, cmd.into, list(cmd.themes))
    return Outcome(
        f"merged {', '.join(cmd.themes)} into {theme.key}: {moved} items moved",
        subject=f"theme {theme.key}",
        details={"theme": theme.key, "merged": list(cmd.themes), "moved": moved},
    )


@handler(c.SplitTheme)
def split_theme(session: Session, _settings: Settings, cmd: c.SplitTheme) -> Outcome:
    theme = themes.split_theme(session, cmd.theme, list(cmd.item_ids))
    return Outcome(
        f"{len(cmd.item_ids)} items split from {cmd.theme} into new theme {theme.key}",
        subject=f"theme {theme.key}",
        details={"theme": theme.key, "from": cmd.theme, "item_ids": list(cmd.item_ids)},
    )
