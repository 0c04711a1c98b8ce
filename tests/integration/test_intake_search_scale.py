"""intake's search over many tickets (the city issue, #20): every filter combination
returns exactly what a plain reading of the records gives, page after page, and a page
reads only the page out of Redis — never every ticket a filter matches."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from chuishao.common.domain import ClockKind, Level
from chuishao.common.status import Status
from chuishao.intake import indexes
from chuishao.intake import search as intake_search
from chuishao.intake import store as intake_store
from chuishao.intake.projection import created
from chuishao.intake.records import ClockView, TicketRecord
from chuishao.intake.search import Filters, search
from support.counting import CountingRedis
from support.factories import submitted

COUNT = 600
NOW = datetime(2026, 3, 1, tzinfo=UTC)
STATUSES = [Status.DISPATCHED, Status.IN_PROGRESS, Status.RESOLVED]
STREETS = ["qingshi", "yunxi", "baihe"]
CATEGORIES = ["fire_box", "streetlight", "noise"]


def records() -> Iterator[TicketRecord]:
    rng = random.Random(20)
    for n in range(COUNT):
        base = created(submitted(ticket_id=f"T20260101{n:06d}"))
        # Every tenth shares its submission second with the one before: ties across pages.
        at = NOW - timedelta(seconds=(n - n % 10 // 9) * 60)
        clocks = []
        if n % 3:
            clocks = [
                ClockView(
                    clock=ClockKind.RESOLUTION,
                    level=Level.COMMUNITY,
                    unit_id=None,
                    deadline=NOW + timedelta(hours=rng.randint(-48, 48)),
                )
            ]
        yield base.model_copy(
            update={
                "submitted_at": at,
                "updated_at": at,
                "status": STATUSES[n % 3],
                "street": STREETS[rng.randrange(3)],
                "category": CATEGORIES[rng.randrange(3)],
                "clocks": clocks,
            }
        )


def expected(stored: list[TicketRecord], filters: Filters) -> list[str]:
    def keep(r: TicketRecord) -> bool:
        return (
            (filters.status is None or r.status == filters.status)
            and (filters.category is None or r.category == filters.category)
            and (filters.street is None or r.street == filters.street)
            and (filters.since is None or r.submitted_at >= filters.since)
            and (filters.until is None or r.submitted_at <= filters.until)
            and (
                filters.overdue_at is None
                or (
                    r.deadline is not None
                    and r.status not in (Status.RESOLVED, Status.CLOSED)
                    and r.deadline <= filters.overdue_at
                )
            )
            and (not filters.ticket_ids or r.ticket_id in filters.ticket_ids)
            and (
                filters.within is None
                or any(key == indexes.street_key(r.street or "") for key in filters.within)
            )
        )

    chosen = [r for r in stored if keep(r)]
    chosen.sort(key=lambda r: (r.submitted_at.timestamp(), r.ticket_id), reverse=True)
    return [r.ticket_id for r in chosen]


@pytest.fixture
async def stored(redis: Redis, clean: None) -> list[TicketRecord]:
    made = list(records())
    async with redis.pipeline(transaction=True) as pipe:
        for record in made:
            pipe.set(f"ticket:{record.ticket_id}", record.model_dump_json())
            indexes.update(pipe, None, record)
        await pipe.execute()
    return made


CASES = [
    Filters(),
    Filters(status=Status.DISPATCHED),
    Filters(street="yunxi"),
    Filters(status=Status.IN_PROGRESS, category="noise", street="qingshi"),
    Filters(category="fire_box", since=NOW - timedelta(hours=5), until=NOW - timedelta(hours=2)),
    Filters(overdue_at=NOW),
    Filters(overdue_at=NOW, street="baihe"),
    Filters(overdue_at=NOW, status=Status.DISPATCHED, within=(indexes.street_key("yunxi"),)),
    Filters(within=(indexes.street_key("qingshi"), indexes.street_key("baihe"))),
    Filters(status=Status.DISPATCHED, within=(indexes.street_key("yunxi"),)),
    Filters(ticket_ids=("T20260101000003", "T20260101000300", "T20260101000599", "nope")),
    Filters(within=()),
]


@pytest.mark.parametrize("filters", CASES)
async def test_pages_hold_exactly_the_matching_tickets_newest_first(
    servers: Any, stored: list[TicketRecord], filters: Filters
) -> None:
    redis = Redis.from_url(servers.redis_url)
    store = intake_store.RecordStore(redis)
    try:
        seen: list[str] = []
        cursor = None
        for _ in range(COUNT):
            page = await search(redis, store, filters, limit=7, cursor=cursor)
            seen += [record.ticket_id for record in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == expected(stored, filters)
        assert not [key async for key in redis.scan_iter(match="tmp:search:*")]
    finally:
        await redis.aclose()


async def test_a_page_reads_only_the_page_out_of_redis(servers: Any, stored: object) -> None:
    """Before: every ticket the filters matched was read back and sorted in Python (600
    rows here for a page of 10; 200,000 in a city)."""
    redis = CountingRedis.from_url(servers.redis_url)
    store = intake_store.RecordStore(redis)
    try:
        for filters in CASES:
            CountingRedis.zero()
            page = await search(redis, store, filters, limit=10)
            assert len(page.items) <= 10
            assert CountingRedis.longest <= 12, filters  # the page, one more, a tie
    finally:
        await redis.aclose()


@pytest.mark.parametrize("chunk", [7, 5_000])  # a first sweep taken in many small steps
async def test_the_city_overdue_list_stays_exact_as_time_moves_and_records_change(
    servers: Any, stored: list[TicketRecord], chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole city's overdue list reads a page of its own index (`indexes.OVERDUE`),
    kept by a watermark: exact when time moves on, when a query asks at a moment the
    watermark has already passed (another replica's clock), and when records change
    their deadlines or are resolved between queries."""
    monkeypatch.setattr(intake_search, "SWEEP_CHUNK", chunk)
    redis = Redis.from_url(servers.redis_url)
    records = {record.ticket_id: record for record in stored}
    rng = random.Random(41)
    hours = (0, 5, -3, 30, 29, 50, 50)
    try:
        for step, hour in enumerate(hours):
            at = NOW + timedelta(hours=hour)
            async with redis.pipeline(transaction=True) as pipe:
                for ticket_id in rng.sample(sorted(records), 60):
                    before = records[ticket_id]
                    deadline = at + timedelta(hours=rng.randint(-6, 6))
                    clock = ClockView(
                        clock=ClockKind.RESOLUTION,
                        level=Level.COMMUNITY,
                        unit_id=None,
                        deadline=deadline,
                    )
                    after = before.model_copy(
                        update={
                            "clocks": [] if rng.random() < 0.2 else [clock],
                            "status": Status.RESOLVED if rng.random() < 0.1 else before.status,
                        }
                    )
                    indexes.update(pipe, before, after)
                    pipe.set(f"ticket:{ticket_id}", after.model_dump_json())
                    records[ticket_id] = after
                await pipe.execute()
            filters = Filters(overdue_at=at)
            seen = await all_pages(redis, filters, limit=9)
            assert seen == expected(list(records.values()), filters), (step, hour)
            assert seen  # the case means something: some tickets are overdue
    finally:
        await redis.aclose()


