"""sla a batch at a time (Supervisor.apply_batch) against the same lifecycle events one at
a time, on real nats-server and redis-server: the same states, timers, indexes and
outbox, and the same events stored in the stream in the same order, whatever the
batches' sizes; a batch delivered again changes nothing; a ticket changed between the
batch's read and its commit is decided again on its own."""

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.common.domain import Level, Location, Priority, Role, Whistle
from chuishao.common.events import (
    Event,
    ExtensionApproved,
    TicketAcknowledged,
    TicketClosed,
    TicketDispatched,
    TicketResolved,
    UnitSignedOff,
)
from chuishao.common.streams import declare_streams
from chuishao.sla import keys
from chuishao.sla.policies import PolicyBook
from chuishao.sla.settings import SlaSettings
from chuishao.sla.store import Loaded
from chuishao.sla.supervisor import Supervisor
from support.servers import Servers

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@pytest.fixture
async def supervisor(servers: Servers, redis: Redis) -> AsyncIterator[Supervisor]:
    connection: Client = await nats.connect(servers.nats_url)
    settings = SlaSettings(nats_url=servers.nats_url, redis_url=servers.redis_url)
    yield Supervisor(
        redis=redis,
        nats=connection,
        book=PolicyBook.load(settings.sla_policies_file),
        clock=ManualClock(NOW),
        settings=settings,
    )
    await connection.drain()


def history(n: int, rng: random.Random) -> list[Event]:
    """A ticket's lifecycle as sla reads it: a lead and a co-handler dispatched, one
    reports for duty, an extension, sign-offs, resolved, closed (some stop early)."""
    ticket_id = f"T2026010500{n:04d}"
    priority = rng.choice([Priority.NORMAL, Priority.URGENT, Priority.EMERGENCY])

    def dispatched(unit: str, role: Role) -> TicketDispatched:
        return TicketDispatched.first(
            producer="router",
            clock=ManualClock(NOW),
            ticket_id=ticket_id,
            event_id=f"{ticket_id}-{unit}",
            unit_id=unit,
            unit_name=unit,
            role=role,
            level=Level.COMMUNITY,
            whistle=Whistle.DAILY,
            category="fire_box",
            priority=priority,
            description="消防箱玻璃碎了",
            location=Location(grid_code="HY-01"),
            reason="test",
            street="qingshi",
        )

    lead, co = dispatched("grid-heyuan", Role.LEAD), dispatched("wuye", Role.CO)
    later = {"producer": "intake", "occurred_at": NOW + timedelta(minutes=20)}
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


def interleaved(rng: random.Random, tickets: int = 12) -> list[Event]:
    queues = [history(n, rng) for n in range(tickets)]
    merged: list[Event] = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return merged


async def empty(js: JetStreamContext, redis: Redis) -> None:
    for info in await js.streams_info():
        await js.delete_stream(info.config.name or "")
    await redis.flushall()
    await declare_streams(js)


async def stored(js: JetStreamContext, redis: Redis) -> dict[str, Any]:
    found: dict[str, Any] = {}
    info = await js.stream_info("TICKETS")
    messages = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1) if info.state.messages else ():
        try:
            msg = await js.get_msg("TICKETS", seq)
        except NotFoundError:
            continue
        messages.append((msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), msg.data))
    found["stream"] = messages
    for key in sorted(await redis.keys("*")):
        kind = await redis.type(key)
        if kind == b"zset":
            wall = key == keys.OUTBOX.encode()  # scored by wall time
            found[key.decode()] = (
                sorted(await redis.zrange(key, 0, -1))
                if wall
                else await redis.zrange(key, 0, -1, withscores=True)
            )
        elif kind == b"string":
            found[key.decode()] = await redis.get(key)
        elif kind == b"hash":
            found[key.decode()] = await redis.hgetall(key)
        elif kind == b"set":
            found[key.decode()] = sorted(await redis.smembers(key))
        else:
            found[key.decode()] = kind
    return found


@pytest.mark.parametrize("size", [1, 6, 64, None])
async def test_a_batch_decides_as_its_events_one_at_a_time(
    supervisor: Supervisor, js: JetStreamContext, redis: Redis, size: int | None
) -> None:
    rng = random.Random(size or 0)
    events = interleaved(rng)

    await empty(js, redis)
    for event in events:
        await supervisor.apply(event)
    expected = await stored(js, redis)
    assert len(expected["stream"]) >= 12  # the clocks armed, at least

    await empty(js, redis)
    at = 0
    while at < len(events):
        step = size or rng.randint(1, 15)
        await supervisor.apply_batch(events[at : at + step])
        at += step
    assert await stored(js, redis) == expected

    await supervisor.apply_batch([*events, events[0]])  # delivered again
    assert await stored(js, redis) == expected


async def test_a_ticket_changed_between_read_and_commit_is_decided_again(
    supervisor: Supervisor, js: JetStreamContext, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead, co, acknowledged = history(1, random.Random(3))[:3]
    await empty(js, redis)
    for event in (lead, acknowledged, co):
        await supervisor.apply(event)
    expected = await stored(js, redis)

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
    assert await stored(js, redis) == expected
