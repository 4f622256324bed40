"""`veille models export-feedback`: reviewers' verdicts on classifier-driven alerts, from a real store
(SQLite and PostgreSQL), become corpus-format examples; nothing is written into the corpus."""

from __future__ import annotations

import hashlib
import json

import pytest
from typer.testing import CliRunner

from alerts.audit import CLI_ACTOR, Actor
from alerts.model import AlertStatus, Verdict
from alerts.store import SqlAlertStore
from detectors.classifier_train import load_corpus
from monitor.cli import app
from monitor.models_cli import shipped_corpus_dir
from monitor.pipeline import build_pipeline
from monitor.settings import Settings
from policies.post import Author, Post, Source

EMAIL = "tips.growth@example.com"
# (id, jurisdiction, role, employee, text): what the shipped packs make of each is checked below.
TEXTS = {
    "promo": f"I grew my pot 40% last year with this app, use my link for a free share. Questions? {EMAIL}",
    "calm": "Honest question for my clients: what does a calm year look like for you? Happy to talk through "
    "your plan and the risks.",
    "card": "Can you pay the hotel with card 4111 1111 1111 1111 exp 04/28",
    "long": "My clients never see a losing year and neither will you. Put 100k with me today and watch it "
    "grow every single month, rain or shine, whatever the market does. I have done this for twenty years "
    "and not one account has ever gone down, not once, not ever.",
}
AUTHORS = {  # jurisdiction, role, is_employee
    "promo": ("GB", "public", False),
    "calm": ("US", "registered_rep", True),
    "card": ("US", "employee", True),
    "long": ("US", "registered_rep", True),
}
VERDICTS = {
    "promo": Verdict.TRUE_POSITIVE,
    "calm": Verdict.FALSE_POSITIVE,
    "card": Verdict.TRUE_POSITIVE,
    "long": Verdict.BENIGN,
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path, postgres_server_url):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'veille.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def reviewed(store_url):
    posts = [
        Post(
            id=pid,
            source=Source.EXTERNAL,
            channel="x",
            author=Author(id=f"a-{pid}", role=AUTHORS[pid][1], is_employee=AUTHORS[pid][2]),
            text=text,
            lang="en",
            jurisdiction=AUTHORS[pid][0],
        )
        for pid, text in TEXTS.items()
    ]
    alerts = [a for result in build_pipeline(Settings()).process(posts) for a in result.alerts]
    by_post = {a.post_id: a for a in alerts}
    assert {a.post_id: a.rule_id for a in alerts} == {
        "promo": "uk-fca-unapproved-promotion",
        "calm": "us-finra-2210-promissory",
        "card": "global-payment-data-in-post",
        "long": "us-finra-2210-promissory",
    }
    store = SqlAlertStore.open(store_url)
    try:
        store.add_many(alerts)
        for post_id, verdict in VERDICTS.items():
            _close(store, by_post[post_id].id, verdict)
    finally:
        store.close()
    return store_url, by_post


# us-finra-2210-promissory is a four-eyes rule: its closures count once a second reviewer approved them.
APPROVER = Actor(name="principal-2", role="principal")


def _close(store: SqlAlertStore, alert_id: str, verdict: Verdict) -> None:
    closed = store.transition(alert_id, AlertStatus.CLOSED, CLI_ACTOR, verdict=verdict)
    if closed.status is AlertStatus.PENDING_APPROVAL:
        store.decide_approval(alert_id, True, APPROVER)


def _export(url, output):
    return CliRunner().invoke(app, ["models", "export-feedback", "--database-url", url, "-o", str(output)])


def _corpus_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(shipped_corpus_dir().glob("*")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def test_verdicts_become_corpus_examples(reviewed, tmp_path):
    url, by_post = reviewed
    before = _corpus_digest()
    output = tmp_path / "feedback.jsonl"
    result = _export(url, output)
    assert result.exit_code == 0, result.output
    assert "2 example(s) from 3 reviewed alert(s)" in result.output
    assert "1 not classifier-driven" in result.output
    examples = {e["provenance"].split()[2]: e for e in map(json.loads, output.read_text().splitlines())}
    promo = examples[by_post["promo"].id]
    assert promo["labels"] == ["financial_promotion"] and promo["negative_for"] == []
    # The run never looked for the public author's e-mail; the export masks it all the same.
    assert EMAIL not in promo["text"] and "[EMAIL_ADDRESS]" in promo["text"]
    assert promo["text"].startswith("I grew my pot 40% last year") and promo["text_complete"]
    calm = examples[by_post["calm"].id]
    assert calm["labels"] == ["none"] and calm["negative_for"] == ["promissory_claim"]
    assert "(false_positive)" in calm["provenance"] and calm["rules"] == ["us-finra-2210-promissory"]
    # Lexicon- or PII-driven alerts and benign verdicts say nothing about a label.
    assert by_post["card"].id not in examples and by_post["long"].id not in examples
    # The file is valid corpus input as it stands (ids, splits, labels, provenance)...
    assert len(load_corpus([output])) == 2
    # ...and the corpus itself is untouched: adding examples stays a reviewed, manual step.
    assert _corpus_digest() == before


def test_long_posts_export_their_stored_excerpt(reviewed, tmp_path):
    url, by_post = reviewed
    store = SqlAlertStore.open(url)
    try:
        store.transition(by_post["long"].id, AlertStatus.OPEN, CLI_ACTOR, reason="reopened to correct it")
        _close(store, by_post["long"].id, Verdict.TRUE_POSITIVE)
    finally:
        store.close()
    output = tmp_path / "feedback.jsonl"
    assert _export(url, output).exit_code == 0
    examples = map(json.loads, output.read_text().splitlines())
    [long] = [e for e in examples if by_post["long"].id in e["provenance"]]
    assert long["labels"] == ["promissory_claim"] and not long["text_complete"]
    assert len(long["text"]) == 200 and TEXTS["long"].startswith(long["text"])


def test_refuses_to_write_into_the_corpus(reviewed):
    url, _ = reviewed
    target = shipped_corpus_dir() / "feedback.jsonl"
    result = _export(url, target)
    assert result.exit_code == 2 and "refusing to write into the corpus" in result.output
    assert not target.exists()
