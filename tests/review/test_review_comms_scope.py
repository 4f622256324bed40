"""What the comms role sees, decided by each rule's ``audience`` in the packs, over real HTTP.

Posts go through the real pipeline (shipped packs plus an organisation overlay, real detectors), their
alerts into a real store, and every comms response body is searched as raw text for personal data.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.model import WINDOW_ORIGIN_KIND, Alert, Severity, alert_id
from alerts.tokens import Role
from monitor.pipeline import build_pipeline
from monitor.settings import Settings
from policies.post import Author, Post, Source

# A rule about the brand whose id says "brand", kept for compliance: its audience is the default.
OVERLAY = """
pack: {id: acme-global, overlay: global}
rules:
  - id: acme-brand-mention-internal
    title: Brand named in an internal channel
    description: Internal talk about the brand, for the compliance team only.
    severity: low
    sources: [internal]
    when: {lexicon: brand_names}
    references: ["Organisation records policy"]
    tests:
      match: [{text: "the exampleco launch slipped", source: internal, channel: teams}]
      no_match: [{text: "the launch slipped", source: internal, channel: teams}]
"""

# Personal data the detectors do not all flag: an address Presidio refuses (no public suffix), a
# handle, a profile URL, a phone number, and an address it does flag.
UNFLAGGED_EMAIL = "jane.doe@corp.internal"
FLAGGED_EMAIL = "marc.petit@example.com"
HANDLE = "@jdoe_real"
PROFILE_URL = "https://social.example/users/jdoe"
PHONE = "+33 6 12 34 56 78"
EXTERNAL_RANT = (
    f"ExampleCo is a terrible, awful, hateful employer. Write to {UNFLAGGED_EMAIL} or {HANDLE}, "
    f"see {PROFILE_URL} or call {PHONE}. I hate ExampleCo, {FLAGGED_EMAIL} agrees."
)
PERSONAL = [UNFLAGGED_EMAIL, FLAGGED_EMAIL, HANDLE, PROFILE_URL, PHONE, "jdoe", "jane.doe", "12 34 56"]
# Independent of the masking code: anything shaped like an address, a handle or a phone number.
EMAIL_SHAPE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
HANDLE_SHAPE = re.compile(r"(?<![\w\[])@\w+")
# Not dates, times or the digits inside hexadecimal ids.
PHONE_SHAPE = re.compile(r"(?<![\w:.-])(?!\d{4}-\d\d-\d\d)\+?\d(?:[ .-]?\d){7,}(?!\w)")


def _post(post_id: str, text: str, source: Source, channel: str, at: datetime) -> Post:
    author = Author(id=f"u-{post_id}", handle="jdoe_real", is_employee=True, role="employee")
    return Post(
        id=post_id, source=source, channel=channel, author=author, text=text, lang="en", created_at=at
    )


def _spike(at: datetime, sample_post_id: str) -> Alert:
    """A negative spike as monitor.reputation makes it: its post id names the window, not a post."""
    window = f"window:ExampleCo:GLOBAL:external:{at.isoformat()}"
    return Alert(
        id=alert_id(window, "reputation-negative-spike"), rule_id="reputation-negative-spike",
        rule_title="Negative sentiment spike about ExampleCo", severity=Severity.HIGH, jurisdiction="GLOBAL",
        source="external", channel="*", post_id=window, author_id="*", author_role="aggregate",
        post_created_at=at, policy_version="v-test", comms_visible=True,
        origin={"kind": WINDOW_ORIGIN_KIND, "brand": "ExampleCo", "sample_post_ids": [sample_post_id]},
    )  # fmt: skip


@pytest.fixture
def scoped(
    live: Callable[..., Any], database_url: str, tmp_path: Path
) -> tuple[dict[Role, httpx.Client], dict[str, Alert]]:
    """Comms- and compliance-only alerts made by the real pipeline, stored, served live."""
    org = tmp_path / "org-policies"
    org.mkdir()
    (org / "acme.yaml").write_text(textwrap.dedent(OVERLAY).lstrip())
    settings = Settings(_env_file=None, policies_dir=org, pseudonym_key="test-key", group_window_seconds=0)
    now = datetime.now(UTC) - timedelta(minutes=5)
    posts = [
        _post("x-4711", EXTERNAL_RANT, Source.EXTERNAL, "x", now),
        _post("teams-88", f"The ExampleCo launch slipped again, ask {UNFLAGGED_EMAIL}", Source.INTERNAL,
              "teams", now + timedelta(seconds=1)),
    ]  # fmt: skip
    alerts = [alert for result in build_pipeline(settings).process(posts) for alert in result.alerts]
    alerts.append(_spike(now, sample_post_id="x-4711"))
    by_rule = {alert.rule_id: alert for alert in alerts}
    assert {"global-brand-negative-employee-external", "acme-brand-mention-internal"} <= set(by_rule)
    app = live(database_url, settings=settings, alerts=alerts)
    return {role: app.client(role) for role in Role}, by_rule


def _assert_no_personal_data(body: str) -> None:
    for value in PERSONAL:
        assert value not in body, f"{value!r} reached comms"
    for shape in (EMAIL_SHAPE, HANDLE_SHAPE, PHONE_SHAPE):
        assert not shape.search(body), f"{shape.search(body)} reached comms"


def _events_until(client: httpx.Client, since: datetime, alert_id: str) -> str:
    """The stream up to the event of ``alert_id``. Alerts stored in one transaction share a change time
    and come in id order, so other comms-visible alerts may come first; every event read is checked.
    The client's read timeout ends a stream that never sends it."""
    with client.stream("GET", "/api/v1/alerts/stream", params={"since": since.isoformat()}) as response:
        body = ""
        for chunk in response.iter_text():
            body += chunk
            if alert_id in body and body.endswith("\n\n"):
                break
    return body


