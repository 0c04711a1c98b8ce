"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", as Stripe does.

A department verifies with the recipe in docs/notify.md; `verify` is that recipe in Python.
The timestamp is signed too, so a captured request cannot be replayed later than the
receiver's tolerance.
"""

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

TIMESTAMP_HEADER = "Chuishao-Timestamp"
SIGNATURE_HEADER = "Chuishao-Signature"
DELIVERY_HEADER = "Chuishao-Delivery-Id"
EVENT_HEADER = "Chuishao-Event-Type"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SCHEME}={signature(secret, timestamp, body)}",
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """True if the body was signed with `secret` within `tolerance_seconds` of `now`.
    `headers` must look names up case-insensitively (HTTP headers are)."""
    offered = headers.get(SIGNATURE_HEADER) or ""
    try:
        timestamp = int(headers.get(TIMESTAMP_HEADER) or "")
    except ValueError:
        return False
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    # Several "v1=" entries may be sent while a secret is being rotated; any may match.
    prefix = f"{SCHEME}="
    candidates = [p.strip().removeprefix(prefix) for p in offered.split(",")]
    valid = [
        c
        for c, p in zip(candidates, offered.split(","), strict=True)
        if p.strip().startswith(prefix)
    ]
    return any(hmac.compare_digest(expected, candidate) for candidate in valid)
