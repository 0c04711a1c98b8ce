"""The stack's shared clock: one offset in Redis moves every process; the time-travel
command moves it from a terminal."""

from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from chuishao.common.clock import (
    OFFSET_KEY,
    SharedClock,
    SystemClock,
    advance_shared_clock,
    make_clock,
)
from chuishao.common.settings import ServiceSettings
from chuishao.sla import timetravel
from support.servers import Servers

HOUR = 3600.0
pytestmark = pytest.mark.usefixtures("clean")


async def test_two_processes_clocks_move_together(redis: Redis) -> None:
    here, there = SharedClock(redis, refresh_seconds=0.01), SharedClock(redis, refresh_seconds=0.01)
    await here.start()
    await there.start()
    try:
        await advance_shared_clock(redis, 48 * HOUR)
        await here.refresh()
        await there.refresh()
        for clock in (here, there):
            ahead = (clock.now() - datetime.now(UTC)).total_seconds()
            assert 48 * HOUR - 1 < ahead < 48 * HOUR + 1
    finally:
        await here.stop()
        await there.stop()


def test_the_setting_chooses_the_clock(redis: Redis) -> None:
    assert isinstance(make_clock(ServiceSettings(), redis), SystemClock)
    assert isinstance(make_clock(ServiceSettings(clock="shared"), redis), SharedClock)


async def test_the_time_travel_command_moves_shows_and_resets_the_offset(
    servers: Servers, redis: Redis
) -> None:
    settings = ServiceSettings(redis_url=servers.redis_url)
    assert (await timetravel.travel("+48h", settings)).startswith("offset 2 days, 0:00:00")
    await timetravel.travel("+30m", settings)
    assert float(await redis.get(OFFSET_KEY) or 0) == 48 * HOUR + 1800
    assert (await timetravel.travel("show", settings)).startswith("offset 2 days, 0:30:00")
    await timetravel.travel("reset", settings)
    assert await redis.get(OFFSET_KEY) is None
    with pytest.raises(ValueError, match="not a duration"):
        await timetravel.travel("tomorrow", settings)
