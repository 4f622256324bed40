"""Pseudonymised authors in FR/EU and their audited reveal, over live HTTP on a real store.

The alerts come out of the real pipeline and the shipped packs: FR says ``pseudonymise_authors``, US
does not. An officer sees a stable pseudonym for the FR author, never the id, until a justified reveal
that the audit log records (without the id); with VEILLE_AUTHOR_REVEAL_APPROVAL a second person must
approve first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from alerts.audit import CLI_ACTOR
from alerts.model import Alert
from alerts.tokens import Role
from monitor.pipeline import Pipeline, build_pipeline
from monitor.settings import Settings
from policies.post import Author, Post, Source

AUTHOR = "u-claire.durand"
LEAK = "quick fix: export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE and rerun the job"


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return build_pipeline(Settings(_env_file=None, pseudonym_key="test-key"))


@pytest.fixture(scope="module")
def alerts(pipeline: Pipeline) -> dict[str, Alert]:
    posts = [Post(id=f"p-{j}", source=Source.INTERNAL, channel="teams", text=LEAK, jurisdiction=j,
                  author=Author(id=AUTHOR, is_employee=True, role="employee")) for j in ("FR", "US")]
    found = {r.jurisdiction: r.alerts[0] for r in pipeline.process(posts)}
    assert found["FR"].author_pseudonymised and not found["US"].author_pseudonymised
    return found


def _audit(app: Any, alert_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    body = app.client(Role.ADMIN).get("/api/v1/audit", params={"target": f"alert:{alert_id}"}).json()
    return [(e["actor"], e["action"], e["after"]) for e in body["data"] if "reveal_author" in e["action"]]


def test_officer_sees_a_stable_pseudonym_in_fr_and_reveals_with_a_justification(
    live: Callable[..., Any], database_url: str, alerts: dict[str, Alert]
) -> None:
    app = live(database_url, alerts=list(alerts.values()))
    officer = app.client(Role.OFFICER)
    fr, us = alerts["FR"].id, alerts["US"].id

    listed = officer.get("/api/v1/alerts").json()["data"]
    shown = {a["jurisdiction"]: a["author_id"] for a in listed}
    assert shown["US"] == AUTHOR
    assert shown["FR"].startswith("anon-") and shown["FR"] != AUTHOR
    detail = officer.get(f"/api/v1/alerts/{fr}")
    assert AUTHOR not in detail.text and detail.json()["author_id"] == shown["FR"]
    # Stable: the same pseudonym on every request (an HMAC under VEILLE_PSEUDONYM_KEY).
    assert officer.get(f"/api/v1/alerts/{fr}").json()["author_id"] == shown["FR"]

    path = f"/api/v1/alerts/{fr}/reveal-author"
    assert officer.post(path, json={}).status_code == 422
    short = officer.post(path, json={"justification": "because"})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    for role in (Role.COMMS, Role.OPS):
        refused = app.client(role).post(path, json={"justification": "curious about who it is"})
        assert refused.status_code == 403
    not_pseudonymised = officer.post(f"/api/v1/alerts/{us}/reveal-author",
                                     json={"justification": "HR interview 2026-31 needs the name"})
    assert not_pseudonymised.status_code == 422
    assert officer.post("/api/v1/alerts/nope/reveal-author",
                        json={"justification": "HR interview 2026-31 needs the name"}).status_code == 404

    revealed = officer.post(path, json={"justification": "HR interview 2026-31 needs the name"})
    assert revealed.status_code == 200
    assert revealed.json() == {"status": "revealed", "author_id": AUTHOR, "request": None}
    entries = _audit(app, fr)
    why = {"justification": "HR interview 2026-31 needs the name"}
    assert entries == [("officer-1", "alert.reveal_author", why)]
    full_audit = app.client(Role.ADMIN).get("/api/v1/audit").json()
    assert AUTHOR not in json.dumps(full_audit)


def test_second_person_approval_when_the_setting_requires_it(
    live: Callable[..., Any], sqlite_url: str, alerts: dict[str, Alert]
) -> None:
    settings = Settings(_env_file=None, pseudonym_key="test-key", author_reveal_approval=True)
    app = live(sqlite_url, settings=settings, alerts=list(alerts.values()))
    second = app.store.create_token("officer-2", Role.OFFICER, CLI_ACTOR)[1]
    first, other = app.client(Role.OFFICER), app.client(token=second)
    fr = alerts["FR"].id
    path = f"/api/v1/alerts/{fr}/reveal-author"
    why = {"justification": "HR interview 2026-31 needs the name"}

    pending = first.post(path, json=why)
    assert pending.status_code == 200 and pending.json()["status"] == "pending"
    assert AUTHOR not in pending.text
    request = pending.json()["request"]
    early = first.post(path, json={**why, "request": request})
    assert early.status_code == 422 and "awaits a second person's approval" in early.text
    own = first.post(f"{path}/{request}/approve")
    assert own.status_code == 422 and "cannot approve their own request" in own.text
    assert app.client(Role.COMMS).post(f"{path}/{request}/approve").status_code == 403
    assert other.post(f"{path}/{request + 100}/approve").status_code == 422

    assert other.post(f"{path}/{request}/approve").status_code == 204
    again = other.post(f"{path}/{request}/approve")
    assert again.status_code == 422 and "already approved by officer-2" in again.text
    stolen = other.post(path, json={**why, "request": request})
    assert stolen.status_code == 422, "only the requester uses an approved request"

    revealed = first.post(path, json={**why, "request": request})
    assert revealed.json() == {"status": "revealed", "author_id": AUTHOR, "request": None}
    assert [(actor, action) for actor, action, _ in _audit(app, fr)] == [
        ("officer-1", "alert.reveal_author_requested"),
        ("officer-2", "alert.reveal_author_approved"),
        ("officer-1", "alert.reveal_author"),
    ]
    assert _audit(app, fr)[-1][2] == {**why, "request": request, "approved_by": "officer-2"}


def test_officer_reveals_the_author_from_the_console(
    page: Any, live: Callable[..., Any], sqlite_url: str, alerts: dict[str, Alert]
) -> None:
    from playwright.sync_api import expect

    app = live(sqlite_url, alerts=list(alerts.values()))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app.url + "/")
    page.fill("#token", app.tokens[Role.OFFICER])
    page.click("#token-form button")
    page.locator(f'#alerts tbody tr[data-id="{alerts["FR"].id}"]').click()
    expect(page.locator("#review")).to_be_visible()
    expect(page.locator("#reveal-author-form")).to_be_visible()
    expect(page.locator("#detail")).not_to_contain_text(AUTHOR)
    page.fill("#reveal-author-justification", "HR interview 2026-31 needs the name")
    page.click("#reveal-author-form button")
    expect(page.locator("#revealed-author")).to_have_text(f"Author: {AUTHOR}")
    expect(page.locator("#audit li[data-action='alert.reveal_author']")).to_be_visible()

    page.locator(f'#alerts tbody tr[data-id="{alerts["US"].id}"]').click()
    expect(page.locator("#reveal-author-form")).to_be_hidden()
    expect(page.locator("#revealed-author")).to_have_text("")
    assert errors == []
