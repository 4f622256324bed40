"""Evidence keeps context for reviewers and masks every personal-data span in it."""

from __future__ import annotations

from alerts.evidence import build_evidence
from detectors.base import Finding


def test_personal_data_is_masked_by_type_in_context() -> None:
    text = "CONFIDENTIAL: write to jane.doe@example.com or call +33 6 12 34 56 78 about the deal"
    email_at = text.index("jane")
    phone_at = text.index("+33")
    marker = Finding("lexicon", "confidentiality_markers", 0, 12, 1.0)
    email = Finding(
        "pii", "EMAIL_ADDRESS", email_at, email_at + len("jane.doe@example.com"), 1.0, "EmailRecognizer"
    )
    phone = Finding("pii", "PHONE_NUMBER", phone_at, phone_at + len("+33 6 12 34 56 78"), 0.75)
    evidence = build_evidence(text, [marker, email], [marker, email, phone])
    marker_evidence, email_evidence = evidence
    assert "jane.doe" not in marker_evidence.snippet
    assert "[EMAIL_ADDRESS]" in marker_evidence.snippet
    assert marker_evidence.snippet.startswith("CONFIDENTIAL")
    assert not marker_evidence.personal
    assert email_evidence.personal
    assert email_evidence.span == "jane.doe@example.com"
    assert "[PHONE_NUMBER]" in email_evidence.snippet
    assert "12 34" not in email_evidence.snippet


def test_whole_post_finding_keeps_no_raw_span_and_a_bounded_excerpt() -> None:
    text = "awful service " * 40
    sentiment = Finding("sentiment", "negative", 0, len(text), -0.9)
    (evidence,) = build_evidence(text, [sentiment], [sentiment])
    assert evidence.span is None
    assert len(evidence.snippet) <= 201
    assert evidence.snippet.endswith("…")


def test_context_never_swallows_a_long_blob() -> None:
    text = "key " + "A" * 500 + " leaked"
    key = Finding("pattern", "AWS_SECRET_KEY", 4, 504, 0.9)
    marker = Finding("lexicon", "leak_terms", 505, 511, 1.0)
    (evidence,) = build_evidence(text, [marker], [key, marker])
    assert "AAAA" not in evidence.snippet
    assert "[AWS_SECRET_KEY]" in evidence.snippet
