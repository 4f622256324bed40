"""Brands to watch (configuration) and which of them a post mentions.

Matching reuses the lexicon detector's automaton (detectors.lexicon.LexiconMatcher): the same
case-, accent- and word-boundary-aware folding as the policy packs' phrase lists, one pass per post.
The set of brands is bounded (``MAX_BRANDS``) because the brand name is a metric label.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.lexicon import LexiconMatcher

MAX_BRANDS = 50
MAX_TERMS_PER_BRAND = 200


class BrandConfig(BaseModel):
    """One brand: its name (a metric label) and every way posts refer to it, in any language."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$", description="label, e.g. ExampleCo")
    aliases: list[str] = Field(default_factory=list, description="product names, spellings, translations")
    handles: list[str] = Field(default_factory=list, description="e.g. @exampleco")
    hashtags: list[str] = Field(default_factory=list, description="e.g. #exampleco")

    @field_validator("handles")
    @classmethod
    def _at(cls, value: list[str]) -> list[str]:
        return [h if h.startswith("@") else f"@{h}" for h in (v.strip() for v in value) if h]

    @field_validator("hashtags")
    @classmethod
    def _hash(cls, value: list[str]) -> list[str]:
        return [h if h.startswith("#") else f"#{h}" for h in (v.strip() for v in value) if h]

    def terms(self) -> list[str]:
        terms = [self.name, *self.aliases, *self.handles, *self.hashtags]
        if len(terms) > MAX_TERMS_PER_BRAND:
            raise ValueError(
                f"brand {self.name!r} has {len(terms)} terms; at most {MAX_TERMS_PER_BRAND} are allowed"
            )
        return [term for term in terms if term.strip()]


def default_brands() -> list[BrandConfig]:
    """The placeholder brand of the policy packs' ``brand_names`` list, so that a fresh install works."""
    return [BrandConfig(name="ExampleCo", handles=["@exampleco"], hashtags=["#exampleco"])]


def check_brands(brands: Sequence[BrandConfig]) -> None:
    if len(brands) > MAX_BRANDS:
        raise ValueError(f"{len(brands)} brands configured; at most {MAX_BRANDS} (brand is a metric label)")
    seen: set[str] = set()
    for brand in brands:
        key = brand.name.casefold()
        if key in seen:
            raise ValueError(f"brand {brand.name!r} is configured twice; brand names must be unique")
        seen.add(key)
        brand.terms()


class BrandMatcher:
    """Which configured brands a text mentions, in configuration order."""

    def __init__(self, brands: Sequence[BrandConfig]) -> None:
        check_brands(brands)
        self.brands = [brand.name for brand in brands]
        self._order = {name: index for index, name in enumerate(self.brands)}
        self._matcher = LexiconMatcher({brand.name: tuple(brand.terms()) for brand in brands})

    def brands_in(self, text: str) -> list[str]:
        found = {finding.type for finding in self._matcher.match(text)}
        return sorted(found, key=self._order.__getitem__)
