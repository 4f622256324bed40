"""Who may call what: every route × every role (and no token), over real HTTP.

The matrix is built from ``app.routes``: a route added without a declared role guard makes
``route_table`` raise, and this test fails.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from alerts.model import Alert
from alerts.tokens import Role
from api.auth import PUBLIC, route_table

# Routes that must stay open, and why (see api/auth.py); any other open route fails the test.
EXPECTED_OPEN = {"/healthz", "/readyz", "/metrics", "/", "/static", "/openapi.json", "/docs",
                 "/docs/oauth2-redirect", "/redoc"}  # fmt: skip


def _concrete(path: str, alert_id: str) -> str:
    path = path.replace("{alert_id}", alert_id).replace("{silence_id}", "0123456789abcdef")
    path = path.replace("{brand}", "ExampleCo").replace("{token_id}", "0123456789abcdef")
    path = path.replace("{case_id}", "0123456789ab")
    path = path.replace("{request_id}", "1")
    assert not re.search(r"\{.*\}", path), f"no example value for a parameter of {path}: add one here"
    return path


def test_every_route_declares_its_roles_and_the_api_enforces_them(
    live: Callable[[str], Any], sqlite_url: str, seed: list[Alert]
) -> None:
    app = live(sqlite_url)
    brand_alert = seed[1].id  # visible to comms as well, so its 200 is a real 200
    clients = {role: app.client(role) for role in Role}
    # The review levels' roles (alerts.levels) are walked like the others, on every route.
    assert {Role.REVIEWER, Role.PRINCIPAL} <= set(clients)
    anonymous = app.client()
    checked = 0
    for route in route_table(app.app):  # raises for a route without a guard
        roles = route.roles
        path = _concrete(route.path, brand_alert)
        for method in sorted(route.methods):
            if method == "HEAD":
                continue
            # POSTs carry an empty body: an allowed caller gets 422 (nothing changes), others 401/403.
            kwargs: dict[str, Any] = {"json": {}} if method == "POST" else {}
            if roles is None:
                assert path in EXPECTED_OPEN or path.startswith("/static"), f"{path} is open to anyone"
                if path == "/static":
                    path = "/static/console.js"
                status = anonymous.request(method, path, **kwargs).status_code
                assert status < 400, f"{method} {path}: {status} without a token on an open route"
                checked += 1
                continue
            response = anonymous.request(method, path, **kwargs)
            assert response.status_code == 401, f"{method} {path} without token: {response.status_code}"
            assert response.headers["www-authenticate"] == "Bearer"
            for role, client in clients.items():
                response = _call(client, method, path, **kwargs)
                if role in roles:
                    assert response.status_code not in (401, 403), f"{role} {method} {path}: {response.text}"
                    assert response.status_code < 500, f"{role} {method} {path}: {response.text}"
                else:
                    assert response.status_code == 403, f"{role} {method} {path}: {response.status_code}"
                    assert f"role {role.value} may not call {method}" in response.json()["detail"]
                checked += 1
    # All alert, review (approval and QA too) and audit routes, both prefixes, every role.
    assert checked > 30 * len(Role)  # 213 when review levels came in


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """The response; for an event stream, only its status and headers (it never ends by itself)."""
    with client.stream(method, path, **kwargs) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        response.read()
        return response


def test_a_route_without_a_role_guard_is_refused_by_the_matrix() -> None:
    from fastapi import Depends

    app = FastAPI()

    @app.get("/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    @app.get("/open", dependencies=[Depends(PUBLIC)])
    def open_route() -> dict[str, str]:
        return {}

    with pytest.raises(LookupError, match=r"\['GET'\] /forgotten declares 0 role guards"):
        route_table(app)
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", "") != "/forgotten"]
    assert [(r.path, r.roles) for r in route_table(app) if r.path == "/open"] == [("/open", None)]


def test_comms_sees_only_reputation_alerts_pseudonymised_and_without_personal_data(
    live: Callable[[str], Any], sqlite_url: str, seed: list[Alert]
) -> None:
    app = live(sqlite_url)
    comms = app.client(Role.COMMS)
    body = comms.get("/api/v1/alerts").json()
    assert body["count"] == 2
    assert sorted(a["rule_id"] for a in body["data"]) == [
        "fr.reputation.crisis_words",
        "global.brand.negative_spike",
    ]
    authors = {a["id"]: a["author_id"] for a in body["data"]}
    assert all(author.startswith("anon-") for author in authors.values())
    assert set(authors.values()).isdisjoint({a.author_id for a in seed})
    assert (
        comms.get("/api/v1/alerts").json()["data"][0]["author_id"] == body["data"][0]["author_id"]
    )  # stable
    for alert in body["data"]:
        assert [e["type"] for e in alert["evidence"]] == ["negative"]  # the e-mail evidence is gone
        assert alert["origin"] == {}
    pii_alert = seed[2].id
    assert comms.get(f"/api/v1/alerts/{pii_alert}").status_code == 404
    single = comms.get(f"/api/v1/alerts/{seed[0].id}").json()
    assert single["author_id"] == authors[seed[0].id] and "EMAIL" not in str(single)

    officer = app.client(Role.OFFICER).get(f"/api/v1/alerts/{seed[0].id}").json()
    assert officer["author_id"] == seed[0].author_id
    assert [e["type"] for e in officer["evidence"]] == ["negative", "EMAIL_ADDRESS"]
    assert app.client(Role.OFFICER).get("/api/v1/alerts").json()["count"] == len(seed)


def test_ops_gets_no_content_but_health_and_metrics(live: Callable[[str], Any], sqlite_url: str) -> None:
    ops = live(sqlite_url).client(Role.OPS)
    response = ops.get("/api/v1/alerts")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "role ops may not call GET /api/v1/alerts; "
        "allowed roles: admin, comms, officer, principal, reviewer"
    }
    assert ops.get("/readyz").status_code == 200
    assert "veille_open_alerts" in ops.get("/metrics").text
