"""The cheap identifier pass that guards what the comms role reads: what it masks, what it leaves,
and that it stays linear on hostile 100 KB inputs."""

from __future__ import annotations

import time

import pytest

from alerts.identifiers import mask_excerpt, mask_identifiers


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to jane.doe@corp.internal today", "write to [EMAIL_ADDRESS] today"),
        ("ping @jdoe_real!", "ping [HANDLE]!"),
        ("@someone@mastodon.social said so", "[HANDLE] said so"),
        ("ask jdoe@intranet first", "ask [HANDLE] first"),
        ("call +33 6 12 34 56 78.", "call [PHONE_NUMBER]."),
        ("call 06.12.34.56.78 or (415) 555-0132", "call [PHONE_NUMBER] or ([PHONE_NUMBER]"),
        ("see https://social.example/users/jdoe, then", "see [URL], then"),
        ("profile: linkedin.com/in/jane-doe?trk=1.", "profile: [URL]."),
        ("HTTP://EXAMPLE.COM/u/42", "[URL]"),
        # Left alone: home pages, dates, times, short numbers, amounts with separators.
        ("home https://example.com/ and www.example.com.", "home https://example.com/ and www.example.com."),
        ("on 2025-06-01 at 09:00:00, 3 000 people, 1,000,000 euros", None),
        ("ExampleCo is a terrible employer", None),
    ],
)
def test_identifiers_are_masked_by_type(text: str, masked: str | None) -> None:
    assert mask_identifiers(text) == (masked if masked is not None else text)


@pytest.mark.parametrize(
    ("excerpt", "masked"),
    [
        ("…ial.example/users/jdoe or call us", "… or call us"),
        ("…12 34 56 78. Thanks", "… Thanks"),  # masked whole first, then dropped
        ("…56 78 or 06 12 34 56 78", "… 78 or [PHONE_NUMBER]"),
        ("we met marc.petit@exa…", "we met …"),
        ("…whole…", "…"),
        ("…  a clean cut …", "…  a clean cut …"),
    ],
)
def test_a_word_cut_at_an_excerpt_edge_is_dropped(excerpt: str, masked: str) -> None:
    assert mask_excerpt(excerpt) == masked


HOSTILE = {
    "letters": "a" * 100_000,
    "at signs": "@" * 100_000,
    "handles": "a@" * 50_000,
    "local parts": ("a." * 40 + "@") * 1_234,
    "dotted at": ".@." * 33_333,
    "digits": "1" * 100_000,
    "spaced digits": "1 " * 50_000,
    "dashed digits": "1-" * 50_000,
    "plus digits": "+1" * 50_000,
    "brackets": "(1) " * 25_000,
    "schemes": "http://" * 14_285,
    "www": "www." * 25_000,
    "dotted host": "a." * 50_000 + "/",
    "hosts and slashes": "x.com/" * 16_666,
    "long domain": "a" * 64 + "@" + "b." * 50_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_take_linear_time(name: str) -> None:
    text = HOSTILE[name]
    started = time.perf_counter()
    mask_excerpt("…" + text + "…")
    mask_identifiers(text)
    # About 0.2 s at worst on this machine; a quadratic pattern takes minutes on 100 KB.
    assert time.perf_counter() - started < 2.0, name
