"""Sampling populations: which posts a pack samples for review, and at what rate.

A pack's ``sampling:`` section lists populations (author role, channel, source, jurisdiction) with a
percentage. The draw itself (seeded, per post) is :mod:`alerts.sampling`'s; here is only who belongs
to which population, resolved along ``extends`` like rules, and compiled into each Plan so that a pack
reload changes rates between two batches, without a restart.

Order decides: a post belongs to the first population of its pack that matches it. A pack's own
populations (its file, then its overlays) come before those it inherits, so a specific population of
``fr`` is tried before a catch-all of ``global``. A child pack may redefine an inherited population
by name (its own rate for its jurisdiction); within one pack (its file and overlays) a name is defined
once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policies.packfile import SamplingSpec
from policies.post import Post


@dataclass(frozen=True)
class Population:
    name: str
    percent: float
    origin: str  # file:line of its definition, for `veille policies list` and errors
    author_role: frozenset[str] | None = None
    channel: frozenset[str] | None = None
    source: frozenset[str] | None = None
    jurisdiction: frozenset[str] | None = None

    @classmethod
    def from_spec(cls, spec: SamplingSpec, origin: str) -> Population:
        def _set(values: Sequence[str] | None) -> frozenset[str] | None:
            return frozenset(values) if values is not None else None

        return cls(
            spec.population, spec.percent, origin, _set(spec.author_role), _set(spec.channel),
            _set(spec.source), _set(spec.jurisdiction),
        )

    def matches(self, post: Post, jurisdiction: str) -> bool:
        """``jurisdiction`` is the post's resolved one (post, author country, channel default)."""
        return (
            (self.author_role is None or post.author.role in self.author_role)
            and (self.channel is None or post.channel in self.channel)
            and (self.source is None or post.source.value in self.source)
            and (self.jurisdiction is None or jurisdiction.upper() in self.jurisdiction)
        )


def population_for(
    populations: Sequence[Population], post: Post, jurisdiction: str
) -> Population | None:
    """The first population that matches, or None (the post is never sampled)."""
    for population in populations:
        if population.matches(post, jurisdiction):
            return population
    return None


def resolve(
    inherited: Sequence[Population], own: Sequence[Population]
) -> tuple[Population, ...]:
    """A pack's populations: ``own`` (its files in order, each name once) first, then ``inherited``
    ones it does not redefine."""
    names = {population.name for population in own}
    return (*own, *(p for p in inherited if p.name not in names))
