"""Personal data never reaches the logs, even at DEBUG level.

Generated posts full of e-mail addresses, phone numbers, IBANs, NIRs and card numbers go through a real
`veille run -v`; malformed records carrying personal data go to the DLQ; a real `veille api -v` then
serves the alerts to an officer who lists, reads, comments (with a phone number), reveals spans and
follows the stream. Every personal-data value the detectors found in those posts, and every post's
text, is then searched for in both processes' captured output.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from alerts.evidence import is_sensitive
from monitor.broker import free_port
from monitor.pipeline import Pipeline
from monitor.settings import Settings
from monitor.traffic import generate_posts

pytestmark = pytest.mark.kafka

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
COMMENT_PHONE = "+33 6 48 27 19 53"
COMMENT_EMAIL = "claire.martin@orange.fr"
# How personal data may also be written: without its separators.
_SEPARATORS = re.compile(r"[\s.-]")


def _personal_values(pipeline: Pipeline, posts: list[Any]) -> set[str]:
    values: set[str] = set()
    for result in pipeline.process(posts):
        for finding in result.findings:
            if is_sensitive(finding):
                span = result.post.text[finding.start : finding.end]
                values.add(span)
                compact = _SEPARATORS.sub("", span)
                if len(compact) >= 8:
                    values.add(compact)
    return values


@pytest.mark.parametrize("kafka_broker", ["tansu"], indirect=True)
def test_no_personal_data_or_post_text_in_debug_logs(
    kafka_settings: Settings, children: Any, tmp_path: Path, fault: Any, pipeline: Pipeline,
) -> None:
    token = f"veille_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}"
    api_port = free_port()
    settings = kafka_settings.model_copy(
        update={"api_port": api_port, "bootstrap_admin_token": SecretStr(token)})
    env = fault.worker_env(settings)
    # Every post carrying personal data or a breach, and some chatter.
    posts = [post for index, post in enumerate(generate_posts(3000, seed=61))
             if post.metadata.get("sample_kind") != "benign" or index % 5 == 0]
    personal = _personal_values(pipeline, posts)
    kinds = {finding.type for result in pipeline.process(posts) for finding in result.findings}
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "CREDIT_CARD"} <= kinds, kinds

    worker = children(["run", "--verbose"], env, tmp_path / "run.log")
    api = children(["api", "--verbose"], env, tmp_path / "api.log")
    topic = settings.input_topics[0]
    victim = posts[0]
    malformed = [
        json.dumps({"id": "m-1", "source": victim.text, "author": {"id": "u"}, "text": "x"}).encode(),
        json.dumps({"id": "m-2", "source": "external", "author": victim.text, "text": "x"}).encode(),
        f"not json, {victim.text}".encode(),
        json.dumps({"id": "m-3", "source": "external", "channel": "x", "author": {"id": "u"},
                    "text": victim.text, "lang": victim.text}).encode(),
    ]
    ends = fault.merge_ends(fault.produce(settings, posts),
                            fault.produce_raw(settings, [(topic, b"m", value) for value in malformed]))
    fault.wait_committed(settings, ends, 180, worker)

    base = f"http://127.0.0.1:{api_port}/api/v1"
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        fault.wait_until(lambda: _answers(client), 60, "the API to answer")
        alerts = client.get("/alerts", params={"limit": 500}).json()["data"]
        assert alerts, "the generated posts raised no alert"
        for alert in alerts[:40]:
            assert client.get(f"/alerts/{alert['id']}").status_code == 200
        for alert in alerts[:5]:
            client.post(f"/alerts/{alert['id']}/comments",
                        json={"body": f"Called the author on {COMMENT_PHONE}, wrote to {COMMENT_EMAIL}"})
            client.post(f"/alerts/{alert['id']}/reveal",
                        json={"justification": f"DPO request: confirm {COMMENT_EMAIL} leaked"})
            client.post(f"/alerts/{alert['id']}/transition",
                        json={"to": "closed", "verdict": "true_positive", "comment": COMMENT_PHONE})
        with client.stream("GET", "/alerts/stream", params={"since": "2000-01-01T00:00:00Z"}) as stream:
            started = time.monotonic()
            for _ in stream.iter_bytes():
                if time.monotonic() - started > 3:
                    break
        for path in ("/analytics/counts", "/audit", "/brands/share-of-voice"):
            client.get(path, params={"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"})
    assert worker.stop() == 0, worker.tail()
    assert api.stop() == 0, api.tail()

    for child in (worker, api):
        output = child.output()
        assert "DEBUG" in output, f"{child.log.name} was not at DEBUG level"
        leaked = sorted(value for value in personal | {COMMENT_PHONE, COMMENT_EMAIL} if value in output)
        assert not leaked, f"personal data in {child.log.name}: {leaked[:10]}"
        texts = sorted(post.id for post in posts if post.text in output or post.text[:40] in output)
        assert not texts, f"post text in {child.log.name} (posts {texts[:10]})"
        emails = set(EMAIL.findall(output))
        assert not emails, f"e-mail addresses in {child.log.name}: {sorted(emails)[:10]}"
        assert token not in output, f"the API token is in {child.log.name}"


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/alerts", params={"limit": 1}).status_code == 200
    except httpx.HTTPError:
        return False
