"""Personal messages: which posts an employee marked as personal, per jurisdiction (pack ``personal:``).

The CNIL holds that messages an employee identifies as personal are off-limits to the employer; in
a jurisdiction whose pack says ``skip: true`` (FR and EU), the worker counts such a post and drops it
before any detector runs (``monitor.pipeline``). A post is personal when:

- a source set one of the ``flags`` in its metadata to true (e.g. a mail client's "personal" label);
- its subject (``metadata.subject``) or its text *starts* with one of the ``prefixes``, compared
  without case or accents ("PRIVE", "privé" and "Privé" are one marker), after leading spaces;
- it was posted in one of the personal ``channels``.

A bare word marker ("perso", "private") counts only when a delimiter or the end follows it
("Perso : dîner", "PRIVATE - lunch", "[perso]"): "Private equity fund" and "Personnel changes" are
business, and a marker anywhere but at the start never counts, so a word in passing cannot switch
monitoring off. Each check reads a bounded prefix of one field: linear, no regular expression.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from policies.packfile import PersonalSpec, PersonalTestPost
from policies.post import Post

SUBJECT_KEY = "subject"
# Characters that end a word marker: "perso:", "privé -", "personal]". Spaces before them are allowed.
DELIMITERS = frozenset(":-–—|]).>/,;!")
# Longest marker (schema.PersonalSpec refuses longer ones). Only a field's first HEAD_CHARS characters
# are ever read, and of a text only MAX_MARKER_CHARS + a delimiter are folded: the check costs the
# same for a 100 KB post as for a short one.
MAX_MARKER_CHARS = 32
HEAD_CHARS = 128
# Mail clients' reply and forward prefixes (en, fr, de, es, it, nl), folded.
REPLY_PREFIXES = frozenset({"re", "fw", "fwd", "tr", "aw", "wg", "rv", "r", "i", "antw", "doorst"})
MAX_REPLY_PREFIXES = 5
_TRUE = frozenset({"true", "yes", "1", "on", "personal", "perso", "private", "prive"})


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded."""
    if text.isascii():
        return text.lower()  # the same, at a fraction of the cost
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _without_reply_prefixes(head: str) -> str:
    """A reply or forward keeps the original subject's marker: "RE: TR: [perso] photos"."""
    for _ in range(MAX_REPLY_PREFIXES):
        word, colon, rest = head.partition(":")
        if not colon or word.strip() not in REPLY_PREFIXES:
            break
        head = rest.lstrip()
    return head


def _starts_with_marker(
    field: str, markers: Iterable[str], starts: frozenset[str], *, subject: bool = False
) -> str | None:
    head = field[:HEAD_CHARS].lstrip()
    if not head:
        return None
    if subject:
        # Subjects are short; "RE: TR:" may come before the marker.
        folded = _without_reply_prefixes(fold(head))
    elif (head[0].lower() if head[0].isascii() else fold(head[0])[:1]) not in starts:
        return None  # most posts: their first letter starts no marker
    else:
        folded = fold(head[: MAX_MARKER_CHARS + 8])
    for marker in markers:
        if not folded.startswith(marker):
            continue
        if not marker[-1].isalnum():
            return marker
        rest = folded[len(marker) :].lstrip()
        if not rest or rest[0] in DELIMITERS:
            return marker
    return None


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return fold(value.strip()) in _TRUE
    return isinstance(value, int) and value == 1


@dataclass(frozen=True)
class PersonalMarkers:
    """A pack's ``personal:`` after inheritance, markers folded once at load."""

    skip: bool = False
    flags: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    channels: frozenset[str] = frozenset()
    # The pack's own ``personal.tests`` (not inherited): (kind, index, file:line, post).
    tests: tuple[tuple[str, int, str, PersonalTestPost], ...] = ()
    starts: frozenset[str] = frozenset()  # first characters of the prefixes, for a quick refusal

    def own(self) -> PersonalMarkers:
        """The same markers, for a child pack: inherited, without the parent's tests."""
        return PersonalMarkers(self.skip, self.flags, self.prefixes, self.channels, (), self.starts)

    def merged(self, spec: PersonalSpec, origin: str = "") -> PersonalMarkers:
        tests = tuple(
            (kind, index, origin, case)
            for kind, cases in (("skip", spec.tests.skip), ("analyse", spec.tests.analyse))
            for index, case in enumerate(cases)
        )
        prefixes = (
            self.prefixes
            if spec.prefixes is None
            # Longest first: "[perso]" is reported rather than "[perso" when both are listed.
            else tuple(sorted({fold(p.strip()) for p in spec.prefixes}, key=lambda p: (-len(p), p)))
        )
        return PersonalMarkers(
            self.skip if spec.skip is None else spec.skip,
            self.flags if spec.flags is None else tuple(spec.flags),
            prefixes,
            self.channels if spec.channels is None else frozenset(fold(c) for c in spec.channels),
            self.tests + tests,
            frozenset(p[0] for p in prefixes),
        )

    def marker(self, post: Post) -> str | None:
        """Why ``post`` is personal ("flag:personal", "subject:[perso]", "text:prive", "channel:..."),
        or None. Says nothing of whether the jurisdiction skips it: see :meth:`skips`."""
        return self.marker_of(post.text, post.channel, post.metadata)

    def marker_of(self, text: str, channel: str, metadata: Mapping[str, Any]) -> str | None:
        for flag in self.flags:
            if _truthy(metadata.get(flag)):
                return f"flag:{flag}"
        subject = metadata.get(SUBJECT_KEY)
        if isinstance(subject, str):
            found = _starts_with_marker(subject, self.prefixes, self.starts, subject=True)
            if found is not None:
                return f"subject:{found}"
        found = _starts_with_marker(text, self.prefixes, self.starts)
        if found is not None:
            return f"text:{found}"
        if self.channels and fold(channel) in self.channels:
            return f"channel:{channel}"
        return None

    def skips(self, post: Post) -> bool:
        return self.skip and self.marker(post) is not None
