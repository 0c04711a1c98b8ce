"""The one outbox (chuishao.common.outbox) as supervision and the router use it, on real
servers: a warning queued in the same transaction as the projection's write is published
by the relay and confirmed only then; one entry that can never be published goes to its
dead letters and holds up nothing behind it (supervision's own relay used to stop at it);
the router's events leave with its state, and a state that lost a race queues nothing."""

import time
from datetime import UTC, datetime

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.delivery import REASON_HEADER
from chuishao.common.domain import Priority
from chuishao.common.events import HotspotDetected, parse_event
from chuishao.common.outbox import Outbox, relay_once
from chuishao.common.streams import DEADLETTER, TICKETS, provision
from chuishao.router.state import TicketRouting
from chuishao.router.store import RoutingStore, StateConflict
from chuishao.supervision.hotspot_sender import relay
from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.projection import outbox_of
from support.factories import dispatched, hotspot, submitted

pytestmark = pytest.mark.usefixtures("clean")
KEYS = SupervisionKeys("supervision")


def warning(ticket_id: str) -> HotspotDetected:
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    return hotspot(ticket_id, ticket_id, at, ("TY-02", "yunmen", "illegal_parking"), 5)


@pytest.fixture
async def outbox(js: JetStreamContext, redis: Redis) -> Outbox:
    """Supervision's outbox, the streams provisioned."""
    await provision(js, ())
    return outbox_of(redis, KEYS)


async def last_hotspot(js: JetStreamContext, ticket_id: str) -> str:
    """The id of the last hotspot warning about the ticket in TICKETS."""
    assert TICKETS.name is not None
    stored = await js.get_last_msg(TICKETS.name, f"ticket.hotspot.{ticket_id}")
    return parse_event(stored.data or b"").event_id


async def letters(js: JetStreamContext, subject: str) -> list[str]:
    assert DEADLETTER.name is not None
    info = await js.stream_info(DEADLETTER.name)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg(DEADLETTER.name, seq)
        if message.subject == subject and message.headers:
            found.append(message.headers[REASON_HEADER])
    return found


async def test_a_queued_warning_leaves_with_its_state_change_and_only_after_the_pub_ack(
    js: JetStreamContext, redis: Redis, outbox: Outbox
) -> None:
    first = warning("PE")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(KEYS.ticket("PE"), "{}")
        outbox.queue(pipe, [first])
        await pipe.execute()
    assert await outbox.size() == 1
    assert await outbox.queued(first.event_id) == first

    assert await relay(redis, KEYS, js) == 1
    assert await last_hotspot(js, first.ticket_id) == first.event_id
    assert await outbox.size() == 0
    assert await redis.hlen(KEYS.outbox) == 0


async def test_one_bad_entry_is_dead_lettered_and_the_warning_behind_it_goes_out(
    js: JetStreamContext, redis: Redis, outbox: Outbox
) -> None:
    good = warning("PF")
    queued = time.time() - 60
    # In the order the relay meets them: the bad one first.
    await redis.zadd(KEYS.outbox_queued, {"not-json": queued, good.event_id: queued + 1})
    await redis.hset(KEYS.outbox, "not-json", b"{\x00 not an event")
    await redis.hset(KEYS.outbox, good.event_id, good.model_dump_json())

    assert await relay(redis, KEYS, js) == 1
    assert await outbox.size() == 0
    assert await redis.hlen(KEYS.outbox) == 0
    assert await letters(js, outbox.dead_letters) == ["unprocessable"]
    assert outbox.dead_letters == "dlq.supervision-outbox"


async def test_a_warning_stored_before_the_queue_times_is_still_sent(
    js: JetStreamContext, redis: Redis
) -> None:
    """The hash alone, as supervision's outbox was before it kept queue times."""
    await provision(js, ())
    old = warning("PG")
    await redis.hset(KEYS.outbox, old.event_id, old.model_dump_json())

    assert await relay(redis, KEYS, js) == 1
    assert await last_hotspot(js, old.ticket_id) == old.event_id
    assert await redis.hlen(KEYS.outbox) == 0
    assert await redis.zcard(KEYS.outbox_queued) == 0


async def test_the_routers_events_leave_with_its_state_and_a_lost_race_sends_none(
    js: JetStreamContext, redis: Redis
) -> None:
    await provision(js, ())
    store = RoutingStore(redis)
    cause = submitted()
    state = TicketRouting(
        ticket_id=cause.ticket_id,
        category=cause.category,
        priority=Priority.NORMAL,
        description=cause.description,
        location=cause.location,
        place=None,
    )
    first = dispatched(cause, "grid-a")
    await store.save(state, None, [first])
    assert await store.outbox.queued(first.event_id) == first

    # Another router saved this ticket first: its state stands, this step's events stay out.
    with pytest.raises(StateConflict):
        await store.save(state, None, [dispatched(cause, "grid-b")])
    assert await store.outbox.size() == 1

    assert [e.event_id for e in await relay_once(store.outbox, js, grace=0)] == [first.event_id]
    assert TICKETS.name is not None
    stored = await js.get_last_msg(TICKETS.name, f"ticket.dispatched.{cause.ticket_id}")
    assert parse_event(stored.data or b"").event_id == first.event_id
    assert await store.outbox.size() == 0
