"""The console in Debian's Chromium (Playwright) against a live API over a real SQLite store.

The store holds alerts of every kind a reviewer meets (personal data, brand spikes and a crisis,
reviewed ones for the precision numbers) and a week of e-reputation windows for two brands.
Screenshots go to ``tests/artifacts/console/`` (git-ignored): every page, as each role sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page

from alerts.audit import CLI_ACTOR, Actor
from alerts.model import WINDOW_ORIGIN_KIND, Alert, AlertStatus, Evidence, Severity, Verdict, alert_id
from alerts.reputation_store import ReputationStore
from alerts.store import SqlAlertStore
from alerts.tokens import Role
from alerts.windows import WindowRow
from api.app import create_app
from monitor.brands import BrandConfig
from monitor.settings import Settings
from policies import PolicySet, load_policy_set

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "console"
BRANDS = ("ExampleCo", "OtherBrand")
WINDOW = 300  # the default reputation window (monitor.reputation_state)
RAW_EMAIL = "claire.durand@example.org"
RAW_NIR = "2 85 07 75 123 456 01"
OFFICER = Actor(name="seed-officer", role=Role.OFFICER.value)
# Critical false positives need a second reviewer's approval (alerts.levels): this one gives it.
APPROVER = Actor(name="seed-principal", role=Role.PRINCIPAL.value)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def alert(
    n: int, rule_id: str, title: str, severity: Severity, *, minutes_ago: float, jurisdiction: str = "FR",
    source: str = "internal", channel: str = "teams-fr", evidence: list[Evidence] | None = None,
    post_id: str | None = None, author_id: str | None = None, explanation: list[str] | None = None,
    references: list[str] | None = None, remediation: str | None = None, comms_visible: bool = False,
    origin: dict[str, Any] | None = None,
) -> Alert:
    post = post_id or f"post-{n}"
    created = _now() - timedelta(minutes=minutes_ago)
    return Alert(
        id=alert_id(post, rule_id), rule_id=rule_id, rule_title=title, severity=severity,
        jurisdiction=jurisdiction, source=source, channel=channel, post_id=post,
        author_id=author_id or f"u-{n:03d}", author_role="employee", lang="fr",
        post_created_at=created - timedelta(seconds=20), created_at=created, policy_version="v-console",
        evidence=evidence or [], explanation=explanation or [f"seed #{n}"], references=references or [],
        remediation=remediation, comms_visible=comms_visible, origin=origin or {},
    )  # fmt: skip


def email_evidence() -> list[Evidence]:
    return [Evidence(detector="pii", type="EMAIL_ADDRESS", start=14, end=14 + len(RAW_EMAIL), score=0.9,
                     recognizer="EmailRecognizer", snippet="écrivez-moi à [EMAIL_ADDRESS] avant vendredi",
                     span=RAW_EMAIL, personal=True)]  # fmt: skip


def nir_evidence() -> list[Evidence]:
    return [Evidence(detector="pii", type="FR_NIR", start=30, end=30 + len(RAW_NIR), score=1.0,
                     recognizer="FrNirRecognizer", snippet="pour la mutuelle, mon NIR est [FR_NIR], merci",
                     span=RAW_NIR, personal=True)]  # fmt: skip


def spike_post(brand: str, minutes_ago: float) -> str:
    start = int((_now() - timedelta(minutes=minutes_ago)).timestamp()) // WINDOW * WINDOW
    return f"window:{brand}:FR:external:{datetime.fromtimestamp(start, UTC).isoformat()}"


def window_origin(brand: str) -> dict[str, Any]:
    """As monitor.reputation marks its spikes and crises (their post id names a window)."""
    return {"kind": WINDOW_ORIGIN_KIND, "brand": brand}


def seed_alerts() -> list[Alert]:
    long_ref = ("https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000006900785/"
                "a-very-long-reference-that-must-wrap-inside-the-detail-panel-without-overflowing")
    alerts = [
        alert(1, "fr-nir-in-post", "Numéro de sécurité sociale (NIR) dans un message", Severity.CRITICAL,
              minutes_ago=50, evidence=nir_evidence(), references=["CNIL: le NIR", long_ref],
              explanation=["source internal", "pii FR_NIR (score 1.00, chars 30-51)"],
              remediation="Supprimez le message, informez le DPO."),
        alert(2, "global-pii-email-external", "E-mail address posted", Severity.HIGH, minutes_ago=40,
              evidence=email_evidence(), source="external", channel="x", jurisdiction="GLOBAL",
              references=["GDPR art. 5"], remediation="Remove the address from the post."),
        # A brand alert carrying personal data: comms may see the alert, never its e-mail evidence.
        alert(3, "global-brand-negative-employee-external", "Employee disparaging the brand externally",
              Severity.MEDIUM, minutes_ago=35, source="external", channel="x", comms_visible=True,
              evidence=[Evidence(detector="sentiment", type="negative", start=0, end=30, score=0.8,
                                 snippet="ExampleCo is a terrible employer"), *email_evidence()]),
        alert(4, "reputation-negative-spike", "Negative sentiment spike about ExampleCo", Severity.HIGH,
              minutes_ago=60 * 30, source="external", channel="*", post_id=spike_post("ExampleCo", 60 * 30),
              author_id="*", explanation=["negative share 0.800 of 40 scored posts"], comms_visible=True,
              origin=window_origin("ExampleCo")),
        alert(5, "reputation-crisis", "Reputation crisis about ExampleCo", Severity.CRITICAL,
              minutes_ago=60 * 29, source="external", channel="*", author_id="*", comms_visible=True,
              origin=window_origin("ExampleCo"),
              post_id=f"crisis:ExampleCo:{spike_post('ExampleCo', 60 * 29).split(':', 4)[4]}"),
    ]
    rules = [
        ("fr-hr-data", "Données RH de salariés", Severity.HIGH),
        ("eu-insider-info", "Insider information", Severity.CRITICAL),
        ("us-finra-promissory", "Promissory language", Severity.MEDIUM),
        ("global-secret-token", "Secret or API key posted", Severity.LOW),
    ]
    for i in range(40):
        rule_id, title, severity = rules[i % len(rules)]
        minutes_ago = 60 * 24 * (i % 9) + 90 + i  # spread over nine days
        jurisdiction, channel = ("FR", "EU", "US", "UK")[i % 4], ("teams-fr", "slack")[i % 2]
        alerts.append(alert(10 + i, rule_id, title, severity, minutes_ago=minutes_ago,
                            jurisdiction=jurisdiction, channel=channel))
    return alerts


def review_some(store: SqlAlertStore, alerts: list[Alert]) -> None:
    """Close a few with verdicts (precision, false positives) and acknowledge some (review times)."""
    for i, a in enumerate(alerts[5:25]):
        if i % 3 == 0:
            store.transition(a.id, AlertStatus.ACKNOWLEDGED, OFFICER)
        elif i % 3 == 1:
            verdict = Verdict.FALSE_POSITIVE if i % 2 else Verdict.TRUE_POSITIVE
            closed = store.transition(a.id, AlertStatus.CLOSED, OFFICER, verdict=verdict)
            if closed.status is AlertStatus.PENDING_APPROVAL:
                store.decide_approval(a.id, True, APPROVER)


def seed_windows(rep: ReputationStore) -> None:
    """A week of windows: ExampleCo with a negative burst 30 hours ago, OtherBrand steady."""
    now = int(_now().timestamp()) // WINDOW * WINDOW
    rows = []
    for back in range(0, 7 * 86400, 3600):
        start = now - back
        hour = (start // 3600) % 24
        burst = abs(back - 30 * 3600) < 2 * 3600
        volume = 6 + hour % 5 + (30 if burst else 0)
        negatives = (volume * 4) // 5 if burst else volume // 5
        terms = {"refund": negatives, "delay": negatives // 2} if negatives else {}
        compound = -0.5 * negatives + 0.3 * (volume - negatives)
        rows.append(WindowRow("ExampleCo", "FR", "external", start, volume, volume, negatives,
                              compound_sum=compound, negative_terms=terms))
        rows.append(WindowRow("OtherBrand", "FR", "external", start, 4, 4, 1, compound_sum=0.6))
    rep.save({}, {}, rows)


@dataclass
class Console:
    url: str
    store: SqlAlertStore
    tokens: dict[Role, str]
    alerts: list[Alert]

    def sign_in(self, page: Page, role: Role, view: str = "") -> None:
        query = f"?view={view}" if view else ""
        page.goto(f"{self.url}/{query}#token={self.tokens[role]}")


@pytest.fixture(scope="session")
def policy_set() -> PolicySet:
    return load_policy_set()


@pytest.fixture
def console(
    tmp_path: Path, live_server: Callable[[FastAPI], AbstractContextManager[str]], policy_set: PolicySet
) -> Iterator[Console]:
    with ExitStack() as running:
        store = SqlAlertStore.open(f"sqlite:///{tmp_path / 'veille.db'}")
        running.callback(store.close)
        alerts = seed_alerts()
        store.add_many(alerts)
        review_some(store, alerts)
        seed_windows(ReputationStore(store.engine))
        tokens = {role: store.create_token(f"{role.value}-1", role, CLI_ACTOR)[1] for role in Role}
        settings = Settings(_env_file=None, pseudonym_key="console-key",
                            brands=[BrandConfig(name=name) for name in BRANDS])  # fmt: skip
        app = create_app(settings, store, policies=policy_set)
        yield Console(running.enter_context(live_server(app)), store, tokens, alerts)


@pytest.fixture
def screen(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``screen(width, height, allow_status=())``: a page of that size that fails the test on any script
    error, and on any HTTP error answer other than the statuses the test expects to provoke."""
    pages: list[tuple[Page, list[str]]] = []

    def open_page(
        width: int = 1440, height: int = 900, allow_status: tuple[int, ...] = (), timezone_id: str = "UTC"
    ) -> Page:
        page = browser.new_page(viewport={"width": width, "height": height}, timezone_id=timezone_id)
        page.set_default_timeout(8_000)
        errors: list[str] = []
        expected = tuple(f"status of {status} " for status in allow_status)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not any(e in message.text for e in expected):
                errors.append(message.text)

        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", on_console)
        pages.append((page, errors))
        return page

    yield open_page
    for page, errors in pages:
        page.close()
        assert errors == [], errors


@pytest.fixture(scope="session")
def shot() -> Callable[[Page, str], Path]:
    """``shot(page, name)``: the viewport as ``tests/artifacts/console/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take
