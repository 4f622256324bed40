"""Reveal with justification, tokens over HTTP, grouped occurrences and the event stream: live HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.audit import CLI_ACTOR
from alerts.model import Alert
from alerts.tokens import Role

RAW_EMAIL = "claire.durand@example.org"  # the seeded personal-data span (conftest.SEED)


def test_officer_reveals_a_span_only_with_a_justification_and_it_is_audited(
    live: Callable[[str], Any], database_url: str, seed: list[Alert]
) -> None:
    app = live(database_url)
    officer = app.client(Role.OFFICER)
    alert = seed[2].id
    path = f"/api/v1/alerts/{alert}/reveal"

    assert RAW_EMAIL not in officer.get(f"/api/v1/alerts/{alert}").text
    missing = officer.post(path, json={})
    assert missing.status_code == 422 and "justification" in missing.text
    short = officer.post(path, json={"justification": "because"})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    out_of_range = officer.post(path, json={"justification": "DPO request 114", "index": 7})
    assert out_of_range.status_code == 422
    assert out_of_range.json()["detail"] == f"index 7 is out of range: alert '{alert}' has 2 evidence items"

    revealed = officer.post(path, json={"justification": "DPO request 114: confirm the leak"})
    assert revealed.status_code == 200
    assert revealed.json() == [{"index": 1, "detector": "pii", "type": "EMAIL_ADDRESS", "text": RAW_EMAIL}]
    assert officer.post(path, json={"justification": "DPO request 114", "index": 0}).json() == []

    for role in (Role.COMMS, Role.OPS):
        refused = app.client(role).post(path, json={"justification": "curious about it"})
        assert refused.status_code == 403

    audit = app.client(Role.ADMIN).get("/api/v1/audit", params={"target": f"alert:{alert}"}).json()
    reveals = [(e["actor"], e["after"]) for e in audit["data"] if e["action"] == "alert.reveal"]
    assert reveals == [
        ("officer-1", {"justification": "DPO request 114: confirm the leak", "evidence": [1]}),
        ("officer-1", {"justification": "DPO request 114", "evidence": []}),
    ]
    assert RAW_EMAIL not in json.dumps(audit)


def test_admin_manages_tokens_over_http(live: Callable[[str], Any], sqlite_url: str) -> None:
    app = live(sqlite_url)
    admin = app.client(Role.ADMIN)
    created = admin.post("/api/v1/tokens", json={"name": "dash", "role": "comms", "expires_in_days": 1})
    assert created.status_code == 201
    token, record = created.json()["token"], created.json()["record"]
    assert record["role"] == "comms" and "secret" not in json.dumps(admin.get("/api/v1/tokens").json())
    comms = app.client(token=token)
    assert comms.get("/api/v1/alerts").status_code == 200
    taken = admin.post("/api/v1/tokens", json={"name": "dash", "role": "ops"})
    assert taken.status_code == 409 and "a token named 'dash'" in taken.json()["detail"]
    assert admin.delete(f"/api/v1/tokens/{record['id']}").json()["revoked_at"] is not None
    refused = comms.get("/api/v1/alerts")
    assert refused.status_code == 401 and refused.json()["detail"] == (
        "token 'dash' was revoked; ask an admin for a new one"
    )
    assert admin.delete("/api/v1/tokens/nope").status_code == 404
    assert app.client(Role.OFFICER).get("/api/v1/tokens").status_code == 403


def test_grouped_occurrences_are_listed(
    live: Callable[[str], Any], sqlite_url: str, seed: list[Alert]
) -> None:
    app = live(sqlite_url)
    body = app.client(Role.OFFICER).get(f"/api/v1/alerts/{seed[0].id}/occurrences").json()
    assert [(o["id"], o["post_id"]) for o in body] == [(seed[0].id, seed[0].post_id)]
    assert app.client(Role.OFFICER).get("/api/v1/alerts/nope/occurrences").status_code == 404


def _read_events(client: Any, path: str, wanted: int, out: list[tuple[str, dict[str, Any]]],
                 ready: threading.Event) -> None:  # fmt: skip
    with client.stream("GET", path, timeout=20) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in response.iter_lines():
            ready.set()
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                out.append((event, json.loads(line[len("data: ") :])))
                if len(out) >= wanted:
                    return


def test_stream_sends_new_and_changed_alerts_filtered_by_role(
    live: Callable[[str], Any], database_url: str, alert_factory: Callable[..., Alert]
) -> None:
    app = live(database_url)
    officer_events: list[tuple[str, dict[str, Any]]] = []
    comms_events: list[tuple[str, dict[str, Any]]] = []
    readers = []
    for role, out, wanted in ((Role.OFFICER, officer_events, 3), (Role.COMMS, comms_events, 1)):
        ready = threading.Event()
        thread = threading.Thread(
            target=_read_events, args=(app.client(role), "/api/v1/alerts/stream", wanted, out, ready)
        )
        thread.start()
        assert ready.wait(10), "the stream did not start"
        readers.append(thread)

    now = datetime.now(UTC)
    pii = alert_factory(10, "fr.pii.email", personal=True).model_copy(update={"created_at": now})
    brand = alert_factory(11, "global.brand.negative_spike", personal=True, comms_visible=True).model_copy(
        update={"created_at": now + timedelta(milliseconds=1)}
    )
    app.store.add_many([pii, brand])
    deadline = time.monotonic() + 10
    while len(officer_events) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # the change must come after the stream sent the new alert
    app.store.assign(pii.id, "c.dupont", CLI_ACTOR)
    for thread in readers:
        thread.join(timeout=20)
        assert not thread.is_alive(), "expected events did not arrive"

    # Stored in one transaction, the two share one change time: their order is their ids'.
    assert [(kind, e["id"]) for kind, e in officer_events] == [
        *(("new", alert) for alert in sorted([pii.id, brand.id])), ("changed", pii.id)
    ]
    assert officer_events[2][1]["assignee"] == "c.dupont"
    # Comms sees only the brand alert, pseudonymised, without the personal-data evidence.
    [(kind, event)] = comms_events
    assert kind == "new" and event["id"] == brand.id and event["author_id"].startswith("anon-")
    assert RAW_EMAIL not in json.dumps(comms_events) and "EMAIL" not in json.dumps(event["evidence"])
