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
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from api.app import create_app
from monitor.cli import app as veille
from monitor.settings import Settings


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
        (["--role", "boss", "--name", "x"],
         "'boss' is not one of 'officer', 'reviewer', 'principal', 'comms', 'ops', 'admin'"),
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


def _expires_in(record: Any, days: float) -> bool:
    """``record`` (an ApiToken or its JSON) expires ``days`` from now, give or take a minute."""
    expires_at = record["expires_at"] if isinstance(record, dict) else record.expires_at
    if isinstance(expires_at, str):
        expires_at = datetime.fromisoformat(expires_at)
    return abs(expires_at - (datetime.now(UTC) + timedelta(days=days))) < timedelta(minutes=1)


def test_cli_tokens_expire_by_default_and_never_only_when_asked(
    live: Callable[[str], Any], sqlite_url: str
) -> None:
    app = live(sqlite_url)
    assert _veille(sqlite_url, "tokens", "create", "--role", "ops", "--name", "dash").exit_code == 0
    result = CliRunner().invoke(
        veille, ["tokens", "create", "--role", "ops", "--name", "weekly"],
        env={"VEILLE_DATABASE_URL": sqlite_url, "VEILLE_TOKEN_EXPIRY_DAYS": "7"},
    )
    assert result.exit_code == 0, result.output
    service = _veille(sqlite_url, "tokens", "create", "--role", "officer", "--name", "siem", "--no-expiry")
    assert service.exit_code == 0 and "without expiry" in service.stderr
    both = _veille(
        sqlite_url, "tokens", "create", "--role", "ops", "--name", "x", "--no-expiry",
        "--expires-in-days", "3",
    )
    assert both.exit_code == 2
    assert "--no-expiry and --expires-in-days exclude each other" in both.stderr

    tokens = {t.name: t for t in app.store.list_tokens()}
    assert _expires_in(tokens["dash"], 90) and _expires_in(tokens["weekly"], 7)
    assert tokens["siem"].expires_at is None and "x" not in tokens
    created = {
        e.after["name"]: e.after for e in app.store.audit_entries(limit=None) if e.action == "token.create"
    }
    assert created["siem"]["never_expires"] is True and created["dash"]["never_expires"] is False


def test_api_tokens_expire_by_default_and_never_only_when_asked(
    live: Callable[[str], Any], sqlite_url: str
) -> None:
    app = live(sqlite_url)
    admin = app.client(Role.ADMIN)
    default = admin.post("/api/v1/tokens", json={"name": "dash", "role": "comms"})
    assert default.status_code == 201 and _expires_in(default.json()["record"], 90)
    short = admin.post("/api/v1/tokens", json={"name": "short", "role": "comms", "expires_in_days": 5})
    assert _expires_in(short.json()["record"], 5)
    service = admin.post("/api/v1/tokens", json={"name": "siem", "role": "officer", "expires_in_days": 0})
    assert service.status_code == 201 and service.json()["record"]["expires_at"] is None
    negative = admin.post("/api/v1/tokens", json={"name": "neg", "role": "ops", "expires_in_days": -1})
    assert negative.status_code == 422
    audit = admin.get("/api/v1/audit").json()["data"]
    never = {e["after"]["name"]: e["after"]["never_expires"] for e in audit if e["action"] == "token.create"}
    assert never["siem"] is True and never["dash"] is False and never["short"] is False


def test_the_bootstrap_admin_token_expires(sqlite_url: str, live_server: Callable[[Any], Any]) -> None:
    token = "veille_0000000000000d00_" + "D" * 43
    store = SqlAlertStore.open(sqlite_url)
    try:
        with live_server(create_app(Settings(_env_file=None, bootstrap_admin_token=token), store)):
            [bootstrap] = store.list_tokens()
        assert bootstrap.role == Role.ADMIN and _expires_in(bootstrap, 1)
    finally:
        store.close()


def test_review_level_roles_are_created_by_the_cli_and_the_api(
    live: Callable[[str], Any], sqlite_url: str
) -> None:
    app = live(sqlite_url)
    created = _veille(sqlite_url, "tokens", "create", "--role", "principal", "--name", "p.martin")
    assert created.exit_code == 0, created.output
    me = app.client(token=created.stdout.strip()).get("/api/v1/me").json()
    assert me == {"name": "p.martin", "role": "principal"}
    listing = _veille(sqlite_url, "tokens", "list").stdout
    assert any(line.split()[1:3] == ["p.martin", "principal"] for line in listing.splitlines())

    response = app.client(Role.ADMIN).post("/api/v1/tokens", json={"name": "r.durand", "role": "reviewer"})
    assert response.status_code == 201, response.text
    reviewer = app.client(token=response.json()["token"])
    assert reviewer.get("/api/v1/me").json() == {"name": "r.durand", "role": "reviewer"}
    assert reviewer.get("/api/v1/alerts").json()["count"] == 4
    refused = app.client(Role.ADMIN).post("/api/v1/tokens", json={"name": "x", "role": "supervisor"})
    assert refused.status_code == 422 and "'reviewer', 'principal'" in refused.text
