"""The one outbox: an event leaves a service only through here.

A service writes its state change and queues the events it causes in the same Redis
transaction (`Outbox.queue` inside the caller's MULTI), publishes them with
`Nats-Msg-Id = event_id`, and confirms each (removes it from the outbox) only after
JetStream's PubAck (`Outbox.publish`). A crash or an outage between the write and the
PubAck loses nothing: `relay_once`, run every few seconds, publishes what was not
confirmed, and the stream drops the repeat of an attempt that did land.

In Redis: a sorted set of the queued event ids scored by the wall time they were queued
(so the relay can leave alone what is still being published) and a hash of their
payloads. One bad entry never holds up the rest: an entry that can never be published
(it does not parse, NATS refuses its size, the stream refuses it) goes to the dead
letters (`dlq.<name>` in DEADLETTER) with the reason in its headers and leaves the
outbox; anything else (NATS away, a timeout) ends the round and the next one tries again.

A service whose state change is a Lua script rather than a MULTI (sla's compare-and-set
commit) queues inside that script: `Outbox.entries` gives it the checked payloads and
the script writes them to `queued_key` and `payloads_key` exactly as `queue` would.
"""

import asyncio
import time
from collections.abc import Iterable
from typing import Any, cast

import structlog
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext
from nats.js.errors import BadRequestError
from pydantic import ValidationError
from redis.asyncio import Redis

from chuishao.common import subjects
from chuishao.common.delivery import ERROR_HEADER, REASON_HEADER, STREAM_HEADER, SUBJECT_HEADER
from chuishao.common.events import Event, parse_event
from chuishao.common.privacy import mask_text
from chuishao.common.publishing import (
    MAX_EVENT_BYTES,
    TICKET_HEADER,
    check_size,
    encode,
    event_headers,
    publish_event,
)

log = structlog.get_logger()

# Failures no retry can cure; anything else is retried next round.
PERMANENT = (MaxPayloadError, BadRequestError)


class Outbox:
    """One service's outbox. `name` names its dead letters (`dlq.<name>`); `queued_key`
    and `payloads_key` are its Redis keys (each service keeps its own layout)."""

    def __init__(self, redis: Redis, name: str, *, queued_key: str, payloads_key: str) -> None:
        self.redis = redis
        self.name = name
        self.queued_key = queued_key
        self.payloads_key = payloads_key

    @property
    def dead_letters(self) -> str:
        return subjects.dead_letter(self.name)

    def queue(self, pipe: Any, events: Iterable[Event]) -> None:
        """Queue events inside the caller's transaction (`pipe` after MULTI)."""
        # Wall time, not the business clock: the relay is about publishes that never returned.
        now = time.time()
        for event_id, payload in self.entries(events):
            pipe.zadd(self.queued_key, {event_id: now})
            pipe.hset(self.payloads_key, event_id, payload)

    def entries(self, events: Iterable[Event]) -> list[tuple[str, str]]:
        """(event id, payload) of each event, for a caller that queues them inside its own
        Lua script: ZADD `queued_key` (wall time) and HSET `payloads_key`, as `queue` does."""
        found = []
        for event in events:
            payload = event.model_dump_json()
            # Refused before the write (raising here aborts the transaction): an event
            # NATS can never take would be stored with its state and fail every relay.
            check_size(event, len(payload.encode()))
            found.append((event.event_id, payload))
        return found

    async def publish(
        self, js: JetStreamContext, events: list[Event], timeout: float = 5.0
    ) -> None:
        """Publish in order (a rating before the reopen it causes), then confirm them all."""
        for event in events:
            await publish_event(js, event, timeout=timeout)
        await self.confirm(*(event.event_id for event in events))

    async def publish_all(
        self, js: JetStreamContext, events: list[Event], timeout: float = 5.0
    ) -> None:
        """Publish a burst pipelined (sent in order on one connection, so stored in
        order; the PubAcks awaited together), then confirm them all. Should one fail,
        none is confirmed here: the relay sends them again and the stream drops the
        repeats of those that did land."""
        pending = [
            await js.publish_async(
                subjects.for_event(event), encode(event), headers=event_headers(event)
            )
            for event in events
        ]
        try:
            # asyncio.wait, not wait_for(gather): a gather cancelled from outside (a loop
            # stopping) is left with an exception nobody retrieves, logged at shutdown.
            done, late = await asyncio.wait(pending, timeout=timeout) if pending else ((), ())
            if late:
                raise TimeoutError(f"{len(late)} of {len(pending)} publishes not acknowledged")
            for future in done:
                future.result()  # a refused publish raises here
        finally:
            for future in pending:
                future.cancel()  # no-op when done; frees the slot of one that never will be
        await self.confirm(*(event.event_id for event in events))

    async def confirm(self, *event_ids: str) -> None:
        if not event_ids:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.queued_key, *event_ids)
            pipe.hdel(self.payloads_key, *event_ids)
            await pipe.execute()

    async def queued(self, event_id: str) -> Event | None:
        payload = await self.redis.hget(self.payloads_key, event_id)
        return parse_event(payload) if payload is not None else None

    async def unconfirmed_raw(
        self, queued_before: float, limit: int = 500
    ) -> list[tuple[str, bytes | None]]:
        """Queued entries as stored, oldest first: (event id, payload or None if gone).
        The relay parses each on its own, so one bad entry cannot stop the others."""
        ids = cast(
            "list[bytes]",
            await self.redis.zrangebyscore(
                self.queued_key, "-inf", queued_before, start=0, num=limit
            ),
        )
        if not ids:
            return []
        payloads = cast("list[bytes | None]", await self.redis.hmget(self.payloads_key, ids))
        return [(i.decode(), payload) for i, payload in zip(ids, payloads, strict=True)]

    async def unconfirmed(self, queued_before: float, limit: int = 500) -> list[Event]:
        entries = await self.unconfirmed_raw(queued_before, limit)
        return [parse_event(payload) for _, payload in entries if payload is not None]

    async def size(self) -> int:
        return int(await self.redis.zcard(self.queued_key))


