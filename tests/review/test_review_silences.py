"""Silences over real HTTP: validated, listed, audited, expiring by themselves or on request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from alerts.model import Alert
from alerts.silences import Matchers, Silence
from alerts.tokens import Role


def test_silence_lifecycle(live: Callable[[str], Any], database_url: str, seed: list[Alert]) -> None:
    app = live(database_url)
    officer = app.client(Role.OFFICER)
    expires = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    body = {"matchers": {"rule_id": "fr.pii.email"}, "reason": "HR migration", "expires_at": expires}
    created = officer.post("/api/v1/silences", json=body)
    assert created.status_code == 201, created.text
    silence = Silence.model_validate(created.json())
    assert silence.author == "officer-1" and silence.active()
    assert [silence.matches(a) for a in seed] == [False, False, True, False]

    listed = officer.get("/api/v1/silences").json()
    assert [s["id"] for s in listed] == [silence.id]
    ended = officer.delete(f"/api/v1/silences/{silence.id}")
    assert ended.status_code == 200 and not Silence.model_validate(ended.json()).active()
    assert officer.get("/api/v1/silences").json() == []
    assert [s["id"] for s in officer.get("/api/v1/silences", params={"include_expired": True}).json()] == [
        silence.id
    ]
    assert officer.delete("/api/v1/silences/0123456789abcdef").json() == {
        "detail": "silence '0123456789abcdef' not found"
    }

    audit = app.client(Role.ADMIN).get("/api/v1/audit", params={"target": f"silence:{silence.id}"}).json()
    assert [(e["action"], e["actor"]) for e in audit["data"]] == [
        ("silence.create", "officer-1"),
        ("silence.expire", "officer-1"),
    ]
    assert app.store.verify_audit().seq == len(Role) + 2  # one token per role, then the silence
    assert app.client(Role.COMMS).get("/api/v1/silences").status_code == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"matchers": {}, "reason": "r"}, "a silence needs at least one matcher: rule_id, jurisdiction"),
        ({"matchers": {"rule_id": "x"}, "reason": "r", "expires_in": 3}, "Extra inputs are not permitted"),
        ({"matchers": {"rule_id": "x"}, "reason": ""}, "String should have at least 1 character"),
    ],
)
def test_bad_silences_are_refused_with_the_field(
    live: Callable[[str], Any], sqlite_url: str, body: dict[str, Any], message: str
) -> None:
    body = {"expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(), **body}
    response = live(sqlite_url).client(Role.ADMIN).post("/api/v1/silences", json=body)
    assert response.status_code == 422
    assert message in str(response.json()["detail"])


def test_expiry_must_be_future_and_bounded() -> None:
    from alerts.silences import SilenceRequest

    for delta, message in [(timedelta(minutes=-1), "in the future"), (timedelta(days=91), "within 90 days")]:
        with pytest.raises(ValidationError, match=message):
            SilenceRequest(matchers=Matchers(channel="x"), reason="r", expires_at=datetime.now(UTC) + delta)
