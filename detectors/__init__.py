"""Detectors: turn a batch of posts into findings (PII, sentiment, lexicon phrases, patterns)."""

from detectors.base import Detector, DetectorPlan, Finding, TextRecord

__all__ = ["Detector", "DetectorPlan", "Finding", "TextRecord"]
