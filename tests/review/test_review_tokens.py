"""API tokens: created by the CLI, stored only as a hash, refused once revoked or expired."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from alerts.audit import CLI_ACTOR
from alerts.tokens import Role
from monitor.cli import app as veille


def _veille(url: str, *args: str) -> Any:
    return CliRunner().invoke(veille, list(args), env={"VEILLE_DATABASE_URL": url})


def test_cli_token_is_shown_once_stored_hashed_and_accepted(
    live: Callable[[str], Any], sqlite_url: str, tmp_path: Path
) -> None:
    app = live(sqlite_url)
    created = _veille(
        sqlite_url, "tokens", "create", "--role", "officer", "--name", "alice", "--expires-in-days", "7"
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("veille_") and "cannot be shown again" in created.stderr

    engine = sa.create_engine(sqlite_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("select * from api_tokens where name = 'alice'")).mappings().all()
    engine.dispose()
    assert len(rows) == 1 and rows[0]["secret_sha256"] == hashlib.sha256(token.encode()).hexdigest()
    secret_part = token.split("_", 2)[2][-20:]  # the secret itself may contain "_"
    database_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("veille.db*"))
    assert secret_part.encode() not in database_bytes  # not in the table, the WAL or anywhere else

    response = app.client(token=token).get("/api/v1/alerts")
    assert response.status_code == 200 and response.json()["count"] == 4

    listing = _veille(sqlite_url, "tokens", "list")
    assert "alice" in listing.stdout and "officer" in listing.stdout and "active" in listing.stdout
    assert token not in listing.stdout

    revoked = _veille(sqlite_url, "tokens", "revoke", "alice")
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    response = app.client(token=token).get("/api/v1/alerts")
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "token 'alice' was revoked; ask an admin for a new one"},
    )
    assert "revoked" in _veille(sqlite_url, "tokens", "list").stdout


def test_expired_unknown_and_malformed_tokens_are_refused_with_401(
    live: Callable[[str], Any], sqlite_url: str
) -> None:
    app = live(sqlite_url)
    past = datetime.now(UTC) - timedelta(minutes=1)
    _, expired = app.store.create_token("old", Role.ADMIN, CLI_ACTOR, expires_at=past)
    response = app.client(token=expired).get("/api/v1/alerts")
    assert response.status_code == 401
    assert response.json()["detail"].startswith("token 'old' expired at ")

    good = app.tokens[Role.ADMIN]
    forged = good[:-1] + ("A" if good[-1] != "A" else "B")  # right id, wrong secret
    for bad in (forged, "veille_0123456789abcdef_" + "x" * 43, "not-a-token"):
        response = app.client(token=bad).get("/api/v1/alerts")
        assert response.status_code == 401, bad
        assert response.json() == {"detail": "the bearer token is not valid (unknown, mistyped or truncated)"}
    assert app.client(token=good).get("/api/v1/alerts").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "boss", "--name", "x"], "'boss' is not one of 'officer', 'comms', 'ops', 'admin'"),
        (["--role", "ops", "--name", "bad name!"], "token name 'bad name!' is not allowed"),
    ],
)
def test_cli_refuses_bad_tokens_with_a_precise_message(
    sqlite_url: str, args: list[str], message: str
) -> None:
    result = _veille(sqlite_url, "tokens", "create", *args)
    assert result.exit_code != 0
    assert message in " ".join(result.output.replace("│", " ").split())


def test_a_name_cannot_be_reused(sqlite_url: str) -> None:
    assert _veille(sqlite_url, "tokens", "create", "--role", "ops", "--name", "grafana").exit_code == 0
    again = _veille(sqlite_url, "tokens", "create", "--role", "ops", "--name", "grafana")
    assert again.exit_code == 1 and "a token named 'grafana'" in again.stderr
