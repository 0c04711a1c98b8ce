"""What a ticket record holds that no broadcast event carries — the reporter's name and
phone, the description as typed, a linked report's own submission — kept in JetStream,
encrypted, one entry per ticket, written before the 201.

The record in Redis is rebuilt from the streams (chuishao.intake.rebuild); the events
deliberately leave the reporter out. Without this store a Redis that loses its last
writes would lose how to reach the reporter (notify's SMS, operators' callbacks) even
though the ticket itself comes back. The entry is the ticket's record as first stored,
encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key that
only intake holds: the bucket is readable by the services' NATS user alone, and what it
stores is opaque even to that user and to whoever reads nats-server's files.

The key: CHUISHAO_CONTACT_STORE_KEY (comma-separated Fernet keys, the first encrypts, all
decrypt: rotation), else generated on first start into <data_dir>/intake-contact.key.
Replicas on different machines must be given the same key.
"""

import os
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from chuishao.common.kv import bucket
from chuishao.intake.records import TicketRecord

BUCKET = "intake_contacts"
KEY_FILE = "intake-contact.key"
log = structlog.get_logger()


def config(replicas: int = 1) -> KeyValueConfig:
    return KeyValueConfig(
        bucket=BUCKET,
        description="Each ticket's record as first stored, encrypted (intake only)",
        history=1,
        storage=StorageType.FILE,
        replicas=replicas,
    )


def load_keys(configured: str | None, data_dir: Path) -> MultiFernet:
    """The configured keys, else the one in the data directory (made on first start)."""
    if configured:
        return MultiFernet([Fernet(k.strip().encode()) for k in configured.split(",")])
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created owner-only from the start, never world-readable for a moment.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(Fernet.generate_key())
    return MultiFernet([Fernet(path.read_bytes().strip())])


class ContactEntry(BaseModel):
    record: TicketRecord
    # The submit's stored Idempotency-Key (scoped to its client): a retry that arrives
    # after Redis forgot still gets this ticket, not a second one.
    idempotency_key: str | None = None


class ContactStore:
    def __init__(self, kv: KeyValue, keys: MultiFernet) -> None:
        self.kv = kv
        self.keys = keys

    @classmethod
    async def open(
        cls, js: JetStreamContext, keys: MultiFernet, *, replicas: int = 1
    ) -> "ContactStore":
        return cls(await bucket(js, config(replicas)), keys)

    async def keep(self, record: TicketRecord, idempotency_key: str | None = None) -> None:
        """Store the new ticket's record; returns once JetStream holds it."""
        entry = ContactEntry(record=record, idempotency_key=idempotency_key)
        await self.kv.put(record.ticket_id, self.keys.encrypt(entry.model_dump_json().encode()))

    async def first_record(self, ticket_id: str) -> TicketRecord | None:
        entry = await self.first_entry(ticket_id)
        return entry.record if entry else None

    async def first_entry(self, ticket_id: str) -> ContactEntry | None:
        try:
            stored = await self.kv.get(ticket_id)
        except KeyNotFoundError:
            return None
        if not stored.value:
            return None
        try:
            return ContactEntry.model_validate_json(self.keys.decrypt(stored.value))
        except (InvalidToken, ValidationError):
            # A key that was rotated away, or another deployment's entry: the rebuild
            # falls back to the public event, without the contact.
            log.warning("contact_store_unreadable", ticket_id=ticket_id)
            return None

    async def forget_reporter(self, ticket_id: str) -> None:
        """Erase the reporter (retention): the rest of the entry stays rebuildable."""
        entry = await self.first_entry(ticket_id)
        if entry is not None and entry.record.reporter is not None:
            record = entry.record.model_copy(update={"reporter": None})
            await self.keep(record, entry.idempotency_key)