def test_comms_sees_rules_by_audience_pseudonymised_and_masked(
    scoped: tuple[dict[Role, httpx.Client], dict[str, Alert]],
) -> None:
    clients, by_rule = scoped
    comms = clients[Role.COMMS]
    reputation = by_rule["global-brand-negative-employee-external"]
    internal_brand = by_rule["acme-brand-mention-internal"]

    listing = comms.get("/api/v1/alerts")
    assert listing.status_code == 200
    page = listing.json()
    # "brand" in a rule id no longer decides anything: the overlay's brand rule stays with compliance.
    assert sorted(a["rule_id"] for a in page["data"]) == [
        "global-brand-negative-employee-external", "reputation-negative-spike"
    ]  # fmt: skip
    assert page["count"] == 2
    assert comms.get(f"/api/v1/alerts/{internal_brand.id}").status_code == 404
    single = comms.get(f"/api/v1/alerts/{reputation.id}")
    assert single.status_code == 200

    shown = single.json()
    listed = {a["id"]: a for a in page["data"]}
    assert shown["post_id"].startswith("post-") and shown["post_id"] != reputation.post_id
    assert shown["post_id"] == listed[reputation.id]["post_id"]  # stable, so comms can tell posts apart
    spike = by_rule["reputation-negative-spike"]
    assert listed[spike.id]["post_id"] == spike.post_id  # a window, not a post: the console charts it
    assert listed[spike.id]["origin"] == {}  # its sample post ids stay with compliance
    assert shown["author_id"].startswith("anon-")
    assert shown["post_id"].removeprefix("post-") != shown["author_id"].removeprefix("anon-")
    assert shown["origin"] == {}
    snippets = " ".join(e["snippet"] for e in shown["evidence"])
    assert "[EMAIL_ADDRESS]" in snippets and "[HANDLE]" in snippets and "[URL]" in snippets
    assert "terrible" in snippets  # the excerpt still says what the post was about

    event = _events_until(comms, reputation.created_at - timedelta(seconds=1), reputation.id)
    assert reputation.id in event
    for body in (listing.text, single.text, event):
        assert reputation.post_id not in body
        _assert_no_personal_data(body)

    # Compliance still sees everything, as it was posted.
    officer = clients[Role.OFFICER]
    assert officer.get("/api/v1/alerts").json()["count"] == len(by_rule)
    full = officer.get(f"/api/v1/alerts/{reputation.id}").json()
    assert full["post_id"] == "x-4711"
    assert UNFLAGGED_EMAIL in json.dumps(full)  # no detector flagged it; compliance may read the post
