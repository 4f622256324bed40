"""The sample post generator: deterministic, varied, and its personal data really is what it claims."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest

from detectors.recognizers import luhn_ok, nir_key
from monitor.records import decode_post
from monitor.traffic import (
    EXTERNAL_CHANNELS,
    INTERNAL_CHANNELS,
    generate_posts,
    iban_valid,
    luhn_complete,
)
from policies.post import Post, Source


@pytest.fixture(scope="module")
def posts() -> list[Post]:
    return list(generate_posts(5000))


def test_same_seed_same_posts_even_across_processes(posts: list[Post]) -> None:
    again = list(generate_posts(200))
    assert [p.model_dump_json() for p in again] == [p.model_dump_json() for p in posts[:200]]
    other = subprocess.run(
        [sys.executable, "-c", "from monitor.traffic import generate_posts\n"
         "print(''.join(p.model_dump_json() for p in generate_posts(50)))"],
        env={"PYTHONHASHSEED": "123", "PATH": ""}, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert other == "".join(p.model_dump_json() for p in posts[:50])
    assert [p.id for p in generate_posts(50, seed=8)] != [p.id for p in posts[:50]]


def test_posts_are_varied(posts: list[Post]) -> None:
    assert len({post.id for post in posts}) == len(posts)
    assert {post.channel for post in posts} == set(INTERNAL_CHANNELS) | set(EXTERNAL_CHANNELS)
    for post in posts:
        internal = post.channel in INTERNAL_CHANNELS
        assert post.source is (Source.INTERNAL if internal else Source.EXTERNAL)
        if internal:
            assert post.author.is_employee
        elif post.author.is_employee:
            assert post.metadata["sample_kind"] == "guarantee", "employees post outside only to promise"
    assert {post.author.country for post in posts} == {"US", "GB", "FR", "DE", None}
    assert {post.lang for post in posts} == {"en", "fr", None}
    assert {"employee", "registered_rep", "executive", "customer", "public"} <= {p.author.role for p in posts}
    kinds = Counter(post.metadata["sample_kind"] for post in posts)
    assert 0.85 < kinds["benign"] / len(posts) < 0.95, kinds
    assert set(kinds) == {"benign", "email", "phone", "iban", "card", "nir", "confidential", "guarantee",
                          "rant", "aws_key"}
    times = [post.created_at for post in posts]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)


def test_start_time_is_honoured() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    first = next(generate_posts(1, start=start))
    assert first.created_at > start
    assert (first.created_at - start).total_seconds() <= 90


def test_every_post_survives_the_wire(posts: list[Post]) -> None:
    for post in posts[:500]:
        assert decode_post(post.model_dump_json().encode(), 256 * 1024) == post


def test_guarantees_come_from_registered_reps(posts: list[Post]) -> None:
    guarantees = [p for p in posts if p.metadata["sample_kind"] == "guarantee"]
    assert guarantees and all(p.author.role == "registered_rep" for p in guarantees)


def test_card_numbers_pass_luhn(posts: list[Post]) -> None:
    cards = [p for p in posts if p.metadata["sample_kind"] == "card"]
    assert cards
    for post in cards:
        match = re.search(r"\b\d[\d -]{12,20}\d\b", post.text)
        assert match, post.text
        assert luhn_ok(re.sub(r"\D", "", match.group())), match.group()
    assert luhn_ok("4539148803436467") and not luhn_ok("4539148803436468")
    assert luhn_complete("7992739871") == "79927398713"


def test_ibans_have_valid_check_digits(posts: list[Post]) -> None:
    ibans = [p for p in posts if p.metadata["sample_kind"] == "iban"]
    assert ibans
    for post in ibans:
        match = re.search(r"\b[A-Z]{2}\d{2}(?: [A-Z0-9]{1,4})+", post.text)
        assert match and iban_valid(match.group()), post.text
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB83 WEST 1234 5698 7654 32")


def test_french_nir_keys_are_valid(posts: list[Post]) -> None:
    nirs = [p for p in posts if p.metadata["sample_kind"] == "nir"]
    assert nirs
    for post in nirs:
        match = re.search(r"\b([12](?: \d{2}){3} \d{3} \d{3}) (\d{2})\b", post.text)
        assert match, post.text
        assert f"{nir_key(match.group(1).replace(' ', '')):02d}" == match.group(2)
        assert post.lang in ("fr", None)


def test_breach_texts(posts: list[Post]) -> None:
    by_kind: dict[str, list[str]] = {}
    for post in posts:
        by_kind.setdefault(post.metadata["sample_kind"], []).append(post.text.lower())
    assert any("confidential - do not forward" in t for t in by_kind["confidential"])
    assert any("confidentiel, ne pas diffuser" in t for t in by_kind["confidential"])
    assert all(re.search(r"akia[0-9a-z]{16}", t) for t in by_kind["aws_key"])
    assert all(any(brand in t for brand in ("northwind", "contoso", "fabrikam")) for t in by_kind["rant"])


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="count must be zero or more"):
        list(generate_posts(-1))
