"""A person acting through the console, as intake learns of them: a short-lived token the
console signs (person, role, scope, expiry ≤ 60 s) and intake verifies.

The token alone is not a credential: intake accepts it only beside the console's own
service key (a `console` API key), so a leaked token is worth nothing to anyone who does
not also hold that key, and for a minute at most.

Format: base64url(JSON claims) "." base64url(HMAC-SHA256(secret, claims part)).
"""

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from chuishao.common.roles import PersonRole

HEADER = "X-Chuishao-Person"
MAX_TTL_SECONDS = 60.0
# Clocks of two hosts differ a little: a token a few seconds "from the future" is accepted.
CLOCK_SKEW_SECONDS = 5.0


class PersonTokenError(ValueError):
    """A token that is malformed, forged, expired or claims a scope its role has not."""


@dataclass(frozen=True)
class PersonClaims:
    username: str
    role: PersonRole
    unit: str | None = None
    street: str | None = None
    district: str | None = None
    expires_at: float = 0.0  # Unix seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), b"person:" + body.encode(), hashlib.sha256).digest())


def sign(secret: str, claims: PersonClaims, now: float, ttl: float = 30.0) -> str:
    """A token valid for `ttl` seconds (at most MAX_TTL_SECONDS) from `now`."""
    ttl = min(ttl, MAX_TTL_SECONDS)
    body = {
        "u": claims.username,
        "r": claims.role.value,
        "unit": claims.unit,
        "street": claims.street,
        "district": claims.district,
        "exp": round(now + ttl, 3),
    }
    part = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{part}.{_mac(secret, part)}"


def verify(secret: str, token: str, now: float) -> PersonClaims:
    """The claims of a genuine, unexpired token; PersonTokenError otherwise."""
    part, dot, mac = token.partition(".")
    if not dot or not part or not mac:
        raise PersonTokenError("malformed")
    expected = _mac(secret, part)
    if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "surrogateescape")):
        raise PersonTokenError("bad signature")
    try:
        body = json.loads(_unb64(part))
        claims = PersonClaims(
            username=str(body["u"]),
            role=PersonRole(body["r"]),
            unit=body.get("unit"),
            street=body.get("street"),
            district=body.get("district"),
            expires_at=float(body["exp"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise PersonTokenError("malformed") from error
    if claims.expires_at <= now:
        raise PersonTokenError("expired")
    # A token signed to last longer than the rule allows was not made by the console.
    if claims.expires_at > now + MAX_TTL_SECONDS + CLOCK_SKEW_SECONDS:
        raise PersonTokenError("too long-lived")
    return claims
