"""A month's board reads each scope's month hash (one per scope, not thirty days), and
gives what summing its days gives: for a projection built with month hashes from the
start, and for one that held tickets before they were kept (its earlier months still
summed from days, its later ones from month hashes)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from chuishao.common.events import Event
from chuishao.supervision.board import Reader
from chuishao.supervision.hotspots import HotspotRule
from chuishao.supervision.keys import SupervisionKeys
from chuishao.supervision.projection import ALL_MONTHS, Projection, mark_month_counters
from chuishao.supervision.rebuild import clear, differences, snapshot
from chuishao.supervision.ticket import SupervisedTicket
from support.monthly_history import MONTHS, generated

ZONE = ZoneInfo("Asia/Shanghai")
MID_DECEMBER = datetime(2025, 12, 16, 12, tzinfo=ZONE)


async def project(redis: Redis, keys: SupervisionKeys, events: list[Event]) -> None:
    projection = Projection(redis, keys, ZONE, HotspotRule(), emit=False)
    for event in events:
        await projection.apply(event)


async def board(redis: Redis, keys: SupervisionKeys, month: str) -> dict[str, object]:
    reader = Reader(redis, keys)
    return {
        kind: [(row.id, row.rates) for row in await reader.rows(kind, month)]
        for kind in ("unit", "street", "category")
    }


async def test_month_hashes_give_what_the_days_give(redis: Redis) -> None:
    events = generated(seed=23, tickets=160).events
    by_days, by_month = SupervisionKeys("months-days"), SupervisionKeys("months-hashes")
    for keys in (by_days, by_month):
        await clear(redis, keys)
        await project(redis, keys, events)
    await redis.set(by_month.months_since, ALL_MONTHS)  # by_days has no mark: days summed
    reader = Reader(redis, by_month)
    for month in MONTHS:
        assert await reader.periods_in(month) == [month]
        assert len(await Reader(redis, by_days).periods_in(month)) > 20
        assert await board(redis, by_month, month) == await board(redis, by_days, month)


async def test_a_projection_older_than_month_hashes_sums_days_until_they_are_complete(
    redis: Redis,
) -> None:
    events = generated(seed=29, tickets=160).events
    december = [e for e in events if e.occurred_at < MID_DECEMBER]
    later = [e for e in events if e.occurred_at >= MID_DECEMBER]
    fresh, upgraded = SupervisionKeys("months-fresh"), SupervisionKeys("months-upgraded")
    for keys in (fresh, upgraded):
        await clear(redis, keys)
    assert await mark_month_counters(redis, fresh, MID_DECEMBER, ZONE) == ALL_MONTHS
    await project(redis, fresh, events)

    # Half of December applied by a version that kept no month hashes.
    await project(redis, upgraded, december)
    async for key in redis.scan_iter(match=upgraded.pattern):
        if key.decode().endswith((":2025-12", ":2026-01")):
            await redis.delete(key)
    # The new version starts mid-December: December is not complete, January will be.
    assert await mark_month_counters(redis, upgraded, MID_DECEMBER, ZONE) == "2026-01"
    assert await mark_month_counters(redis, upgraded, MID_DECEMBER, ZONE) == "2026-01"
    await project(redis, upgraded, later)

    reader = Reader(redis, upgraded)
    assert len(await reader.periods_in("2025-12")) > 20  # from its days
    assert await reader.periods_in("2026-01") == ["2026-01"]
    for month in MONTHS:
        assert await board(redis, upgraded, month) == await board(redis, fresh, month)


async def test_a_clock_behind_the_tickets_does_not_trust_their_month(redis: Redis) -> None:
    """The projection holds January tickets while the service starts with its clock in
    December (travelled back, a skewed host): January is not complete, February will be."""
    keys = SupervisionKeys("months-behind")
    await clear(redis, keys)
    january = [e for e in generated(seed=31, tickets=80).events if e.occurred_at >= MID_DECEMBER]
    await project(redis, keys, january)
    assert await mark_month_counters(redis, keys, MID_DECEMBER, ZONE) == "2026-02"


async def test_facts_stored_in_full_compare_equal_to_the_same_stored_short(redis: Redis) -> None:
    """A live projection written before `stored()` holds full JSON; a rebuild writes the
    short form, packed: the rebuild command must not report them as different."""
    full, short = SupervisionKeys("facts-full"), SupervisionKeys("facts-short")
    for keys in (full, short):
        await clear(redis, keys)
    await project(redis, short, generated(seed=37, tickets=20).events)
    async for key in redis.scan_iter(match=short.pattern):
        name = key.decode().removeprefix(short.namespace + ":")
        if name.startswith("ticket:"):
            facts = SupervisedTicket.from_stored(await redis.get(key) or b"")
            await redis.set(f"{full.namespace}:{name}", facts.model_dump_json())
    async for key in redis.scan_iter(match=short.pattern):
        name = key.decode().removeprefix(short.namespace + ":")
        if not name.startswith("ticket:"):
            await redis.copy(key, f"{full.namespace}:{name}")
    assert differences(await snapshot(redis, full), await snapshot(redis, short)) == []