async def relay_once(outbox: Outbox, js: JetStreamContext, grace: float) -> list[Event]:
    """Publish what was queued more than `grace` seconds ago and is not confirmed; returns
    the events it published."""
    # Wall time, not the business clock: this is about a publish that never returned.
    pending = await outbox.unconfirmed_raw(time.time() - grace)
    relayed: list[Event] = []
    for event_id, payload in pending:
        if payload is None:  # confirmed meanwhile: only the index entry was left
            await outbox.confirm(event_id)
            continue
        try:
            event = parse_event(payload)
        except (ValidationError, ValueError) as error:
            await dead_letter(outbox, js, event_id, payload, None, "unprocessable", error)
            await outbox.confirm(event_id)
            continue
        try:
            # Same Nats-Msg-Id as the first attempt: if that one did land, the stream drops this.
            await publish_event(js, event)
        except PERMANENT as error:
            await dead_letter(outbox, js, event_id, payload, event, "unpublishable", error)
            await outbox.confirm(event_id)
            continue
        await outbox.confirm(event.event_id)
        relayed.append(event)
    if relayed:
        log.info("outbox_relayed", outbox=outbox.name, count=len(relayed))
    return relayed


async def dead_letter(
    outbox: Outbox,
    js: JetStreamContext,
    event_id: str,
    payload: bytes,
    event: Event | None,
    reason: str,
    error: Exception,
) -> None:
    """Store the entry in DEADLETTER with why; if it cannot be stored, the entry stays in
    the outbox (the exception ends the round) and is tried again, never dropped."""
    description = mask_text(f"{type(error).__name__}: {error}")[:1000]
    # The letter carries the (masked) event, or a stub if that is what was too large;
    # the whole text stays with the service's state.
    body = encode(event) if event is not None else mask_text(payload.decode("utf-8", "replace"))
    if isinstance(body, str):
        body = body.encode()
    if len(body) > MAX_EVENT_BYTES:
        stub = event.model_dump_json(include={"event_id", "type", "ticket_id"}) if event else "{}"
        body = stub.encode()
    headers = {
        "Nats-Msg-Id": f"dlq:{outbox.name}:{event_id}",
        REASON_HEADER: reason,
        ERROR_HEADER: description,
        SUBJECT_HEADER: subjects.for_event(event) if event is not None else "unknown",
        STREAM_HEADER: outbox.name,
    }
    if event is not None:
        headers[TICKET_HEADER] = event.ticket_id
    await js.publish(outbox.dead_letters, body, headers=headers, timeout=5)
    log.error(
        "outbox_dead_lettered",
        outbox=outbox.name,
        event_id=event_id,
        reason=reason,
        error=description,
    )
