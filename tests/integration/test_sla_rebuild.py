"""sla's clocks survive a Redis that forgets: restarted from an earlier copy of its data,
Redis has lost a ticket's whole sla state and another's escalation; sla rebuilds both
from TICKETS and each goes on up the ladder, escalating once per level."""

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from chuishao.common import stream_reader
from chuishao.common.clock import SharedClock
from chuishao.common.domain import Level
from chuishao.common.events import SlaClockArmed, TicketEscalated
from chuishao.common.publishing import publish_event
from chuishao.common.streams import SLA, TICKETS
from chuishao.sla.rebuild import WATERMARK
from support.servers import RollbackRedis, Servers

from .test_sla_service import Recorder, dispatch, running_sla, travel, until


@pytest.fixture
async def client(own_redis: RollbackRedis) -> AsyncIterator[Redis]:
    # Retries, as the services' clients do: the server restarts under it.
    redis = Redis.from_url(
        own_redis.server.url,
        retry=Retry(ExponentialBackoff(cap=0.5), 40),
        retry_on_error=[RedisConnectionError],
    )
    yield redis
    await redis.aclose()


async def watermark(client: Redis) -> int:
    raw = await client.get(WATERMARK)
    return int(raw) if raw else 0


async def caught_up(client: Redis, js: JetStreamContext) -> bool:
    _, acknowledged = await stream_reader.acknowledged_until(js, TICKETS.name or "", SLA.name)
    return await watermark(client) >= acknowledged


async def until_async(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.05)


def escalated(seen: Recorder, ticket_id: str, level: Level) -> list[TicketEscalated]:
    return [e for e in seen.of(TicketEscalated, ticket_id) if e.from_level == level]


@pytest.mark.usefixtures("clean")
async def test_a_redis_rollback_under_sla_loses_no_clock_and_repeats_no_escalation(
    servers: Servers, js: JetStreamContext, own_redis: RollbackRedis, client: Redis
) -> None:
    clock = SharedClock(client)
    await clock.start()
    try:
        async with running_sla(servers.nats_url, own_redis.server.url, sla_state_check_seconds=0.2):
            seen = await Recorder().start(js)
            await publish_event(js, dispatch(clock, "T-kept"))
            await until(lambda: seen.of(SlaClockArmed, "T-kept"))
            own_redis.snapshot()
            await publish_event(js, dispatch(clock, "T-forgotten"))
            await until(lambda: seen.of(SlaClockArmed, "T-forgotten"))
            await travel(client, clock, 48.5)
            for ticket_id in ("T-kept", "T-forgotten"):
                await until(functools.partial(escalated, seen, ticket_id, Level.COMMUNITY))

            # Redis forgets T-forgotten altogether and both escalations (and the clock's
            # offset: the stack goes back to the time of the copy).
            own_redis.roll_back()
            await until(lambda: clock.now() < seen.of(SlaClockArmed, "T-kept")[0].deadline)
            # sla notices within its check interval and rebuilds: its watermark, rolled back
            # to the copy's, reaches what its consumer has acknowledged again. Travelling
            # before that would let the rolled-back timer fire first and re-decide the
            # escalation at the travelled time: the same event id (dropped by JetStream),
            # but the street's clock would start from then.
            await until_async(lambda: caught_up(client, js), timeout=20)
            # Past the street's 24 h (armed at the first escalation), short of the district's.
            await travel(client, clock, 48.5 + 30)
            for ticket_id in ("T-kept", "T-forgotten"):
                await until(functools.partial(escalated, seen, ticket_id, Level.STREET), timeout=20)
    finally:
        await clock.stop()
    for ticket_id in ("T-kept", "T-forgotten"):
        levels = [(e.from_level, e.to_level) for e in seen.of(TicketEscalated, ticket_id)]
        assert levels == [(Level.COMMUNITY, Level.STREET), (Level.STREET, Level.DISTRICT)]
