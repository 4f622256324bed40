"""Evidence is bounded per alert (spans and bytes), fair to every kind of finding, and built in linear
time; masking stays exactly what the per-snippet version did."""

from __future__ import annotations

import random
import time

import pytest

from alerts.evidence import EvidenceLimits, build_evidence, mask_label, masked_excerpt
from alerts.model import Alert, Evidence
from detectors.base import Finding


def reference_masked(text: str, start: int, end: int, sensitive: list[Finding]) -> str:
    """The masking as it was: every sensitive finding sorted again for each snippet."""
    pieces, cursor = [], start
    for finding in sorted(sensitive, key=lambda item: (item.start, -item.end)):
        if finding.end <= cursor or finding.start >= end:
            continue
        if finding.start > cursor:
            pieces.append(text[cursor : finding.start])
        pieces.append(mask_label(finding))
        cursor = max(cursor, finding.end)
    if cursor < end:
        pieces.append(text[cursor:end])
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(3))
def test_masking_any_window_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1000):
        text = "".join(rng.choice("ab c") for _ in range(rng.randint(1, 80)))
        findings = []
        for _ in range(rng.randint(0, 12)):
            start = rng.randrange(len(text))
            # Some long ones: a span that starts before a window and reaches into it must be masked.
            end = rng.randint(start + 1, min(len(text), start + rng.choice((3, 40))))
            findings.append(Finding("pii", rng.choice(("EMAIL", "PHONE")), start, end, 0.9))
        start = rng.randrange(len(text))
        end = rng.randint(start, len(text))
        assert masked_excerpt(text, start, end, findings) == reference_masked(text, start, end, findings)


def _emails(count: int) -> tuple[str, list[Finding]]:
    text = "a@b.fr " * count
    return text, [Finding("pii", "EMAIL_ADDRESS", 7 * i, 7 * i + 6, 0.9, "EmailRecognizer")
                  for i in range(count)]


def test_fourteen_thousand_addresses_make_a_bounded_alert_in_linear_time() -> None:
    text, emails = _emails(14_000)
    started = time.perf_counter()
    evidence = build_evidence(text, emails, emails)
    elapsed = time.perf_counter() - started
    # Before: every snippet sorted all 14,000 findings again (≈30 s here), and the alert was 5.8 MB.
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert 0 < len(evidence) <= EvidenceLimits().max_spans
    assert sum(len(item.model_dump_json().encode()) for item in evidence) <= EvidenceLimits().max_bytes
    assert all("@" not in item.snippet for item in evidence), "every address is masked in every snippet"


def test_the_byte_limit_applies_before_the_span_limit() -> None:
    text, emails = _emails(200)
    evidence = build_evidence(text, emails, emails, EvidenceLimits(max_spans=200, max_bytes=4096))
    size = sum(len(item.model_dump_json().encode()) for item in evidence)
    assert 0 < len(evidence) < 200
    assert 4096 - 400 < size <= 4096


def test_every_kind_of_finding_keeps_its_turn() -> None:
    text, emails = _emails(1000)
    text += "confidential"
    marker = Finding("lexicon", "confidentiality_markers", 7000, 7012, 1.0)
    evidence = build_evidence(text, [*emails, marker], [*emails, marker], EvidenceLimits(max_spans=10))
    assert len(evidence) == 10
    assert evidence[-1].type == "confidentiality_markers", "the marker is kept, in post order"
    assert [item.start for item in evidence] == sorted(item.start for item in evidence)


def test_one_huge_span_is_cut_to_fit_and_says_so() -> None:
    text = "-----BEGIN PRIVATE KEY-----" + "A" * 60_000 + " leaked"
    key = Finding("pattern", "PRIVATE_KEY", 0, len(text) - 7, 0.99)
    (item,) = build_evidence(text, [key], [key], EvidenceLimits(max_bytes=2048))
    assert len(item.model_dump_json().encode()) <= 2048
    assert item.span is not None and item.span.endswith("…") and text.startswith(item.span[:-1])
    assert (item.start, item.end) == (0, len(text) - 7), "the offsets still name the whole span"


def test_the_alert_counts_every_span_and_says_it_was_cut() -> None:
    base = {"id": "a", "rule_id": "r", "rule_title": "t", "severity": "high", "jurisdiction": "FR",
            "source": "internal", "channel": "x", "post_id": "p", "author_id": "u", "author_role": "employee",
            "post_created_at": "2025-03-01T00:00:00Z", "policy_version": "v"}
    item = Evidence(detector="pii", type="EMAIL_ADDRESS", start=0, end=6, score=0.9, snippet="[EMAIL]")
    cut = Alert.model_validate({**base, "evidence": [item], "evidence_total": 14_000})
    assert (cut.evidence_total, cut.evidence_truncated) == (14_000, True)
    # Alerts stored before evidence was bounded (evidence_total null) kept all of it.
    old = Alert.model_validate({**base, "evidence": [item, item], "evidence_total": None})
    assert (old.evidence_total, old.evidence_truncated) == (2, False)
