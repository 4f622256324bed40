"""Reviewers' verdicts on classifier-driven alerts, as labelled examples in the corpus format.

An alert is classifier-driven when its evidence holds a ``classifier`` finding: the label the rule's
classifier predicate read. A true positive makes the post a positive example of that label; a false
positive makes it a hard negative (``labels: ["none"]``, the label in ``negative_for``). Other
verdicts (benign, duplicate) say nothing about the label and are left out.

The store keeps no post text, only evidence: for a whole-post classifier finding, the first
``alerts.evidence.WHOLE_POST_EXCERPT_CHARS`` characters with the personal data the run found masked
by type (``[EMAIL_ADDRESS]``). That excerpt is what is exported (``text_complete`` says whether it
is the whole post), after every pattern PII entity and every name (NER) is masked again: the run only
looked for what its rules needed, and a corpus lives in a repository. Anonymised alerts (retention)
have no excerpt and are skipped.

Nothing here writes into ``policies/corpus/``: the examples are reviewed, then added by hand, and
``veille models train`` is the explicit, versioned retraining step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from alerts.evidence import masked_excerpt
from alerts.model import Alert, Verdict
from detectors.base import Detector
from detectors.classifier_train import LANGUAGES, NEGATIVE, split_for
from detectors.registry import full_plan
from policies.post import Author, Post, Source

EXPORTED_VERDICTS = (Verdict.TRUE_POSITIVE, Verdict.FALSE_POSITIVE)
ELLIPSIS = "…"


@dataclass
class _Post:
    text: str
    lang: str | None
    complete: bool
    positives: set[str] = field(default_factory=set)
    negatives: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)  # "<verdict> <alert id> <date>"
    rules: set[str] = field(default_factory=set)


@dataclass
class ExportCounts:
    alerts: int = 0  # closed alerts with a true/false positive verdict that were read
    exported: int = 0  # examples written (one per post)
    not_classifier: int = 0  # alerts no classifier finding drove
    anonymised: int = 0
    unknown_language: int = 0


def _excerpt(alert: Alert) -> tuple[str, bool] | None:
    for evidence in alert.evidence:
        if evidence.detector == "classifier" and evidence.start == 0:
            snippet = evidence.snippet
            complete = not snippet.endswith(ELLIPSIS)
            return (snippet if complete else snippet[: -len(ELLIPSIS)]), complete
    return None


class PersonalDataMask:
    """Masks what the ``pii`` and ``ner`` detectors find in a text, as evidence snippets are masked."""

    def __init__(self, detectors: Iterable[Detector]) -> None:
        self._detectors = [d for d in detectors if d.name in ("pii", "ner")]

    def __call__(self, text: str, lang: str) -> str:
        record = Post(
            id="feedback",
            source=Source.INTERNAL,
            channel="export",
            author=Author(id="export"),
            text=text,
            lang=lang,
        )
        plan = full_plan("GLOBAL")
        found = [f for detector in self._detectors for f in detector.detect([record], plan)[0]]
        return masked_excerpt(text, 0, len(text), found)


def feedback_examples(
    alerts: Iterable[Alert],
    counts: ExportCounts,
    detect_language: Callable[[str], str | None] | None = None,
    mask: Callable[[str, str], str] | None = None,
) -> list[dict[str, Any]]:
    """One corpus example per post reviewed, from its closed classifier-driven alerts."""
    posts: dict[str, _Post] = {}
    for alert in alerts:
        if alert.verdict not in EXPORTED_VERDICTS:
            continue
        counts.alerts += 1
        labels = sorted({e.type for e in alert.evidence if e.detector == "classifier"})
        if not labels:
            counts.not_classifier += 1
            continue
        excerpt = _excerpt(alert)
        if alert.anonymised_at is not None or excerpt is None:
            counts.anonymised += 1
            continue
        post = posts.get(alert.post_id)
        if post is None:
            post = posts[alert.post_id] = _Post(excerpt[0], alert.lang, excerpt[1])
        (post.positives if alert.verdict is Verdict.TRUE_POSITIVE else post.negatives).update(labels)
        closed = (alert.closed_at or alert.updated_at or alert.created_at).date().isoformat()
        post.sources.append(f"reviewer verdict {alert.id} {closed} ({alert.verdict.value})")
        post.rules.add(alert.rule_id)
    examples: list[dict[str, Any]] = []
    for post_id, post in posts.items():
        lang = post.lang
        if lang not in LANGUAGES and detect_language is not None:
            lang = detect_language(post.text)
        if lang not in LANGUAGES:
            counts.unknown_language += 1
            continue
        # Named by the post, so that exporting twice never yields two examples of one post.
        example_id = "feedback-" + hashlib.sha256(post_id.encode()).hexdigest()[:16]
        negatives = sorted(post.negatives - post.positives)
        examples.append(
            {
                "id": example_id,
                "text": mask(post.text, lang) if mask is not None else post.text,
                "lang": lang,
                "labels": sorted(post.positives) or [NEGATIVE],
                "provenance": "; ".join(post.sources),
                "split": split_for(example_id),
                "negative_for": negatives,
                "text_complete": post.complete,
                "rules": sorted(post.rules),
            }
        )
        counts.exported += 1
    examples.sort(key=lambda e: str(e["id"]))
    return examples
