"""The demo's own area: a folder it creates, marks and alone may delete, and its settings.

The demo trust is fiction (60 wards, 1,500 staff, a year of messages). It must never reach a real
deployment, whatever ``WARDPROG_*`` variables or ``.env`` say: its settings come from this folder
alone (database, extracts, inbox, outputs, the local outbox; never an apprise channel), and
``--fresh`` deletes the folder only when the marker the demo wrote is there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from wardprog.config import Settings
from wardprog.demo import DEFAULT_ROOT as DEFAULT_ROOT  # re-exported for its callers
from wardprog.errors import WardprogError

MARKER = ".wardprog-demo"
# Settings a real deployment points elsewhere; the demo names the ones it ignores.
_PATH_VARIABLES = (
    "WARDPROG_DATABASE_URL",
    "WARDPROG_VAR_DIR",
    "WARDPROG_OUTPUT_DIR",
    "WARDPROG_EXTRACTS_DIR",
    "WARDPROG_INBOX_DIR",
    "WARDPROG_NOTIFY_CONFIG",
)


class DemoAreaError(WardprogError):
    """The demo's folder is missing its marker or is somewhere the demo must not write."""


class _SealedSettings(Settings):
    """Settings from defaults and explicit values only: no environment, no ``.env``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


@dataclass(frozen=True)
class DemoArea:
    root: Path

    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def prefect_home(self) -> Path:
        return self.root / "prefect"

    def is_marked(self) -> bool:
        return self.marker.is_file()

    def settings(self) -> Settings:
        """Every path inside the area; notifications to the local outbox only.

        Absolute paths: engines are cached per URL for the process, and a relative SQLite URL
        would follow the working directory.
        """
        root = self.root.resolve()
        return _SealedSettings(
            database_url=f"sqlite:///{root / 'wardprog.db'}",
            var_dir=root,
            output_dir=root / "out",
            extracts_dir=root / "extracts",
            inbox_dir=root / "inbox",
            notify_config=None,
            web_secret=self._web_secret(),
        )

    def _web_secret(self) -> str | None:
        """The demo's own link-signing key, made once with the area (never a deployment's)."""
        path = self.root / "web-secret"
        return path.read_text().strip() if path.is_file() else None

    def create(self) -> None:
        """Make (or reuse) the area; a non-empty folder the demo did not make is refused."""
        if self.root.exists() and not self.root.is_dir():
            raise DemoAreaError(f"{self.root} is a file, not the demo's folder")
        if self.root.is_dir() and any(self.root.iterdir()) and not self.is_marked():
            raise DemoAreaError(
                f"{self.root} already holds files the demo did not create (no {MARKER} marker): "
                "the demo never writes there. Choose another folder with --dir."
            )
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.is_marked():
            self.marker.write_text(
                json.dumps({"created_by": "wardprog demo", "note": "safe to delete"}) + "\n"
            )
        secret = self.root / "web-secret"
        if not secret.exists():
            secret.write_text(secrets.token_urlsafe(48) + "\n")
            secret.chmod(0o600)

    def wipe(self) -> None:
        """``--fresh``: delete the area, only if the demo's marker says the demo made it."""
        if not self.root.exists():
            return
        if not self.is_marked():
            raise DemoAreaError(
                f"refusing to delete {self.root}: it has no {MARKER} marker, so the demo did not "
                "create it"
            )
        shutil.rmtree(self.root)


def ignored_environment(environ: dict[str, str] | None = None) -> list[str]:
    """The WARDPROG_* path variables set in the environment or ``.env`` that the demo ignores."""
    env = dict(os.environ if environ is None else environ)
    names = {k for k in env if k in _PATH_VARIABLES and env[k]}
    dotenv = Path(".env")
    if dotenv.is_file():
        for line in dotenv.read_text(errors="replace").splitlines():
            key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
            if key in _PATH_VARIABLES:
                names.add(key)
    return sorted(names)
