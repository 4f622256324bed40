"""The audit log over real HTTP and a real database: what is recorded, and that tampering is caught."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from typer.testing import CliRunner

from alerts.model import Alert
from alerts.tokens import Role
from monitor.cli import app as veille


def _verify(url: str) -> Any:
    return CliRunner().invoke(veille, ["audit", "verify"], env={"VEILLE_DATABASE_URL": url})


def test_views_and_changes_are_chained_and_tampering_is_named(
    live: Callable[[str], Any], database_url: str, seed: list[Alert], sql: Callable[[str, str], None]
) -> None:
    app = live(database_url)
    officer = app.client(Role.OFFICER)
    alert = seed[2].id
    target = f"alert:{alert}"
    assert officer.get(f"/api/v1/alerts/{alert}").status_code == 200
    officer.post(f"/api/v1/alerts/{alert}/assign", json={"assignee": "c.dupont"})
    officer.post(f"/api/v1/alerts/{alert}/transition", json={"to": "closed", "verdict": "benign"})
    note = f"mail {seed[2].evidence[1].span} seen"
    officer.post(f"/api/v1/alerts/{alert}/comments", json={"body": note})
    assert officer.get("/api/v1/alerts").status_code == 200  # listing is not an evidence view

    page = app.client(Role.ADMIN).get("/api/v1/audit", params={"target": target}).json()
    entries = [(e["action"], e["actor"], e["role"], e["before"], e["after"]) for e in page["data"]]
    assert entries == [
        ("alert.view", "officer-1", "officer", None, None),
        ("alert.assign", "officer-1", "officer", {"assignee": None}, {"assignee": "c.dupont"}),
        (
            "alert.transition", "officer-1", "officer",
            {"status": "open", "verdict": None, "ticket": None},
            {"status": "closed", "verdict": "benign", "ticket": None, "reason": None},
        ),
        ("alert.comment", "officer-1", "officer", None, {"comment_id": 1, "chars": len(note)}),
    ]  # fmt: skip
    assert str(seed[2].evidence[1].span) not in str(page)  # a comment's text stays out of the audit log
    # The token creations of the fixture come first: one per role, then the four entries above.
    everything = app.client(Role.OFFICER).get("/api/v1/audit", params={"limit": 3}).json()
    assert [e["seq"] for e in everything["data"]] == [1, 2, 3] and everything["next_after"] == 3
    assert everything["data"][0]["action"] == "token.create"
    assert app.client(Role.COMMS).get("/api/v1/audit").status_code == 403

    result = _verify(database_url)
    head = app.store.audit_head()
    total = len(Role) + 4
    assert head.seq == total
    assert (result.exit_code, result.stdout.splitlines()) == (
        0, [f"audit log intact: {total} entries verified", f"head: {total}:{head.hash}"]
    )  # fmt: skip
    assert app.client(Role.ADMIN).get("/api/v1/audit/verify").json() == {
        "ok": True, "entries": total, "broken_at": None, "reason": None,
        "head": f"{total}:{head.hash}", "checkpoints": 0,
    }  # fmt: skip

    # Someone with database access rewrites who closed the alert.
    sql(database_url, "update audit_log set actor = 'mallory' where seq = 7")
    result = _verify(database_url)
    assert result.exit_code == 1
    assert (
        "audit log ALTERED: audit entry #7: content does not match its hash (entry altered)" in result.stderr
    )
    assert app.client(Role.ADMIN).get("/api/v1/audit/verify").json()["broken_at"] == 7

    sql(database_url, "update audit_log set actor = 'officer-1' where seq = 7")
    assert _verify(database_url).exit_code == 0  # restored exactly: intact again
    sql(database_url, "delete from audit_log where seq = 5")
    result = _verify(database_url)
    assert "audit entry #6: expected entry #5 here: entries were deleted or inserted" in result.stderr


def test_concurrent_changes_keep_one_unbroken_chain(
    live: Callable[[str], Any], database_url: str, seed: list[Alert]
) -> None:
    app = live(database_url)
    clients = [app.client(Role.OFFICER), app.client(Role.ADMIN)]

    def work(i: int) -> int:
        client = clients[i % 2]
        return client.post(
            f"/api/v1/alerts/{seed[i % 4].id}/comments", json={"body": f"note {i}"}
        ).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert set(pool.map(work, range(24))) == {201}
    assert app.store.verify_audit().seq == len(Role) + 24  # one token per role, then the comments
