"""The web console in a real browser (Debian's Chromium driven by Playwright) against a live server."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from alerts.model import Alert
from alerts.store import SqlAlertStore


def test_console_lists_filters_pages_and_shows_detail(
    page: Page,
    sqlite_store: SqlAlertStore,
    seed_alerts: list[Alert],
    serve: Callable[..., str],
    admin_token: str,
) -> None:
    many = seed_alerts + [
        alert.model_copy(update={"id": f"extra{i:03d}", "post_id": f"extra-{i}"})
        for i, alert in enumerate(seed_alerts * 2)
    ]
    sqlite_store.add_many(many)  # 111 alerts: more than one 50-row page
    base_url = serve(sqlite_store)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    bodies: list[str] = []
    page.on("response", lambda resp: bodies.append(resp.text()) if "/api/v1/" in resp.url else None)

    page.goto(base_url + "/#token=" + admin_token)
    rows = page.locator("#alerts tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#summary")).to_have_text("50 of 111 alerts shown")
    newest = max(seed_alerts, key=lambda a: (a.created_at, a.id))
    expect(rows.first).to_contain_text(newest.rule_title)

    page.locator("#load-more").click()
    expect(rows).to_have_count(100)
    page.locator("#load-more").click()
    expect(rows).to_have_count(111)
    expect(page.locator("#load-more")).to_be_hidden()

    page.locator("#filters select[name=severity]").select_option("critical")
    critical = [a for a in many if a.severity == "critical"]
    expect(rows).to_have_count(len(critical))
    expect(page.locator("#alerts tbody .sev")).to_have_text(["critical"] * len(critical))
    assert "severity=critical" in page.url  # the filter survives a reload / can be shared

    page.locator("#filters input[name=jurisdiction]").fill("fr")
    page.locator("#filters button[type=submit]").click()
    expected = sorted(
        (a for a in critical if a.jurisdiction == "FR"), key=lambda a: (a.created_at, a.id), reverse=True
    )
    assert expected, "the seed must have critical FR alerts"
    expect(rows).to_have_count(len(expected))

    rows.first.click()
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(page.locator("#detail-title")).to_have_text(expected[0].rule_title)
    expect(page.locator("#detail-meta")).to_contain_text(expected[0].id)
    expect(page.locator("#detail-evidence")).to_contain_text("écrivez-moi à [EMAIL_ADDRESS] demain")
    expect(page.locator("#detail-explanation li")).to_have_text(list(expected[0].explanation))
    expect(page.locator("#detail-remediation")).to_have_text("Remove the address from the post.")
    raw = expected[0].evidence[0].span
    assert raw and raw not in page.content()

    page.locator("#close-detail").click()
    expect(detail).to_be_hidden()
    assert errors == []
    assert bodies and not any('"span"' in body for body in bodies)


def test_console_shows_api_errors(
    page: Page, sqlite_store: SqlAlertStore, serve: Callable[..., str], admin_token: str
) -> None:
    base_url = serve(sqlite_store)
    page.goto(base_url + "/?view=queue&jurisdiction=" + "X" * 129 + "#token=" + admin_token)  # too long
    expect(page.locator("#error")).to_contain_text(
        "Could not load alerts: jurisdiction.0: String should have at most 128 characters"
    )
    assert httpx.get(base_url + "/").headers["content-security-policy"].startswith("default-src 'self'")
