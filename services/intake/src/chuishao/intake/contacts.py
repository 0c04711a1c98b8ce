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

import asyncio
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ValidationError

from chuishao.common import stream_reader
from chuishao.common.kv import bucket
from chuishao.intake.records import TicketRecord

BUCKET = "intake_contacts"
PREFIX = f"$KV.{BUCKET}."
KV_OPERATION = "KV-Operation"
# Entries a ReadAhead keeps for the stretches to come: about 1.5 KB each, encrypted.
READ_AHEAD = 10_000
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
        return self.opened(ticket_id, stored.value)

    def opened(self, ticket_id: str, value: bytes | None) -> ContactEntry | None:
        """A stored entry decrypted and read (None for none, or one unreadable)."""
        if not value:
            return None
        try:
            return ContactEntry.model_validate_json(self.keys.decrypt(value))
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


class ReadAhead:
    """The entries a rebuild of every ticket asks for, read in one pass over the bucket's
    stream instead of a request each (a sixth of the rebuild's time was those requests:
    docs/benchmarks.md). Entries are written at submit, so the stream holds them in
    about the order the tickets' TicketSubmitted events come in: what is read past the
    tickets asked for is kept for the stretches that come next, at most `window` of them
    (the oldest passed over go first). An entry not found within `window` more — written
    again later (a reporter erased), or another shard's (`keeps` says which are this
    reader's) — is asked for alone, as before, so the result is what `first_entry`
    gives."""

    def __init__(
        self,
        store: ContactStore,
        js: JetStreamContext,
        keeps: Callable[[str], bool],
        window: int = READ_AHEAD,
    ) -> None:
        self.store = store
        self.js = js
        self.keeps = keeps
        self.window = window
        self.ahead: OrderedDict[str, bytes | None] = OrderedDict()
        self.stream: AsyncIterator[Msg] | None = None
        self.ended = False
        self.read = 0  # entries read from the stream, in all

    async def entries(self, ticket_ids: Sequence[str]) -> list[ContactEntry | None]:
        found = {t: self.ahead.pop(t) for t in ticket_ids if t in self.ahead}
        wanted = {t for t in ticket_ids if t not in found}
        read = 0
        while wanted and read < self.window and (message := await self._next()) is not None:
            read += 1
            self.read += 1
            key = message.subject.removeprefix(PREFIX)
            # A deleted or purged key's marker: no entry, as `first_entry` says.
            deleted = (message.headers or {}).get(KV_OPERATION) in ("DEL", "PURGE")
            value = None if deleted else message.data
            if key in wanted:
                found[key] = value
                wanted.discard(key)
            elif self.keeps(key):
                self.ahead[key] = value
                self.ahead.move_to_end(key)  # written again: its newest place
                if len(self.ahead) > self.window:
                    self.ahead.popitem(last=False)
        missing = sorted(wanted)
        alone = await asyncio.gather(*map(self.store.first_entry, missing))
        by_id = dict(zip(missing, alone, strict=True))
        return [self.store.opened(t, found[t]) if t in found else by_id[t] for t in ticket_ids]

    async def _next(self) -> Msg | None:
        if self.ended:
            return None
        if self.stream is None:
            name = f"KV_{BUCKET}"
            until = await stream_reader.last_sequence(self.js, name)
            self.stream = stream_reader.messages(self.js, name, 0, until, [f"{PREFIX}>"])
        try:
            return await anext(self.stream)
        except StopAsyncIteration:
            self.ended = True
            return None
