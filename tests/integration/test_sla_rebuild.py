"""sla's clocks survive a Redis that forgets: restarted from an earlier copy of its data,
Redis has lost a ticket's whole sla state and another's escalation; sla rebuilds both
from TICKETS and each goes on up the ladder, escalating once per level."""

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from chuishao.common.clock import SharedClock
from chuishao.common.domain import Level
from chuishao.common.events import SlaClockArmed, TicketEscalated
from chuishao.common.publishing import publish_event
from chuishao.embedded import RedisServer, free_port
from support.servers import Servers

from .test_sla_service import Recorder, dispatch, running_sla, travel, until


class RollbackRedis:
    def __init__(self, data_dir: Path) -> None:
        self.server = RedisServer(free_port(), data_dir)
        self.copy = data_dir.with_name(data_dir.name + "-copy")

    def snapshot(self) -> None:
        self.server.stop()
        shutil.copytree(self.server.data_dir, self.copy)
        self.server.start()

    def roll_back(self) -> None:
        self.server.stop()
        shutil.rmtree(self.server.data_dir)
        shutil.copytree(self.copy, self.server.data_dir)
        self.server.start()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RollbackRedis]:
    redis = RollbackRedis(tmp_path / "redis")
    redis.server.start()
    try:
        yield redis
    finally:
        redis.server.stop()


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
                await until(lambda t=ticket_id: escalated(seen, t, Level.COMMUNITY))

            # Redis forgets T-forgotten altogether and both escalations (and the clock's
            # offset: the stack goes back to the time of the copy).
            own_redis.roll_back()
            await until(lambda: clock.now() < seen.of(SlaClockArmed, "T-kept")[0].deadline)
            # Past the street's 24 h (armed at the first escalation), short of the district's.
            await travel(client, clock, 48.5 + 30)
            for ticket_id in ("T-kept", "T-forgotten"):
                await until(lambda t=ticket_id: escalated(seen, t, Level.STREET), timeout=20)
    finally:
        await clock.stop()
    for ticket_id in ("T-kept", "T-forgotten"):
        levels = [(e.from_level, e.to_level) for e in seen.of(TicketEscalated, ticket_id)]
        assert levels == [(Level.COMMUNITY, Level.STREET), (Level.STREET, Level.DISTRICT)]
