"""The demo trust: simulated ward staff and data for replaying the programme end to end."""

from pathlib import Path

# Here rather than in `area` so the CLI can show it as a default without importing settings.
DEFAULT_ROOT = Path("var/demo")
