"""Routing: which apprise destinations a notification goes to, matched on exact tags.

The trust describes its destinations in an apprise YAML file (``WARDPROG_NOTIFY_CONFIG``)::

    version: 1
    urls:
      # The trust's SMTP relay. No fixed "to": each message goes to the addresses it names
      # (a ward's mail to that ward's manager). "direct" = "whoever the message is addressed to".
      - mailtos://wardprog:${WARDPROG_SMTP_PASSWORD}@smtp.trust.nhs.uk?from=wardprog@trust.nhs.uk:
          - tag: direct
      # The improvement team's shared inbox gets the team-wide messages (digest, wave launch).
      - mailtos://wardprog:${WARDPROG_SMTP_PASSWORD}@smtp.trust.nhs.uk?to=qi.team@trust.nhs.uk:
          - tag: improvement-team
      # Ward 7's Teams/Slack channel, via a webhook whose token lives in a Prefect Secret block.
      - json://hooks.trust.nhs.uk/ward7/${prefect:ward7-webhook-token}:
          - tag: W-A07

Rules, chosen so a ward manager only ever receives their own ward's messages:

* A destination receives a message when one of its tags *equals* one of the message's tags
  (case-insensitive, whole tag): ``W-A01`` never matches ``W-A011``. apprise's special tags
  ``all`` and ``always`` (which would send every ward's mail to one place) are refused, and a
  destination with no tags receives nothing.
* Messages with recipients also carry the pseudo-tag ``direct``. An e-mail destination without
  a fixed ``to`` sends one mail per recipient (``to`` = that recipient), so the relay needs no
  per-ward entries; a ``direct`` destination must be such an e-mail destination, because a
  fixed address tagged ``direct`` would receive everybody's mail.
* Secrets never sit in the file: ``${NAME}`` is replaced by environment variable ``NAME`` and
  ``${prefect:block}`` by the Prefect Secret block ``block``, URL-encoded. Their values are
  scrubbed from every error we log or store, and destinations are shown redacted
  (``mailtos://smtp.trust.nhs.uk/…``).

With no config file, everything goes to ``outbox://<output_dir>/outbox`` so the demo needs no
mail server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import apprise
from apprise.plugins.base import NotifyBase
from apprise.plugins.email import NotifyEmail

import wardprog.notify.outbox_plugin  # noqa: F401  (registers outbox://)
from wardprog.config import IMPROVEMENT_TEAM_TAG, Settings
from wardprog.errors import ConfigError

DIRECT_TAG = "direct"
# apprise gives these meaning ("every destination"); in a ward programme that is a data leak.
RESERVED_TAGS = frozenset({"all", "always"})

_PLACEHOLDER = re.compile(r"\$\{(?:(?P<kind>prefect):)?(?P<name>[A-Za-z0-9_.\-]+)\}")
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: enough to recognise a destination, nothing to misuse.

    apprise's own privacy mode masks passwords but keeps paths and query strings, where webhook
    tokens live, so we keep only the scheme and host. The outbox keeps its folder (no secret).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable url>"
    scheme = parts.scheme or "?"
    if scheme == "outbox":
        return url.split("?", 1)[0]
    netloc = f"{host}:{port}" if port else host
    rest = "/…" if (parts.path.strip("/") or parts.query) else ""
    return f"{scheme}://{netloc}{rest}"


@dataclass(frozen=True)
class Route:
    """One configured destination (an apprise plugin instance) and the tags that select it."""

    server: NotifyBase = field(repr=False, compare=False)
    tags: frozenset[str]
    label: str
    # The no-config default: the outbox takes everything.
    catch_all: bool = False

    @property
    def addresses_recipients(self) -> bool:
        """An e-mail destination without a fixed ``to`` mails the message's own recipients."""
        if not isinstance(self.server, NotifyEmail):
            return False
        targets = [addr for _, addr in self.server.targets]
        # apprise defaults "to" to the sender when none is given.
        return targets == [self.server.from_addr[1]]


@dataclass(frozen=True)
class Target:
    """One delivery: a route, and for recipient-addressed e-mail the one recipient."""

    route: Route
    recipient: str | None = None

    @property
    def label(self) -> str:
        """Stable and secret-free: identifies the delivery in ``Notification.deliveries``."""
        return f"{self.route.label} to {self.recipient}" if self.recipient else self.route.label

    def instantiate(self, idempotency_key: str) -> NotifyBase:
        """A fresh plugin for this one delivery, stamped with the message's idempotency key.

        The key travels as a header (``X-Wardprog-Key`` on mail, ``Idempotency-Key`` on
        webhooks) so a receiver can discard the rare duplicate from a crash between sending and
        recording (see ``dispatch``).
        """
        server = self.route.server
        if not isinstance(server, NotifyEmail) and not hasattr(server, "headers"):
            return server
        header = "X-Wardprog-Key" if isinstance(server, NotifyEmail) else "Idempotency-Key"
        results = server.parse_url(server.url(privacy=False))
        if not results:  # pragma: no cover - apprise URLs round-trip
            raise ConfigError(f"cannot rebuild destination {self.route.label}")
        results["headers"] = {**dict(getattr(server, "headers", {}) or {}), header: idempotency_key}
        if self.recipient is not None:
            results["targets"] = [self.recipient]
        plugin = apprise.Apprise.instantiate(results, asset=server.asset)
        if plugin is None:
            raise ValueError(f"{self.label}: apprise rejected the destination")
        addresses = [a for _, a in getattr(plugin, "targets", [])]
        if self.recipient is not None and addresses != [self.recipient]:
            # apprise drops an invalid "to" and falls back to the sender's own address; a
            # ward's mail must fail visibly instead (fix the address in the ward register).
            raise ValueError(f"{self.recipient!r} is not a valid e-mail address")
        return plugin


