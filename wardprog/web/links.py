"""Signed links: who, which scope (one ward or the team), until when, revocable per person.

A link is an HMAC-signed token (itsdangerous) carrying the person's email and name, the scope
(``ward:NGH-ASH`` or ``team``), an expiry and the person's key version. Bumping the version in
``webaccess`` revokes every link that person was ever sent. No passwords: the link in a message
is the key, as with the peers ward managers already use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer
from sqlmodel import Session, select

from wardprog import clock
from wardprog.config import Settings
from wardprog.errors import ConfigError, WardprogError
from wardprog.models import WebAccess

TEAM_SCOPE = "team"
_SALT = "wardprog.link.v1"


class LinkError(WardprogError):
    """A link is tampered with, expired or revoked: the page says how to get a new one."""


@dataclass(frozen=True)
class Grant:
    email: str
    name: str
    scope: str
    expires: datetime
    key_version: int

    @property
    def is_team(self) -> bool:
        return self.scope == TEAM_SCOPE

    def may_see(self, ward_code: str) -> bool:
        """The team sees every ward; a ward's manager sees that ward only."""
        return self.is_team or self.scope == ward_scope(ward_code)

    def as_dict(self) -> dict[str, object]:
        return {
            "email": self.email,
            "name": self.name,
            "scope": self.scope,
            "exp": int(self.expires.timestamp()),
            "kv": self.key_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Grant:
        return cls(
            email=str(data["email"]),
            name=str(data["name"]),
            scope=str(data["scope"]),
            expires=datetime.fromtimestamp(int(data["exp"]), UTC),  # type: ignore[call-overload]
            key_version=int(data["kv"]),  # type: ignore[call-overload]
        )


def ward_scope(ward_code: str) -> str:
    return f"ward:{ward_code}"


def _serializer(settings: Settings) -> URLSafeSerializer:
    if settings.web_secret is None or not settings.web_secret.get_secret_value():
        raise ConfigError(
            "WARDPROG_WEB_SECRET is not set: the ward page signs its links with it (a long "
            "random value: `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
    return URLSafeSerializer(settings.web_secret.get_secret_value(), salt=_SALT)


def key_version(session: Session, email: str) -> int:
    row = session.exec(select(WebAccess).where(WebAccess.email == email.lower())).first()
    return row.key_version if row is not None else 1


def revoke_links(session: Session, email: str, now: datetime | None = None) -> int:
    """Invalidate every link ``email`` holds; their next link carries the new version."""
    email = email.strip().lower()
    row = session.exec(select(WebAccess).where(WebAccess.email == email)).first()
    if row is None:
        row = WebAccess(email=email)
    row.key_version += 1
    row.revoked_at = now or clock.now()
    session.add(row)
    session.flush()
    return row.key_version


def sign(settings: Settings, grant: Grant) -> str:
    return str(_serializer(settings).dumps(grant.as_dict()))


def issue(
    session: Session,
    settings: Settings,
    *,
    email: str,
    name: str,
    scope: str,
    now: datetime | None = None,
) -> tuple[str, Grant]:
    """A fresh token for ``email`` and ``scope``, valid for ``web_link_days``."""
    email = email.strip().lower()
    expires = (now or clock.now()) + timedelta(days=settings.web_link_days)
    grant = Grant(email, name, scope, expires.replace(microsecond=0), key_version(session, email))
    return sign(settings, grant), grant


def url_for(settings: Settings, grant: Grant, token: str) -> str:
    base = settings.web_url.rstrip("/")
    path = "/team" if grant.is_team else f"/w/{quote(grant.scope.removeprefix('ward:'))}"
    return f"{base}{path}?t={token}"


def check(session: Session, settings: Settings, token: str, now: datetime | None = None) -> Grant:
    """The grant a token carries, or LinkError saying why it is refused."""
    try:
        data = _serializer(settings).loads(token)
        grant = Grant.from_dict(data)
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkError("this link is not valid (it may have been cut short or altered)") from exc
    return check_grant(session, grant, now)


def check_grant(session: Session, grant: Grant, now: datetime | None = None) -> Grant:
    """Expiry and revocation, checked on the token's first use and on every later request."""
    if (now or clock.now()) >= grant.expires:
        raise LinkError(f"this link expired on {grant.expires:%d %B %Y}")
    if grant.key_version != key_version(session, grant.email):
        raise LinkError("this link has been withdrawn")
    return grant


def ward_page_link(session: Session, settings: Settings, ward_code: str) -> str | None:
    """The link to put in a ward's message, for its manager; None when the site is not set up."""
    from wardprog.models import Ward

    if settings.web_secret is None:
        return None
    ward = session.exec(select(Ward).where(Ward.code == ward_code)).first()
    if ward is None or not ward.manager_email:
        return None
    token, grant = issue(
        session,
        settings,
        email=ward.manager_email,
        name=ward.manager_name,
        scope=ward_scope(ward_code),
    )
    return url_for(settings, grant, token)
