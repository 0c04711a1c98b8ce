"""The router a batch at a time (RouterService.handle_batch) against the same events one
at a time, on real nats-server and redis-server: the same routing states, manual queues,
outbox, labelled examples and handled marks, and the same events stored in the stream in
the same order, whatever the batches' sizes; a batch delivered again changes nothing; a
state written by another replica meanwhile fails the batch (StateConflict) and leaves
nothing half-written."""

import random
from datetime import timedelta
from typing import Any

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis

from chuishao.common.domain import DeclineReason, Priority
from chuishao.common.events import (
    Event,
    TicketDeclined,
    TicketRecategorised,
    TicketSubmitted,
)
from chuishao.router import keys
from chuishao.router.service import RouterService
from chuishao.router.store import StateConflict
from support.batch_compare import NOW, cut, empty, escalation, interleaved, stored, submits


async def follow_ups(router: RouterService, cause: TicketSubmitted) -> list[Event]:
    """What happens next to a ticket: its lead declines it, it is escalated, a person
    recategorises it (a labelled example) unless it waits in a manual queue."""
    state = await router.store.get(cause.ticket_id)
    assert state is not None
    at: dict[str, Any] = {"producer": "intake", "occurred_at": NOW + timedelta(minutes=5)}
    events: list[Event] = []
    if state.assignments:
        lead = state.assignments[0].unit_id
        events.append(
            TicketDeclined.caused_by(
                cause,
                **at,
                unit_id=lead,
                reason_code=DeclineReason.NOT_OUR_RESPONSIBILITY,
                bounces=1,
            )
        )
    events.append(escalation(cause))
    if state.manual is None:  # the others wait for a centre's dispatch
        events.append(
            TicketRecategorised.caused_by(
                cause, **at, category="illegal_parking", priority=Priority.NORMAL, changed_by="op"
            )
        )
    return events


async def left(js: JetStreamContext, redis: Redis) -> dict[str, Any]:
    """Handled marks and the outbox are scored by wall time; the queues by urgency."""
    return await stored(js, redis, lambda key: key.startswith("handled:") or key == keys.OUTBOX)


@pytest.mark.parametrize("size", [1, 5, 64, None])
async def test_a_batch_routes_as_its_events_one_at_a_time(
    router: RouterService, js: JetStreamContext, redis: Redis, size: int | None
) -> None:
    rng = random.Random(size or 0)
    causes = submits(15)
    await empty(js, redis)
    for cause in causes:
        await router.handle(cause)
    histories = [[cause, *await follow_ups(router, cause)] for cause in causes]
    events = interleaved(rng, histories)

    await empty(js, redis)
    for event in events:
        await router.handle(event)
    expected = await left(js, redis)
    assert any(key.startswith("router:manual:") for key in expected)  # some went to a centre
    assert len(expected["stream TICKETS"]) > len(causes)

    await empty(js, redis)
    for batch in cut(events, rng, size, 12):
        await router.handle_batch(batch)
    assert await left(js, redis) == expected

    # Delivered again, whole and with an event twice: nothing changes.
    await router.handle_batch([*events, events[0]])
    assert await left(js, redis) == expected


async def test_a_batch_whose_ticket_another_replica_wrote_saves_nothing(
    router: RouterService, js: JetStreamContext, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await empty(js, redis)
    first, second = submits(2)
    await router.handle(first)
    before = await left(js, redis)
    declined, *_ = await follow_ups(router, first)

    # Another replica saves the first ticket between this batch's read and its write.
    step = router._step

    async def racing(event: Event, *args: Any) -> Any:
        outcome = await step(event, *args)
        state = await router.store.get(first.ticket_id)
        assert state is not None
        await redis.set(keys.ticket(first.ticket_id), state.stored())
        return outcome

    monkeypatch.setattr(router, "_step", racing)
    with pytest.raises(StateConflict):
        await router.handle_batch([second, declined])
    after = await left(js, redis)
    assert after == before  # neither the second ticket nor the decline left a trace

    monkeypatch.undo()
    await router.handle_batch([second, declined])  # taken again, it goes through
    assert await router.store.get(second.ticket_id) is not None