@dataclass
class Router:
    routes: list[Route]
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
    source: str = "<default>"

    def targets_for(self, tags: Iterable[str], recipients: Sequence[str] = ()) -> list[Target]:
        """Every delivery a message with ``tags`` and ``recipients`` should get, in order."""
        wanted = {t.strip().lower() for t in tags if t and t.strip()}
        people = list(dict.fromkeys(r.strip() for r in recipients if r and r.strip()))
        if people:
            wanted.add(DIRECT_TAG)
        out: list[Target] = []
        seen: set[str] = set()
        for route in self.routes:
            if not (route.catch_all or route.tags & wanted):
                continue
            if route.addresses_recipients and people:
                candidates = [Target(route, person) for person in people]
            else:
                candidates = [Target(route)]
            for target in candidates:
                if target.label not in seen:
                    seen.add(target.label)
                    out.append(target)
        return out

    def scrub(self, text: str) -> str:
        """Remove secrets and URL paths from text bound for a log or the database."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def default_router(settings: Settings) -> Router:
    folder = settings.outbox_dir.resolve()
    server = apprise.Apprise.instantiate(f"outbox://{quote(str(folder), safe='/')}")
    if server is None:  # pragma: no cover - our own schema
        raise ConfigError("the outbox:// schema is not registered with apprise")
    return Router(
        routes=[Route(server=server, tags=frozenset(), label=f"outbox://{folder}", catch_all=True)]
    )


def load_router(settings: Settings, environ: Mapping[str, str] | None = None) -> Router:
    """The router for ``settings``: the YAML config if set, else the local outbox."""
    if settings.notify_config is None:
        return default_router(settings)
    path = Path(settings.notify_config)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"notification config {path} cannot be read ({exc.strerror}); fix "
            "WARDPROG_NOTIFY_CONFIG or unset it to use the local outbox"
        ) from exc
    return parse_config(text, source=str(path), environ=environ)


def parse_config(
    text: str, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> Router:
    """Build a :class:`Router` from apprise YAML text, resolving ``${...}`` secrets."""
    env = os.environ if environ is None else environ
    secrets: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        name = match.group("name")
        if match.group("kind") == "prefect":
            value = _prefect_secret(name, source)
        else:
            if name not in env:
                raise ConfigError(
                    f"{source}: ${{{name}}} is used but environment variable {name} is not set"
                )
            value = env[name]
        if value:
            secrets.update({value, quote(value, safe="")})
        return quote(value, safe="")

    resolved = _PLACEHOLDER.sub(substitute, text)
    config = apprise.AppriseConfig()
    if not config.add_config(resolved, format="yaml"):
        raise ConfigError(f"{source}: not a valid apprise YAML configuration")
    servers = config.servers()
    if not servers:
        raise ConfigError(
            f"{source}: no usable destinations (check each URL's schema and spelling)"
        )
    routes: list[Route] = []
    labels: dict[str, int] = {}
    for number, server in enumerate(servers, start=1):
        tags = frozenset(str(t).lower() for t in server.tags)
        raw_label = redact_url(server.url(privacy=True))
        reserved = tags & RESERVED_TAGS
        if reserved:
            raise ConfigError(
                f"{source}: destination {number} ({raw_label}) is tagged "
                f"{', '.join(sorted(reserved))}, which would send every ward's messages to it; "
                f"tag it '{IMPROVEMENT_TEAM_TAG}', a site code or a ward code instead"
            )
        # Two destinations can look alike once redacted; number the repeats so each keeps its
        # own delivery record.
        labels[raw_label] = labels.get(raw_label, 0) + 1
        label = raw_label if labels[raw_label] == 1 else f"{raw_label}#{labels[raw_label]}"
        route = Route(server=server, tags=tags, label=label)
        if DIRECT_TAG in tags and not route.addresses_recipients:
            raise ConfigError(
                f"{source}: destination {number} ({label}) is tagged '{DIRECT_TAG}' but is not "
                "an e-mail URL without a fixed 'to'; it would receive every addressed message. "
                "Remove the 'to' or the tag"
            )
        routes.append(route)
    return Router(routes=routes, secrets=frozenset(secrets), source=source)


def _prefect_secret(name: str, source: str) -> str:
    # Imported lazily: only trusts that keep secrets in Prefect blocks pay for it.
    try:
        from prefect.blocks.system import Secret

        block: Any = Secret.load(name)
        value: Any = block.get()
    except Exception as exc:  # Prefect raises ValueError/ObjectNotFound/HTTP errors
        raise ConfigError(
            f"{source}: Prefect Secret block {name!r} could not be loaded "
            f"({type(exc).__name__}); create it with `prefect block create secret` or check "
            "PREFECT_API_URL"
        ) from exc
    return str(value)
