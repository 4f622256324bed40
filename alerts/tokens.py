"""API tokens: who may call the API, with which role.

A token is shown once, at creation, as ``veille_<id>_<secret>``; only the SHA-256 of the whole token
is stored, so a copy of the database authenticates nobody. The secret is 256 random bits: a plain
hash (no salt, no slow KDF) is enough against guessing and lets a request be checked with one
indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

TOKEN_PREFIX = "veille_"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
_TOKEN = re.compile(r"veille_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")


class Role(StrEnum):
    """Who may do what over the API; review levels (first, second) are decided in :mod:`alerts.levels`."""

    OFFICER = "officer"  # compliance officer: reads and works every alert (second level)
    REVIEWER = "reviewer"  # first-level reviewer: works the queue, escalates what needs a principal
    PRINCIPAL = "principal"  # second level: approves, handles escalations and QA, signs reports
    COMMS = "comms"  # communications: e-reputation and brand alerts, pseudonymised, no PII
    OPS = "ops"  # operations: health and counts, never content
    ADMIN = "admin"  # everything, including the audit log


class TokenError(ValueError):
    """A token request refused (bad name, name taken, unknown token)."""


class ApiToken(BaseModel):
    """A stored token, without its secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None

    def usable(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def expiry(days: int, now: datetime | None = None) -> datetime | None:
    """When a token created ``now`` for ``days`` days expires; 0 days: never, which a service account
    must ask for explicitly (the audit entry of its creation says so)."""
    if days < 0:
        raise TokenError(f"a token lasts 0 (never expires) or more days, not {days}")
    if days == 0:
        return None
    return (now or datetime.now(UTC)) + timedelta(days=days)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise TokenError(
            f"token name {name!r} is not allowed: 1 to 100 characters, letters, digits and . _ @ -, "
            "starting with a letter or digit"
        )
    return name


def new_token() -> tuple[str, str]:
    """``(id, token)``: the id is public (listings, revocation), the token is the credential."""
    token_id = secrets.token_hex(8)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def token_from_secret(secret: str) -> tuple[str, str]:
    """``(id, token)`` for a token chosen by configuration (the bootstrap admin token)."""
    match = _TOKEN.fullmatch(secret)
    if match is None:
        raise TokenError(
            "a configured token must look like veille_<16 hex digits>_<43 url-safe characters>; "
            'generate one with: python -c "from alerts.tokens import new_token; print(new_token()[1])"'
        )
    return match.group(1), secret


def parse(token: str) -> str | None:
    """The id of a well-formed token, None for anything else (checked before any database work)."""
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
