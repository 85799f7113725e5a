"""Run one wardprog flow in this process, as a separate OS process would in production.

    python -m tests.topology.run_flow launch   --as-of 2026-01-02 [--simulate-staff]
    python -m tests.topology.run_flow advance  --as-of 2026-02-20 [--simulate-staff]
    python -m tests.topology.run_flow dispatch --as-of 2026-02-20

``--simulate-staff`` first has the demo's ward staff return what is due by ``--as-of`` (triage
templates, nomination returns) into their inbox folders, between runs, as people would.
Settings come from WARDPROG_* and the Prefect API from PREFECT_API_URL in the environment.
``--ready FILE --go FILE`` make the process signal that its imports are done and then wait,
so a test can release several processes at the same instant (a real race, not a staggered one).
Prints the flow's return value as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("flow", choices=["launch", "advance", "dispatch"])
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--simulate-staff", action="store_true")
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args(argv)

    from flows.launch_wave import advance_wards, launch_wave
    from flows.notify import dispatch_notifications

    if args.ready is not None:
        args.ready.touch()
    if args.go is not None:
        while not args.go.exists():
            time.sleep(0.01)

    if args.simulate_staff:
        return_templates_due(args.as_of)
    result: Any
    if args.flow == "launch":
        result = launch_wave(as_of=args.as_of)
    elif args.flow == "advance":
        result = advance_wards(as_of=args.as_of)
    else:
        result = dispatch_notifications(as_of=args.as_of)
    print(json.dumps(result, default=str))


def return_templates_due(as_of: date) -> int:
    """The demo's ward staff, outside any flow run: files into the inbox folders."""
    from wardprog.config import get_settings
    from wardprog.db import get_engine, session_scope
    from wardprog.demo.simulate import return_templates

    settings = get_settings()
    with session_scope(get_engine(settings.database_url)) as session:
        return return_templates(session, settings, as_of)


if __name__ == "__main__":
    main()
