"""intake's rebuild of many tickets (the city issue, #20): the contact entries of a
stretch of the stream are read concurrently, and the missing records are written a
batch to a transaction — without overwriting a record a live write made meanwhile."""

import asyncio
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis

from chuishao.common.domain import ClockKind, Level, Location
from chuishao.common.publishing import encode
from chuishao.intake import indexes
from chuishao.intake import store as intake_store
from chuishao.intake.contacts import ContactEntry
from chuishao.intake.lifecycle import Status
from chuishao.intake.projection import apply, created
from chuishao.intake.rebuild import BATCH, Fold, repair
from chuishao.intake.records import ClockView, TicketRecord
from support.counting import CountingRedis
from support.factories import dispatched, submitted

COUNT = 1_200


async def test_a_rebuild_reads_ahead_and_writes_in_batches(
    servers: Any, redis: Redis, clean: None
) -> None:
    reports = [submitted(ticket_id=f"T20260105{n:06d}") for n in range(COUNT)]
    in_flight = peak = 0

    async def first_entry(ticket_id: str) -> ContactEntry | None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)  # a round trip to JetStream
        in_flight -= 1
        return None  # no contact kept: the record comes from the public event

    fold = Fold(first_entry)
    data = [encode(report) for report in reports]
    for start in range(0, COUNT, BATCH):
        await fold.take_many(data[start : start + BATCH])
    assert len(fold) == COUNT
    # Before: one entry read at a time, a round trip's wait per ticket.
    assert peak > 100

    # A live write got to one of them first: it stays as it is.
    live = created(reports[7]).model_copy(update={"description": "live"})
    assert await intake_store.RecordStore(redis).restore(live, None)

    counting = CountingRedis.from_url(servers.redis_url)
    try:
        CountingRedis.zero()
        report = await repair(intake_store.RecordStore(counting), fold, fold.tickets(), write=True)
        trips = CountingRedis.trips
    finally:
        await counting.aclose()
    assert report.written == COUNT - 1
    # Before: a WATCH/GET/MULTI…EXEC per record, about 3,600 round trips here.
    assert trips <= 4 * (COUNT // BATCH + 1) * 2
    stored = await intake_store.RecordStore(redis).get(reports[7].ticket_id)
    assert stored is not None
    assert stored.description == "live"
    assert await redis.zcard(indexes.ALL) == COUNT
    other = await intake_store.RecordStore(redis).get(reports[8].ticket_id)
    assert other is not None
    assert other.description == reports[8].description


def varied_records() -> list[TicketRecord]:
    """Records in every index shape: unplaced, placed and assigned, overdue, resolved,
    with a caller's pseudonym, at a latitude Redis GEO refuses."""
    records = []
    for n in range(40):
        report = submitted(ticket_id=f"T20260106{n:06d}")
        if n % 4 == 3:
            far = Location(long=116.4, lat=89.0)  # beyond ±85.05: not in the GEO index
            report = report.model_copy(update={"location": far})
        elif n % 2:
            report = report.model_copy(update={"location": Location(long=116.4, lat=39.9)})
        record = created(report)
        if n % 5:
            record = apply(record, dispatched(report, "grid-heyuan" if n % 3 else "street-qingshi"))
            record = record.model_copy(update={"street": "qingshi"})
        if n % 5 == 2:
            due = report.occurred_at - timedelta(hours=1 + n)
            record = record.model_copy(
                update={
                    "clocks": [
                        ClockView(
                            clock=ClockKind.RESOLUTION,
                            level=Level.COMMUNITY,
                            unit_id="grid-heyuan",
                            deadline=due,
                        )
                    ]
                }
            )
        if n % 7 == 0:
            record = record.model_copy(update={"status": Status.RESOLVED})
        if n % 6 == 1:
            record = record.model_copy(
                update={"reporter_ref": f"ref-{n % 3}", "arbiter": "qingshi"}
            )
        records.append(record)
    return records


async def index_contents(redis: Redis) -> dict[str, Any]:
    return {
        key.decode(): await redis.zrange(key, 0, -1, withscores=True)
        async for key in redis.scan_iter("*")
        if key.startswith((b"idx:", b"geo:"))
    }


async def test_the_batched_index_write_equals_the_per_record_one(redis: Redis, clean: None) -> None:
    records = varied_records()
    async with redis.pipeline(transaction=True) as pipe:
        for record in records:
            indexes.update(pipe, None, record)
        await pipe.execute()
    one_by_one = await index_contents(redis)
    await redis.flushall()
    async with redis.pipeline(transaction=True) as pipe:
        indexes.add_many(pipe, records)
        await pipe.execute()
    assert await index_contents(redis) == one_by_one
    # Every shape was there to compare.
    assert {indexes.DEADLINES, indexes.ALL, "idx:street:qingshi"} <= set(one_by_one)
    assert any(key.startswith("geo:") for key in one_by_one)
    assert any(
        key.startswith("idx:unplaced:") or key.startswith("idx:reporter:") for key in one_by_one
    )
