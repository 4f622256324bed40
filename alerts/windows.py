"""E-reputation window numbers as stored: counts per brand, jurisdiction and source, never authors."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WindowRow:
    """One closed (or current) window's numbers, as kept for the timeline and share-of-voice routes."""

    brand: str
    jurisdiction: str
    source: str
    window_start: int
    volume: int
    scored: int
    negatives: int
    compound_sum: float
    negative_terms: dict[str, int] = field(default_factory=dict)
