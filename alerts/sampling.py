"""Risk-based sampling (FINRA Rule 3110.06): drawing posts that raised no alert into the review queue.

The draw is deterministic and keyed: ``HMAC-SHA256(seed, post id)`` read as a number in [0, 1) is
compared with the population's rate. So the same seed always draws the same posts (a replayed record,
another worker, a re-run: same sample, and ``Alert.id`` keeps it stored once), a different seed draws
others, and nobody without the seed can tell which of their posts will be drawn. Raising a rate keeps
every post drawn at the lower rate (the draws are nested), which keeps a rate change easy to reason
about.

A drawn post becomes an :class:`~alerts.model.Alert` of kind ``sample`` with rule id
:data:`SAMPLE_RULE_ID`, severity ``info``, the population's name, and as evidence the post's opening
(masked like any alert's evidence): the existing queue, review lifecycle, audit, masking and exports
apply to it unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from alerts.evidence import EvidenceLimits, build_evidence
from alerts.model import Alert, AlertKind, Severity, alert_id
from detectors.base import Finding
from policies.post import Post

SAMPLE_RULE_ID = "supervision.sample"
SAMPLE_TITLE = "Random sample for supervisory review"
SAMPLE_DETECTOR = "sample"
# Public, so that anyone can see a deployment that kept it: sampling with it is reproducible but
# predictable to whoever reads this file. Set VEILLE_SAMPLING_SEED in production.
DEMO_SEED = "veille-demo-sampling-seed-not-secret"
_SCALE = 2**64


def draw_value(seed: bytes, post_id: str) -> float:
    """The post's draw in [0, 1): uniform over post ids for a secret seed."""
    digest = hmac.new(seed, post_id.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def drawn(seed: bytes, post_id: str, percent: float) -> bool:
    """Is ``post_id`` in the ``percent`` % sample of this seed? 0 never, 100 always."""
    return draw_value(seed, post_id) * 100.0 < percent


def sample_alert(
    post: Post,
    *,
    jurisdiction: str,
    population: str,
    policy_version: str,
    findings: Sequence[Finding],
    origin: Mapping[str, Any],
    limits: EvidenceLimits | None = None,
) -> Alert:
    """The review item of a drawn post. ``findings`` are the post's personal-data and secret findings:
    masked in the evidence as in an alert's."""
    whole = Finding(detector=SAMPLE_DETECTOR, type=population, start=0, end=len(post.text), score=1.0)
    return Alert(
        id=alert_id(post.id, SAMPLE_RULE_ID),
        kind=AlertKind.SAMPLE,
        population=population,
        rule_id=SAMPLE_RULE_ID,
        rule_title=SAMPLE_TITLE,
        severity=Severity.INFO,
        jurisdiction=jurisdiction,
        source=post.source.value,
        channel=post.channel,
        post_id=post.id,
        author_id=post.author.id,
        author_role=post.author.role,
        lang=post.lang,
        post_created_at=post.created_at,
        policy_version=policy_version,
        evidence=build_evidence(post.text, [whole], findings, limits),
        evidence_total=1,
        explanation=[f"drawn at random for review in population {population}"],
        references=["FINRA Rule 3110.06 (risk-based review of correspondence)"],
        origin=dict(origin),
    )
