"""A demo run's fingerprint: rows per table and the outbox, to show a change kept behaviour.

A refactor that claims "behaviour unchanged" runs ``make demo`` before and after and compares
the two fingerprints::

    .venv/bin/python -m wardprog.demo.fingerprint --db sqlite:///var/demo/wardprog.db \
        --save var/fingerprint-before.json
    # ... change, make demo ...
    .venv/bin/python -m wardprog.demo.fingerprint --db sqlite:///var/demo/wardprog.db \
        --compare var/fingerprint-before.json

The outbox is compared message by message on what a recipient sees and when: kind, ward,
recipients, subject and the simulated day it was written. Idempotency keys, bodies and row ids
are left out on purpose: the demo's wards run concurrently, so which item gets id 79 differs
from run to run while every message and count stays the same. Trust-wide themes are compared
by key, title and wards: they are numbered in ward order after each wave's triage, so the same
programme gives the same themes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from wardprog.config import get_settings
from wardprog.db import get_engine
from wardprog.models import Notification
from wardprog.queries import table_counts
from wardprog.services.themes import theme_rows


def fingerprint(session: Session) -> dict[str, Any]:
    """Rows per table, and each outbox message as a recipient sees it (sorted)."""
    messages = sorted(
        json.dumps(
            [
                n.kind,
                n.ward_code or "",
                sorted(n.recipients),
                n.subject,
                n.created_at.date().isoformat(),
            ],
            ensure_ascii=False,
        )
        for n in session.exec(select(Notification)).all()
    )
    digest = hashlib.sha256("\n".join(messages).encode()).hexdigest()
    themes = [
        [row["theme"], row["title"], row["wards"]]
        for row in sorted(theme_rows(session), key=lambda r: int(r["theme"][1:]))
    ]
    return {
        "tables": table_counts(session),
        "outbox_sha256": digest,
        "outbox": messages,
        "themes": themes,
    }


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed between two fingerprints, one line each (empty when identical)."""
    lines = [
        f"{table}: {before['tables'].get(table)} -> {after['tables'].get(table)}"
        for table in sorted(set(before["tables"]) | set(after["tables"]))
        if before["tables"].get(table) != after["tables"].get(table)
    ]
    was, now = Counter(before["outbox"]), Counter(after["outbox"])
    lines += [f"outbox, only before: {m}" for m in sorted((was - now).elements())]
    lines += [f"outbox, only after: {m}" for m in sorted((now - was).elements())]
    if "themes" in before and "themes" in after:  # older fingerprints have no themes
        old = {json.dumps(t, ensure_ascii=False) for t in before["themes"]}
        new = {json.dumps(t, ensure_ascii=False) for t in after["themes"]}
        lines += [f"theme, only before: {t}" for t in sorted(old - new)]
        lines += [f"theme, only after: {t}" for t in sorted(new - old)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="Database URL (default: the settings', i.e. the demo's)")
    parser.add_argument("--save", type=Path, help="Write the fingerprint to this JSON file")
    parser.add_argument("--compare", type=Path, help="Compare with a saved fingerprint")
    args = parser.parse_args(argv)
    with Session(get_engine(args.db or get_settings().database_url)) as session:
        now = fingerprint(session)
    print(f"{sum(now['tables'].values())} rows in {len(now['tables'])} tables; "
          f"{len(now['outbox'])} messages, outbox sha256 {now['outbox_sha256'][:16]}; "
          f"{len(now['themes'])} themes")  # fmt: skip
    if args.save:
        args.save.write_text(json.dumps(now, indent=1, ensure_ascii=False))
    if args.compare:
        changed = differences(json.loads(args.compare.read_text()), now)
        for line in changed[:50]:
            print(line)
        if changed:
            print(f"{len(changed)} difference(s) from {args.compare}")
            return 1
        print(f"identical to {args.compare}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
