"""Identifiers: random ones for new facts, derived ones so a retried step repeats its ids."""

import hashlib
import os
import re
import time
import uuid

_NAMESPACE = uuid.UUID("5b0e4a52-2f7c-4a0e-9a55-8c1d0f3c7e21")

# What a ticket id may look like, checked once for every entry point (domain.TicketId,
# the store's reads): letters, digits, _ and - only. An id is also a Redis key suffix, so
# `seq:<day>` (the day's counter) or anything with a colon must never be read as a ticket.
TICKET_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
_TICKET_ID = re.compile(TICKET_ID_PATTERN)


def is_ticket_id(value: str) -> bool:
    return _TICKET_ID.fullmatch(value) is not None


def new_event_id() -> str:
    """A time-ordered random id (UUIDv7 layout): sortable, and unique across processes."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 4) & ((1 << 76) - 1)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def derived_id(*parts: str) -> str:
    """The same inputs always give the same id, so a redelivered message re-emits the
    same event ids and JetStream's de-duplication drops the repeats."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def reporter_ref(secret: str, phone: str) -> str:
    digest = hashlib.blake2b(phone.encode(), key=secret.encode()[:64], digest_size=10)
    return "r_" + digest.hexdigest()
