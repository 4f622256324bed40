from __future__ import annotations

import pytest

from monitor.jurisdiction import resolve_jurisdiction
from policies.post import Post


def make(jurisdiction: str | None, country: str | None, channel: str = "teams") -> Post:
    return Post.model_validate(
        {
            "id": "p",
            "source": "internal",
            "channel": channel,
            "text": "t",
            "jurisdiction": jurisdiction,
            "author": {"id": "a", "country": country},
        }
    )


@pytest.mark.parametrize(
    ("jurisdiction", "country", "channel", "expected"),
    [
        ("FR", "US", "teams", "FR"),
        (None, "GB", "teams", "GB"),
        (None, None, "teams-de", "DE"),
        (None, None, "x", "GLOBAL"),
    ],
)
def test_most_specific_statement_wins(
    jurisdiction: str | None, country: str | None, channel: str, expected: str
) -> None:
    assert (
        resolve_jurisdiction(make(jurisdiction, country, channel), {"teams-de": "de"}, "GLOBAL") == expected
    )
