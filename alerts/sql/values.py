"""Making a post's values storable: what PostgreSQL refuses in text and JSON, replaced before it is sent.

PostgreSQL refuses NUL in ``text`` (and ``\\u0000`` in ``jsonb`` strings and keys), lone surrogates
cannot be encoded to UTF-8, and ``jsonb`` has no NaN or Infinity. Any of them in one post id, author
id, snippet or thread id would fail the whole batch. Characters are replaced by U+FFFD, one for one,
so that evidence offsets into the post text stay right; SQLite stores the same, so both backends
keep the same alerts. Alert ids are computed before this from the original post id, so replays stay
idempotent.
"""

from __future__ import annotations

import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def storable(value: Any) -> Any:
    """``value`` (str, number, or JSON-like dicts and lists) with every unstorable part replaced.

    Returns ``value`` itself when nothing needs replacing, so callers can tell by identity.
    """
    if isinstance(value, str):
        return _UNSTORABLE.sub(REPLACEMENT, value) if _UNSTORABLE.search(value) else value
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE.get(value, "NaN")
    if isinstance(value, dict):
        items = [(storable(key), storable(item)) for key, item in value.items()]
        if all(new_key is key and new_item is item
               for (new_key, new_item), (key, item) in zip(items, value.items(), strict=True)):
            return value
        return dict(items)
    if isinstance(value, (list, tuple)):
        cleaned = [storable(item) for item in value]
        if all(new is old for new, old in zip(cleaned, value, strict=True)):
            return value
        return cleaned if isinstance(value, list) else tuple(cleaned)
    return value
