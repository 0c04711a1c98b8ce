"""The one "already handled" mechanism: per ticket, the ids of the last events handled.

What "already handled" must mean: a message JetStream delivers again (its ack was lost,
or the handler failed half-way) or a stream replayed past the duplicate window changes
nothing a second time. So the memory must be written together with the effect it guards,
and forgotten together with it: if Redis rolls back its last writes, the state and the
memory of the events that made it go back together, and those events are applied again
(they are still in the stream). A stream sequence watermark would not do: events of one
ticket may be handled out of stream order (a nacked message comes back after a later one
succeeded), and it would skip the earlier one for ever.

Memory is bounded per ticket: the newest `KEPT_PER_TICKET` event ids. A ticket has a few
dozen events in its life, and a redelivery comes within minutes (the delivery policy's
back-off), not after dozens of newer events of the same ticket.

Two forms, one rule:

* `remember` — the ids kept inside a per-ticket state and written in the same
  transaction as it (router's routing state, supervision's facts). Exactly once.
* `was_handled` / `mark_handled` — for effects that have no per-ticket state of their
  own (notify's fan-out, the router's quick check before it reads its state): a capped
  sorted set per consumer and ticket in Redis that expires `KEEP_SECONDS` after its last
  mark. Marked after the effect, so a crash in between repeats the effect with the same
  derived ids, which JetStream's duplicate window drops.

Intake's record keeps the ticket's whole history and sla's facts are the ticket's events
themselves; each already says which events it holds, so it needs no other memory.
"""

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from chuishao.common.events import Event

if TYPE_CHECKING:  # only named: `remember` keeps the domain cores free of the client
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

KEEP_SECONDS = 30 * 86_400
KEPT_PER_TICKET = 64


def remember(applied: Sequence[str], event_id: str, keep: int = KEPT_PER_TICKET) -> tuple[str, ...]:
    """The ids to keep once `event_id` is handled: the newest `keep`, each once."""
    return (*(i for i in applied if i != event_id), event_id)[-keep:]


def handled_key(consumer: str, ticket_id: str) -> str:
    return f"handled:{consumer}:ticket:{ticket_id}"


def _legacy_key(consumer: str, event_id: str) -> str:
    """One key per event, as markers were written before; read until they expire."""
    return f"handled:{consumer}:{event_id}"


def check_handled(pipe: "Pipeline", consumer: str, event: Event) -> None:
    """Queue `was_handled`'s two reads on a pipeline that carries the caller's own reads,
    so the check costs no round trip of its own; `handled_in` reads their answers."""
    pipe.zscore(handled_key(consumer, event.ticket_id), event.event_id)
    pipe.exists(_legacy_key(consumer, event.event_id))


def handled_in(score: object, legacy: object) -> bool:
    """`was_handled`'s answer from the two results `check_handled` queued."""
    return score is not None or bool(legacy)


async def was_handled(redis: "Redis", consumer: str, event: Event) -> bool:
    async with redis.pipeline(transaction=False) as pipe:
        check_handled(pipe, consumer, event)
        score, legacy = await pipe.execute()
    return handled_in(score, legacy)


async def unhandled(redis: "Redis", consumer: str, events: Sequence[Event]) -> list[int]:
    """`was_handled` for a batch in one round trip: where in `events` those not handled
    yet are, each event once (at its first place)."""
    async with redis.pipeline(transaction=False) as pipe:
        for event in events:
            check_handled(pipe, consumer, event)
        replies = await pipe.execute()
    first: dict[str, int] = {}
    for at, event in enumerate(events):
        if not handled_in(replies[2 * at], replies[2 * at + 1]):
            first.setdefault(event.event_id, at)
    return sorted(first.values())


async def mark_handled(redis: "Redis", consumer: str, event: Event) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        queue_mark(pipe, consumer, event)
        await pipe.execute()


def queue_mark(pipe: "Pipeline", consumer: str, event: Event) -> None:
    """`mark_handled`'s writes on a pipeline that carries the caller's own (a batch's)."""
    key = handled_key(consumer, event.ticket_id)
    # Wall time orders the marks; only the newest KEPT_PER_TICKET stay.
    pipe.zadd(key, {event.event_id: time.time()})
    pipe.zremrangebyrank(key, 0, -(KEPT_PER_TICKET + 1))
    pipe.expire(key, KEEP_SECONDS)


async def forget_handled(redis: "Redis", consumer: str, event: Event) -> None:
    """As if the consumer had crashed before it marked the event (tests, repairs)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrem(handled_key(consumer, event.ticket_id), event.event_id)
        pipe.delete(_legacy_key(consumer, event.event_id))
        await pipe.execute()
