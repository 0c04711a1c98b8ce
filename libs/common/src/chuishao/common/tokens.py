"""Tokens that let a resident act on their own ticket from a link (e.g. rate it), without
an account: an HMAC of the ticket id under a secret from settings."""

import hashlib
import hmac


def resident_token(secret: str, ticket_id: str) -> str:
    return hmac.new(secret.encode(), f"resident:{ticket_id}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def resident_token_valid(secret: str, ticket_id: str, token: str) -> bool:
    return hmac.compare_digest(resident_token(secret, ticket_id), token)


def hash_api_key(key: str) -> str:
    """API keys are long random strings, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(key.encode()).hexdigest()
