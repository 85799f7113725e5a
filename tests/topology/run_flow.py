"""Run one wardprog flow in this process, as a separate OS process would in production.

    python -m tests.topology.run_flow launch   --as-of 2026-01-02 [--simulate-staff]
    python -m tests.topology.run_flow advance  --as-of 2026-02-20 [--simulate-staff]
    python -m tests.topology.run_flow dispatch --as-of 2026-02-20

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

    result: Any
    if args.flow == "launch":
        result = launch_wave(as_of=args.as_of, simulate_staff=args.simulate_staff)
    elif args.flow == "advance":
        result = advance_wards(as_of=args.as_of, simulate_staff=args.simulate_staff)
    else:
        result = dispatch_notifications(as_of=args.as_of)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
