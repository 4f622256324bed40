"""The e-reputation aggregator's state: tumbling windows, EWMA baselines and crisis bookkeeping, as
saved between batches, with the settings that size them (``monitor.reputation`` explains the method).

Themes: the words of negative brand posts are counted per window for the "top negative themes"
view, keeping only lower-case words of letters (no names as usually written, no handles, numbers,
e-mail addresses or URLs), outside any span a detector flagged, and not the brand's own terms;
the API shows a word only once enough distinct posts used it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from detectors.lexicon import fold

# Distinct theme words kept per window: bounds the state row whatever the posts say.
MAX_TERMS_PER_WINDOW = 200
_CHUNK = re.compile(r"\S+")
_LETTERS = re.compile(r"[^\W\d_]{3,}")
# Compared after folding, like the words: accents do not matter.
_STOPWORDS_TEXT = """
    the and for are but not you your with this that have has had was were will would can could
    just they them their there what when where which who why how all any been being from into out
    over very too more most some such than then these those its it's our ours about again also only
    really still even get got like dont don't cant can't im i'm ive i've it’s les des une est pas que qui
    pour dans par sur avec sont mais plus tout tous cette ces son ses leur leurs nous vous ils elles
    elle était être avoir fait faire encore très comme aux du au
"""
STOPWORDS = frozenset(fold(word)[0] for word in _STOPWORDS_TEXT.split())


class ReputationConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    window_seconds: int = Field(default=300, ge=10, le=86_400, description="tumbling window length")
    k: float = Field(
        default=3.0, gt=0, description="standard deviations above the baseline for a spike, where no "
        "policy pack sets spikes.k"
    )
    min_volume: int = Field(
        default=20, ge=1, description="posts a window needs before it can spike, where no policy pack "
        "sets spikes.min_volume"
    )
    ewma_alpha: float = Field(
        default=2 / (2016 + 1), gt=0, le=1, description="EWMA weight; 2/(N+1) for N windows (7 days of 5 min)"
    )
    min_baseline_windows: int = Field(default=12, ge=1, description="closed windows before any spike")
    allowed_lateness_seconds: int = Field(default=60, ge=0, description="how late a post may arrive")


@dataclass
class Ewma:
    n: int = 0
    mean: float = 0.0
    var: float = 0.0

    def update(self, value: float, alpha: float) -> None:
        weight = max(alpha, 1.0 / (self.n + 1))
        self.n += 1
        diff = value - self.mean
        increment = weight * diff
        self.mean += increment
        self.var = (1 - weight) * (self.var + diff * increment)

    @property
    def dev(self) -> float:
        return math.sqrt(max(self.var, 0.0))


@dataclass
class Window:
    start: int
    volume: int = 0
    scored: int = 0
    negatives: int = 0
    compound_sum: float = 0.0
    samples: list[str] = field(default_factory=list)
    raised: list[str] = field(default_factory=list)  # spike kinds already alerted for this window
    negative_terms: dict[str, int] = field(default_factory=dict)  # word -> negative posts using it

    @property
    def negative_share(self) -> float:
        return self.negatives / self.scored if self.scored else 0.0

    @property
    def mean_compound(self) -> float:
        return self.compound_sum / self.scored if self.scored else 0.0


@dataclass
class KeyState:
    brand: str
    jurisdiction: str
    source: str
    watermark: int = 0
    last_closed: int | None = None
    windows: dict[int, Window] = field(default_factory=dict)
    share: Ewma = field(default_factory=Ewma)
    volume: Ewma = field(default_factory=Ewma)

    @property
    def key(self) -> str:
        return f"window:{self.brand}:{self.jurisdiction}:{self.source}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["windows"] = [asdict(w) for w in self.windows.values()]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyState:
        return cls(
            brand=data["brand"], jurisdiction=data["jurisdiction"], source=data["source"],
            watermark=data["watermark"], last_closed=data["last_closed"],
            windows={w["start"]: Window(**w) for w in data["windows"]},
            share=Ewma(**data["share"]), volume=Ewma(**data["volume"]),
        )


@dataclass
class BrandState:
    """Crisis bookkeeping for one brand: recent employee hits and external negative spikes."""

    brand: str
    watermark: int = 0
    employee_hits: dict[int, list[str]] = field(default_factory=dict)  # window -> sample alert ids
    negative_spikes: dict[int, list[str]] = field(default_factory=dict)  # window -> [jurisdiction, id]
    crises: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"brand:{self.brand}"

    def to_json(self) -> dict[str, Any]:
        return {"brand": self.brand, "watermark": self.watermark, "crises": self.crises,
                "employee_hits": {str(k): v for k, v in self.employee_hits.items()},
                "negative_spikes": {str(k): v for k, v in self.negative_spikes.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BrandState:
        return cls(brand=data["brand"], watermark=data["watermark"], crises=list(data["crises"]),
                   employee_hits={int(k): v for k, v in data["employee_hits"].items()},
                   negative_spikes={int(k): v for k, v in data["negative_spikes"].items()})


def theme_words(text: str, findings: Sequence[Any], excluded: frozenset[str]) -> set[str]:
    """The words of one post that may show as a theme (see the module docstring)."""
    flagged = [(f.start, f.end) for f in findings
               if getattr(f, "detector", "sentiment") not in ("sentiment", "language")]
    words: set[str] = set()
    for chunk in _CHUNK.finditer(text):
        # A chunk with @, / or a digit is a handle, e-mail, URL, number or code: never a theme.
        if any(c in "@/#" or c.isdigit() for c in chunk.group()):
            continue
        if any(s < chunk.end() and chunk.start() < e for s, e in flagged):
            continue
        for match in _LETTERS.finditer(chunk.group()):
            word = match.group()
            if not word.islower():  # names and acronyms are usually capitalised
                continue
            folded = fold(word)[0]
            if folded not in STOPWORDS and folded not in excluded:
                words.add(folded)
    return words
