"""Notify's fan-out a batch at a time (FanOut.handle_batch) against the same events one
at a time, on a real nats-server and redis-server: the same messages stored in every
stream, in the same order, the same facts, delivery log and handled marks, the same jobs;
whatever the batches' sizes, with an event repeated inside a batch and batches delivered
again."""

import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.common.domain import ClockKind, Level, Priority, Role
from chuishao.common.events import (
    Event,
    ReportLinked,
    ReportSplit,
    SlaWarning,
    TicketEscalated,
    TicketResolved,
    TicketTriaged,
)
from chuishao.common.handled import handled_key
from chuishao.notify.fanout import FanOut
from support.batch_compare import NOW, cut, empty, fanout, interleaved, stored
from support.factories import dispatched, submitted


def history(ticket: int, rng: random.Random) -> list[Event]:
    """One ticket's events as notify sees them, with the kinds whose audience depends on
    what an earlier event told (a warning without a unit, a resolution of linked reports)."""
    ticket_id = f"T2026010500{ticket:04d}"
    emergency = rng.random() < 0.3
    cause = submitted(
        ManualClock(NOW),
        ticket_id=ticket_id,
        priority=Priority.EMERGENCY if emergency else Priority.NORMAL,
    )
    lead = dispatched(cause, "grid-heyuan")
    co = dispatched(cause, "wuye").model_copy(update={"role": Role.CO})
    at: dict[str, Any] = {"producer": "sla", "occurred_at": NOW + timedelta(hours=1)}
    events: list[Event] = [cause]
    if rng.random() < 0.5:
        events.append(
            TicketTriaged.caused_by(
                cause,
                producer="router",
                occurred_at=NOW,
                category="gas_supply",
                confidence=0.9,
                method="test",
                accepted=True,
                danger=emergency,
                call=("119",) if emergency else (),
            )
        )
    events += [lead, co]
    events.append(
        SlaWarning.caused_by(
            lead,
            **at,
            clock=ClockKind.RESOLUTION,
            level=Level.COMMUNITY,
            deadline=NOW,
            remaining_seconds=60,
        )
    )
    events.append(
        SlaWarning.caused_by(
            lead,
            **at,
            discriminator="report",
            clock=ClockKind.REPORT_FOR_DUTY,
            level=Level.COMMUNITY,
            deadline=NOW,
            remaining_seconds=60,
            unit_id="wuye",
        )
    )
    linked = f"T2026010509{ticket:04d}"
    events.append(
        ReportLinked.caused_by(
            cause, producer="intake", occurred_at=NOW, duplicate_ticket_id=linked, distance_m=5
        )
    )
    if rng.random() < 0.5:
        events.append(
            ReportSplit.caused_by(
                cause, producer="intake", occurred_at=NOW, report_ticket_id=linked, split_by="x"
            )
        )
    events.append(
        TicketEscalated.caused_by(
            lead,
            **at,
            clock=ClockKind.RESOLUTION,
            from_level=Level.COMMUNITY,
            to_level=Level.STREET,
            overdue_seconds=0,
            units_summoned=("street-centre",),
        )
    )
    events.append(
        TicketResolved.caused_by(
            cause, producer="intake", occurred_at=NOW, units=("grid-heyuan",), note="done"
        )
    )
    return events


def tickets(rng: random.Random, count: int = 8) -> list[Event]:
    """The tickets' histories shuffled into one stream, each ticket's events in order."""
    return interleaved(rng, [history(n, rng) for n in range(count)])


async def left(js: JetStreamContext, redis: Redis, events: Sequence[Event]) -> dict[str, Any]:
    """Everything the fan-out leaves behind (the handled marks are scored by wall time)."""
    found = await stored(js, redis, lambda key: key.startswith("handled:"))
    assert handled_key("notify", events[0].ticket_id) in found
    return found


async def one_at_a_time(out: FanOut, events: list[Event]) -> list[list[Any]]:
    return [await out.handle(event) for event in events]


@pytest.mark.parametrize("size", [1, 7, 64, None])
async def test_a_batch_fans_out_as_its_events_one_at_a_time(
    js: JetStreamContext, redis: Redis, size: int | None
) -> None:
    rng = random.Random(size or 0)
    events = tickets(rng)

    await empty(js, redis)
    reference = await one_at_a_time(fanout(js, redis), events)
    expected = await left(js, redis, events)
    assert sum(len(jobs) for jobs in reference) > len(events) // 2  # receipts, webhooks, SMS

    await empty(js, redis)
    out = fanout(js, redis)
    jobs: list[list[Any]] = []
    for batch in cut(events, rng, size, 20):
        jobs += await out.handle_batch(batch)
    assert jobs == reference
    assert await left(js, redis, events) == expected

    # Delivered again (an ack lost), whole or in other cuts, and an event twice in one
    # batch: nothing more is published, logged or returned.
    for batch in [events, *cut(events, rng, None, 20), [events[0], events[0]]]:
        assert await out.handle_batch(batch) == [[] for _ in batch]
    assert await left(js, redis, events) == expected


async def test_an_event_twice_in_one_new_batch_is_fanned_out_once(
    js: JetStreamContext, redis: Redis
) -> None:
    events = history(1, random.Random(1))
    await empty(js, redis)
    reference = await one_at_a_time(fanout(js, redis), events)
    expected = await left(js, redis, events)

    await empty(js, redis)
    doubled = [event for event in events for _ in range(2)]
    jobs = await fanout(js, redis).handle_batch(doubled)
    assert jobs[0::2] == reference
    assert jobs[1::2] == [[] for _ in events]
    assert await left(js, redis, events) == expected
