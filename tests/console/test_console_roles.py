"""Sign-in by role: the navigation offers exactly the pages the role may use; sign out; every page
is screenshotted as each role sees it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from alerts.tokens import Role

Shot = Callable[[Page, str], Path]

NAVIGATION = {
    Role.OFFICER: ["Alert queue", "E-reputation", "Overview", "Policies", "Silences"],
    Role.REVIEWER: ["Alert queue", "E-reputation", "Policies"],
    Role.PRINCIPAL: ["Alert queue", "E-reputation", "Overview", "Policies", "Silences"],
    Role.ADMIN: ["Alert queue", "E-reputation", "Overview", "Policies", "Silences", "Tokens"],
    Role.COMMS: ["E-reputation"],
    Role.OPS: ["Overview"],
}
# What each page shows once its data is in (the queue's event stream never lets the network idle).
READY = {
    "queue": "#alerts tbody tr", "reputation": "#brands .card", "overview": "#overview .card",
    "policies": "#pack details.rule", "silences": "#silence-form", "tokens": "#tokens tbody tr",
}
LANDING = {Role.OFFICER: "queue", Role.ADMIN: "queue", Role.COMMS: "reputation", Role.OPS: "overview",
           Role.REVIEWER: "queue", Role.PRINCIPAL: "queue"}  # fmt: skip


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_its_pages_and_its_name(
    console: Any, screen: Callable[..., Page], shot: Shot, role: Role
) -> None:
    page = screen()
    console.sign_in(page, role)
    expect(page.locator("#nav-list a")).to_have_text(NAVIGATION[role])
    expect(page.locator("#who")).to_have_text(f"{role.value}-1")
    expect(page.locator("#role-badge")).to_have_text(role.value)
    assert "token" not in page.url  # the fragment is gone from the address bar
    expect(page.locator(f"#page-{LANDING[role]}")).to_be_visible()
    for link in page.locator("#nav-list a").all():
        view = link.get_attribute("data-page")
        link.click()
        expect(page.locator(f"#page-{view}")).to_be_visible()
        expect(link).to_have_attribute("aria-current", "page")
        assert f"view={view}" in page.url
        expect(page.locator(READY[view]).first).to_be_visible()
        shot(page, f"{role.value}-{view}")

    # A page the role may not use, asked for by URL, is not shown: the role's first page is.
    page.goto(f"{console.url}/?view=tokens")
    expect(page.locator(f"#page-{'tokens' if role is Role.ADMIN else LANDING[role]}")).to_be_visible()
    if role is not Role.ADMIN:
        expect(page.locator("#page-tokens")).to_be_hidden()

    page.locator("#sign-out").click()
    expect(page.locator("#page-signin")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_bad_token_is_refused_with_the_reason(
    console: Any, screen: Callable[..., Page], shot: Shot
) -> None:
    page = screen(allow_status=(401,))
    page.goto(console.url + "/")
    expect(page.locator("#page-signin")).to_be_visible()
    shot(page, "signin")
    page.fill("#token", "veille_not-a-real-token")
    page.click("#token-form button")
    expect(page.locator("#error")).to_contain_text("the bearer token is not valid")
    expect(page.locator("#page-signin")).to_be_visible()


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1920, 1080)])
def test_every_page_fits_the_window_width(
    console: Any, screen: Callable[..., Page], shot: Shot, width: int, height: int
) -> None:
    page = screen(width, height)
    console.sign_in(page, Role.ADMIN)
    for view, ready in READY.items():
        page.locator(f"#nav-list a[data-page='{view}']").click()
        expect(page.locator(ready).first).to_be_visible()
        # Readable means no sideways scrolling: the page is never wider than the window.
        wide = page.evaluate(
            "w => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w)"
            ".slice(0, 5).map(e => `${e.tagName}.${e.className}#${e.id}`)",
            width,
        )  # what sticks out, to name it when the check fails
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (view, wide)
        shot(page, f"admin-{view}-{width}x{height}")
    page.locator("#nav-list a[data-page='queue']").click()
    page.locator("#alerts tbody tr").first.click()
    expect(page.locator("#detail")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    shot(page, f"admin-queue-detail-{width}x{height}")


def test_keyboard_only_sign_in_and_dates_in_the_readers_time_zone(
    console: Any, screen: Callable[..., Page]
) -> None:
    page = screen(timezone_id="Asia/Tokyo")
    page.goto(console.url + "/")
    expect(page.locator("#token")).to_be_focused()  # the sign-in form takes the focus itself
    page.keyboard.type(console.tokens[Role.OFFICER])
    page.keyboard.press("Enter")
    expect(page.locator("#who")).to_have_text("officer-1")
    expect(page.locator("#view")).to_be_focused()
    expect(page.locator("#severity-counts button")).to_have_count(5)
    page.keyboard.press("Tab")
    expect(page.locator("#severity-counts button").first).to_be_focused()  # the first control of the queue

    page.reload()  # a fresh page: the skip link comes first, then the navigation
    expect(page.locator("#who")).to_have_text("officer-1")
    page.keyboard.press("Tab")
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Tab")
    first_link = page.locator("#nav-list a").first
    expect(first_link).to_be_focused()
    style = "a => { const s = getComputedStyle(a); return `${s.outlineStyle} ${s.outlineWidth}`; }"
    outline = first_link.evaluate(style)
    assert outline == "solid 3px"  # the focus is visible

    newest = max(console.alerts, key=lambda a: a.created_at)
    stamp = page.locator(f"#alerts tbody tr[data-id='{newest.id}'] time")
    expect(stamp).to_have_attribute("title", newest.created_at.isoformat().replace("+00:00", ".000Z"))
    tokyo = newest.created_at.astimezone(ZoneInfo("Asia/Tokyo"))
    expect(stamp).to_contain_text(f"{tokyo.hour % 12 or 12:02d}:{tokyo.minute:02d}")
