"""The alert queue in Chromium: filters in the URL, live updates, keyboard review, bulk assignment,
and the detail panel's layout on a small screen."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from alerts.model import Alert, AlertStatus, Severity, Verdict, alert_id
from alerts.tokens import Role

Shot = Callable[[Page, str], Path]
ROWS = "#alerts tbody tr"


def test_filtering_the_queue_changes_the_url_and_the_url_restores_the_view(
    console: Any, screen: Callable[..., Page], shot: Shot
) -> None:
    page = screen()
    console.sign_in(page, Role.OFFICER)
    expect(page.locator(ROWS).first).to_be_visible()
    page.select_option("#filters select[name=severity]", "critical")
    expect(page).to_have_url(re.compile(r"[?&]severity=critical(&|$)"))
    page.fill("#filters input[name=jurisdiction]", "fr")
    page.fill("#filters input[name=channel]", "teams-fr")
    page.click("#filters button[type=submit]")
    expect(page).to_have_url(re.compile(r"jurisdiction=FR&.*channel=teams-fr"))
    expected = [a for a in console.alerts if a.severity == "critical" and a.jurisdiction == "FR"
                and a.channel == "teams-fr"]  # fmt: skip
    expect(page.locator(ROWS)).to_have_count(len(expected))
    expect(page.locator("#severity-counts button[aria-pressed=true]")).to_contain_text("critical")
    shot(page, "officer-queue-filtered")

    page.select_option("#filters select[name=order]", "oldest")
    expect(page).to_have_url(re.compile(r"[?&]order=oldest(&|$)"))
    oldest = min(expected, key=lambda a: a.created_at)
    expect(page.locator(ROWS).first).to_have_attribute("data-id", oldest.id)

    shared = page.url  # a colleague opens the same view from the link
    other = screen()
    other.goto(shared.split("#")[0] + "#token=" + console.tokens[Role.ADMIN])
    expect(other.locator(ROWS)).to_have_count(len(expected))
    expect(other.locator("#filters select[name=severity]")).to_have_value("critical")
    expect(other.locator("#filters input[name=channel]")).to_have_value("teams-fr")
    expect(other.locator(ROWS).first).to_have_attribute("data-id", oldest.id)


def test_a_new_alert_appears_without_reload_with_a_count_of_unseen_ones(
    console: Any, screen: Callable[..., Page], shot: Shot
) -> None:
    page = screen()
    console.sign_in(page, Role.OFFICER)
    expect(page.locator("#live-state")).to_have_text("● live")
    expect(page.locator("#summary")).to_contain_text("alerts shown")  # the first page is in
    before = page.locator(ROWS).count()
    now = datetime.now(UTC)
    fresh = Alert(
        id=alert_id("post-live", "fr-nir-in-post"), rule_id="fr-nir-in-post", rule_title="Live NIR alert",
        severity=Severity.CRITICAL, jurisdiction="FR", source="internal", channel="teams-fr",
        post_id="post-live", author_id="u-live", author_role="employee",
        post_created_at=now - timedelta(seconds=5), created_at=now, policy_version="v-console",
    )  # fmt: skip
    assert console.store.add_many([fresh]) == [fresh.id]
    first = page.locator(ROWS).first
    expect(first).to_have_attribute("data-id", fresh.id, timeout=10_000)
    expect(first).to_have_class(re.compile(r"\bfresh\b"))
    expect(page.locator("#unseen")).to_have_text("1 new alert")
    expect(page.locator(ROWS)).to_have_count(before + 1)
    shot(page, "officer-queue-live")
    page.click("#unseen")
    expect(page.locator("#unseen")).to_be_hidden()


def test_keyboard_open_then_close_with_a_verdict_writes_the_audit_entry(
    console: Any, screen: Callable[..., Page], shot: Shot
) -> None:
    page = screen()
    target = next(a for a in console.alerts if a.rule_id == "fr-nir-in-post")
    console.sign_in(page, Role.OFFICER)
    page.goto(f"{console.url}/?view=queue&rule=fr-nir-in-post")
    expect(page.locator(ROWS)).to_have_count(1)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    shot(page, "officer-queue-help")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()

    page.locator("body").press("j")  # focus the (only) row, then open it
    expect(page.locator(ROWS).first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-title")).to_have_text(target.rule_title)
    expect(page.locator("#detail-evidence mark.masked")).to_have_text(["[FR_NIR]"])
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()
    expect(page.locator(ROWS).first).to_be_focused()  # focus returns to the row

    page.keyboard.press("c")  # close with a verdict: the panel opens on the verdict
    expect(page.locator("#transition-verdict")).to_be_focused()
    page.keyboard.press("ArrowDown")  # true positive
    page.keyboard.press("Tab")
    page.keyboard.type("DPO-42")
    shot(page, "officer-detail-closing")
    page.keyboard.press("Enter")
    expect(page.locator("#detail-meta")).to_contain_text("true positive")
    expect(page.locator("#audit li[data-action='alert.transition']")).to_contain_text("status: open → closed")
    expect(page.locator(ROWS).first).to_contain_text("closed")

    stored = console.store.get(target.id)
    assert stored.status is AlertStatus.CLOSED and stored.verdict is Verdict.TRUE_POSITIVE
    assert stored.ticket == "DPO-42"
    entries = console.store.audit_entries(target=f"alert:{target.id}")
    entries = [e for e in entries if e.action == "alert.transition"]
    assert entries and entries[-1].actor == "officer-1" and entries[-1].after["status"] == "closed"


def test_acknowledge_with_a(console: Any, screen: Callable[..., Page]) -> None:
    page = screen()
    target = next(a for a in console.alerts if a.rule_id == "global-pii-email-external")
    page.goto(f"{console.url}/?view=queue&rule={target.rule_id}#token={console.tokens[Role.ADMIN]}")
    expect(page.locator(ROWS)).to_have_count(1)
    page.locator("body").press("j")
    page.keyboard.press("a")
    expect(page.locator(ROWS).first).to_contain_text("acknowledged")
    assert console.store.get(target.id).status is AlertStatus.ACKNOWLEDGED


def test_bulk_assign_three_selected_alerts(console: Any, screen: Callable[..., Page], shot: Shot) -> None:
    page = screen()
    console.sign_in(page, Role.OFFICER)
    rows = page.locator(ROWS)
    expect(rows.first).to_be_visible()
    chosen = [rows.nth(i).get_attribute("data-id") for i in (0, 2)]
    for i in (0, 2):
        rows.nth(i).locator("input[type=checkbox]").check()
    page.keyboard.press("j")  # the keyboard selects too: x on the row after the first
    page.keyboard.press("x")
    chosen.append(rows.nth(1).get_attribute("data-id"))
    expect(page.locator("#bulk-count")).to_have_text("3 selected")
    page.fill("#bulk-assignee", "m.leroy")
    shot(page, "officer-queue-bulk")
    page.click("#bulk-assign-form button")
    expect(page.locator("#bulk")).to_be_hidden()
    expect(page.locator("#announce")).to_have_text("Assigned 3 alerts to m.leroy")
    page.fill("#filters input[name=assignee]", "m.leroy")
    page.click("#filters button[type=submit]")
    expect(rows).to_have_count(3)
    assert sorted(r.get_attribute("data-id") for r in rows.all()) == sorted(chosen)
    assert all(console.store.get(i).assignee == "m.leroy" for i in chosen)
    assert {e.actor for i in chosen for e in console.store.audit_entries(target=f"alert:{i}")
            if e.action == "alert.assign"} == {"officer-1"}  # fmt: skip


def test_every_action_of_the_detail_panel_is_reachable_at_1280x720(
    console: Any, screen: Callable[..., Page], shot: Shot
) -> None:
    page = screen(1280, 720)
    target = next(a for a in console.alerts if a.rule_id == "fr-nir-in-post")
    console.sign_in(page, Role.OFFICER)
    page.locator(f"{ROWS}[data-id='{target.id}']").click()
    detail = page.locator("#detail")
    expect(page.locator("#audit li").first).to_be_visible()
    shot(page, "officer-detail-1280x720")
    page.locator("#silence-similar summary").click()
    viewport = page.viewport_size
    assert viewport is not None
    actions = [
        "#transition-form button", "#assign-form button[type=submit]", "#assign-me", "#comment-form button",
        "#silence-similar-form button", "#reveal-form button", "#close-detail",
    ]  # fmt: skip
    for selector in actions:
        button = page.locator(selector)
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None, selector
        # Wholly inside the window, and the element on top at its centre is the button itself.
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (selector, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (selector, box)
        on_top = page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y).closest('button, summary')?.outerHTML ?? ''",
            [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
        )
        assert on_top == button.evaluate("b => b.outerHTML"), selector
    # The panel scrolls on its own: the page behind it did not move.
    assert page.evaluate("window.scrollY") == 0
    assert detail.evaluate("d => d.scrollHeight > d.clientHeight && d.scrollTop > 0")
    shot(page, "officer-detail-1280x720-scrolled")
    # Long reference URLs wrap inside the panel instead of widening it.
    assert detail.evaluate("d => d.scrollWidth <= d.clientWidth")


def test_a_reviewer_asks_and_a_principal_approves_in_the_console(
    console: Any, screen: Callable[..., Page], shot: Shot
) -> None:
    """Four eyes in the browser: the reviewer's close of a critical alert waits; the reviewer gets no
    second-level tool; a principal sees the request in the pending_approval queue and approves it."""
    target = next(a for a in console.alerts if a.rule_id == "fr-nir-in-post")  # critical
    page = screen()
    console.sign_in(page, Role.REVIEWER, "queue")
    page.goto(f"{console.url}/?view=queue&rule=fr-nir-in-post")
    expect(page.locator(ROWS)).to_have_count(1)
    page.locator("body").press("j")
    page.keyboard.press("Enter")
    expect(page.locator("#detail")).to_be_visible()
    for second_level_only in ("#silence-similar", "#reveal-form", "#approval-form", "#qa-form"):
        expect(page.locator(second_level_only)).to_be_hidden()
    expect(page.locator("#audit")).to_contain_text("read by second-level reviewers")
    page.select_option("#transition-to", "closed")
    page.select_option("#transition-verdict", "true_positive")
    page.locator("#transition-form button[type=submit]").click()
    expect(page.locator("#detail-meta")).to_contain_text("awaiting approval")
    expect(page.locator("#level-note")).to_contain_text("a second-level reviewer takes it from here")
    expect(page.locator("#transition-form")).to_be_hidden()
    shot(page, "reviewer-detail-pending-approval")
    assert console.store.get(target.id).status is AlertStatus.PENDING_APPROVAL

    page = screen()
    console.sign_in(page, Role.PRINCIPAL, "queue")
    page.goto(f"{console.url}/?view=queue&status=pending_approval")
    expect(page.locator(ROWS)).to_have_count(1)
    page.locator("body").press("j")
    page.keyboard.press("Enter")
    expect(page.locator("#approval-form")).to_be_visible()
    shot(page, "principal-detail-approval")
    page.locator("#approve").click()
    expect(page.locator("#detail-meta")).to_contain_text("principal-1")
    expect(page.locator("#audit li[data-action='alert.approval']")).to_be_visible()
    stored = console.store.get(target.id)
    assert (stored.status, stored.verdict, stored.closed_by) == (
        AlertStatus.CLOSED, Verdict.TRUE_POSITIVE, "principal-1",
    )  # fmt: skip
