"""Tokens that let a resident act on their own ticket from a link (e.g. rate it), without
an account: an HMAC of the ticket id under a secret from settings. And the one way every
bearer credential (API keys, display tokens) is hashed before it is stored or compared."""

import hashlib
import hmac
import secrets

DISPLAY_TOKEN_PREFIX = "disp_"  # noqa: S105 - a prefix, not a secret


def resident_token(secret: str, ticket_id: str) -> str:
    return hmac.new(secret.encode(), f"resident:{ticket_id}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def resident_token_valid(secret: str, ticket_id: str, token: str) -> bool:
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500 for any
    # garbled link) instead of answering False.
    offered = token.encode("utf-8", "surrogateescape")
    return hmac.compare_digest(resident_token(secret, ticket_id).encode(), offered)


def hash_api_key(key: str) -> str:
    """API keys and display tokens are long random strings, so a plain SHA-256 is enough
    to store them: only the digest is kept, in settings or in Redis."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_secret() -> str:
    """A signing secret or an API key: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def new_display_token() -> str:
    """A wall screen's token; the prefix tells it from an API key in logs and forms."""
    return DISPLAY_TOKEN_PREFIX + secrets.token_urlsafe(24)
