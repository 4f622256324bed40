"""E-reputation as comms sees it, the policies page's "try a text", silences and tokens, in Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Response, expect

from alerts.tokens import Role
from detectors.recognizers.fr import nir_key

Shot = Callable[[Page, str], Path]
RAW_EMAIL = "claire.durand@example.org"  # the personal data seeded in tests/console/conftest.py
COMMS_MARKERS = ("brand", "reputation", "spike", "crisis")


def test_comms_sees_charts_with_points_and_never_personal_data_or_internal_alerts(
    console: Any, screen: Callable[..., Page], shot: Shot
) -> None:
    page = screen()
    bodies: list[str] = []

    def keep(response: Response) -> None:
        if "/api/v1/" in response.url and "stream" not in response.url:
            bodies.append(response.text())

    page.on("response", keep)
    console.sign_in(page, Role.COMMS)
    example = page.locator("#brands article[data-brand='ExampleCo']")
    expect(example.locator("figure").first).to_be_visible()
    assert example.locator("figure").nth(0).locator("circle.point").count() > 50  # a week of points
    assert example.locator("figure").nth(1).locator("circle.point").count() > 50
    expect(example.locator("g.marker-spike")).to_have_count(2)  # both charts mark the spike ...
    expect(example.locator("g.marker-crisis")).to_have_count(2)  # ... and the crisis
    expect(page.locator("#share-of-voice rect.point")).to_have_count(2)
    expect(example.locator(".themes")).to_contain_text("refund")
    expect(page.locator("#brands article[data-brand='OtherBrand'] g.marker")).to_have_count(0)
    shot(page, "comms-reputation-charts")

    brand_rows = page.locator("#brand-alerts tbody tr")
    expect(brand_rows).to_have_count(3)
    shown = {row.get_attribute("data-id") for row in brand_rows.all()}
    brand_ids = {a.id for a in console.alerts if any(m in a.rule_id for m in COMMS_MARKERS)}
    assert shown == brand_ids
    disparaging = next(a for a in console.alerts if a.rule_id == "global-brand-negative-employee-external")
    page.locator(f"#brand-alerts tr[data-id='{disparaging.id}'] button").click()
    detail = page.locator("#detail")
    expect(page.locator("#detail-title")).to_have_text(disparaging.rule_title)
    expect(page.locator("#detail-evidence li")).to_have_count(1)  # the sentiment only, not the e-mail
    expect(page.locator("#detail-evidence mark")).to_have_count(0)
    expect(detail).to_contain_text(re.compile(r"anon-[0-9a-f]{16}"))
    expect(page.locator("#review")).to_be_hidden()
    shot(page, "comms-reputation-alert")

    page_text = page.content()
    assert RAW_EMAIL not in page_text and "EMAIL_ADDRESS" not in page_text
    assert disparaging.author_id not in page_text
    internal = [a for a in console.alerts if a.id not in brand_ids]
    assert not any(a.id in body or a.rule_title in body for a in internal for body in bodies)
    assert bodies and not any(RAW_EMAIL in body or "EMAIL_ADDRESS" in body for body in bodies)
    assert not any('"personal":true' in body.replace(" ", "") for body in bodies)


def test_try_a_text_shows_the_matching_rule_for_a_french_nir(
    console: Any, screen: Callable[..., Page], shot: Shot
) -> None:
    page = screen()
    first13 = "1840375056012"
    groups = (first13[0], first13[1:3], first13[3:5], first13[5:7], first13[7:10], first13[10:13])
    nir = " ".join(groups) + f" {nir_key(first13):02d}"  # written as people write it
    console.sign_in(page, Role.OFFICER, "policies")
    page.locator("#jurisdiction-list button[data-code='FR']").click()
    expect(page.locator("#pack h3")).to_have_text("FR: pack fr")
    expect(page.locator("#pack")).to_contain_text("Inherits fr ← eu ← global")
    nir_rule = page.locator("#pack details.rule[data-rule='fr-nir-in-post']")
    nir_rule.locator("summary").click()
    expect(nir_rule).to_contain_text("FR_NIR")  # its clause
    expect(nir_rule.locator(".tests").first).to_contain_text("Must match")
    expect(page).to_have_url(re.compile(r"view=policies&jurisdiction=FR"))

    page.fill("#try-text", f"Bonjour, pour la mutuelle voici mon numéro de sécu : {nir}. Merci !")
    expect(page.locator("#try-jurisdiction")).to_have_value("FR")
    page.select_option("#try-source", "internal")
    page.click("#try-form button[type=submit]")
    hit = page.locator("#try-result article[data-rule='fr-nir-in-post']")
    expect(hit).to_be_visible(timeout=30_000)  # the first try loads the detectors
    expect(hit).to_contain_text("Would raise an alert.")
    why = ["because source internal", re.compile("because pii FR_NIR")]
    expect(hit.locator(".why li")).to_contain_text(why)
    expect(hit.locator("mark")).to_have_text(nir)
    shot(page, "officer-policies-try")

    page.fill("#try-text", "Réunion d'équipe jeudi à 10 h, salle Lavoisier.")
    page.click("#try-form button[type=submit]")
    expect(page.locator("#try-result")).to_contain_text("No rule would match this text.")


def test_silences_and_tokens_pages(console: Any, screen: Callable[..., Page], shot: Shot) -> None:
    page = screen(allow_status=(422,))  # the silence refused on purpose below
    console.sign_in(page, Role.ADMIN, "silences")
    form = page.locator("#silence-form")
    form.locator("input[name=rule_id]").fill("fr-hr-data")
    form.locator("input[name=expires_at]").fill("2099-01-01T00:00")  # beyond 90 days: the API says so
    form.locator("input[name=reason]").fill("HR migration week")
    form.locator("button").click()
    expect(page.locator("#error")).to_contain_text("expires_at must be within 90 days")
    page.evaluate(
        "document.querySelector('#silence-form input[name=expires_at]').value = new Date(Date.now() "
        "+ 3 * 86400000 - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16)"
    )
    form.locator("button").click()
    rows = page.locator("#silences tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("rule_id=fr-hr-data")
    shot(page, "admin-silences-created")
    rows.first.locator("button").click()
    expect(rows).to_have_count(0)
    assert console.store.list_silences(active_only=True) == []

    page.locator("#nav-list a[data-page='tokens']").click()
    create = page.locator("#token-create-form")
    create.locator("input[name=name]").fill("comms-dashboard")
    create.locator("select[name=role]").select_option("comms")
    create.locator("button").click()
    secret = page.locator("#token-secret")
    expect(secret).to_have_text(re.compile(r"^veille_"))
    token = secret.text_content()
    assert token and console.store.authenticate(token) is not None
    shot(page, "admin-tokens-created")
    row = page.locator("#tokens tbody tr", has_text="comms-dashboard")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button").click()
    expect(row).to_contain_text("revoked")
    assert console.store.authenticate(token).revoked_at is not None
