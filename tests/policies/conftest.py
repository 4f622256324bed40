"""Factories for the policy tests: organisation directories of packs, and posts."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from policies.post import Author, Post, Source

WritePack = Callable[..., Path]


@pytest.fixture
def org_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "org-policies"
    directory.mkdir()
    return directory


@pytest.fixture
def write_pack(org_dir: Path) -> WritePack:
    """Write a YAML file (dedented) into the organisation's directory; returns its path."""

    def write(name: str, text: str) -> Path:
        path = org_dir / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


def post(
    text: str,
    *,
    source: str = "external",
    channel: str = "x",
    role: str = "employee",
    is_employee: bool = True,
    lang: str | None = None,
    jurisdiction: str | None = None,
) -> Post:
    return Post(
        id="p-1",
        source=Source(source),
        channel=channel,
        author=Author(id="a-1", role=role, is_employee=is_employee),
        text=text,
        lang=lang,
        jurisdiction=jurisdiction,
    )


@pytest.fixture
def make_post() -> Callable[..., Post]:
    return post
