"""Signing Veille's webhook requests, and checking them on the receiver's side.

Every webhook request carries ``X-Veille-Timestamp`` (Unix seconds, set when the request is sent) and
``X-Veille-Signature: sha256=<hex>``, an HMAC-SHA256 with the shared secret over
``timestamp + "." + body``. A receiver calls :func:`verify_signature` with the raw body bytes (before
any JSON parsing) and rejects the request unless it returns True.

The timestamp is signed, so it cannot be changed without the secret; checking it against a tolerance
is what makes a captured request useless later: it is refused once it is older (or, from a clock ahead
of the receiver's, newer) than ``tolerance_s``. Within the tolerance a replay is still possible;
every alert carries its ``id``, so receivers dedupe on it (deliveries are at-least-once anyway).

Standard library only: an integrator may copy this file as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Veille-Signature"
TIMESTAMP_HEADER = "X-Veille-Timestamp"
DEFAULT_TOLERANCE_S = 300
# Unix seconds fit in 11 digits until the year 5138: a longer value is not a timestamp we sent.
_MAX_TIMESTAMP_DIGITS = 11


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``timestamp.body``."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: bytes,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True only if ``signature`` is ours for ``timestamp`` and ``body`` and the timestamp is within
    ``tolerance_s`` seconds of ``now`` (default: this machine's clock) in either direction.

    Missing headers (None) and malformed values are refused, never raised: a receiver answers 401.
    The HMAC is compared in constant time.
    """
    if not timestamp or not signature or tolerance_s < 0:
        return False
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode("utf-8", "replace"))
