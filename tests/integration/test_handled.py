"""The one "already handled" mechanism (chuishao.common.handled): bounded memory per
ticket, in a state (`remember`) or in Redis per consumer and ticket (`mark_handled`)."""

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from chuishao.common.events import TicketAcknowledged
from chuishao.common.handled import (
    KEEP_SECONDS,
    KEPT_PER_TICKET,
    forget_handled,
    handled_key,
    mark_handled,
    remember,
    was_handled,
)

pytestmark = pytest.mark.usefixtures("clean")


def ack(ticket_id: str, n: int) -> TicketAcknowledged:
    return TicketAcknowledged.about(
        ticket_id=ticket_id,
        correlation_id=ticket_id,
        producer="intake",
        occurred_at=datetime(2026, 1, 5, 9, tzinfo=UTC),
        event_id=f"{ticket_id}-{n}",
        unit_id="grid-a",
    )


def test_a_state_keeps_the_newest_ids_each_once() -> None:
    applied: tuple[str, ...] = ()
    for n in range(KEPT_PER_TICKET + 10):
        applied = remember(applied, f"e{n}")
    applied = remember(applied, f"e{KEPT_PER_TICKET + 9}")  # a repeat takes no more room
    assert len(applied) == KEPT_PER_TICKET
    assert applied[0] == "e10"
    assert applied[-1] == f"e{KEPT_PER_TICKET + 9}"


async def test_a_consumer_remembers_a_bounded_number_of_events_per_ticket(redis: Redis) -> None:
    events = [ack("T20260105000001", n) for n in range(KEPT_PER_TICKET + 20)]
    other = ack("T20260105000002", 0)
    for event in [*events, other]:
        await mark_handled(redis, "router", event)

    assert await redis.zcard(handled_key("router", "T20260105000001")) == KEPT_PER_TICKET
    assert 0 < await redis.ttl(handled_key("router", "T20260105000001")) <= KEEP_SECONDS
    assert await was_handled(redis, "router", events[-1])
    assert await was_handled(redis, "router", other)
    assert not await was_handled(redis, "notify", other)  # each consumer its own
    assert not await was_handled(redis, "router", events[0])  # the oldest fell out
    # One key per ticket, not one per event.
    assert len([k async for k in redis.scan_iter(match="handled:*")]) == 2

    await forget_handled(redis, "router", other)
    assert not await was_handled(redis, "router", other)


async def test_a_marker_written_before_the_upgrade_still_counts(redis: Redis) -> None:
    event = ack("T20260105000003", 0)
    await redis.set(f"handled:notify:{event.event_id}", 1, ex=KEEP_SECONDS)
    assert await was_handled(redis, "notify", event)
