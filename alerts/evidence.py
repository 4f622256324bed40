"""Evidence for reviewers: the matched spans with a little context, personal data masked by type.

Bounded and linear in the post: a post can hold thousands of matches (100 KB of e-mail addresses),
so an alert keeps at most :class:`EvidenceLimits` spans and bytes, taken in turn from each kind of
finding (so that a flood of one kind never hides the other reasons the rule matched); the alert
records how many there were (``evidence_total``). The sensitive spans are sorted once; each snippet
finds its own by bisection.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

from alerts.model import Evidence
from detectors.base import Finding

# Detectors whose findings are personal data or secrets: masked wherever they appear in a snippet.
SENSITIVE_DETECTORS = frozenset({"pii", "pattern"})
CONTEXT_CHARS = 40
WHOLE_POST_EXCERPT_CHARS = 200
MAX_WIDEN_CHARS = 20
_ELLIPSIS = "…"


@dataclass(frozen=True)
class EvidenceLimits:
    """How much evidence one alert keeps: ``max_spans`` items and ``max_bytes`` of them in JSON."""

    max_spans: int = 50
    max_bytes: int = 16 * 1024

    def __post_init__(self) -> None:
        if self.max_spans < 1 or self.max_bytes < 1024:
            raise ValueError(f"evidence limits need max_spans >= 1 and max_bytes >= 1024, got {self}")


def mask_label(finding: Finding) -> str:
    return f"[{finding.type}]"


def is_sensitive(finding: Finding) -> bool:
    return finding.detector in SENSITIVE_DETECTORS


class MaskedSpans:
    """The spans to mask in one post's text, sorted once, for masking any number of windows of it."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self._sorted = sorted(findings, key=lambda f: (f.start, -f.end))
        # Running maximum of the ends: bisect on it finds the first span that reaches a window.
        self._reach = list(accumulate((f.end for f in self._sorted), max))

    def overlapping(self, start: int, end: int) -> Iterator[Finding]:
        for index in range(bisect_right(self._reach, start), len(self._sorted)):
            finding = self._sorted[index]
            if finding.start >= end:
                return
            if finding.end > start:
                yield finding


def masked_excerpt(text: str, start: int, end: int, masked: Sequence[Finding] | MaskedSpans) -> str:
    """``text[start:end]`` with every span of ``masked`` overlapping it replaced by its type label.

    Pass a :class:`MaskedSpans` when masking several windows of one text: a plain sequence is sorted
    on each call.
    """
    spans = masked if isinstance(masked, MaskedSpans) else MaskedSpans(masked)
    pieces: list[str] = []
    cursor = start
    for finding in spans.overlapping(start, end):
        if finding.end <= cursor:
            continue
        if finding.start > cursor:
            pieces.append(text[cursor : finding.start])
        pieces.append(mask_label(finding))
        cursor = finding.end
    if cursor < end:
        pieces.append(text[cursor:end])
    return "".join(pieces)


def build_evidence(
    text: str,
    evidence: Sequence[Finding],
    all_findings: Sequence[Finding],
    limits: EvidenceLimits | None = None,
) -> list[Evidence]:
    """At most ``limits`` of ``evidence`` (the alert's ``evidence_total`` is ``len(evidence)``), in
    post order; ``all_findings`` are the post's, whose sensitive spans are masked in every snippet."""
    limits = limits or EvidenceLimits()
    sensitive = MaskedSpans([finding for finding in all_findings if is_sensitive(finding)])
    chosen: dict[int, Evidence] = {}
    budget = limits.max_bytes
    for index in _in_turn_by_kind(evidence):
        if len(chosen) == limits.max_spans:
            break
        item = _evidence(text, evidence[index], sensitive)
        size = _size(item)
        if size > budget:
            if chosen:
                break
            # Even the first item is over the budget (a huge matched span): keep it, cut to fit.
            item = _clipped(item, budget)
            size = budget
        chosen[index] = item
        budget -= size
    return [chosen[index] for index in sorted(chosen)]


def _in_turn_by_kind(evidence: Sequence[Finding]) -> Iterator[int]:
    """Indexes of ``evidence`` taking one of each (detector, type) in turn, in order of first appearance."""
    kinds: dict[tuple[str, str], list[int]] = {}
    for index, finding in enumerate(evidence):
        kinds.setdefault((finding.detector, finding.type), []).append(index)
    queues = list(kinds.values())
    for depth in range(max((len(queue) for queue in queues), default=0)):
        for queue in queues:
            if depth < len(queue):
                yield queue[depth]


def _evidence(text: str, finding: Finding, sensitive: MaskedSpans) -> Evidence:
    whole_post = finding.start == 0 and finding.end >= len(text)
    if whole_post:
        window_start, window_end = 0, min(len(text), WHOLE_POST_EXCERPT_CHARS)
    else:
        window_start = _word_start(text, max(0, finding.start - CONTEXT_CHARS))
        window_end = _word_end(text, min(len(text), finding.end + CONTEXT_CHARS))
    snippet = masked_excerpt(text, window_start, window_end, sensitive)
    if window_start > 0:
        snippet = _ELLIPSIS + snippet
    if window_end < len(text):
        snippet += _ELLIPSIS
    return Evidence(
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


def _size(item: Evidence) -> int:
    return len(item.model_dump_json().encode())


def _clipped(item: Evidence, budget: int) -> Evidence:
    """``item`` with its raw span, then its snippet, cut (and marked with an ellipsis) to fit ``budget``."""
    snippet, span = item.snippet, item.span
    cut_snippet = cut_span = False
    while _size(item) > budget and (len(snippet) > 1 or (span is not None and len(span) > 1)):
        # Removing as many characters as there are bytes over is enough (or nearly, with the ellipsis).
        over = _size(item) - budget
        if span is not None and len(span) > 1:
            span, cut_span = span[: max(1, len(span) - over)], True
        else:
            snippet, cut_snippet = snippet[: max(1, len(snippet) - over)], True
        item = item.model_copy(update={
            "snippet": snippet + _ELLIPSIS if cut_snippet else snippet,
            "span": (span or "") + _ELLIPSIS if cut_span else span,
        })
    return item


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
