"""Evidence for reviewers: the matched spans with a little context, personal data masked by type."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.model import Evidence
from detectors.base import Finding

# Detectors whose findings are personal data or secrets: masked wherever they appear in a snippet.
SENSITIVE_DETECTORS = frozenset({"pii", "pattern"})
CONTEXT_CHARS = 40
WHOLE_POST_EXCERPT_CHARS = 200


def mask_label(finding: Finding) -> str:
    return f"[{finding.type}]"


def is_sensitive(finding: Finding) -> bool:
    return finding.detector in SENSITIVE_DETECTORS


def masked_excerpt(text: str, start: int, end: int, sensitive: Sequence[Finding]) -> str:
    """``text[start:end]`` with every sensitive span overlapping it replaced by its type label."""
    pieces: list[str] = []
    cursor = start
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


def build_evidence(text: str, evidence: Sequence[Finding], all_findings: Sequence[Finding]) -> list[Evidence]:
    sensitive = [finding for finding in all_findings if is_sensitive(finding)]
    result = []
    for finding in evidence:
        whole_post = finding.start == 0 and finding.end >= len(text)
        if whole_post:
            window_start, window_end = 0, min(len(text), WHOLE_POST_EXCERPT_CHARS)
        else:
            window_start = _word_start(text, max(0, finding.start - CONTEXT_CHARS))
            window_end = _word_end(text, min(len(text), finding.end + CONTEXT_CHARS))
        snippet = masked_excerpt(text, window_start, window_end, sensitive)
        if window_start > 0:
            snippet = "…" + snippet
        if window_end < len(text):
            snippet += "…"
        result.append(
            Evidence(
                detector=finding.detector,
                type=finding.type,
                start=finding.start,
                end=finding.end,
                score=round(finding.score, 4),
                recognizer=finding.recognizer,
                snippet=snippet,
                span=None if whole_post else text[finding.start : finding.end],
                personal=is_sensitive(finding),
            )
        )
    return result


MAX_WIDEN_CHARS = 20


def _word_start(text: str, index: int) -> int:
    """Widen to the start of the word so that context never begins mid-word (a little, not a whole blob)."""
    limit = max(0, index - MAX_WIDEN_CHARS)
    while index > limit and not text[index - 1].isspace():
        index -= 1
    return index


def _word_end(text: str, index: int) -> int:
    limit = min(len(text), index + MAX_WIDEN_CHARS)
    while index < limit and not text[index].isspace():
        index += 1
    return index
