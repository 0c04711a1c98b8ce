"""sla a batch at a time (Supervisor.apply_batch) against the same lifecycle events one at
a time, on real nats-server and redis-server: the same states, timers, indexes and
outbox, and the same events stored in the stream in the same order, whatever the
batches' sizes; a batch delivered again changes nothing; a ticket changed between the
batch's read and its commit is decided again on its own."""

import random
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.domain import Priority, Role
from chuishao.common.events import (
    Event,
    ExtensionApproved,
    TicketAcknowledged,
    TicketClosed,
    TicketResolved,
    UnitSignedOff,
)
from chuishao.sla import keys
from chuishao.sla.store import Loaded
from chuishao.sla.supervisor import Supervisor
from support.batch_compare import NOW, cut, empty, interleaved, stored, unit_dispatch


def history(n: int, rng: random.Random) -> list[Event]:
    """A ticket's lifecycle as sla reads it: a lead and a co-handler dispatched, one
    reports for duty, an extension, sign-offs, resolved, closed (some stop early)."""
    ticket_id = f"T2026010500{n:04d}"
    priority = rng.choice([Priority.NORMAL, Priority.URGENT, Priority.EMERGENCY])

    lead = unit_dispatch(ticket_id, "grid-heyuan", Role.LEAD, priority)
    co = unit_dispatch(ticket_id, "wuye", Role.CO, priority)
    later: dict[str, Any] = {"producer": "intake", "occurred_at": NOW + timedelta(minutes=20)}
    events: list[Event] = [
        lead,
        co,
        TicketAcknowledged.caused_by(lead, **later, unit_id="grid-heyuan"),
        ExtensionApproved.caused_by(
            lead, **later, unit_id="grid-heyuan", extra_seconds=86_400, approved_by="centre"
        ),
        UnitSignedOff.caused_by(lead, **later, unit_id="wuye", note="ok"),
        TicketResolved.caused_by(lead, **later, units=("grid-heyuan",), note="done"),
        TicketClosed.caused_by(lead, **later, reason="rated"),
    ]
    return events[: rng.randint(2, len(events))]


async def left(js: JetStreamContext, redis: Redis) -> dict[str, Any]:
    """The outbox is scored by wall time; the timers and indexes by the stack's."""
    return await stored(js, redis, lambda key: key == keys.OUTBOX)


@pytest.mark.parametrize("size", [1, 6, 64, None])
async def test_a_batch_decides_as_its_events_one_at_a_time(
    supervisor: Supervisor, js: JetStreamContext, redis: Redis, size: int | None
) -> None:
    rng = random.Random(size or 0)
    events = interleaved(rng, [history(n, rng) for n in range(12)])

    await empty(js, redis)
    for event in events:
        await supervisor.apply(event)
    expected = await left(js, redis)
    assert len(expected["stream TICKETS"]) >= 12  # the clocks armed, at least

    await empty(js, redis)
    for batch in cut(events, rng, size, 15):
        await supervisor.apply_batch(batch)
    assert await left(js, redis) == expected

    await supervisor.apply_batch([*events, events[0]])  # delivered again
    assert await left(js, redis) == expected


async def test_a_ticket_changed_between_read_and_commit_is_decided_again(
    supervisor: Supervisor, js: JetStreamContext, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead, co, acknowledged = history(1, random.Random(3))[:3]
    await empty(js, redis)
    for event in (lead, acknowledged, co):
        await supervisor.apply(event)
    expected = await left(js, redis)

    await empty(js, redis)
    await supervisor.apply(lead)
    read_many = supervisor.store.read_many
    raced: list[int] = []

    async def racing(ticket_ids: Any) -> list[Loaded]:
        loaded = await read_many(ticket_ids)
        if not raced:  # another replica applies the acknowledgement meanwhile
            raced.append(1)
            await supervisor.apply(acknowledged)
        return loaded

    monkeypatch.setattr(supervisor.store, "read_many", racing)
    await supervisor.apply_batch([co])
    assert raced
    assert await left(js, redis) == expected
