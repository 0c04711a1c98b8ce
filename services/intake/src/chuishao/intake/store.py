"""Ticket records in Redis, written together with their outgoing events (an outbox), so
a crash between the write and the publish loses nothing: the relay sends it later."""

import time
from collections.abc import Callable
from datetime import datetime
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import WatchError

from chuishao.common.events import Event, parse_event
from chuishao.intake.records import TicketRecord

OUTBOX = "outbox"
OUTBOX_EVENTS = "outbox:events"
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


def _ticket_key(ticket_id: str) -> str:
    return f"ticket:{ticket_id}"


class TicketStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def next_ticket_id(self, now: datetime) -> str:
        day = now.strftime("%Y%m%d")
        sequence = await self.redis.incr(f"ticket:seq:{day}")
        return f"T{day}{sequence:06d}"

    async def get(self, ticket_id: str) -> TicketRecord | None:
        raw = await self.redis.get(_ticket_key(ticket_id))
        return TicketRecord.model_validate_json(raw) if raw else None

    async def create(
        self, record: TicketRecord, event: Event, idempotency_key: str | None = None
    ) -> str:
        """Store a new ticket and queue its event; with an idempotency key, a repeat
        returns the ticket id stored the first time and writes nothing."""
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    if idempotency_key:
                        key = f"idem:{idempotency_key}"
                        await pipe.watch(key)
                        existing = await pipe.get(key)
                        if existing:
                            return (
                                existing.decode() if isinstance(existing, bytes) else str(existing)
                            )
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if idempotency_key:
                        pipe.set(
                            f"idem:{idempotency_key}", record.ticket_id, ex=IDEMPOTENCY_TTL_SECONDS
                        )
                    pipe.set(_ticket_key(record.ticket_id), record.model_dump_json())
                    self._queue(pipe, event)
                    await pipe.execute()
                    return record.ticket_id
                except WatchError:
                    continue

    async def apply(
        self, ticket_id: str, event: Event, change: Callable[[TicketRecord, Event], TicketRecord]
    ) -> TicketRecord | None:
        """Apply an event to a record exactly once (the history remembers event ids)."""
        key = _ticket_key(ticket_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if raw is None:
                        return None
                    record = TicketRecord.model_validate_json(raw)
                    if record.has_applied(event.event_id):
                        return record
                    updated = change(record, event)
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, updated.model_dump_json())
                    await pipe.execute()
                    return updated
                except WatchError:
                    continue

    @staticmethod
    def _queue(pipe: "Redis", event: Event) -> None:
        pipe.zadd(OUTBOX, {event.event_id: time.time()})
        pipe.hset(OUTBOX_EVENTS, event.event_id, event.model_dump_json())

    async def confirm(self, event_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(OUTBOX, event_id)
            pipe.hdel(OUTBOX_EVENTS, event_id)
            await pipe.execute()

    async def opted_out(self, phone: str) -> bool:
        return bool(await self.redis.sismember("resident:opted_out", phone))

    async def set_opted_out(self, phone: str, opted_out: bool) -> None:
        if opted_out:
            await self.redis.sadd("resident:opted_out", phone)
        else:
            await self.redis.srem("resident:opted_out", phone)

    async def queued(self, event_id: str) -> Event | None:
        payload = await self.redis.hget(OUTBOX_EVENTS, event_id)
        return parse_event(payload) if payload is not None else None

    async def unconfirmed(self, queued_before: float, limit: int = 500) -> list[Event]:
        ids = cast(
            "list[bytes]",
            await self.redis.zrangebyscore(OUTBOX, "-inf", queued_before, start=0, num=limit),
        )
        if not ids:
            return []
        payloads = await self.redis.hmget(OUTBOX_EVENTS, ids)
        return [parse_event(payload) for payload in payloads if payload is not None]
