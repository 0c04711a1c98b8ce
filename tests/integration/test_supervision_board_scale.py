"""The command-centre board of a city (the city issue, #20): its rows of thousands of
units and hundreds of streets, for a month of days, are read in a few round trips and
hold exactly the counters the projection wrote."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from chuishao.common.events import TicketDispatched
from chuishao.supervision.board import Reader
from chuishao.supervision.hotspots import HotspotRule
from chuishao.supervision.keys import ALL_PERIODS, SupervisionKeys
from chuishao.supervision.projection import Projection
from support.counting import CountingRedis
from support.factories import dispatched, submitted

ZONE = ZoneInfo("Asia/Shanghai")
UNITS = 120
DAYS = 6


async def test_a_months_board_of_many_units_reads_in_a_few_round_trips(
    servers: Any, redis: Redis, clean: None
) -> None:
    keys = SupervisionKeys("board-scale")
    rule = HotspotRule(threshold=1000, window_seconds=3600, jump_factor=100, trailing_windows=1)
    projection = Projection(redis, keys, ZONE, rule, emit=False)
    start = datetime(2026, 3, 1, 9, tzinfo=UTC)
    expected: Counter[str] = Counter()
    for n in range(UNITS * 2):
        at = start + timedelta(days=n % DAYS)
        report = submitted(ticket_id=f"T20260301{n:06d}").model_copy(update={"occurred_at": at})
        unit = f"unit-{n % UNITS:03d}"
        sent = dispatched(report, unit_id=unit).model_copy(
            update={"occurred_at": at + timedelta(minutes=1), "street": f"s{n % 7}"}
        )
        assert isinstance(sent, TicketDispatched)
        await projection.apply(report)
        await projection.apply(sent)
        expected[unit] += 1

    counting = CountingRedis.from_url(servers.redis_url)
    try:
        reader = Reader(counting, keys)
        CountingRedis.zero()
        month = await reader.rows("unit", "2026-03")
        month_trips = CountingRedis.trips
        every = await reader.rows("unit", ALL_PERIODS)
        by_streets = await reader.street_unit_rows([f"s{i}" for i in range(7)], "2026-03")
    finally:
        await counting.aclose()

    # Before: one HGETALL per unit and day, 720 round trips for this month's rows.
    assert month_trips <= 6  # the index, the days, the script loaded once, the sums
    assert [row.id for row in month] == sorted(expected)
    for rows in (month, every, by_streets):
        assert {row.id: row.rates.counts.get("dispatched", 0) for row in rows} == expected
    assert Counter(row.rates.counts.get("received", 0) for row in month) == Counter({2: UNITS})
