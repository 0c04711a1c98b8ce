"""Ticket ids issued from JetStream, where the events are, not from Redis.

A Redis that loses its last writes (appendfsync everysec, a restored snapshot) used to
roll the day's counter back, and the next reports got the ids of acknowledged ones. The
counter now lives in a JetStream key-value bucket (file storage, the streams' replicas):
one key per day holding the highest sequence handed out, advanced only by
compare-and-set on the key's revision. Two intake replicas, or a replica racing its own
restart, can never both get a block; a Redis rollback, at start-up or while intake runs,
does not touch it at all. So there is no check to make at each issue or at start-up:
nothing Redis forgets can lower the counter.

Each replica reserves `block` ids at a time (one compare-and-set per block); ids a
replica reserved but did not use when it stopped are skipped, never reused. With the
default block of 1 the ids stay dense, at one KV round trip per report.

A day's key is created on its first report from the higher of the old Redis counter
(upgrading from Redis-issued ids) and the last report id of that day in TICKETS.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from chuishao.common.kv import bucket

BUCKET = "ticket_ids"
# How many times a reservation retries a lost compare-and-set before giving up (each
# loss means another replica got a block: the next try is very likely to win).
MAX_ATTEMPTS = 50

Floor = Callable[[str], Awaitable[int]]


def config(replicas: int = 1) -> KeyValueConfig:
    return KeyValueConfig(
        bucket=BUCKET,
        description="Highest ticket sequence issued per day (intake's id authority)",
        history=1,
        storage=StorageType.FILE,
        replicas=replicas,
    )


def format_id(day: str, sequence: int) -> str:
    """The public id format, T<yyyymmdd><6 digits> (README, Open311 ids)."""
    return f"T{day}{sequence:06d}"


def sequence_of(ticket_id: str, day: str) -> int | None:
    """The sequence of an id issued on `day`, None for another day's id."""
    prefix = f"T{day}"
    digits = ticket_id.removeprefix(prefix)
    return int(digits) if ticket_id.startswith(prefix) and digits.isdigit() else None


@dataclass
class _Block:
    next: int
    last: int  # inclusive


class TicketIds:
    def __init__(self, kv: KeyValue, floor: Floor, block: int = 1) -> None:
        self.kv = kv
        self.floor = floor
        self.block = max(1, block)
        self._blocks: dict[str, _Block] = {}
        self._revisions: dict[str, tuple[int, int]] = {}  # day -> (value, revision)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(
        cls, js: JetStreamContext, floor: Floor, *, block: int = 1, replicas: int = 1
    ) -> "TicketIds":
        return cls(await bucket(js, config(replicas)), floor, block)

    async def next(self, day: str) -> int:
        async with self._lock:
            current = self._blocks.get(day)
            if current is None or current.next > current.last:
                current = self._blocks[day] = await self._reserve(day)
                # Only the current day's block is worth keeping.
                for other in [d for d in self._blocks if d != day]:
                    del self._blocks[other]
                    self._revisions.pop(other, None)
            sequence = current.next
            current.next += 1
            return sequence

    async def _reserve(self, day: str) -> _Block:
        for _ in range(MAX_ATTEMPTS):
            known = self._revisions.get(day) or await self._read(day)
            if known is None:
                seed = await self.floor(day)
                try:
                    revision = await self.kv.create(day, str(seed + self.block).encode())
                except KeyWrongLastSequenceError:
                    continue  # another replica created it first
                self._revisions[day] = (seed + self.block, revision)
                return _Block(seed + 1, seed + self.block)
            value, revision = known
            try:
                revision = await self.kv.update(
                    day, str(value + self.block).encode(), last=revision
                )
            except KeyWrongLastSequenceError:
                self._revisions.pop(day, None)  # stale: read the key again
                continue
            self._revisions[day] = (value + self.block, revision)
            return _Block(value + 1, value + self.block)
        # A timeout, so the caller answers 503 (retry) rather than 500.
        raise TimeoutError(f"could not reserve ticket ids for {day}: too much contention")

    async def _read(self, day: str) -> tuple[int, int] | None:
        try:
            entry = await self.kv.get(day)
        except KeyNotFoundError:
            return None
        assert entry.value is not None
        assert entry.revision is not None
        return int(entry.value), entry.revision
