"""API tokens' rows (format and hashing in :mod:`alerts.tokens`); creating and revoking are audited."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alerts.audit import Actor
from alerts.sql import audit
from alerts.sql.schema import tokens_table
from alerts.tokens import ApiToken, Role, TokenError, digest, same_digest

# Everything but the secret's hash, which never leaves this module.
_FIELDS = tuple(
    tokens_table.c[name] for name in ("id", "name", "role", "created_at", "expires_at", "revoked_at")
)


def create(
    connection: Connection,
    token_id: str,
    token: str,
    name: str,
    role: Role,
    by: Actor,
    expires_at: datetime | None,
) -> ApiToken:
    now = datetime.now(UTC)
    record = ApiToken(id=token_id, name=name, role=role, created_at=now, expires_at=expires_at)
    taken = connection.execute(
        sa.select(tokens_table.c.id).where(sa.or_(tokens_table.c.name == name, tokens_table.c.id == token_id))
    ).first()
    if taken is not None:
        raise TokenError(f"a token named {name!r} (or with id {token_id}) exists; pick another name")
    connection.execute(
        sa.insert(tokens_table).values(
            id=token_id, name=name, role=role.value, secret_sha256=digest(token),
            created_at=now, expires_at=expires_at,
        )
    )
    audit.append(
        connection, by, "token.create", f"token:{token_id}", None,
        {
            "name": name, "role": role.value, "expires_at": audit.iso(expires_at),
            # Tokens expire by default: one that never does was asked for, and the log says so.
            "never_expires": expires_at is None,
        },
        now,
    )
    return record


def list_all(connection: Connection) -> list[ApiToken]:
    statement = sa.select(*_FIELDS).order_by(tokens_table.c.created_at)
    return [ApiToken.model_validate(row._asdict()) for row in connection.execute(statement)]


def revoke(connection: Connection, name_or_id: str, by: Actor) -> ApiToken:
    t = tokens_table.c
    now = datetime.now(UTC)
    row = connection.execute(
        sa.select(*_FIELDS).where(sa.or_(t.name == name_or_id, t.id == name_or_id))
    ).first()
    if row is None:
        raise TokenError(f"no token named {name_or_id!r} (or with that id); see `veille tokens list`")
    record = ApiToken.model_validate(row._asdict())
    if record.revoked_at is not None:
        return record
    connection.execute(sa.update(tokens_table).where(t.id == record.id).values(revoked_at=now))
    audit.append(
        connection, by, "token.revoke", f"token:{record.id}", {"revoked_at": None},
        {"revoked_at": now.isoformat()}, now,
    )
    return record.model_copy(update={"revoked_at": now})


def authenticate(connection: Connection, token_id: str, token: str) -> ApiToken | None:
    """The stored token ``token_id`` if ``token`` is its secret (even if revoked or expired)."""
    t = tokens_table.c
    row = connection.execute(sa.select(*_FIELDS, t.secret_sha256).where(t.id == token_id)).first()
    if row is None or not same_digest(row.secret_sha256, digest(token)):
        return None
    fields = row._asdict()
    del fields["secret_sha256"]
    return ApiToken.model_validate(fields)
