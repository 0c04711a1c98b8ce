"""Ticket records in Redis, written together with their outgoing events (the outbox,
`chuishao.common.outbox`) and their indexes in one transaction: a crash between the write
and the publish loses nothing (the relay sends it later), and a concurrent change makes
exactly one writer win.
"""

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import WatchError

from chuishao.common.events import Event
from chuishao.common.ids import is_ticket_id
from chuishao.common.outbox import Outbox
from chuishao.intake import indexes
from chuishao.intake.records import TicketRecord
from chuishao.intake.ticket_ids import TicketIds, format_id

OUTBOX = "outbox"  # sorted set: queued event id → when (wall time)
OUTBOX_EVENTS = "outbox:events"  # hash: queued event id → the event
OUTBOX_NAME = "intake-outbox"  # its dead letters: dlq.intake-outbox
IDEMPOTENCY_TTL_SECONDS = 24 * 3600

Change = Callable[[TicketRecord], tuple[TicketRecord, list[Event]]]


def _ticket_key(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


def _idempotency_key(key: str) -> str:
    return f"idem:{key}"


def legacy_sequence_key(day: str) -> str:
    """Where ids were counted before they came from JetStream (read once, to upgrade)."""
    return f"ticket:seq:{day}"


class RecordStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.outbox = Outbox(redis, OUTBOX_NAME, queued_key=OUTBOX, payloads_key=OUTBOX_EVENTS)
        # Set at start-up, once JetStream is connected (chuishao.intake.ticket_ids): ids
        # never come from Redis, which can forget what it handed out.
        self.ids: TicketIds | None = None

    async def next_ticket_id(self, now: datetime) -> str:
        if self.ids is None:
            raise RuntimeError("ticket ids are not available before start-up")
        day = now.strftime("%Y%m%d")
        return format_id(day, await self.ids.next(day))

    async def get(self, ticket_id: str) -> TicketRecord | None:
        if not is_ticket_id(ticket_id):  # `seq:<day>` would read another key as a record
            return None
        raw = await self.redis.get(_ticket_key(ticket_id))
        return TicketRecord.from_stored(raw) if raw else None

    async def get_many(self, ticket_ids: list[str]) -> list[TicketRecord]:
        ticket_ids = [ticket_id for ticket_id in ticket_ids if is_ticket_id(ticket_id)]
        if not ticket_ids:
            return []
        raws = await self.redis.mget([_ticket_key(t) for t in ticket_ids])
        return [TicketRecord.from_stored(raw) for raw in raws if raw]

    async def nearby_open(
        self, category: str, long: float, lat: float, radius_m: float
    ) -> list[tuple[str, float]]:
        """Open tickets of a category within the radius, nearest first, with distances."""
        if not indexes.geo_indexable(lat):
            return []
        found = await self.redis.geosearch(
            indexes.geo_key(category),
            longitude=long,
            latitude=lat,
            radius=radius_m,
            unit="m",
            sort="ASC",
            count=10,
            withdist=True,
        )
        rows = cast("list[tuple[bytes, float]]", found)
        return [(member.decode(), float(distance)) for member, distance in rows]

    async def remembered(self, idempotency_key: str) -> dict[str, Any] | None:
        raw = await self.redis.get(_idempotency_key(idempotency_key))
        return cast("dict[str, Any]", json.loads(raw)) if raw else None

    async def create(
        self, record: TicketRecord, event: Event, idempotency_key: str | None = None
    ) -> str:
        """Store a new ticket and queue its event; with an idempotency key, a repeat
        returns the ticket id stored the first time and writes nothing."""
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    if idempotency_key:
                        await pipe.watch(_idempotency_key(idempotency_key))
                        earlier = await pipe.get(_idempotency_key(idempotency_key))
                        if earlier:
                            return str(json.loads(earlier)["ticket_id"])
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if idempotency_key:
                        pipe.set(
                            _idempotency_key(idempotency_key),
                            json.dumps({"ticket_id": record.ticket_id}),
                            ex=IDEMPOTENCY_TTL_SECONDS,
                        )
                    pipe.set(_ticket_key(record.ticket_id), record.stored())
                    indexes.update(pipe, None, record)
                    self.outbox.queue(pipe, [event])
                    await pipe.execute()
                    return record.ticket_id
                except WatchError:
                    continue

    async def change(
        self, ticket_id: str, change: Change, idempotency_key: str | None = None
    ) -> tuple[TicketRecord, list[Event]] | None:
        """Read, change and write one record atomically, queueing the change's events.
        `change` may raise to refuse; it runs again if another writer got there first.
        It returns the record it was given to write nothing. None if there is no such
        ticket."""
        key = _ticket_key(ticket_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        return None
                    before = TicketRecord.from_stored(raw)
                    after, events = change(before)
                    if after is before:
                        return after, events
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, after.stored())
                    indexes.update(pipe, before, after)
                    self.outbox.queue(pipe, events)
                    if idempotency_key:
                        pipe.set(
                            _idempotency_key(idempotency_key),
                            json.dumps({"ticket_id": ticket_id, "version": after.version}),
                            ex=IDEMPOTENCY_TTL_SECONDS,
                        )
                    await pipe.execute()
                    return after, events
                except WatchError:
                    continue

    async def remember_submit(
        self, idempotency_key: str, ticket_id: str, submitted_at: datetime
    ) -> None:
        """A rebuilt ticket's Idempotency-Key again, for what is left of its 24 h."""
        left = IDEMPOTENCY_TTL_SECONDS - (time.time() - submitted_at.timestamp())
        if left >= 1:
            await self.redis.set(
                _idempotency_key(idempotency_key),
                json.dumps({"ticket_id": ticket_id}),
                ex=int(left),
                nx=True,
            )

    async def restore(self, record: TicketRecord, seen: bytes | None) -> bool:
        """Write a record rebuilt from the streams (chuishao.intake.rebuild), with its
        indexes, only if the stored one is still `seen` (its raw value, None for none):
        a live change that lands meanwhile wins, and the rebuild looks again."""
        key = _ticket_key(record.ticket_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if await pipe.get(key) != seen:
                    return False
                before = TicketRecord.from_stored(seen) if seen else None
                pipe.multi()  # type: ignore[no-untyped-call]
                pipe.set(key, record.stored())
                indexes.update(pipe, before, record)
                await pipe.execute()
            except WatchError:
                return False
        return True

    async def restore_many(self, records: list[TicketRecord]) -> set[str] | None:
        """Write records rebuilt from the streams where Redis holds none, a batch in one
        transaction: the ids written (a record found meanwhile is left alone), or None
        when a live change touched the batch — then `restore` each."""
        names = [_ticket_key(record.ticket_id) for record in records]
        if not names:
            return set()
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(*names)
                stored = await pipe.mget(names)
                absent = [r for r, raw in zip(records, stored, strict=True) if raw is None]
                pipe.multi()  # type: ignore[no-untyped-call]
                if absent:
                    pipe.mset({_ticket_key(r.ticket_id): r.stored() for r in absent})
                    indexes.add_many(pipe, absent)
                await pipe.execute()
            except WatchError:
                return None
        return {record.ticket_id for record in absent}

    async def apply_foreign(
        self, event: Event, apply: Callable[[TicketRecord, Event], TicketRecord]
    ) -> TicketRecord | None:
        """Apply another service's event exactly once (the history remembers event ids);
        it is already in the stream, so nothing is queued. The records consumer applies
        batches (`apply_foreign_batch`); this one event at a time is what a batch must
        write the same as (its tests, benchmarks/consumers.py)."""

        def once(before: TicketRecord) -> tuple[TicketRecord, list[Event]]:
            return (before if before.has_applied(event.event_id) else apply(before, event)), []

        result = await self.change(event.ticket_id, once)
        return result[0] if result else None

    async def apply_foreign_batch(
        self,
        events: list[Event],
        apply: Callable[[TicketRecord, Event], TicketRecord],
        fold_into: Callable[[TicketRecord, Event], TicketRecord],
    ) -> dict[str, TicketRecord]:
        """`apply_foreign` for a batch (stream order): the batch's records WATCHed and read
        with one MGET, each ticket's events folded (`apply` copies the stored record once,
        `fold_into` folds the rest into that copy), and every changed record with its net
        index changes written in one MULTI. Returns each ticket's record after the batch.
        A ticket without a record raises LookupError and writes nothing (the consumer
        then settles the batch one event at a time)."""
        ids = list(dict.fromkeys(event.ticket_id for event in events))
        names = [_ticket_key(ticket_id) for ticket_id in ids]
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(*names)
                    stored = await pipe.mget(names)
                    before: dict[str, TicketRecord] = {}
                    for ticket_id, raw in zip(ids, stored, strict=True):
                        if raw is None:
                            raise LookupError(f"no ticket record for {ticket_id}")
                        before[ticket_id] = TicketRecord.from_stored(raw)
                    after = dict(before)
                    for event in events:
                        record = after[event.ticket_id]
                        if record.has_applied(event.event_id):
                            continue
                        # The stored record is copied once; the copy takes the rest.
                        fold = apply if record is before[event.ticket_id] else fold_into
                        after[event.ticket_id] = fold(record, event)
                    changed = [t for t in ids if after[t] is not before[t]]
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if changed:
                        pipe.mset({_ticket_key(t): after[t].stored() for t in changed})
                    for ticket_id in changed:
                        indexes.update(pipe, before[ticket_id], after[ticket_id])
                    await pipe.execute()
                    return after
                except WatchError:
                    continue

    async def opted_out(self, phone: str) -> bool:
        return bool(await self.redis.sismember("resident:opted_out", phone))

    async def set_opted_out(self, phone: str, opted_out: bool) -> None:
        if opted_out:
            await self.redis.sadd("resident:opted_out", phone)
        else:
            await self.redis.srem("resident:opted_out", phone)
