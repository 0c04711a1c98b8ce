"""The router a batch at a time (RouterService.handle_batch) against the same events one
at a time, on real nats-server and redis-server: the same routing states, manual queues,
outbox, labelled examples and handled marks, and the same events stored in the stream in
the same order, whatever the batches' sizes; a batch delivered again changes nothing; a
state written by another replica meanwhile fails the batch (StateConflict) and leaves
nothing half-written."""

import random
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from redis.asyncio import Redis

from chuishao.common.clock import ManualClock
from chuishao.common.domain import Channel, ClockKind, DeclineReason, Level, Location, Priority
from chuishao.common.events import (
    Event,
    TicketDeclined,
    TicketEscalated,
    TicketRecategorised,
    TicketSubmitted,
)
from chuishao.common.streams import declare_streams
from chuishao.router import keys
from chuishao.router.bootstrap import bootstrap
from chuishao.router.service import RouterService
from chuishao.router.settings import RouterSettings
from chuishao.router.store import StateConflict
from support.servers import Servers

NOW = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
# Routed at once, to the manual queue (nothing matches), and emergencies.
REPORTS = (
    ("fire_box", "消防箱玻璃碎了", "HY-01"),
    ("street_light", "路灯不亮了", "HY-02"),
    (None, "有个事想问问", "HY-01"),
    (None, "楼道里很重的煤气味，有人晕倒了", "HY-03"),
    ("road_damage", "路面塌了一个大坑", "HY-02"),
)


@pytest.fixture
async def router(servers: Servers, tmp_path: Path) -> AsyncIterator[RouterService]:
    """A router whose consumer is not started: the test hands it the events."""
    path = tmp_path / "directory.toml"
    shutil.copy(RouterSettings().directory_file, path)
    settings = RouterSettings(
        nats_url=servers.nats_url, redis_url=servers.redis_url, directory_file=path
    )
    service = bootstrap(settings, clock=ManualClock(NOW))
    await service.broker.connect()
    yield service
    await service.broker.stop()
    await service.runtime.redis.aclose()


def submits(count: int) -> list[TicketSubmitted]:
    return [
        TicketSubmitted.first(
            producer="intake",
            clock=ManualClock(NOW),
            ticket_id=f"T2026010500{n:04d}",
            category=category,
            description=text,
            priority=Priority.NORMAL,
            channel=Channel.HOTLINE_12345,
            location=Location(grid_code=grid),
        )
        for n in range(count)
        for category, text, grid in [REPORTS[n % len(REPORTS)]]
    ]


async def follow_ups(router: RouterService, cause: TicketSubmitted) -> list[Event]:
    """What happens next to a ticket: its lead declines it, it is escalated, a person
    recategorises it (a labelled example) unless it waits in a manual queue."""
    state = await router.store.get(cause.ticket_id)
    assert state is not None
    at = {"producer": "intake", "occurred_at": NOW + timedelta(minutes=5)}
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
    events.append(
        TicketEscalated.caused_by(
            cause,
            producer="sla",
            occurred_at=NOW + timedelta(hours=49),
            clock=ClockKind.RESOLUTION,
            from_level=Level.COMMUNITY,
            to_level=Level.STREET,
            overdue_seconds=3600,
        )
    )
    if state.manual is None:  # the others wait for a centre's dispatch
        events.append(
            TicketRecategorised.caused_by(
                cause, **at, category="illegal_parking", priority=Priority.NORMAL, changed_by="op"
            )
        )
    return events


def interleaved(rng: random.Random, histories: list[list[Event]]) -> list[Event]:
    queues = [list(history) for history in histories]
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
            # Handled marks and the outbox are scored by wall time; queues by urgency.
            wall = key.startswith(b"handled:") or key == keys.OUTBOX.encode()
            found[key.decode()] = (
                sorted(await redis.zrange(key, 0, -1))
                if wall
                else await redis.zrange(key, 0, -1, withscores=True)
            )
        elif kind == b"string":
            found[key.decode()] = await redis.get(key)
        elif kind == b"hash":
            found[key.decode()] = await redis.hgetall(key)
        elif kind == b"list":
            found[key.decode()] = await redis.lrange(key, 0, -1)
        else:
            found[key.decode()] = kind
    return found


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
    expected = await stored(js, redis)
    assert any(key.startswith("router:manual:") for key in expected)  # some went to a centre
    assert len(expected["stream"]) > len(causes)

    await empty(js, redis)
    at = 0
    while at < len(events):
        step = size or rng.randint(1, 12)
        await router.handle_batch(events[at : at + step])
        at += step
    assert await stored(js, redis) == expected

    # Delivered again, whole and with an event twice: nothing changes.
    await router.handle_batch([*events, events[0]])
    assert await stored(js, redis) == expected


async def test_a_batch_whose_ticket_another_replica_wrote_saves_nothing(
    router: RouterService, js: JetStreamContext, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await empty(js, redis)
    first, second = submits(2)
    await router.handle(first)
    before = await stored(js, redis)
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
    after = await stored(js, redis)
    assert after == before  # neither the second ticket nor the decline left a trace

    monkeypatch.undo()
    await router.handle_batch([second, declined])  # taken again, it goes through
    assert await router.store.get(second.ticket_id) is not None
