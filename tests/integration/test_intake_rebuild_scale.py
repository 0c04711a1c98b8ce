"""intake's rebuild of many tickets (the city issue, #20): the contact entries of a
stretch of the stream are read concurrently, and the missing records are written a
batch to a transaction — without overwriting a record a live write made meanwhile."""

import asyncio
from typing import Any

from redis.asyncio import Redis

from chuishao.common.publishing import encode
from chuishao.intake import indexes
from chuishao.intake import store as intake_store
from chuishao.intake.contacts import ContactEntry
from chuishao.intake.projection import created
from chuishao.intake.rebuild import BATCH, Fold, repair
from support.counting import CountingRedis
from support.factories import submitted

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
    assert len(fold.records) == COUNT
    # Before: one entry read at a time, a round trip's wait per ticket.
    assert peak > 100

    # A live write got to one of them first: it stays as it is.
    live = created(reports[7]).model_copy(update={"description": "live"})
    assert await intake_store.RecordStore(redis).restore(live, None)

    counting = CountingRedis.from_url(servers.redis_url)
    try:
        CountingRedis.zero()
        report = await repair(
            intake_store.RecordStore(counting), fold, set(fold.records), write=True
        )
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
