"""The contract every detector honours, the record it reads, and the per-jurisdiction plan that tells
it what to look for."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol


class TextRecord(Protocol):
    """What a detector reads of a post: its text and, when the producer declared it, its language.

    The policies' ``Post`` is one; a detector never sees the author, channel or source.
    """

    @property
    def text(self) -> str: ...

    @property
    def lang(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a detector found in one post.

    ``detector`` and ``type`` are bounded names (metric labels, rule predicates). ``start``/``end``
    are character offsets into the post text; a finding about the whole post (sentiment) spans it all.
    ``recognizer`` says which recognizer or pattern produced it: the explanation shown to reviewers.
    """

    detector: str
    type: str
    start: int
    end: int
    score: float
    recognizer: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DetectorPlan:
    """What one jurisdiction's rules need from the detectors: compiled once at policy load.

    A detector not named in ``detectors`` never runs for posts of this jurisdiction, and a
    detector never loads what its plan does not ask for (no NER model unless a NER entity is needed).
    """

    jurisdiction: str
    detectors: frozenset[str] = frozenset()
    pii_entities: frozenset[str] = frozenset()
    lexicon_lists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    patterns: frozenset[str] = frozenset()
    sentiment: bool = False
    # Classifier labels to score, each with the lowest score a rule of the plan asks for: what the
    # detector reports. Empty with "classifier" in ``detectors``: every label at the model's threshold.
    classifier_min_scores: Mapping[str, float] = field(default_factory=dict)

    def wants(self, detector: str) -> bool:
        return detector in self.detectors


class Detector(Protocol):
    """Runs over a whole poll batch at once; returns one list of findings per post, in order."""

    name: ClassVar[str]

    def detect(self, posts: Sequence[TextRecord], plan: DetectorPlan) -> list[list[Finding]]: ...