async def all_pages(redis: Redis, filters: Filters, limit: int = 5) -> list[str]:
    """The ids of every page of the search, `limit` a page, cursor after cursor."""
    store = intake_store.RecordStore(redis)
    seen: list[str] = []
    cursor = None
    while True:
        page = await search(redis, store, filters, limit=limit, cursor=cursor)
        seen += [record.ticket_id for record in page.items]
        if (cursor := page.next_cursor) is None:
            return seen


async def test_a_watermark_ahead_of_the_query_or_a_writer_before_the_index_hides_nothing(
    servers: Any, stored: list[TicketRecord]
) -> None:
    """Another replica's clock five minutes ahead has moved the watermark past tickets not
    yet due at this query's time; a writer of a version before the index removed a
    resolved ticket from the deadlines only: neither shows in the list."""
    redis = Redis.from_url(servers.redis_url)
    records = {record.ticket_id: record for record in stored}
    soon = sorted(records)[:30]
    try:
        async with redis.pipeline(transaction=True) as pipe:
            for n, ticket_id in enumerate(soon):  # due within the next five minutes
                before = records[ticket_id]
                clock = ClockView(
                    clock=ClockKind.RESOLUTION,
                    level=Level.COMMUNITY,
                    unit_id=None,
                    deadline=NOW + timedelta(seconds=10 * (n + 1)),
                )
                after = before.model_copy(update={"clocks": [clock], "status": Status.DISPATCHED})
                indexes.update(pipe, before, after)
                records[ticket_id] = after
            await pipe.execute()
        ahead = Filters(overdue_at=NOW + timedelta(minutes=5))
        assert set(soon) <= set(await all_pages(redis, ahead))  # the other replica's query
        now = Filters(overdue_at=NOW)
        listed = await all_pages(redis, now)
        assert listed == expected(list(records.values()), now)
        assert not set(soon) & set(listed)
        # An older writer resolves one: out of the deadlines, left in the overdue index.
        gone = listed[0]
        await redis.zrem(indexes.DEADLINES, gone)
        assert await redis.zscore(indexes.OVERDUE, gone) is not None
        assert gone not in await all_pages(redis, now)
    finally:
        await redis.aclose()
