"""The timer store and the sweep, driven directly on real servers with a manual clock:
an exclusive claim, a lease that runs out, a publish that fails after a claim (the
outbox), a decision that loses the compare-and-set, and the reconciliation sweep
repairing what drifted."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.common.events import (
    Event,
    SlaBreached,
    SlaClockArmed,
    TicketEscalated,
    TicketResolved,
    parse_event,
)
from chuishao.common.streams import SLA, TICKETS, provision
from chuishao.sla import keys
from chuishao.sla.decisions import SlaDecision, TicketState, on_event, on_timer
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.supervisor import Supervisor
from chuishao.sla.sweep import sweep
from support.factories import first_dispatch
from support.servers import Servers

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOUR = 3600.0
pytestmark = pytest.mark.usefixtures("clean")


def make_supervisor(
    redis: Redis, nc: Client, clock: ManualClock, book: PolicyBook | None = None
) -> Supervisor:
    return Supervisor(
        redis=redis,
        nats=nc,
        book=book or PolicyBook.load(),
        clock=clock,
        settings=SlaSettings(sla_retry_seconds=2.0, sla_publish_timeout_seconds=1.0),
    )


@pytest.fixture
async def clock(js: JetStreamContext) -> ManualClock:
    await provision(js, (SLA,))
    return ManualClock(T0)


async def stored(js: JetStreamContext, kind: type[Event]) -> list[Any]:
    subject = f"ticket.{kind.kind}.*"
    sub = await js.pull_subscribe(subject, stream="TICKETS")
    found: list[Event] = []
    try:
        while True:
            found += [parse_event(m.data) for m in await sub.fetch(100, timeout=0.3)]
    except TimeoutError:
        pass
    await sub.unsubscribe()
    return found


async def test_a_claim_is_exclusive_and_an_abandoned_claim_is_taken_again_after_its_lease(
    nc: Client, redis: Redis, clock: ManualClock
) -> None:
    supervisor = make_supervisor(redis, nc, clock)
    await supervisor.apply(first_dispatch(clock, "T-claim"))
    due = T0 + timedelta(hours=49)
    real = 1_000_000.0
    timers = supervisor.timers
    assert await timers.claim(due, real_now=real, lease_seconds=30, limit=10) == ["T-claim"]
    assert await timers.claim(due, real_now=real + 1, lease_seconds=30, limit=10) == []
    # The claimant died: once its lease has run out the next claim takes the ticket.
    assert await timers.claim(due, real_now=real + 31, lease_seconds=30, limit=10) == ["T-claim"]


async def test_a_timer_is_not_due_before_its_moment(
    nc: Client, redis: Redis, clock: ManualClock
) -> None:
    supervisor = make_supervisor(redis, nc, clock)
    await supervisor.apply(first_dispatch(clock, "T-early"))
    clock.advance(timedelta(hours=35, minutes=59))
    assert await supervisor.tick() == 0
    clock.advance(timedelta(minutes=1))  # 75 %: the warning point
    assert await supervisor.tick() == 1


async def test_when_publishing_fails_after_a_claim_the_decision_waits_in_the_outbox(
    nc: Client, js: JetStreamContext, redis: Redis, clock: ManualClock
) -> None:
    supervisor = make_supervisor(redis, nc, clock)
    await supervisor.apply(first_dispatch(clock, "T-nopub"))
    clock.advance(timedelta(hours=49))
    assert TICKETS.name
    await js.delete_stream(TICKETS.name)  # nothing can be published now

    assert await supervisor.tick() == 1
    assert supervisor.counters.publish_failures == 1
    assert supervisor.counters.escalations == 1  # committed, with its events queued
    assert not await supervisor.timers.claimed("T-nopub")
    queued = await supervisor.store.outbox.size()
    assert queued >= 2  # the breach and the escalation (and the new level's clock)

    await provision(js, (SLA,))
    clock.advance(timedelta(seconds=2))
    assert await supervisor.tick() == 0  # decided once: nothing is due again
    assert await supervisor.relay(grace=0) == queued
    assert await supervisor.relay(grace=0) == 0
    breaches = await stored(js, SlaBreached)
    # The lateness at the decision: it was committed then, only its publish waited.
    assert [(b.ticket_id, b.overdue_seconds) for b in breaches] == [("T-nopub", HOUR)]
    assert len(await stored(js, TicketEscalated)) == 1


async def test_a_lifecycle_event_whose_announcement_fails_is_relayed_not_decided_again(
    nc: Client, js: JetStreamContext, redis: Redis, clock: ManualClock
) -> None:
    supervisor = make_supervisor(redis, nc, clock)
    event = first_dispatch(clock, "T-armed")
    assert TICKETS.name
    await js.delete_stream(TICKETS.name)
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever NATS says: the message is nacked
        await supervisor.apply(event)
    assert await supervisor.store.outbox.size() == 1

    await provision(js, (SLA,))
    await supervisor.apply(event)  # its redelivery: recorded already, nothing decided again
    assert await stored(js, SlaClockArmed) == []
    assert await supervisor.relay(grace=0) == 1
    assert len(await stored(js, SlaClockArmed)) == 1


async def test_a_decision_that_loses_the_compare_and_set_announces_nothing(
    servers: Servers, nc: Client, js: JetStreamContext, redis: Redis, clock: ManualClock
) -> None:
    """The timer decides a breach while the ticket is resolved under it (a lifecycle event
    on another replica): the breach must not reach the stream, only what was committed."""
    supervisor = make_supervisor(redis, nc, clock)
    first = first_dispatch(clock, "T-race")
    await supervisor.apply(first)
    resolved = TicketResolved.caused_by(
        first, producer="intake", occurred_at=clock.now(), units=(), note=""
    )
    clock.advance(timedelta(hours=49))
    now = clock.now()
    writer = SyncRedis.from_url(servers.redis_url)
    seen: list[TicketState | None] = []

    def decide(state: TicketState | None) -> SlaDecision | None:
        assert state is not None
        seen.append(state)
        if len(seen) == 1:  # the other replica commits while this one decides
            changed = on_event(state, resolved, supervisor.book)
            assert changed is not None
            writer.set(keys.ticket("T-race"), changed.state.model_dump_json())
        return on_timer(state, now, supervisor.book)

    try:
        outcome = await supervisor.transact("T-race", decide)
    finally:
        writer.close()
    assert len(seen) == 2  # decided again on the resolved ticket
    assert outcome is not None
    assert outcome.events == []
    assert await stored(js, SlaBreached) == []
    assert await stored(js, TicketEscalated) == []
    assert await supervisor.store.outbox.size() == 0


async def test_the_sweep_puts_back_a_lost_timer(
    nc: Client, redis: Redis, clock: ManualClock
) -> None:
    supervisor = make_supervisor(redis, nc, clock)
    await supervisor.apply(first_dispatch(clock, "T-lost"))
    expected = await supervisor.timers.due_at("T-lost")
    await redis.zrem(keys.TIMERS, "T-lost")  # e.g. lost with the last second of an AOF

    assert await sweep(supervisor) == 1
    assert await supervisor.timers.due_at("T-lost") == expected
    assert await sweep(supervisor) == 0  # nothing left to repair


async def test_the_sweep_drops_timers_no_clock_needs(
    nc: Client, js: JetStreamContext, redis: Redis, clock: ManualClock
) -> None:
    supervisor = make_supervisor(redis, nc, clock)
    first = first_dispatch(clock, "T-done")
    await supervisor.apply(first)
    await supervisor.apply(
        TicketResolved.caused_by(
            first, producer="intake", occurred_at=clock.now(), units=(), note=""
        )
    )
    await redis.zadd(keys.TIMERS, {"T-done": T0.timestamp(), "T-ghost": T0.timestamp()})

    assert await sweep(supervisor) == 2
    assert await redis.zcard(keys.TIMERS) == 0
    clock.advance(timedelta(days=10))
    assert await supervisor.tick() == 0
    assert await stored(js, SlaBreached) == []


async def test_the_sweep_applies_a_changed_policy_and_announces_the_new_deadline(
    nc: Client, js: JetStreamContext, redis: Redis, clock: ManualClock
) -> None:
    await make_supervisor(redis, nc, clock).apply(first_dispatch(clock, "T-policy"))
    stricter = PolicyBook.parse("version = 2\n[defaults]\nresolution = '24h'\n")
    supervisor = make_supervisor(redis, nc, clock, stricter)

    assert await sweep(supervisor) == 1
    armed = await stored(js, SlaClockArmed)
    assert [a.deadline - a.occurred_at for a in armed] == [timedelta(hours=48), timedelta(hours=24)]
    assert await supervisor.timers.due_at("T-policy") == (T0 + timedelta(hours=18)).timestamp()


async def test_a_redelivered_event_arms_nothing_twice(
    nc: Client, js: JetStreamContext, redis: Redis, clock: ManualClock
) -> None:
    supervisor = make_supervisor(redis, nc, clock)
    event = first_dispatch(clock, "T-twice")
    await asyncio.gather(supervisor.apply(event), supervisor.apply(event))
    await supervisor.apply(event)
    assert len(await stored(js, SlaClockArmed)) == 1
