"""Working an alert from the console in a real browser (Debian Chromium via Playwright), as an officer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Page, expect

from alerts.model import Alert, AlertStatus, Verdict
from alerts.tokens import Role

RAW_EMAIL = "claire.durand@example.org"  # the seeded personal-data span (conftest.SEED)


def test_officer_assigns_comments_closes_and_reveals_from_the_console(
    page: Page, live: Callable[[str], Any], sqlite_url: str, seed: list[Alert]
) -> None:
    app = live(sqlite_url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    target = seed[2]  # fr.pii.email, with a masked e-mail

    page.goto(app.url + "/")
    expect(page.locator("#page-signin")).to_be_visible()  # no token yet: the page asks for one
    page.fill("#token", app.tokens[Role.OFFICER])
    page.click("#token-form button")
    expect(page.locator("#alerts tbody tr")).to_have_count(len(seed))

    page.locator(f'#alerts tbody tr[data-id="{target.id}"]').click()
    expect(page.locator("#review")).to_be_visible()
    page.fill("#assignee", "c.dupont")
    page.click("#assign-form button")
    expect(page.locator("#detail-meta")).to_contain_text("c.dupont")
    page.fill("#comment-body", "Checked with HR")
    page.click("#comment-form button")
    expect(page.locator("#comments li")).to_contain_text(["officer-1: Checked with HR"])
    expect(page.locator("#audit li[data-action='alert.comment']")).to_be_visible()

    # Closing without a verdict: the API's message is shown, nothing changes.
    page.select_option("#transition-to", "closed")
    page.click("#transition-form button")
    expect(page.locator("#error")).to_contain_text("needs a verdict")
    page.select_option("#transition-verdict", "true_positive")
    page.fill("#transition-ticket", "JIRA-7")
    page.click("#transition-form button")
    expect(page.locator("#detail-meta")).to_contain_text("true positive")
    expect(page.locator("#transition-to option")).to_have_text(["open"])  # only reopen from closed

    expect(page.locator("#detail")).not_to_contain_text(RAW_EMAIL)
    page.fill("#reveal-justification", "DPO request 114: confirm the leak")
    page.click("#reveal-form button")
    expect(page.locator("#revealed")).to_contain_text(RAW_EMAIL)

    stored = app.store.get(target.id)
    assert stored is not None and stored.status is AlertStatus.CLOSED
    assert (
        stored.verdict is Verdict.TRUE_POSITIVE
        and stored.ticket == "JIRA-7"
        and stored.assignee == "c.dupont"
    )
    actions = [e.action for e in app.store.audit_entries(target=f"alert:{target.id}")]
    assert actions.count("alert.reveal") == 1 and "alert.transition" in actions
    assert errors == []


def test_comms_console_shows_no_review_tools(
    page: Page, live: Callable[[str], Any], sqlite_url: str, seed: list[Alert]
) -> None:
    app = live(sqlite_url)
    # The e-reputation page lists the alerts of its time range (the last 7 days by default).
    now = datetime.now(UTC)
    app.store.add_many([a.model_copy(update={"id": f"recent{i}", "post_id": f"recent-{i}", "created_at": now})
                        for i, a in enumerate(seed)])  # fmt: skip
    page.goto(app.url + "/#token=" + app.tokens[Role.COMMS])
    rows = page.locator("#brand-alerts tbody tr")
    expect(rows).to_have_count(2)  # e-reputation alerts only
    rows.first.locator("button").click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#review")).to_be_hidden()
    expect(page.locator("#detail")).not_to_contain_text("author-")  # real author ids never reach comms
    expect(page.locator("#detail")).not_to_contain_text("EMAIL")  # nor personal-data evidence
